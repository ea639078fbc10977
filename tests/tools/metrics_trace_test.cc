// red_metrics' series and routes, and request_trace's waterfall, on the demo store.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "demo/demo_store.h"
#include "store/store_set.h"
#include "store/timestamp.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "tools/metrics_series.h"
#include "tools/registry.h"
#include "tools/route_template.h"

namespace fasten {
namespace {

using json = nlohmann::json;

Micros At(const std::string& text) {
  Micros t = 0;
  EXPECT_TRUE(ParseTimestamp(text, &t)) << text;
  return t;
}

class ToolsOnDemo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    DemoOptions o;
    o.path = dir_->File("demo.db");
    DemoSummary s;
    ASSERT_TRUE(WriteDemoStore(o, &s).ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    ASSERT_TRUE(
        OpenStoreSet(testing::SqliteStoreConfig(dir_->File("demo.db")), true, &stores_).ok());
    env_.stores = &stores_;
    env_.now = At("2026-11-21T00:00:00Z");
  }

  Result<json> Call(const std::string& tool, const json& args) {
    const ToolDef* def = registry_.Find(tool);
    EXPECT_NE(def, nullptr) << tool;
    return registry_.Call(*def, args, env_);
  }
  json Ok(const std::string& tool, const json& args) {
    Result<json> r = Call(tool, args);
    EXPECT_TRUE(r.ok()) << tool << " " << args << ": " << r.status().ToString();
    return r.ok() ? r.value() : json::object();
  }

  static testing::TempDir* dir_;
  ToolRegistry registry_ = ToolRegistry::Default();
  StoreSet stores_;
  ToolEnv env_{test_support::TestScopes::Tenant("acme")};
};
testing::TempDir* ToolsOnDemo::dir_ = nullptr;

const json kHour = {{"since", "2026-11-20T14:00:00Z"}, {"until", "2026-11-20T15:00:00Z"}};

json With(json args, const char* key, json value) {
  args[key] = std::move(value);
  return args;
}

// ---------------------------------------------------------------------------------------------
// red_metrics

TEST_F(ToolsOnDemo, RedMetricsWithoutBucketHasNoSeries) {
  json m = Ok("red_metrics", kHour);
  EXPECT_FALSE(m.contains("series"));
  EXPECT_FALSE(m.contains("bucket"));
  for (const char* key : {"window", "requests", "requests_per_min", "error_rate_5xx",
                          "error_rate_4xx", "latency_ms", "top_routes", "audit_errors"}) {
    EXPECT_TRUE(m.contains(key)) << key;
  }
}

TEST_F(ToolsOnDemo, RedMetricsRoutesAreTemplatesWithAnExamplePath) {
  json m = Ok("red_metrics", With(kHour, "top", 20));
  ASSERT_FALSE(m["top_routes"].empty());
  for (const json& r : m["top_routes"]) {
    const std::string route = r["route"];
    const std::string example = r["example_path"];
    // The example is a raw path of that route; the route has no id-like segment left.
    const std::string method = route.substr(0, route.find(' '));
    EXPECT_EQ(ApiRoute(method, example), route);
    const std::string path = route.substr(route.find(' ') + 1);
    size_t start = 0;
    while (start <= path.size()) {
      const size_t slash = std::min(path.find('/', start), path.size());
      EXPECT_FALSE(IsIdSegment(path.substr(start, slash - start))) << route;
      start = slash + 1;
    }
  }
  // The refund request's path counts under its template.
  json day =
      Ok("red_metrics",
         {{"since", "2026-11-20T14:32:00Z"}, {"until", "2026-11-20T14:32:02Z"}, {"top", 20}});
  bool found = false;
  for (const json& r : day["top_routes"]) {
    if (r["route"] == "POST /v1/orders/{id}/refunds") {
      found = true;
      EXPECT_EQ(r["example_path"], "/v1/orders/ord-88412/refunds");
    }
  }
  EXPECT_TRUE(found) << day["top_routes"];
}

// Sums of the series equal the aggregate; buckets are epoch-aligned, contiguous and cover the
// window.
void ExpectSeriesMatches(const json& m, Micros since, Micros until, Micros width) {
  ASSERT_TRUE(m["series"].is_array());
  const json& series = m["series"];
  ASSERT_FALSE(series.empty());
  int64_t requests = 0, e5 = 0, e4 = 0;
  Micros prev_end = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    const json& b = series[i];
    const Micros start = At(b["start"]), end = At(b["end"]);
    EXPECT_EQ(start % width, 0) << b;
    EXPECT_EQ(end - start, width) << b;
    if (i > 0) {
      EXPECT_EQ(start, prev_end) << b;
    }
    prev_end = end;
    requests += b["requests"].get<int64_t>();
    e5 += b["errors_5xx"].get<int64_t>();
    e4 += b["errors_4xx"].get<int64_t>();
    const int64_t n = b["requests"];
    EXPECT_DOUBLE_EQ(b["error_rate_5xx"].get<double>(),
                     n ? static_cast<double>(b["errors_5xx"].get<int64_t>()) / n : 0.0);
    if (n == 0) {
      EXPECT_TRUE(b["p50_ms"].is_null()) << b;
      EXPECT_TRUE(b["p95_ms"].is_null()) << b;
    }
  }
  EXPECT_LE(At(series.front()["start"]), since);
  EXPECT_GT(At(series.front()["end"]), since);
  EXPECT_LE(At(series.back()["start"]), until);
  EXPECT_GT(At(series.back()["end"]), until);
  const int64_t total = m["requests"];
  EXPECT_EQ(requests, total);
  EXPECT_EQ(e5, std::llround(m["error_rate_5xx"].get<double>() * static_cast<double>(total)));
  EXPECT_EQ(e4, std::llround(m["error_rate_4xx"].get<double>() * static_cast<double>(total)));
}

