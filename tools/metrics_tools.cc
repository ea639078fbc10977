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
};

Result<RedMetricsArgs> ParseRedMetricsArgs(const json& args) {
  RedMetricsArgs a;
  a.window = ParseWindowArgs(args);
  a.service_id = Str(args, "service_id");
  a.top = static_cast<int>(Int(args, "top").value_or(5));
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
  };
  std::map<std::string, Route> routes;
  std::vector<double> durations;
  int64_t total = 0, server_errors = 0, client_errors = 0;
  bool complete = true;
  Status st = api->Scan(
      env.scope, q, kMetricsMaxRows,
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
  return {"red_metrics",
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
