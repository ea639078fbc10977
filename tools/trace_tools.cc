// The tools that read across the three streams: request_trace (one request on one timeline) and
// search (free text within a window).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "store/reader.h"
#include "store/request_id.h"
#include "store/timestamp.h"
#include "tools/json_out.h"
#include "tools/row_json.h"
#include "tools/tool_common.h"
#include "tools/tool_defs.h"
#include "tools/trace.h"
#include "util/crypto.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/digest.h"

namespace fasten::tools_internal {
namespace {

// ---------------------------------------------------------------------------------------------
// request_trace

struct RequestTraceArgs {
  std::string request_id;
  int limit_per_stream = 100;
};

Result<RequestTraceArgs> ParseRequestTraceArgs(const json& args) {
  RequestTraceArgs a;
  a.request_id = *Str(args, "request_id");
  a.limit_per_stream = static_cast<int>(Int(args, "limit_per_stream").value_or(100));
  return a;
}

// Keeps as much of the waterfall as fits `budget` bytes: its spans in time order, each with its
// events, then the events outside every span; from the first entry that does not fit on, the rest
// is left out and counted under "omitted".
void FitWaterfall(json* waterfall, size_t budget) {
  size_t used = 128 + JsonDumpSize((*waterfall)["origin"]);
  bool full = false;
  int64_t omitted_spans = 0, omitted_events = 0;
  auto fits = [&](const json& entry) {
    const size_t size = JsonDumpSize(entry) + 1;
    if (!full && used + size <= budget) {
      used += size;
      return true;
    }
    full = true;
    return false;
  };
  json spans = json::array();
  for (json& span : (*waterfall)["spans"]) {
    json events = std::move(span["events"]);
    span["events"] = json::array();
    if (!fits(span)) {
      ++omitted_spans;
      omitted_events += static_cast<int64_t>(events.size());
      continue;
    }
    for (json& e : events) {
      if (fits(e)) {
        span["events"].push_back(std::move(e));
      } else {
        ++omitted_events;
      }
    }
    spans.push_back(std::move(span));
  }
  json outside = json::array();
  for (json& e : (*waterfall)["outside_spans"]) {
    if (fits(e)) {
      outside.push_back(std::move(e));
    } else {
      ++omitted_events;
    }
  }
  (*waterfall)["spans"] = std::move(spans);
  (*waterfall)["outside_spans"] = std::move(outside);
  (*waterfall)["truncated"] = full;
  if (full) (*waterfall)["omitted"] = {{"spans", omitted_spans}, {"events", omitted_events}};
}

Result<json> RequestTraceTool(const RequestTraceArgs& args, ToolEnv& env) {
  const StoreView src = env.stores->view();
  RequestIdResolution resolved;
  TraceOptions o;
  o.request_id = args.request_id;
  o.limit_per_stream = args.limit_per_stream;
  json trace;
  Status st = BuildTrace(env.scope, src, o, &trace);
  if (!st.ok()) return StoreError(st);
  // The id as given first; only a trace with no rows tries it as a prefix (store/request_id.h:
  // an exact match always wins), so a whole id costs no prefix lookups.
  if (trace["timeline"].empty() && args.request_id.size() >= kMinRequestIdPrefix) {
    st = ResolveRequestId(env.scope, src, args.request_id, &resolved);
    if (!st.ok()) return StoreError(st);
    if (resolved.ambiguous) return AmbiguousRequestIdError("request_id", args.request_id, resolved);
    if (resolved.from_prefix) {
      o.request_id = resolved.request_id;
      trace = json();
      st = BuildTrace(env.scope, src, o, &trace);
      if (!st.ok()) return StoreError(st);
    }
  }
  // The waterfall is compact (citations and summaries, no rows): it may take half the budget, the
  // timeline what is left.
  FitWaterfall(&trace["waterfall"], env.byte_budget / 2);
  std::vector<json> items;
  for (json& e : trace["timeline"]) items.push_back(std::move(e));
  json timeline = json::array();
  size_t fit = AppendWithinBudget(items, env.byte_budget, 1024 + JsonDumpSize(trace["waterfall"]),
                                  &timeline);
  trace["timeline"] = std::move(timeline);
  trace["timeline_truncated"] = fit < items.size();
  if (resolved.from_prefix) trace["request_id_resolved_from"] = args.request_id;
  if (trace["timeline"].empty()) {
    trace["hint"] = "no rows carry this request_id for this tenant";
  }
  return trace;
}

// ---------------------------------------------------------------------------------------------
// search

struct SearchArgs {
  std::string query;
  WindowArgs window;
  int limit = kDefaultLimit;
  std::vector<std::string> streams = {"audit", "sys", "api"};
};

Result<SearchArgs> ParseSearchArgs(const json& args) {
  SearchArgs a;
  a.query = *Str(args, "query");
  a.window = ParseWindowArgs(args);
  a.limit = static_cast<int>(Int(args, "limit").value_or(kDefaultLimit));
  if (args.contains("streams")) a.streams = args["streams"].get<std::vector<std::string>>();
  return a;
}

Result<json> SearchTool(const SearchArgs& args, ToolEnv& env) {
  const std::string& text = args.query;
  std::optional<Micros> since, until;
  FASTEN_RETURN_IF_ERROR(Window(args.window, env, &since, &until));
  if (!since) return InvalidArgumentError("since: required (no unbounded scans); e.g. now-24h");
  const int limit = args.limit;
  const std::vector<std::string>& streams = args.streams;
  struct Match {
    Micros t;
    json entry;
  };
  std::vector<Match> matches;
  json counts = json::object(), errors = json::object();
  bool more = false;
  Canonicalizer canon;
  Sha256 sha;
  for (const std::string& s : streams) {
    if (s == "audit") {
      AuditQuery q;
      q.text = text;
      q.since = since;
      q.until = until;
      q.limit = limit;
      q.count_cap = kCountCap;
      AuditPage page;
      Status st = env.stores->audit->Query(env.scope, q, &page);
      if (!st.ok()) return StoreError(st);
      RowChecker checker;
      for (const AuditRow& r : page.rows) {
        RowCheck c = checker.Check(r);
        matches.push_back({r.timestamp_us,
                           {{"stream", "audit"},
                            {"t", CanonicalTimestamp(r.timestamp_us)},
                            {"summary", AuditRowSummary(r)},
                            {"row", AuditRowJson(r, &c)}}});
      }
      counts["audit"] = page.total_matched;
      more |= page.has_more;
      continue;
    }
    const StreamKind kind = s == "sys" ? StreamKind::kSys : StreamKind::kApi;
    Status missing;
    StreamReader* reader = Stream(env, kind, &missing);
    if (!reader) {
      errors[s] = missing.message();
      continue;
    }
    StreamQuery q;
    q.text = text;
    q.since = since;
    q.until = until;
    q.limit = limit;
    q.count_cap = kCountCap;
    StreamPage page;
    Status st = reader->Query(env.scope, q, &page);
    if (!st.ok()) return StoreError(st);
    for (const StreamRow& r : page.rows) {
      matches.push_back(
          {r.timestamp_us,
           {{"stream", s},
            {"t", CanonicalTimestamp(r.timestamp_us)},
            {"summary", StreamRowSummary(r)},
            {"row", StreamRowJson(r, StreamContentDigest(r.payload, &canon, &sha))}}});
    }
    counts[s] = page.total_matched;
    more |= page.has_more;
  }
  std::stable_sort(matches.begin(), matches.end(),
                   [](const Match& a, const Match& b) { return a.t > b.t; });
  std::vector<json> items;
  for (size_t i = 0; i < matches.size() && i < static_cast<size_t>(limit); ++i) {
    items.push_back(std::move(matches[i].entry));
  }
  json list = json::array();
  size_t fit = AppendWithinBudget(items, env.byte_budget, 512, &list);
  json out = {{"matches", list},
              {"count", fit},
              {"counts", counts},
              {"truncated", more || matches.size() > fit},
              {"window", WindowJson(since, until)}};
  if (!errors.empty()) out["errors"] = errors;
  if (list.empty()) out["hint"] = Hint("rows", since, until);
  return out;
}

}  // namespace

ToolDef RequestTraceToolDef() {
  return {"request_trace",
          "Trace one request",
          "Puts the audit, sys and api rows of one request_id on one timeline (oldest first), with "
          "per-stream counts, totals and truncation flags, and a waterfall: each api span's "
          "offset and duration (ms) with the audit and sys rows it holds.",
          InputSchema(
              {{"request_id", Text("request id, or a unique prefix of 6+ chars")},
               {"limit_per_stream",
                {{"type", "integer"}, {"minimum", 1}, {"maximum", kMaxLimit}, {"default", 100}}}},
              {"request_id"}),
          {{"type", "object"},
           {"properties",
            {{"request_id", {{"type", "string"}}},
             {"request_id_resolved_from", {{"type", "string"}}},
             {"timeline", {{"type", "array"}}},
             {"waterfall", {{"type", "object"}}},
             {"counts", {{"type", "object"}}},
             {"totals", {{"type", "object"}}},
             {"truncated", {{"type", "object"}}}}},
           {"required", {"request_id", "timeline", "counts"}}},
          TypedHandler(ParseRequestTraceArgs, RequestTraceTool),
          nullptr};
}

ToolDef SearchToolDef() {
  return {"search",
          "Free-text search",
          "Case-insensitive substring search over sys/api payloads and audit rows (detail, code, "
          "actor, target, request_id, domain, category) within a window; since is required (no "
          "unbounded scans). Newest first.",
          InputSchema({{"query", Text("text to find", 1024)},
                       {"since", kSince},
                       {"until", kUntil},
                       {"streams",
                        {{"type", "array"},
                         {"items", {{"type", "string"}, {"enum", {"audit", "sys", "api"}}}},
                         {"minItems", 1},
                         {"maxItems", 3},
                         {"uniqueItems", true},
                         {"description", "default: all three"}}},
                       {"limit", kLimit}},
                      {"query", "since"}),
          {{"type", "object"},
           {"properties",
            {{"matches", {{"type", "array"}}},
             {"counts", {{"type", "object"}}},
             {"truncated", {{"type", "boolean"}}},
             {"window", {{"type", "object"}}}}},
           {"required", {"matches", "counts", "truncated", "window"}}},
          TypedHandler(ParseSearchArgs, SearchTool),
          nullptr};
}

}  // namespace fasten::tools_internal