TEST_F(ToolsOnDemo, RedMetricsSeriesAddsUpToTheAggregate) {
  const Micros since = At("2026-11-20T14:00:00Z"), until = At("2026-11-20T15:00:00Z");
  json m = Ok("red_metrics", With(kHour, "bucket", "5m"));
  EXPECT_EQ(m["bucket"], "5m");
  // 14:00 … 15:00 inclusive: twelve whole buckets and the one that starts at 15:00:00.
  EXPECT_EQ(m["series"].size(), 13u);
  EXPECT_GT(m["requests"].get<int64_t>(), 0);
  ExpectSeriesMatches(m, since, until, 5 * 60 * int64_t{1000000});
  // The aggregate is the same with and without the series.
  json plain = Ok("red_metrics", kHour);
  m.erase("series");
  m.erase("bucket");
  EXPECT_EQ(m, plain);
  // The refund's three 502s are in the 14:30 bucket.
  // (The result is held: a range-for over a member of a temporary reads freed memory.)
  const json bucketed = Ok("red_metrics", With(kHour, "bucket", "5m"));
  bool found = false;
  for (const json& b : bucketed.at("series")) {
    if (b.at("start") == "2026-11-20T14:30:00.000000Z") {
      found = true;
      EXPECT_GE(b.at("errors_5xx").get<int64_t>(), 3);
    }
  }
  EXPECT_TRUE(found) << bucketed.dump();
}

TEST_F(ToolsOnDemo, RedMetricsSeriesOfADayAndAnUnalignedWindow) {
  const json args = {{"since", "2026-11-20T03:17:41Z"}, {"until", "2026-11-20T21:02:05Z"}};
  for (const char* bucket : {"5m", "15m", "1h", "6h", "1d"}) {
    json m = Ok("red_metrics", With(args, "bucket", bucket));
    ExpectSeriesMatches(m, At("2026-11-20T03:17:41Z"), At("2026-11-20T21:02:05Z"),
                        *BucketWidth(bucket));
  }
  EXPECT_EQ(Ok("red_metrics", With(args, "bucket", "1h"))["series"].size(), 19u);  // 03 … 21
  EXPECT_EQ(Ok("red_metrics", With(args, "bucket", "1d"))["series"].size(), 1u);
}

TEST_F(ToolsOnDemo, RedMetricsSeriesKeepsEmptyBuckets) {
  json m =
      Ok("red_metrics",
         {{"since", "2026-11-25T00:00:00Z"}, {"until", "2026-11-25T01:00:00Z"}, {"bucket", "15m"}});
  EXPECT_EQ(m["requests"], 0);
  ASSERT_EQ(m["series"].size(), 5u);
  EXPECT_EQ(m["series"][0]["start"], "2026-11-25T00:00:00.000000Z");
  EXPECT_EQ(m["series"][4]["end"], "2026-11-25T01:15:00.000000Z");
  for (const json& b : m["series"]) {
    EXPECT_EQ(b["requests"], 0);
    EXPECT_EQ(b["errors_5xx"], 0);
    EXPECT_EQ(b["error_rate_5xx"], 0.0);
    EXPECT_TRUE(b["p95_ms"].is_null());
  }
  // A busy hour in minutes has quiet minutes too: every minute is there.
  json busy = Ok("red_metrics", With(kHour, "bucket", "1m"));
  EXPECT_EQ(busy["series"].size(), 61u);
  ExpectSeriesMatches(busy, At("2026-11-20T14:00:00Z"), At("2026-11-20T15:00:00Z"),
                      60 * int64_t{1000000});
}

