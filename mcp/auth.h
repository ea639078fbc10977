// Authentication for the HTTP transport: an Authorization header in, the tenant out.
//
// The transport hands every request's raw `Authorization` header to an Authenticator; on success
// the returned Principal's tenant is the only tenant the request may see (nothing in a request
// body can change it), on failure it answers 401 with `WWW-Authenticate: Bearer
// realm="fasten-mcp"` (kWwwAuthenticate). Credentials come only from that header, never from the
// query string. No OAuth is advertised (docs/mcp.md §7).
//
// This file holds what every kind of credential shares: the Principal, the Authenticator
// interface, bearer-header parsing and name rules. The kinds:
//
//   TokenFileAuthenticator  mcp/tokens_file.h: static bearer tokens, one tenant each, from a
//                           tokens file that stores only SHA-256 digests; the default.
//   JwtAuthenticator        mcp/jwt_auth.h: optional HS256/RS256/ES256 JWTs, tenant from a claim.
//   AnyOfAuthenticator      below: several of the above; the first success wins.
//
// Credentials never appear in logs or in `why` strings; labels do.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace fasten::mcp {

// The challenge sent with every 401.
inline constexpr char kWwwAuthenticate[] = "Bearer realm=\"fasten-mcp\"";

// Who a request is: the tenant it is bound to, and a label naming the credential in logs
// (never the credential itself).
struct Principal {
  std::string tenant;
  std::string token_label;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // `authorization` is the raw Authorization header value ("" when absent).
  // Returns the principal, or nullopt with *why set to a short safe reason ("missing bearer
  // token", "unknown or revoked token", "token expired" ...) for logs and 401 bodies.
  virtual std::optional<Principal> Authenticate(std::string_view authorization,
                                                std::string* why) const = 0;
};

// Splits an Authorization header value into its bearer token: the scheme "Bearer" in any case,
// one or more spaces, then a token68 (RFC 9110 §11.2: letters, digits, "-._~+/", then optional
// trailing "="), at most 8192 characters; surrounding spaces are ignored. Returns false with
// *why set ("missing bearer token", "unsupported authorization scheme", "malformed bearer token")
// otherwise.
bool ExtractBearerToken(std::string_view authorization, std::string_view* token, std::string* why);

// The longest bearer credential accepted (token68 characters after "Bearer ").
inline constexpr size_t kMaxBearerTokenLength = 8192;

// InvalidArgument unless `name` is 1..128 printable ASCII characters without whitespace: the
// rule for tenants and labels everywhere credentials name them. `what` ("tenant", "label") names
// it in the message.
Status ValidateTokenName(std::string_view what, std::string_view name);

// Tries each authenticator in order; the first success wins. When all fail, *why holds their
// distinct reasons joined with "; ". Thread-safe when each part is.
class AnyOfAuthenticator : public Authenticator {
 public:
  explicit AnyOfAuthenticator(std::vector<std::unique_ptr<Authenticator>> parts);

  std::optional<Principal> Authenticate(std::string_view authorization,
                                        std::string* why) const override;

 private:
  const std::vector<std::unique_ptr<Authenticator>> parts_;
};

}  // namespace fasten::mcp
