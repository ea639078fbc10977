#include "store/request_id.h"

#include <algorithm>
#include <set>

#include "store/reader.h"

namespace fasten {

Status ResolveRequestId(const TenantScope& scope, const StoreView& stores, const std::string& arg,
                        RequestIdResolution* out) {
  *out = RequestIdResolution();
  out->request_id = arg;
  if (arg.size() < kMinRequestIdPrefix) return Status::Ok();
  // Each source's first ids (byte order) beginning with `arg`; an exact match is the least of
  // them, so it is never cut off by the limit.
  const size_t max = kRequestIdCountCap + 1;
  std::set<std::string> ids;
  std::vector<std::string> found;
  if (stores.audit) {
    FASTEN_RETURN_IF_ERROR(stores.audit->RequestIdsWithPrefix(scope, arg, max, &found));
    ids.insert(found.begin(), found.end());
  }
  for (StreamReader* stream : {stores.sys, stores.api}) {
    if (!stream) continue;
    FASTEN_RETURN_IF_ERROR(stream->RequestIdsWithPrefix(scope, arg, max, &found));
    ids.insert(found.begin(), found.end());
  }
  if (ids.empty() || ids.count(arg)) return Status::Ok();
  if (ids.size() == 1) {
    out->request_id = *ids.begin();
    out->from_prefix = true;
    return Status::Ok();
  }
  out->ambiguous = true;
  out->count_is_lower_bound = ids.size() > kRequestIdCountCap;
  out->candidate_count = std::min(ids.size(), kRequestIdCountCap);
  for (const std::string& id : ids) {
    if (out->candidates.size() == kMaxRequestIdCandidates) break;
    out->candidates.push_back(id);
  }
  return Status::Ok();
}

Status AmbiguousRequestIdError(const std::string& what, const std::string& arg,
                               const RequestIdResolution& r) {
  std::string msg = what + " '" + arg + "' is a prefix of " +
                    (r.count_is_lower_bound ? "more than " : "") +
                    std::to_string(r.candidate_count) + " request ids";
  msg += r.candidates.size() < r.candidate_count
             ? " (the first " + std::to_string(r.candidates.size()) + "): "
             : ": ";
  for (size_t i = 0; i < r.candidates.size(); ++i) msg += (i ? ", " : "") + r.candidates[i];
  msg += "; give the whole id or a longer prefix";
  return InvalidArgumentError(msg);
}

}  // namespace fasten