TEST_F(ToolsOnDemo, RedMetricsRefusesTooManyBucketsAndBadNames) {
  Result<json> r = Call(
      "red_metrics",
      {{"since", "2026-11-18T00:00:00Z"}, {"until", "2026-11-20T00:00:00Z"}, {"bucket", "1m"}});
  ASSERT_FALSE(r.ok());
  const std::string msg = r.status().message();
  EXPECT_NE(msg.find("bucket"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2881"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1440"), std::string::npos) << msg;
  EXPECT_NE(msg.find("use bucket 5m"), std::string::npos) << msg;
  for (json bad : {json("2m"), json("1M"), json(""), json(5), json("1h30m")}) {
    Result<json> b = Call("red_metrics", With(kHour, "bucket", bad));
    EXPECT_FALSE(b.ok()) << bad;
  }
}

TEST_F(ToolsOnDemo, RedMetricsRefusesASeriesOverTheResultBudget) {
  env_.byte_budget = 6000;
  Result<json> r = Call("red_metrics", With(kHour, "bucket", "1m"));
  ASSERT_FALSE(r.ok());
  const std::string msg = r.status().message();
  EXPECT_NE(msg.find("budget"), std::string::npos) << msg;
  EXPECT_NE(msg.find("use bucket 5m"), std::string::npos) << msg;
  EXPECT_TRUE(Call("red_metrics", With(kHour, "bucket", "5m")).ok());
}

// ---------------------------------------------------------------------------------------------
// api rows carry their route

TEST_F(ToolsOnDemo, ApiRowsCarryTheirRouteBesideTheRawPath) {
  json page = Ok("api_query", {{"request_id", "3a7b1c9e4d20"}, {"limit", 10}});
  ASSERT_EQ(page["rows"].size(), 4u);
  for (const json& row : page["rows"]) {
    const std::string path = row["payload"]["path"];
    if (path == "/v1/orders/ord-88412/refunds") {
      EXPECT_EQ(row["route"], "POST /v1/orders/{id}/refunds");
    } else {
      EXPECT_EQ(row["route"], "POST " + path);
    }
  }
  json sys = Ok("sys_query", {{"request_id", "3a7b1c9e4d20"}});
  for (const json& row : sys["rows"]) EXPECT_FALSE(row.contains("route"));
}

// ---------------------------------------------------------------------------------------------
// request_trace's waterfall

