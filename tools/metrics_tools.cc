// The fleet overview tools: red_metrics (rate, errors and duration from the api stream) and
// topology (the nodes and services that wrote audit rows).
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/reader.h"
#include "store/timestamp.h"
#include "tools/json_out.h"
#include "tools/metrics_series.h"
#include "tools/route_template.h"
#include "tools/tool_common.h"
#include "tools/tool_defs.h"
#include "util/json_parse.h"

namespace fasten::tools_internal {
namespace {

constexpr int64_t kMetricsMaxRows = 200000;

// ---------------------------------------------------------------------------------------------
// red_metrics

struct RedMetricsArgs {
  WindowArgs window;  // since defaults to now-1h, until to now
  std::optional<std::string> service_id;
  int top = 5;
  std::optional<std::string> bucket;  // one of BucketNames(): adds the series
};

Result<RedMetricsArgs> ParseRedMetricsArgs(const json& args) {
  RedMetricsArgs a;
  a.window = ParseWindowArgs(args);
  a.service_id = Str(args, "service_id");
  a.top = static_cast<int>(Int(args, "top").value_or(5));
  a.bucket = Str(args, "bucket");
  if (a.bucket && !BucketWidth(*a.bucket)) {
    std::string names;
    for (const std::string& n : BucketNames()) names += (names.empty() ? "" : ", ") + n;
    return InvalidArgumentError("bucket: must be one of " + names + "; got '" + *a.bucket + "'");
  }
  return a;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  k = std::min(k, v.size() - 1);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

Result<json> RedMetricsTool(const RedMetricsArgs& args, ToolEnv& env) {
  std::optional<Micros> since, until;
  FASTEN_RETURN_IF_ERROR(Window(args.window, env, &since, &until, std::string("now-1h")));
  if (!until) until = env.now;
  const int top = args.top;
  // The series' buckets, checked before anything is read.
  Micros width = 0, first_bucket = 0;
  int64_t bucket_count = 0;
  if (args.bucket) {
    width = *BucketWidth(*args.bucket);
    first_bucket = BucketStart(*since, width);
    bucket_count = BucketCount(*since, *until, width);
    if (bucket_count > kMaxSeriesBuckets) {
      std::string wider;
      for (const std::string& n : BucketNames()) {
        if (BucketCount(*since, *until, *BucketWidth(n)) <= kMaxSeriesBuckets) {
          wider = n;
          break;
        }
      }
      return InvalidArgumentError(
          "bucket: " + *args.bucket + " buckets over this window need " +
          std::to_string(bucket_count) + " buckets; at most " + std::to_string(kMaxSeriesBuckets) +
          " are allowed (buckets are 1m to 1d): " +
          (wider.empty() ? std::string("use a shorter window")
                         : "use bucket " + wider + " or wider, or a shorter window"));
    }
  }
  struct Bucket {
    int64_t requests = 0, errors_5xx = 0, errors_4xx = 0;
    std::vector<double> durations;
  };
  std::vector<Bucket> buckets(static_cast<size_t>(bucket_count));
  int64_t unbucketed = 0;
  Status missing;
  StreamReader* api = Stream(env, StreamKind::kApi, &missing);
  if (!api) return missing;
  StreamQuery q;
  q.since = since;
  q.until = until;
  q.service_id = args.service_id;
  struct Route {
    int64_t requests = 0, errors = 0;
    std::vector<double> durations;
    std::string example_path;  // one raw path counted under this route
  };
  std::map<std::string, Route> routes;
  std::vector<double> durations;
  int64_t total = 0, server_errors = 0, client_errors = 0;
  bool complete = true;
  Status st = api->Scan(
      env.scope, q, kMetricsMaxRows,
      [&](const StreamRow& r) {
        ++total;
        Route& route = routes[ApiRoute(r.method, r.path)];
        ++route.requests;
        if (route.example_path.empty()) route.example_path = r.path;
        Bucket* bucket = nullptr;
        if (!buckets.empty()) {
          // The scan is bounded by the window, so every row has a parsed time inside it.
          const int64_t i =
              r.timestamp_ok ? (BucketStart(r.timestamp_us, width) - first_bucket) / width : -1;
          if (i >= 0 && i < bucket_count) {
            bucket = &buckets[static_cast<size_t>(i)];
            ++bucket->requests;
          } else {
            ++unbucketed;
          }
        }
        if (r.has_status && r.status >= 500) {
          ++server_errors;
          ++route.errors;
          if (bucket) ++bucket->errors_5xx;
        } else if (r.has_status && r.status >= 400) {
          ++client_errors;
          if (bucket) ++bucket->errors_4xx;
        }
        json p;
        if (ParseJson(r.payload, JsonLimits{r.payload.size(), kMaxJsonDepth}, &p).ok() &&
            p.is_object() && p.contains("duration_ms") && p["duration_ms"].is_number()) {
          double d = p["duration_ms"].get<double>();
          durations.push_back(d);
          route.durations.push_back(d);
          if (bucket) bucket->durations.push_back(d);
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
                          {"example_path", r.example_path},
                          {"requests", r.requests},
                          {"errors_5xx", r.errors},
                          {"p95_ms", Percentile(r.durations, 0.95)}});
  }
  auto audit_count = [&](const char* severity) -> Result<int64_t> {
    AuditQuery aq;
    aq.severity = severity;
    aq.since = since;
    aq.until = until;
    aq.limit = 1;
    aq.count_cap = 100000;
    AuditPage page;
    Status s = env.stores->audit->Query(env.scope, aq, &page);
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
  if (args.bucket) {
    json series = json::array();
    for (int64_t i = 0; i < bucket_count; ++i) {
      Bucket& b = buckets[static_cast<size_t>(i)];
      const Micros start = first_bucket + i * width;
      auto rate = [&](int64_t n) { return b.requests ? static_cast<double>(n) / b.requests : 0.0; };
      auto latency = [&](double p) {
        return b.durations.empty() ? json(nullptr) : json(Percentile(b.durations, p));
      };
      series.push_back({{"start", CanonicalTimestamp(start)},
                        {"end", CanonicalTimestamp(start + width)},
                        {"requests", b.requests},
                        {"errors_5xx", b.errors_5xx},
                        {"errors_4xx", b.errors_4xx},
                        {"error_rate_5xx", rate(b.errors_5xx)},
                        {"error_rate_4xx", rate(b.errors_4xx)},
                        {"p50_ms", latency(0.50)},
                        {"p95_ms", latency(0.95)}});
    }
    // A series is not paged: one that would not fit the result budget is refused, saying which
    // bucket would fit, rather than cut short (a graph of half a window misleads).
    const size_t used = JsonDumpSize(out) + JsonDumpSize(series) + 64;
    if (used > env.byte_budget) {
      const size_t per_bucket = JsonDumpSize(series) / static_cast<size_t>(bucket_count);
      std::string fits;
      for (const std::string& n : BucketNames()) {
        const int64_t c = BucketCount(*since, *until, *BucketWidth(n));
        if (*BucketWidth(n) > width &&
            JsonDumpSize(out) + static_cast<size_t>(c) * per_bucket + 64 <= env.byte_budget) {
          fits = n;
          break;
        }
      }
      return InvalidArgumentError(
          "bucket: " + std::to_string(bucket_count) + " " + *args.bucket + " buckets make a " +
          std::to_string(used) + "-byte result, over the " + std::to_string(env.byte_budget) +
          "-byte result budget: " +
          (fits.empty() ? std::string("use a shorter window")
                        : "use bucket " + fits + " or wider, or a shorter window"));
    }
    out["bucket"] = *args.bucket;
    out["series"] = std::move(series);
    if (unbucketed > 0) {
      out["series_note"] = std::to_string(unbucketed) +
                           " api rows had no time inside the window and are in no bucket";
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// topology

struct TopologyArgs {};  // no arguments

Result<TopologyArgs> ParseTopologyArgs(const json&) {
  return TopologyArgs{};
}

Result<json> TopologyTool(const TopologyArgs&, ToolEnv& env) {
  std::vector<AuditReader::TopologyEntry> entries;
  Status st = env.stores->audit->Topology(env.scope, &entries);
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
    st = env.stores->audit->Tip(env.scope, node, &tip);
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

ToolDef RedMetricsToolDef() {
  return {
      "red_metrics",
      "RED metrics",
      "Rate, errors and duration from the api stream over a window (default the last hour): "
      "requests per minute, 5xx and 4xx rates, p50/p95 latency, top routes (ids in paths "
      "become {id}), plus audit error/critical counts. With bucket, also a series per "
      "UTC-aligned bucket, empty ones included.",
      InputSchema({{"since", kSince},
                   {"until", kUntil},
                   {"service_id", Text("only this service")},
                   {"top", {{"type", "integer"}, {"minimum", 1}, {"maximum", 20}, {"default", 5}}},
                   {"bucket",
                    {{"type", "string"},
                     {"enum", BucketNames()},
                     {"description", "series bucket; at most 1440 in the window"}}}}),
      {{"type", "object"},
       {"properties",
        {{"window", {{"type", "object"}}},
         {"requests", {{"type", "integer"}}},
         {"requests_per_min", {{"type", "number"}}},
         {"error_rate_5xx", {{"type", "number"}}},
         {"latency_ms", {{"type", "object"}}},
         {"top_routes", {{"type", "array"}}},
         {"audit_errors", {{"type", "object"}}},
         {"bucket", {{"type", "string"}}},
         {"series", {{"type", "array"}}}}},
       {"required", {"window", "requests", "top_routes"}}},
      TypedHandler(ParseRedMetricsArgs, RedMetricsTool),
      nullptr};
}

ToolDef TopologyToolDef() {
  return {"topology",
          "Fleet topology",
          "Nodes and services that wrote audit rows: row counts, first and last seen, and each "
          "node's chain tip (seq, hash).",
          InputSchema(json::object()),
          {{"type", "object"},
           {"properties", {{"nodes", {{"type", "array"}}}, {"services", {{"type", "array"}}}}},
           {"required", {"nodes", "services"}}},
          TypedHandler(ParseTopologyArgs, TopologyTool),
          nullptr};
}

}  // namespace fasten::tools_internal
