#include "tools/trace.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "tools/row_json.h"
#include "util/crypto.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/digest.h"

namespace fasten {

using nlohmann::json;

Status BuildTrace(const TenantScope& scope, const StoreView& src, const TraceOptions& o,
                  json* out) {
  struct Event {
    bool ok;
    Micros t;
    int stream_rank;  // api, sys, audit at equal instants
    int64_t seq;
    json entry;
  };
  std::vector<Event> events;
  json counts = json::object(), totals = json::object(), truncated = json::object();
  json errors = json::object();

  if (src.audit) {
    AuditQuery q;
    q.request_id = o.request_id;
    q.limit = o.limit_per_stream;
    AuditPage page;
    FASTEN_RETURN_IF_ERROR(src.audit->Query(scope, q, &page));
    RowChecker checker;
    for (const AuditRow& r : page.rows) {
      RowCheck c = checker.Check(r);
      events.push_back(
          {r.timestamp_ok, r.timestamp_us, 2, r.monotonic_seq,
           json{{"t", r.timestamp_ok ? CanonicalTimestamp(r.timestamp_us) : r.timestamp},
                {"stream", "audit"},
                {"summary", AuditRowSummary(r)},
                {"row", AuditRowJson(r, &c)}}});
    }
    counts["audit"] = page.rows.size();
    totals["audit"] = page.total_matched;
    truncated["audit"] = page.has_more;
  } else {
    errors["audit"] = "no audit store configured";
  }

  Canonicalizer canon;
  Sha256 sha;
  auto stream = [&](StreamReader* reader, std::string_view why, const char* name, int rank) {
    if (!reader) {
      errors[name] =
          why.empty() ? std::string("no ") + name + " store configured" : std::string(why);
      counts[name] = nullptr;
      return;
    }
    StreamQuery q;
    q.request_id = o.request_id;
    q.limit = o.limit_per_stream;
    StreamPage page;
    Status st = reader->Query(scope, q, &page);
    if (!st.ok()) {
      errors[name] = st.ToString();
      counts[name] = nullptr;
      return;
    }
    for (const StreamRow& r : page.rows) {
      ContentDigest d = StreamContentDigest(r.payload, &canon, &sha);
      events.push_back(
          {r.timestamp_ok, r.timestamp_us, rank, r.seq,
           json{{"t", r.timestamp_ok ? CanonicalTimestamp(r.timestamp_us) : r.timestamp},
                {"stream", name},
                {"summary", StreamRowSummary(r)},
                {"row", StreamRowJson(r, d)}}});
    }
    counts[name] = page.rows.size();
    totals[name] = page.total_matched;
    truncated[name] = page.has_more;
  };
  stream(src.api, src.api_missing_why, "api", 0);
  stream(src.sys, src.sys_missing_why, "sys", 1);

  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.ok != b.ok) return a.ok;  // unparseable times last
    if (a.t != b.t) return a.t < b.t;
    if (a.stream_rank != b.stream_rank) return a.stream_rank < b.stream_rank;
    return a.seq < b.seq;
  });
  json timeline = json::array();
  for (Event& e : events) timeline.push_back(std::move(e.entry));
  *out = json{{"request_id", o.request_id},
              {"counts", counts},
              {"totals", totals},
              {"truncated", truncated},
              {"timeline", timeline}};
  if (!errors.empty()) (*out)["errors"] = errors;
  return Status::Ok();
}

}  // namespace fasten