TEST_F(ToolsOnDemo, RequestTraceWaterfallOfTheRefund) {
  json t = Ok("request_trace", {{"request_id", "3a7b1c9e4d20"}});
  const json& wf = t["waterfall"];
  ASSERT_TRUE(wf.is_object()) << t;
  EXPECT_EQ(wf["truncated"], false);
  // The origin is the first event of the timeline (the refund POST).
  EXPECT_EQ(wf["origin"], t["timeline"][0]["t"]);
  EXPECT_EQ(wf["origin"], "2026-11-20T14:32:01.104000Z");
  const Micros origin = At(wf["origin"]);
  // Every span is one api row of the timeline: its offset and duration are that row's.
  std::map<int64_t, json> api_rows;
  for (const json& e : t["timeline"]) {
    if (e["stream"] == "api") api_rows[e["row"]["seq"].get<int64_t>()] = e["row"];
  }
  const json& spans = wf["spans"];
  ASSERT_EQ(spans.size(), 4u);
  ASSERT_EQ(api_rows.size(), 4u);
  for (const json& s : spans) {
    const json& row = api_rows.at(s["seq"].get<int64_t>());
    EXPECT_DOUBLE_EQ(s["offset_ms"].get<double>(),
                     static_cast<double>(At(row["timestamp"]) - origin) / 1000.0);
    EXPECT_EQ(s["duration_ms"], row["payload"]["duration_ms"]);
    EXPECT_EQ(s["method"], row["payload"]["method"]);
    EXPECT_EQ(s["path"], row["payload"]["path"]);
    EXPECT_EQ(s["status"], row["payload"]["status"]);
    EXPECT_EQ(s["service_id"], row["payload"]["service_id"]);
    EXPECT_EQ(s["route"], row["route"]);
  }
  EXPECT_EQ(spans[0]["offset_ms"], 0.0);
  EXPECT_EQ(spans[0]["duration_ms"], 38.2);
  EXPECT_EQ(spans[0]["path"], "/v1/orders/ord-88412/refunds");
  EXPECT_EQ(spans[0]["route"], "POST /v1/orders/{id}/refunds");
  EXPECT_EQ(spans[0]["status"], 202);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(spans[i]["offset_ms"], 10000.0 * i) << i;
    EXPECT_EQ(spans[i]["duration_ms"], 10004.7) << i;
    EXPECT_EQ(spans[i]["status"], 502) << i;
    EXPECT_EQ(spans[i]["service_id"], "payments-worker") << i;
  }
  // REFUND_REQUESTED (checkout-api, +2 ms) is inside the refund POST.
  ASSERT_EQ(spans[0]["events"].size(), 1u) << spans[0];
  EXPECT_EQ(spans[0]["events"][0]["stream"], "audit");
  EXPECT_EQ(spans[0]["events"][0]["offset_ms"], 2.0);
  EXPECT_EQ(spans[0]["events"][0]["source_node_id"], "edge-eu-1");
  EXPECT_NE(spans[0]["events"][0]["summary"].get<std::string>().find("REFUND_REQUESTED"),
            std::string::npos);
  // Each webhook failure is in its own attempt: +20001 ms lies in the second attempt's span
  // (10000 … 20004.7) and the third's (20000 …): the later start wins.
  for (int i = 1; i <= 3; ++i) {
    ASSERT_GE(spans[i]["events"].size(), 1u) << spans[i];
    EXPECT_EQ(spans[i]["events"][0]["stream"], "sys");
    EXPECT_EQ(spans[i]["events"][0]["offset_ms"], 10000.0 * i + 1) << i;
  }
  EXPECT_EQ(spans[1]["events"].size(), 1u);
  EXPECT_EQ(spans[2]["events"].size(), 1u);
  // The rollback (audit, +31 s) and its sys row are inside the third attempt (30000 … 40004.7).
  ASSERT_EQ(spans[3]["events"].size(), 3u) << spans[3];
  EXPECT_EQ(spans[3]["events"][1]["stream"], "audit");
  EXPECT_EQ(spans[3]["events"][1]["offset_ms"], 31000.0);
  EXPECT_EQ(spans[3]["events"][2]["offset_ms"], 31001.0);
  // refund_initiated (+10 ms) falls in the POST's time but was written by payments-worker, not
  // checkout-api: it is outside every span, with its offset.
  ASSERT_EQ(wf["outside_spans"].size(), 1u) << wf["outside_spans"];
  EXPECT_EQ(wf["outside_spans"][0]["stream"], "sys");
  EXPECT_EQ(wf["outside_spans"][0]["offset_ms"], 10.0);
  EXPECT_EQ(wf["outside_spans"][0]["service_id"], "payments-worker");
  // The waterfall points at rows but is no row itself: no hash or digest (the investigator's
  // ledger takes an object with monotonic_seq + hash, or stream + seq + digest, for a shown row).
  for (const json& s : spans) {
    EXPECT_FALSE(s.contains("digest")) << s;
    for (const json& e : s["events"]) {
      EXPECT_FALSE(e.contains("hash") || e.contains("digest")) << e;
    }
  }
  for (const json& e : wf["outside_spans"])
    EXPECT_FALSE(e.contains("hash") || e.contains("digest"));
  // Every timeline row is in the waterfall once.
  size_t placed = spans.size() + wf["outside_spans"].size();
  for (const json& s : spans) placed += s["events"].size();
  EXPECT_EQ(placed, t["timeline"].size());
}

TEST_F(ToolsOnDemo, RequestTraceWaterfallStaysWithinTheBudget) {
  env_.byte_budget = 1500;
  json t = Ok("request_trace", {{"request_id", "3a7b1c9e4d20"}});
  const json& wf = t["waterfall"];
  EXPECT_EQ(wf["truncated"], true);
  EXPECT_LE(wf.dump().size(), 1500u / 2 + 200);
  size_t kept = wf["spans"].size() + wf["outside_spans"].size();
  for (const json& s : wf["spans"]) kept += s["events"].size();
  EXPECT_EQ(kept + wf["omitted"]["spans"].get<size_t>() + wf["omitted"]["events"].get<size_t>(),
            11u);
  EXPECT_EQ(t["timeline_truncated"], true);
}

TEST_F(ToolsOnDemo, RequestTraceOfAnotherTenantHasAnEmptyWaterfall) {
  env_.scope = test_support::TestScopes::Tenant("globex");
  json t = Ok("request_trace", {{"request_id", "3a7b1c9e4d20"}});
  EXPECT_TRUE(t["waterfall"]["origin"].is_null());
  EXPECT_TRUE(t["waterfall"]["spans"].empty());
  EXPECT_TRUE(t["waterfall"]["outside_spans"].empty());
}

}  // namespace
}  // namespace fasten
