// Route templates: an api path with its id-like segments replaced by `{id}`, so that
// `GET /v1/orders/8812` and `GET /v1/orders/8813` count as one route (red_metrics, api rows).
//
// A segment (between slashes; the query string and fragment are dropped) becomes `{id}` when it is
//   - all digits:                              8812
//   - a UUID (8-4-4-4-12 hex digits):          3f2b1c9e-4d20-4a7b-9c1e-0d2f3a4b5c6d
//   - hex digits only, at least 8 of them:     3a7b1c9e4d20, deadbeef (hashes, short ids)
//   - an id-like token of at least 8 letters, digits, '-' or '_' with at least one letter and
//     one digit, and either a part between '-'/'_' that is all digits (ord-88412), at least 4
//     digits in all (usr8a9f3k2), or at least 3 changes between letters and digits (rf_5T2x9).
// Words with a version or size in them (v1, oauth2-callback, base64url, sha256sum) stay as they
// are. The rules are heuristics: a slug such as `x1y2z3w4` templates, an 8-letter random token
// without digits does not.
#pragma once

#include <string>
#include <string_view>

namespace fasten {

// True when one path segment looks like an id (the rules above).
bool IsIdSegment(std::string_view segment);

// The path with every id-like segment replaced by `{id}`, without query string or fragment.
std::string RouteTemplate(std::string_view path);

// "METHOD template" (just the template when the method is empty): the route a request counts
// under in red_metrics.
std::string ApiRoute(std::string_view method, std::string_view path);

}  // namespace fasten
