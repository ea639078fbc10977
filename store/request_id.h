// Request-id prefixes: what `request_trace`, `audit_query` and the CLI `trace` / `query` do with
// a request_id argument (docs/tools.md, "Request-id prefixes").
//
// An exact match wins. Otherwise an argument of at least kMinRequestIdPrefix characters (bytes)
// that begins exactly one request id the scope sees, among the audit rows and the sys and api
// streams, resolves to that id; one that begins several is ambiguous, and the caller lists the
// candidates (AmbiguousRequestIdError). Anything else is left as given (and finds nothing).
// The lookups are index ranges bounded by a small LIMIT (AuditReader::RequestIdsWithPrefix).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "store/store_set.h"
#include "store/tenant_scope.h"
#include "util/status.h"

namespace fasten {

inline constexpr size_t kMinRequestIdPrefix = 6;
// Candidates listed when a prefix is ambiguous; they are counted up to kRequestIdCountCap.
inline constexpr size_t kMaxRequestIdCandidates = 20;
inline constexpr size_t kRequestIdCountCap = 100;

struct RequestIdResolution {
  std::string request_id;    // the id to query: the resolved id, else the argument as given
  bool from_prefix = false;  // resolved from a prefix (request_id != the argument)
  bool ambiguous = false;    // the argument begins several ids (and is none of them)
  std::vector<std::string> candidates;  // when ambiguous: the first kMaxRequestIdCandidates
  size_t candidate_count = 0;           // when ambiguous: how many, up to kRequestIdCountCap
  bool count_is_lower_bound = false;    // more than kRequestIdCountCap ids begin with it
};

// Resolves `arg` against the readers of `stores` (null stream readers are skipped) for `scope`.
// Fails only when a lookup fails.
Status ResolveRequestId(const TenantScope& scope, const StoreView& stores, const std::string& arg,
                        RequestIdResolution* out);

// The InvalidArgument error of an ambiguous prefix: the count and the sorted candidates, and what
// to do. `what` names the argument ("request_id", "REQUEST_ID").
Status AmbiguousRequestIdError(const std::string& what, const std::string& arg,
                               const RequestIdResolution& r);

}  // namespace fasten
