// The ten fasten-mcp tools: schemas and handlers.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "store/payload_tenant.h"
#include "store/reader.h"
#include "tools/cursor.h"
#include "tools/json_out.h"
#include "tools/registry.h"
#include "tools/row_json.h"
#include "tools/schema.h"
#include "tools/trace.h"
#include "tools/verify_json.h"
#include "util/crypto.h"
#include "util/json_parse.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/citations.h"
#include "validator/digest.h"
#include "validator/verify_store.h"

namespace fasten {
namespace {

using json = nlohmann::json;

constexpr int kDefaultLimit = 20;
constexpr int kMaxLimit = 200;
constexpr int kCountCap = 10000;
constexpr int64_t kMetricsMaxRows = 200000;

// ---------------------------------------------------------------------------------------------
// Argument helpers. Arguments were validated against the schema before a handler runs.

std::optional<std::string> Str(const json& a, const char* key) {
  auto it = a.find(key);
  if (it == a.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// An integer argument, read exactly. The schema's "integer" also admits 5.0 and magnitudes beyond
// int64 (1e300); those saturate, so a bound that far away reads as "no bound".
std::optional<int64_t> Int(const json& a, const char* key) {
  auto it = a.find(key);
  if (it == a.end() || !it->is_number()) return std::nullopt;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (it->is_number_unsigned())
    return static_cast<int64_t>(std::min<uint64_t>(it->get<uint64_t>(), kMax));
  if (it->is_number_integer()) return it->get<int64_t>();
  const double d = it->get<double>();
  if (!(d > -9223372036854775808.0)) return std::numeric_limits<int64_t>::min();
  if (d >= 9223372036854775808.0) return kMax;
  return static_cast<int64_t>(d);
}

// The tenant key cursors are bound to; the all-tenants mode gets a key no tenant can have.
std::string TenantKey(const ToolEnv& env) {
  return env.tenant ? *env.tenant : std::string("\0*all-tenants", 13);
}

Status Window(const json& args, const ToolEnv& env, std::optional<Micros>* since,
              std::optional<Micros>* until, std::optional<std::string> default_since = {}) {
  for (auto [key, out] : {std::pair{"since", since}, std::pair{"until", until}}) {
    std::optional<std::string> text = Str(args, key);
    if (!text && std::string(key) == "since" && default_since) text = default_since;
    if (!text) continue;
    std::string error;
    *out = ParseTimeBound(*text, env.now, &error);
    if (!*out) return InvalidArgumentError(std::string(key) + ": " + error);
  }
  if (*since && *until && **since > **until) {
    return InvalidArgumentError("since is after until; swap them or widen the window");
  }
  return Status::Ok();
}

json WindowJson(std::optional<Micros> since, std::optional<Micros> until) {
  return {{"since", since ? json(CanonicalTimestamp(*since)) : json(nullptr)},
          {"until", until ? json(CanonicalTimestamp(*until)) : json(nullptr)}};
}

StreamReader* Stream(ToolEnv& env, StreamKind kind, Status* why) {
  StreamReader* r = kind == StreamKind::kSys ? env.stores->sys.get() : env.stores->api.get();
  if (!r) {
    const std::string& reason =
        kind == StreamKind::kSys ? env.stores->sys_missing_why : env.stores->api_missing_why;
    *why = FailedPreconditionError(std::string("the ") + StreamName(kind) +
                                   " stream has no store: " + reason);
  }
  return r;
}

// Maps store failures to messages a model and an operator can act on.
Status StoreError(const Status& st) {
  if (st.code() == StatusCode::kCancelled) return st;
  if (st.code() == StatusCode::kUnavailable) {
    return UnavailableError("the store is unavailable right now (" + st.message() +
                            "); retry shortly");
  }
  return st;
}

// Appends rows to `out` while the result stays within the byte budget. Returns how many fit.
size_t AppendWithinBudget(std::vector<json>& items, size_t budget, size_t used, json* out) {
  size_t n = 0;
  for (json& item : items) {
    size_t size = JsonDumpSize(item) + 1;  // as serialised, without serialising it
    if (n > 0 && used + size > budget) break;
    used += size;
    out->push_back(std::move(item));
    ++n;
  }
  return n;
}

json Hint(const std::string& what, std::optional<Micros> since, std::optional<Micros> until) {
  std::string h = "no " + what + " match these filters";
  if (since || until)
    h += " in the window; try widening since/until";
  else
    h += "; try fewer filters";
  return h;
}

// The position stored in the tool cursor `args.cursor`, if any, after checking that it was
// issued by this server for this tenant and this query.
Result<std::optional<std::string>> CursorPosition(const json& args, const ToolEnv& env,
                                                  const std::string& fingerprint) {
  std::optional<std::string> cursor = Str(args, "cursor");
  if (!cursor) return std::optional<std::string>();
  Result<std::string> pos = env.cursors->Verify(*cursor, TenantKey(env), fingerprint);
  if (!pos.ok()) return pos.status();
  return std::optional<std::string>(std::move(pos).value());
}

// One page of a list tool: the rows that fit the byte budget, the counts, and a cursor signed for
// this tenant and query. `position_after(i)` is the cursor position after row i; `next` the
// store's position after the whole page (when it has more).
struct PageParts {
  std::vector<json> items;
  bool has_more = false;
  std::optional<std::string> next;
  std::function<std::string(size_t)> position_after;
  int64_t total = -1;
  bool lower_bound = false;
};

json ListPage(PageParts parts, const ToolEnv& env, const std::string& fingerprint,
              std::optional<Micros> since, std::optional<Micros> until, const std::string& what) {
  const size_t n = parts.items.size();
  json rows = json::array();
  const size_t fit = AppendWithinBudget(parts.items, env.byte_budget, 512, &rows);
  std::optional<std::string> next = parts.next;
  if (fit < n) next = parts.position_after(fit - 1);
  json out = {{"rows", std::move(rows)},
              {"count", fit},
              {"total_matched", parts.total},
              {"total_is_lower_bound", parts.lower_bound},
              {"truncated", parts.has_more || fit < n},
              {"next_cursor",
               next ? json(env.cursors->Sign(TenantKey(env), fingerprint, *next)) : json(nullptr)},
              {"window", WindowJson(since, until)}};
  if (n == 0) out["hint"] = Hint(what, since, until);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Schemas. Every argument is bounded: strings by maxLength, arrays by maxItems.

// validate_answer: claims (and unknowns) per answer, citations per claim. The validator's own
// limit (kMaxCitationsPerAnswer) still caps the citations of the whole answer.
constexpr int kMaxClaims = 100;
constexpr int kMaxCitationsPerClaim = 100;

const json kSince = {{"type", "string"},
                     {"maxLength", 64},
                     {"description",
                      "start of the window, inclusive: RFC 3339 (2026-11-20T14:00:00Z) or relative "
                      "(now-1h, now-7d)"}};
const json kUntil = {{"type", "string"},
                     {"maxLength", 64},
                     {"description", "end of the window, inclusive: RFC 3339 or relative (now)"}};
// A time bound inside validate_answer's nested objects (RFC 3339, a date, or now-relative),
// without the long description: tool definitions cost every conversation tokens.
const json kTime = {{"type", "string"}, {"maxLength", 64}};
const json kLimit = {{"type", "integer"},
                     {"minimum", 1},
                     {"maximum", kMaxLimit},
                     {"default", kDefaultLimit},
                     {"description", "rows per page (1-200, default 20)"}};
const json kCursor = {{"type", "string"},
                      {"minLength", 1},
                      {"maxLength", 4096},
                      {"description", "next_cursor from the previous page of the same query"}};

json Text(const char* description, int max = 256) {
  return {{"type", "string"}, {"minLength", 1}, {"maxLength", max}, {"description", description}};
}

json InputSchema(json properties, std::vector<std::string> required = {}) {
  json s = {
      {"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = required;
  return s;
}

json ListOutputSchema(const char* row_description) {
  return {{"type", "object"},
          {"properties",
           {{"rows", {{"type", "array"}, {"description", row_description}}},
            {"count", {{"type", "integer"}}},
            {"total_matched", {{"type", "integer"}}},
            {"total_is_lower_bound", {{"type", "boolean"}}},
            {"truncated", {{"type", "boolean"}}},
            {"next_cursor", {{"type", {"string", "null"}}}},
            {"window", {{"type", "object"}}},
            {"hint", {{"type", "string"}}}}},
          {"required", {"rows", "count", "total_matched", "truncated", "next_cursor", "window"}}};
}

// ---------------------------------------------------------------------------------------------
// Audit, sys and api lists.

Result<json> AuditQueryTool(const json& args, ToolEnv& env) {
  AuditQuery q;
  q.request_id = Str(args, "request_id");
  q.code = Str(args, "code");
  q.domain = Str(args, "domain");
  q.actor = Str(args, "actor");
  q.target = Str(args, "target");
  q.source_node_id = Str(args, "source_node_id");
  q.service_id = Str(args, "service_id");
  q.severity = Str(args, "severity");
  q.tenant_id = env.tenant;
  q.limit = static_cast<int>(Int(args, "limit").value_or(kDefaultLimit));
  q.count_cap = kCountCap;
  FASTEN_RETURN_IF_ERROR(Window(args, env, &q.since, &q.until));
  const std::string fingerprint = QueryFingerprint(args);
  Result<std::optional<std::string>> pos = CursorPosition(args, env, fingerprint);
  if (!pos.ok()) return pos.status();
  if (*pos) {
    q.after = AuditKey::Decode(**pos);
    if (!q.after) return InvalidArgumentError("cursor is malformed; start again without a cursor");
  }
  AuditPage page;
  Status st = env.stores->audit->Query(q, &page);
  if (!st.ok()) return StoreError(st);
  RowChecker checker;
  PageParts parts;
  for (const AuditRow& r : page.rows) {
    RowCheck c = checker.Check(r);
    parts.items.push_back(AuditRowJson(r, &c));
  }
  parts.has_more = page.has_more;
  if (page.next) parts.next = page.next->Encode();
  parts.position_after = [&page](size_t i) { return AuditKey::Of(page.rows[i]).Encode(); };
  parts.total = page.total_matched;
  parts.lower_bound = page.total_is_lower_bound;
  return ListPage(std::move(parts), env, fingerprint, q.since, q.until, "audit rows");
}

Result<json> StreamQueryTool(StreamKind kind, const json& args, ToolEnv& env) {
  Status missing;
  StreamReader* reader = Stream(env, kind, &missing);
  if (!reader) return missing;
  StreamQuery q;
  q.request_id = Str(args, "request_id");
  q.level = Str(args, "level");
  q.event = Str(args, "event");
  q.service_id = Str(args, "service_id");
  q.method = Str(args, "method");
  q.path = Str(args, "path");
  q.status = Int(args, "status");
  q.tenant_id = env.tenant;
  q.limit = static_cast<int>(Int(args, "limit").value_or(kDefaultLimit));
  q.count_cap = kCountCap;
  FASTEN_RETURN_IF_ERROR(Window(args, env, &q.since, &q.until));
  const std::string fingerprint = QueryFingerprint(args);
  Result<std::optional<std::string>> pos = CursorPosition(args, env, fingerprint);
  if (!pos.ok()) return pos.status();
  if (*pos) {
    try {
      q.before_seq = std::stoll(**pos);
    } catch (...) {
      return InvalidArgumentError("cursor is malformed; start again without a cursor");
    }
  }
  StreamPage page;
  Status st = reader->Query(q, &page);
  if (!st.ok()) return StoreError(st);
  Canonicalizer canon;
  Sha256 sha;
  PageParts parts;
  for (const StreamRow& r : page.rows) {
    parts.items.push_back(StreamRowJson(r, StreamContentDigest(r.payload, &canon, &sha)));
  }
  parts.has_more = page.has_more;
  if (page.next_before_seq) parts.next = std::to_string(*page.next_before_seq);
  parts.position_after = [&page](size_t i) { return std::to_string(page.rows[i].seq); };
  parts.total = page.total_matched;
  parts.lower_bound = page.total_is_lower_bound;
  json out = ListPage(std::move(parts), env, fingerprint, q.since, q.until,
                      std::string(StreamName(kind)) + " rows");
  out["digest_kind"] = kStreamDigestLabel;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Trace, search.

Result<json> RequestTraceTool(const json& args, ToolEnv& env) {
  TraceSources src{env.stores->audit.get(), env.stores->sys.get(), env.stores->api.get(),
                   env.stores->sys_missing_why, env.stores->api_missing_why};
  TraceOptions o;
  o.request_id = *Str(args, "request_id");
  o.tenant_id = env.tenant;
  o.limit_per_stream = static_cast<int>(Int(args, "limit_per_stream").value_or(100));
  json trace;
  Status st = BuildTrace(src, o, &trace);
  if (!st.ok()) return StoreError(st);
  std::vector<json> items;
  for (json& e : trace["timeline"]) items.push_back(std::move(e));
  json timeline = json::array();
  size_t fit = AppendWithinBudget(items, env.byte_budget, 1024, &timeline);
  trace["timeline"] = std::move(timeline);
  trace["timeline_truncated"] = fit < items.size();
  if (trace["timeline"].empty()) {
    trace["hint"] = "no rows carry this request_id for this tenant";
  }
  return trace;
}

Result<json> SearchTool(const json& args, ToolEnv& env) {
  const std::string text = *Str(args, "query");
  std::optional<Micros> since, until;
  FASTEN_RETURN_IF_ERROR(Window(args, env, &since, &until));
  if (!since) return InvalidArgumentError("since: required (no unbounded scans); e.g. now-24h");
  const int limit = static_cast<int>(Int(args, "limit").value_or(kDefaultLimit));
  std::vector<std::string> streams = {"audit", "sys", "api"};
  if (args.contains("streams")) streams = args["streams"].get<std::vector<std::string>>();
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
      q.tenant_id = env.tenant;
      q.limit = limit;
      q.count_cap = kCountCap;
      AuditPage page;
      Status st = env.stores->audit->Query(q, &page);
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
    q.tenant_id = env.tenant;
    q.limit = limit;
    q.count_cap = kCountCap;
    StreamPage page;
    Status st = reader->Query(q, &page);
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

// ---------------------------------------------------------------------------------------------
// Verification.

Result<json> ChainVerifyTool(const json& args, ToolEnv& env) {
  VerifyStoreOptions o;
  o.range.source_node_id = Str(args, "source_node_id");
  o.range.from_seq = Int(args, "from_seq");
  o.range.to_seq = Int(args, "to_seq");
  FASTEN_RETURN_IF_ERROR(Window(args, env, &o.since, &o.until));
  if (IsTimeWindow(o) && (o.range.from_seq || o.range.to_seq)) {
    return InvalidArgumentError(
        "since/until (a time window) cannot be combined with from_seq/to_seq (a seq window); "
        "give one or the other");
  }
  o.visible_tenant = env.tenant;
  if (env.progress) {
    o.progress = [&env](int64_t rows) {
      env.progress(static_cast<double>(rows), std::nullopt, "rows verified");
    };
  }
  VerifyStoreResult result;
  Status st = VerifyStore(env.stores->audit.get(), o, &result);
  if (!st.ok()) return StoreError(st);
  json out = VerifyReportJson(result.report);
  out["scope"] = env.tenant ? "rows of this tenant; links through rows of other tenants are "
                              "checked, but those rows are never counted or named"
                            : "all tenants";
  if (IsTimeWindow(o)) {
    out["window"] = TimeWindowJson(o.since, o.until, o.range.source_node_id, result.spans);
  } else if (o.range.source_node_id || o.range.from_seq || o.range.to_seq) {
    out["window"] = {
        {"source_node_id", o.range.source_node_id ? json(*o.range.source_node_id) : json(nullptr)},
        {"from_seq", o.range.from_seq ? json(*o.range.from_seq) : json(nullptr)},
        {"to_seq", o.range.to_seq ? json(*o.range.to_seq) : json(nullptr)}};
  }
  if (env.anchors) {
    // The checkpoints: a tenant sees its nodes only, without seqs or hashes (other tenants'
    // rows may be the tips).
    anchor::AnchorReport anchors;
    st = anchor::VerifyAnchors(env.stores->audit.get(), *env.anchors, &result.report, &anchors);
    if (!st.ok()) return StoreError(st);
    if (env.tenant) {
      std::set<std::string> visible;
      for (const NodeReport& n : result.report.nodes) visible.insert(n.source_node_id);
      anchor::RestrictToNodes(&anchors, visible);
    }
    out["anchors"] = anchor::AnchorReportJson(anchors, env.tenant.has_value());
    if (!anchors.ok()) out["ok"] = false;
    out["caveat"] = anchors.ok() ? "Anchored by signed checkpoints: rows up to each node's last "
                                   "checkpoint cannot have been changed, re-sealed or truncated "
                                   "without a finding; newer rows are not yet anchored."
                                 : "Checkpoint findings: see anchors.";
  }
  if (result.report.nodes.empty()) {
    out["hint"] = IsTimeWindow(o) ? "no audit rows of this tenant in that time window; try "
                                    "widening since/until"
                                  : "no audit rows of this tenant in that range";
  }
  return out;
}

bool Visible(const AuditRow& r, const ToolEnv& env) {
  return !env.tenant || (!r.tenant_id.null && r.tenant_id.value == *env.tenant);
}

Result<json> RowGetTool(const json& args, ToolEnv& env) {
  const std::string stream = Str(args, "stream").value_or("audit");
  const std::string hash = *Str(args, "hash");
  if (stream == "audit") {
    std::optional<int64_t> seq = Int(args, "monotonic_seq");
    if (!seq) return InvalidArgumentError("monotonic_seq: required for an audit row");
    const std::string not_found = "no audit row with monotonic_seq " + std::to_string(*seq) +
                                  " and hash " + hash + " is visible to this caller";
    std::vector<AuditRow> rows;
    Status st = env.stores->audit->FindBySeqHash(*seq, hash, &rows);
    if (!st.ok()) return StoreError(st);
    rows.erase(std::remove_if(rows.begin(), rows.end(),
                              [&](const AuditRow& r) { return !Visible(r, env); }),
               rows.end());
    if (rows.empty()) return NotFoundError(not_found);
    if (rows.size() > 1) {
      return FailedPreconditionError(
          "several rows share this (monotonic_seq, hash): the store "
          "is inconsistent; run chain_verify");
    }
    const AuditRow& row = rows[0];
    RowChecker checker;
    RowCheck check = checker.Check(row);
    std::optional<AuditRow> prev, next;
    st = env.stores->audit->FindNeighbours(row.source_node_id, row.monotonic_seq, &prev, &next);
    if (!st.ok()) return StoreError(st);
    std::string link = "unchecked";
    if (!row.sealed()) {
      link = "unsealed";
    } else if (prev && prev->sealed()) {
      link = prev->hash == row.prev_hash ? "ok" : "broken";
    } else if (!prev && row.monotonic_seq == 1) {
      link = row.prev_hash == "genesis" ? "ok" : "broken";
    }
    // Neighbours are shown only when they are the caller's own rows.
    auto neighbour = [&](const std::optional<AuditRow>& n) -> json {
      if (!n || !Visible(*n, env)) return nullptr;
      return {{"monotonic_seq", n->monotonic_seq}, {"hash", n->hash}, {"id", n->id}};
    };
    json out = {{"stream", "audit"},
                {"row", AuditRowJson(row, &check)},
                {"verification",
                 {{"row_hash", check.Summary()},
                  {"link_to_predecessor", link},
                  {"ok", check.ok() && row.sealed() && link != "broken"}}},
                {"neighbours", {{"previous", neighbour(prev)}, {"next", neighbour(next)}}}};
    return out;
  }
  const StreamKind kind = stream == "sys" ? StreamKind::kSys : StreamKind::kApi;
  std::optional<int64_t> seq = Int(args, "seq");
  if (!seq) return InvalidArgumentError("seq: required for a " + stream + " row");
  Status missing;
  StreamReader* reader = Stream(env, kind, &missing);
  if (!reader) return missing;
  const std::string not_found = "no " + stream + " row with seq " + std::to_string(*seq) +
                                " and digest " + hash + " is visible to this caller";
  std::optional<StreamRow> row;
  Status st = reader->FindBySeq(*seq, &row);
  if (!st.ok()) return StoreError(st);
  if (!row) return NotFoundError(not_found);
  if (!PayloadVisibleTo(row->payload, env.tenant)) return NotFoundError(not_found);
  ContentDigest d = StreamContentDigest(row->payload);
  if (d.hex != hash) return NotFoundError(not_found);
  return json{{"stream", stream},
              {"row", StreamRowJson(*row, d)},
              {"verification",
               {{"digest", "matches"},
                {"note",
                 "stream rows are content-addressed, not chained: the digest proves this "
                 "is the row that was cited, not that it is untampered"}}}};
}

// ---------------------------------------------------------------------------------------------
// Metrics and topology.

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  k = std::min(k, v.size() - 1);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

Result<json> RedMetricsTool(const json& args, ToolEnv& env) {
  std::optional<Micros> since, until;
  FASTEN_RETURN_IF_ERROR(Window(args, env, &since, &until, std::string("now-1h")));
  if (!until) until = env.now;
  const int top = static_cast<int>(Int(args, "top").value_or(5));
  Status missing;
  StreamReader* api = Stream(env, StreamKind::kApi, &missing);
  if (!api) return missing;
  StreamQuery q;
  q.since = since;
  q.until = until;
  q.tenant_id = env.tenant;
  q.service_id = Str(args, "service_id");
  struct Route {
    int64_t requests = 0, errors = 0;
    std::vector<double> durations;
  };
  std::map<std::string, Route> routes;
  std::vector<double> durations;
  int64_t total = 0, server_errors = 0, client_errors = 0;
  bool complete = true;
  Status st = api->Scan(
      q, kMetricsMaxRows,
      [&](const StreamRow& r) {
        ++total;
        Route& route = routes[r.method + " " + r.path];
        ++route.requests;
        if (r.has_status && r.status >= 500) {
          ++server_errors;
          ++route.errors;
        } else if (r.has_status && r.status >= 400) {
          ++client_errors;
        }
        json p;
        if (ParseJson(r.payload, JsonLimits{r.payload.size(), kMaxJsonDepth}, &p).ok() &&
            p.is_object() && p.contains("duration_ms") && p["duration_ms"].is_number()) {
          double d = p["duration_ms"].get<double>();
          durations.push_back(d);
          route.durations.push_back(d);
        }
      },
      &complete);
  if (!st.ok()) return StoreError(st);
  const double minutes = std::max(1.0, static_cast<double>(*until - *since) / 60e6);
  std::vector<std::pair<std::string, Route*>> ranked;
  for (auto& [name, r] : routes) ranked.emplace_back(name, &r);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second->requests != b.second->requests ? a.second->requests > b.second->requests
                                                    : a.first < b.first;
  });
  json top_routes = json::array();
  for (int i = 0; i < top && i < static_cast<int>(ranked.size()); ++i) {
    Route& r = *ranked[i].second;
    top_routes.push_back({{"route", ranked[i].first},
                          {"requests", r.requests},
                          {"errors_5xx", r.errors},
                          {"p95_ms", Percentile(r.durations, 0.95)}});
  }
  auto audit_count = [&](const char* severity) -> Result<int64_t> {
    AuditQuery aq;
    aq.severity = severity;
    aq.since = since;
    aq.until = until;
    aq.tenant_id = env.tenant;
    aq.limit = 1;
    aq.count_cap = 100000;
    AuditPage page;
    Status s = env.stores->audit->Query(aq, &page);
    if (!s.ok()) return StoreError(s);
    return page.total_matched;
  };
  Result<int64_t> errors = audit_count("error");
  if (!errors.ok()) return errors.status();
  Result<int64_t> critical = audit_count("critical");
  if (!critical.ok()) return critical.status();
  json out = {
      {"window", WindowJson(since, until)},
      {"requests", total},
      {"requests_per_min", static_cast<double>(total) / minutes},
      {"error_rate_5xx", total ? static_cast<double>(server_errors) / total : 0.0},
      {"error_rate_4xx", total ? static_cast<double>(client_errors) / total : 0.0},
      {"latency_ms", {{"p50", Percentile(durations, 0.50)}, {"p95", Percentile(durations, 0.95)}}},
      {"top_routes", top_routes},
      {"audit_errors", {{"error", *errors}, {"critical", *critical}}},
      {"complete", complete}};
  if (!complete) {
    out["note"] =
        "stopped after " + std::to_string(kMetricsMaxRows) + " api rows; narrow the window";
  }
  if (total == 0) out["hint"] = Hint("api rows", since, until);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Citation validation (validator/citations.h): the same verdict the investigate loop gets, for
// answers written by any agent. The tenant is the caller's; no ledger (external answers).

Result<json> ValidateAnswerTool(const json& args, ToolEnv& env) {
  Answer answer;
  FASTEN_RETURN_IF_ERROR(ParseAnswer(args, &answer, env.now));
  CitationStores stores{env.stores->audit.get(), env.stores->sys.get(), env.stores->api.get(),
                        env.stores->sys_missing_why, env.stores->api_missing_why};
  CitationCheckOptions options;
  options.tenant = env.tenant;
  options.integrity_margin = env.integrity_margin;
  options.anchors = env.anchor_tips.get();
  Verdict verdict;
  ValidateAnswer(answer, stores, options, &verdict);
  if (!verdict.error.ok()) {
    return StoreError(Status(verdict.error.code(),
                             "the answer could not be checked, so it is not "
                             "accepted: " +
                                 verdict.error.message()));
  }
  return VerdictJson(verdict);
}

Result<json> TopologyTool(const json&, ToolEnv& env) {
  std::vector<AuditReader::TopologyEntry> entries;
  Status st = env.stores->audit->Topology(env.tenant, &entries);
  if (!st.ok()) return StoreError(st);
  json nodes = json::array();
  std::set<std::string> services;
  auto display = [](const std::string& raw) {
    Micros t;
    return ParseTimestamp(raw, &t) ? CanonicalTimestamp(t) : raw;
  };
  for (size_t i = 0; i < entries.size();) {
    const std::string node = entries[i].source_node_id;
    json svc = json::array();
    int64_t rows = 0;
    std::string first, last;
    for (; i < entries.size() && entries[i].source_node_id == node; ++i) {
      const auto& e = entries[i];
      services.insert(e.service_id);
      rows += e.rows;
      std::string f = display(e.first_seen), l = display(e.last_seen);
      if (first.empty() || f < first) first = f;
      if (last.empty() || l > last) last = l;
      svc.push_back(
          {{"service_id", e.service_id}, {"rows", e.rows}, {"first_seen", f}, {"last_seen", l}});
    }
    std::optional<Predecessor> tip;
    st = env.stores->audit->Tip(node, env.tenant, &tip);
    if (!st.ok()) return StoreError(st);
    nodes.push_back({{"source_node_id", node},
                     {"rows", rows},
                     {"first_seen", first},
                     {"last_seen", last},
                     {"services", svc},
                     {"tip", tip ? json{{"seq", tip->seq}, {"hash", tip->hash}} : json(nullptr)}});
  }
  json out = {{"nodes", nodes}, {"services", services}, {"node_count", nodes.size()}};
  if (nodes.empty()) out["hint"] = "no audit rows for this tenant";
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

ToolRegistry ToolRegistry::Default() {
  ToolRegistry r;
  const json severity = {{"type", "string"},
                         {"enum", {"debug", "info", "warn", "error", "critical"}}};
  r.tools_.push_back(
      {"audit_query", "Query audit rows",
       "Lists hash-chained audit rows (who did what, when, where, to whom, how), newest first, "
       "with exact-match filters and a time window. Each row carries monotonic_seq, hash, "
       "source_node_id and its row-hash status, so it can be cited. Paged: pass next_cursor back "
       "as cursor. Limit 1-200 (default 20).",
       InputSchema({{"request_id", Text("request id")},
                    {"code", Text("event code, e.g. REFUND_ROLLED_BACK")},
                    {"domain", Text("domain, e.g. billing")},
                    {"actor", Text("who acted")},
                    {"target", Text("what was acted on")},
                    {"source_node_id", Text("node that wrote the row")},
                    {"service_id", Text("service that wrote the row")},
                    {"severity", severity},
                    {"since", kSince},
                    {"until", kUntil},
                    {"limit", kLimit},
                    {"cursor", kCursor}}),
       ListOutputSchema("audit rows"), AuditQueryTool, nullptr});
  r.tools_.push_back(
      {"sys_query", "Query sys logs",
       "Lists structured sys log rows (level, event, message), newest first, with exact-match "
       "filters and a time window. Rows carry seq and a content digest (content-addressed, not "
       "chained). Paged with cursor. Limit 1-200 (default 20).",
       InputSchema({{"level", Text("log level, e.g. error", 32)},
                    {"event", Text("event name, e.g. stripe_webhook_failed")},
                    {"request_id", Text("request id")},
                    {"service_id", Text("service")},
                    {"since", kSince},
                    {"until", kUntil},
                    {"limit", kLimit},
                    {"cursor", kCursor}}),
       ListOutputSchema("sys rows"),
       [](const json& a, ToolEnv& e) { return StreamQueryTool(StreamKind::kSys, a, e); }, nullptr});
  r.tools_.push_back(
      {"api_query", "Query API access rows",
       "Lists API access rows (method, path, status, duration), newest first, with exact-match "
       "filters and a time window. Rows carry seq and a content digest. Paged with cursor. "
       "Limit 1-200 (default 20).",
       InputSchema({{"method", Text("HTTP method, e.g. POST", 16)},
                    {"path", Text("request path, e.g. /v1/orders", 1024)},
                    {"status",
                     {{"type", "integer"},
                      {"minimum", 100},
                      {"maximum", 599},
                      {"description", "HTTP status, e.g. 502"}}},
                    {"request_id", Text("request id")},
                    {"since", kSince},
                    {"until", kUntil},
                    {"limit", kLimit},
                    {"cursor", kCursor}}),
       ListOutputSchema("api rows"),
       [](const json& a, ToolEnv& e) { return StreamQueryTool(StreamKind::kApi, a, e); }, nullptr});
  r.tools_.push_back(
      {"request_trace",
       "Trace one request",
       "Puts the audit, sys and api rows of one request_id on one timeline (oldest first), with "
       "per-stream counts, totals and truncation flags.",
       InputSchema(
           {{"request_id", Text("request id")},
            {"limit_per_stream",
             {{"type", "integer"}, {"minimum", 1}, {"maximum", kMaxLimit}, {"default", 100}}}},
           {"request_id"}),
       {{"type", "object"},
        {"properties",
         {{"request_id", {{"type", "string"}}},
          {"timeline", {{"type", "array"}}},
          {"counts", {{"type", "object"}}},
          {"totals", {{"type", "object"}}},
          {"truncated", {{"type", "object"}}}}},
        {"required", {"request_id", "timeline", "counts"}}},
       RequestTraceTool,
       nullptr});
  r.tools_.push_back(
      {"chain_verify",
       "Verify hash chains",
       "Verifies the audit hash chains byte-for-byte as the fasten SDKs seal them, for one node "
       "or all nodes and an optional seq window (from_seq/to_seq) or time window (since/until; "
       "window.nodes gives each node's seqs): rows valid per node, unsealed rows, the first "
       "break with its seq and reason, and each node's tip; with a checkpoint log, anchors.",
       InputSchema({{"source_node_id", Text("only this node")},
                    {"from_seq",
                     {{"type", "integer"},
                      {"minimum", 1},
                      {"description", "window start; its first link is checked too"}}},
                    {"to_seq", {{"type", "integer"}, {"minimum", 1}}},
                    {"since", kSince},
                    {"until", kUntil}}),
       {{"type", "object"},
        {"properties",
         {{"ok", {{"type", "boolean"}}},
          {"nodes", {{"type", "array"}}},
          {"summary", {{"type", "object"}}},
          {"upstream", {{"type", "object"}}},
          {"anchors", {{"type", "object"}}},
          {"caveat", {{"type", "string"}}}}},
        {"required", {"ok", "nodes", "summary", "caveat"}}},
       ChainVerifyTool,
       nullptr});
  r.tools_.push_back(
      {"row_get",
       "Get one row by its citation",
       "Fetches one row by citation: an audit row by (monotonic_seq, hash), or a sys/api row by "
       "(stream, seq, hash = its content digest), with its verification status and, for audit "
       "rows, its chain neighbours.",
       InputSchema({{"stream",
                     {{"type", "string"}, {"enum", {"audit", "sys", "api"}}, {"default", "audit"}}},
                    {"monotonic_seq", {{"type", "integer"}, {"minimum", 0}}},
                    {"seq", {{"type", "integer"}, {"minimum", 0}}},
                    {"hash",
                     {{"type", "string"},
                      {"pattern", "^[0-9a-f]{64}$"},
                      {"description", "audit: the row hash; sys/api: the content digest"}}}},
                   {"hash"}),
       {{"type", "object"},
        {"properties",
         {{"stream", {{"type", "string"}}},
          {"row", {{"type", "object"}}},
          {"verification", {{"type", "object"}}}}},
        {"required", {"stream", "row", "verification"}}},
       RowGetTool,
       nullptr});
  r.tools_.push_back(
      {"red_metrics",
       "RED metrics",
       "Rate, errors and duration from the api stream over a window (default the last hour): "
       "requests per minute, 5xx and 4xx rates, p50/p95 latency, top routes, plus audit "
       "error/critical counts.",
       InputSchema(
           {{"since", kSince},
            {"until", kUntil},
            {"service_id", Text("only this service")},
            {"top", {{"type", "integer"}, {"minimum", 1}, {"maximum", 20}, {"default", 5}}}}),
       {{"type", "object"},
        {"properties",
         {{"window", {{"type", "object"}}},
          {"requests", {{"type", "integer"}}},
          {"requests_per_min", {{"type", "number"}}},
          {"error_rate_5xx", {{"type", "number"}}},
          {"latency_ms", {{"type", "object"}}},
          {"top_routes", {{"type", "array"}}},
          {"audit_errors", {{"type", "object"}}}}},
        {"required", {"window", "requests", "top_routes"}}},
       RedMetricsTool,
       nullptr});
  r.tools_.push_back(
      {"topology",
       "Fleet topology",
       "Nodes and services that wrote audit rows: row counts, first and last seen, and each "
       "node's chain tip (seq, hash).",
       InputSchema(json::object()),
       {{"type", "object"},
        {"properties", {{"nodes", {{"type", "array"}}}, {"services", {{"type", "array"}}}}},
        {"required", {"nodes", "services"}}},
       TopologyTool,
       nullptr});
  r.tools_.push_back(
      {"search",
       "Free-text search",
       "Case-insensitive substring search over sys/api payloads and audit details within a "
       "window; since is required (no unbounded scans). Newest first.",
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
       SearchTool,
       nullptr});
  r.tools_.push_back(
      {"validate_answer",
       "Validate a cited answer",
       "Checks a cited answer deterministically: each claim needs a citation; each citation must "
       "resolve to one row of this tenant whose hash (audit) or digest (sys/api) verifies and, "
       "for audit, links to its chain; codes, ids, statuses and times a claim quotes must be in "
       "its cited rows. Integrity statements need the claim's integrity field and must agree "
       "with the chain. Returns the verdict with reason codes and fasten's integrity verdict.",
       InputSchema(
           {{"claims",
             {{"type", "array"},
              {"maxItems", kMaxClaims},
              {"items",
               InputSchema(
                   {{"text", {{"type", "string"}, {"maxLength", 4000}}},
                    {"citations",
                     {{"type", "array"},
                      {"maxItems", kMaxCitationsPerClaim},
                      {"items",
                       InputSchema(
                           {{"stream", {{"type", "string"}, {"enum", {"audit", "sys", "api"}}}},
                            {"seq",
                             {{"type", "integer"},
                              {"minimum", 1},
                              {"description", "audit: monotonic_seq; sys/api: seq"}}},
                            {"hash",
                             {{"type", "string"},
                              {"pattern", "^[0-9a-f]{64}$"},
                              {"description", "audit: row hash; sys/api: digest"}}}},
                           {"stream", "seq", "hash"})}}},
                    {"integrity",
                     {{"type", "string"},
                      {"enum", {"intact", "tampered"}},
                      {"description",
                       "intact: chain unaltered in scope; tampered: cites failing rows"}}},
                    {"scope", InputSchema({{"since", kSince},
                                           {"until", kUntil},
                                           {"nodes",
                                            {{"type", "array"},
                                             {"maxItems", 64},
                                             {"items", {{"type", "string"}, {"maxLength", 256}}}}}},
                                          {})}},
                   {"text", "citations"})}}},
            {"answer",
             {{"type", "string"},
              {"maxLength", 20000},
              {"description", "prose; checked for integrity statements only"}}},
            {"window", InputSchema({{"since", kTime}, {"until", kTime}}, {"since", "until"})},
            {"unknowns",
             {{"type", "array"},
              {"maxItems", kMaxClaims},
              {"items", {{"type", "string"}, {"maxLength", 4000}}}}}},
           {"claims"}),
       {{"type", "object"},
        {"properties",
         {{"accepted", {{"type", "boolean"}}},
          {"claims", {{"type", "array"}}},
          {"problems", {{"type", "array"}}},
          {"summary", {{"type", "object"}}},
          {"integrity", {{"type", {"object", "null"}}}}}},
        {"required", {"accepted", "claims", "problems", "summary"}}},
       ValidateAnswerTool,
       nullptr});
  for (ToolDef& t : r.tools_) {
    Result<JsonSchema> compiled = JsonSchema::Compile(t.input_schema);
    if (!compiled.ok()) std::abort();  // a bug in the schemas above; covered by the tests
    t.compiled_input = std::make_shared<const JsonSchema>(std::move(compiled).value());
  }
  return r;
}

const ToolDef* ToolRegistry::Find(const std::string& name) const {
  for (const ToolDef& t : tools_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<json> ToolRegistry::Call(const ToolDef& tool, const json& args, ToolEnv& env) const {
  Status st = tool.compiled_input ? tool.compiled_input->Validate(args)
                                  : ValidateJson(tool.input_schema, args);
  if (!st.ok()) return st;
  return tool.handler(args, env);
}

}  // namespace fasten
