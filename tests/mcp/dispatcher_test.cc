#include "mcp/dispatcher.h"

#include <gtest/gtest.h>

#include <limits>

#include "demo/demo_store.h"
#include "mcp/mcp_test_util.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "tools/cursor.h"
#include "tools/row_json.h"

namespace fasten::mcp {
namespace {

using json = nlohmann::json;
using testing::ModernMeta;
using testing::ToolCall;

class DispatcherTest : public ::testing::Test {
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
    ctx_.connection = &connection_;
    ctx_.stores = &stores_;
    ctx_.notify = [this](const json& n) { notifications_.push_back(n); };
  }

  json Handle(json request) { return dispatcher_.HandleRequest(request, ctx_); }

  static testing::TempDir* dir_;
  ToolRegistry registry_ = ToolRegistry::Default();
  CursorSigner cursors_ = CursorSigner::WithRandomKey();
  Dispatcher dispatcher_{&registry_, &cursors_, ServerInfo{"fasten-mcp", "0.1.0", "t"}};
  StoreSet stores_;
  Connection connection_;
  CallContext ctx_{test_support::TestScopes::Tenant("acme")};
  std::vector<json> notifications_;
};
testing::TempDir* DispatcherTest::dir_ = nullptr;

TEST_F(DispatcherTest, InitializeEchoesAKnownLegacyVersionAndNeverAModernOne) {
  for (const char* v : {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}) {
    json r = Handle({{"jsonrpc", "2.0"},
                     {"id", 1},
                     {"method", "initialize"},
                     {"params", {{"protocolVersion", v}, {"capabilities", json::object()}}}});
    EXPECT_EQ(r["result"]["protocolVersion"], v);
  }
  for (const char* v : {"2026-07-28", "2031-01-01", ""}) {
    json r = Handle({{"jsonrpc", "2.0"},
                     {"id", "a"},
                     {"method", "initialize"},
                     {"params", {{"protocolVersion", v}}}});
    EXPECT_EQ(r["result"]["protocolVersion"], "2025-11-25") << v;
    EXPECT_EQ(r["id"], "a");
  }
  json r = Handle({{"jsonrpc", "2.0"},
                   {"id", 1},
                   {"method", "initialize"},
                   {"params", {{"protocolVersion", "2025-11-25"}}}});
  EXPECT_EQ(r["result"]["capabilities"], json({{"tools", {{"listChanged", false}}}}));
  EXPECT_FALSE(r["result"]["instructions"].get<std::string>().empty());
}

TEST_F(DispatcherTest, LegacyOutputIsGatedByTheNegotiatedVersion) {
  Handle({{"jsonrpc", "2.0"},
          {"id", 1},
          {"method", "initialize"},
          {"params", {{"protocolVersion", "2025-03-26"}}}});
  json list = Handle({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}});
  ASSERT_EQ(list["result"]["tools"].size(), 11u);
  for (const json& t : list["result"]["tools"]) {
    EXPECT_FALSE(t.contains("outputSchema"));
    EXPECT_FALSE(t.contains("title"));
    EXPECT_TRUE(t["annotations"]["readOnlyHint"].get<bool>());
    EXPECT_FALSE(t["inputSchema"].contains("properties") &&
                 t["inputSchema"]["properties"].contains("tenant_id"));
  }
  json call = Handle({{"jsonrpc", "2.0"},
                      {"id", 3},
                      {"method", "tools/call"},
                      {"params", {{"name", "topology"}, {"arguments", json::object()}}}});
  EXPECT_FALSE(call["result"].contains("structuredContent"));
  EXPECT_TRUE(json::parse(call["result"]["content"][0]["text"].get<std::string>()).is_object());
}

TEST_F(DispatcherTest, ModernRequestsAreStatelessAndCarryTheEnvelope) {
  json d = Handle({{"jsonrpc", "2.0"},
                   {"id", 1},
                   {"method", "server/discover"},
                   {"params", {{"_meta", ModernMeta()}}}});
  EXPECT_EQ(d["result"]["resultType"], "complete");
  EXPECT_EQ(d["result"]["supportedVersions"], json({"2026-07-28"}));
  EXPECT_EQ(d["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "fasten-mcp");
  EXPECT_TRUE(d["result"]["ttlMs"].is_number_integer());
  json list = Handle({{"jsonrpc", "2.0"},
                      {"id", 2},
                      {"method", "tools/list"},
                      {"params", {{"_meta", ModernMeta()}}}});
  EXPECT_EQ(list["result"]["cacheScope"], "public");
  for (const json& t : list["result"]["tools"]) {
    EXPECT_EQ(t["inputSchema"]["type"], "object");
    EXPECT_EQ(t["inputSchema"]["additionalProperties"], false);
    EXPECT_EQ(t["outputSchema"]["type"], "object");
    EXPECT_EQ(t["annotations"]["openWorldHint"], false);
  }
  // Removed methods, unknown versions, missing capabilities.
  for (const char* m : {"initialize", "ping", "logging/setLevel", "resources/subscribe"}) {
    json r = Handle(
        {{"jsonrpc", "2.0"}, {"id", 3}, {"method", m}, {"params", {{"_meta", ModernMeta()}}}});
    EXPECT_EQ(r["error"]["code"], kMethodNotFound) << m;
  }
  json meta = ModernMeta();
  meta["io.modelcontextprotocol/protocolVersion"] = "2030-01-01";
  json r = Handle({{"jsonrpc", "2.0"},
                   {"id", 4},
                   {"method", "server/discover"},
                   {"params", {{"_meta", meta}}}});
  EXPECT_EQ(r["error"]["code"], kUnsupportedProtocolVersion);
  EXPECT_EQ(r["error"]["data"]["supported"], json({"2026-07-28"}));
  EXPECT_EQ(r["error"]["data"]["requested"], "2030-01-01");
  meta = ModernMeta();
  meta.erase("io.modelcontextprotocol/clientCapabilities");
  r = Handle(
      {{"jsonrpc", "2.0"}, {"id", 5}, {"method", "tools/list"}, {"params", {{"_meta", meta}}}});
  EXPECT_EQ(r["error"]["code"], kInvalidParams);
}

TEST_F(DispatcherTest, WithoutInitializeOrEnvelopeOnlyPingIsServed) {
  EXPECT_EQ(Handle({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}})["result"], json::object());
  json r = Handle({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}});
  EXPECT_EQ(r["error"]["code"], kInvalidParams);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("missing _meta envelope"),
            std::string::npos);
}

TEST_F(DispatcherTest, ClassifiesMalformedMessages) {
  EXPECT_EQ(Dispatcher::Classify(json::array({1, 2})).error["error"]["code"], kInvalidRequest);
  EXPECT_EQ(Dispatcher::Classify(42).error["error"]["code"], kInvalidRequest);
  Incoming null_id =
      Dispatcher::Classify({{"jsonrpc", "2.0"}, {"id", nullptr}, {"method", "ping"}});
  EXPECT_EQ(null_id.kind, Incoming::Kind::kInvalid);
  ASSERT_TRUE(null_id.error.contains("id"));
  EXPECT_TRUE(null_id.error["id"].is_null());
  EXPECT_EQ(Dispatcher::Classify({{"id", 1}, {"method", "ping"}}).error["error"]["code"],
            kInvalidRequest);
  EXPECT_EQ(Dispatcher::Classify({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "x"}, {"params", 3}})
                .error["error"]["code"],
            kInvalidParams);
  EXPECT_EQ(
      Dispatcher::Classify({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}).kind,
      Incoming::Kind::kNotification);
  EXPECT_EQ(*Dispatcher::CancelTarget({{"jsonrpc", "2.0"},
                                       {"method", "notifications/cancelled"},
                                       {"params", {{"requestId", "s7"}}}}),
            "s7");
}

TEST_F(DispatcherTest, ErrorsWithoutAReadableIdCarryIdNull) {
  // JSON-RPC 2.0 §5: "id" is required in every response; null when it could not be determined.
  json message;
  Incoming in = Dispatcher::ParseAndClassify("{bad json", &message);
  EXPECT_EQ(in.kind, Incoming::Kind::kInvalid);
  EXPECT_EQ(in.error["error"]["code"], kParseError);
  ASSERT_TRUE(in.error.contains("id"));
  EXPECT_TRUE(in.error["id"].is_null());
  EXPECT_NE(DumpJson(in.error).find(R"("id":null)"), std::string::npos) << DumpJson(in.error);
  in = Dispatcher::ParseAndClassify(R"({"id":1,"method":"ping"})", &message);
  EXPECT_EQ(in.error["id"], 1);  // a readable id is kept
}

TEST_F(DispatcherTest, DeepArgumentsAreRefusedByIdAndTheNextCallWorks) {
  // Issue 12: ~100 k levels of nested arrays in tools/call arguments killed the process.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  json message;
  Incoming in = Dispatcher::ParseAndClassify(
      R"({"jsonrpc":"2.0","id":"deep-1","method":"tools/call","params":{"name":"audit_query",)"
      R"("arguments":{"code":)" +
          deep + "}}}",
      &message);
  EXPECT_EQ(in.kind, Incoming::Kind::kInvalid);
  EXPECT_EQ(in.error["id"], "deep-1");
  EXPECT_EQ(in.error["error"]["code"], kInvalidRequest);
  EXPECT_NE(in.error["error"]["message"].get<std::string>().find("limit of 64 levels"),
            std::string::npos);
  // Deep _meta, and a deep message whose id comes last.
  in = Dispatcher::ParseAndClassify(
      R"({"jsonrpc":"2.0","method":"tools/list","params":{"_meta":)" + deep + R"(},"id":9})",
      &message);
  EXPECT_EQ(in.error["id"], 9);
  // Within the limit everything works as before.
  in = Dispatcher::ParseAndClassify(DumpJson(ToolCall(2, "topology", json::object())), &message);
  ASSERT_EQ(in.kind, Incoming::Kind::kRequest);
  json r = Handle(message);
  EXPECT_FALSE(r["result"].value("isError", false)) << r.dump();
}

TEST_F(DispatcherTest, ALoneSurrogateEscapeIsAnsweredWithTheRequestsId) {
  // Issue 12: "\ud800" is valid JSON text; the request used to be answered without its id.
  std::string line = DumpJson(ToolCall(17, "audit_query", {{"code", "X"}}));
  line.replace(line.find(R"("X")"), 3, R"("X\ud800")");
  json message;
  Incoming in = Dispatcher::ParseAndClassify(line, &message);
  ASSERT_EQ(in.kind, Incoming::Kind::kRequest) << DumpJson(in.error);
  json r = Handle(message);
  EXPECT_EQ(r["id"], 17);
  EXPECT_TRUE(r.contains("result")) << r.dump();
}

TEST_F(DispatcherTest, UnknownToolIsAProtocolErrorBadArgumentsAToolError) {
  json r = Handle(ToolCall(1, "drop_table", json::object()));
  EXPECT_EQ(r["error"]["code"], kInvalidParams);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("audit_query"), std::string::npos);
  for (json args : {json{{"limit", 0}}, json{{"limit", "ten"}}, json{{"tenant_id", "globex"}},
                    json{{"since", "yesterday"}}, json{{"severity", "fatal"}},
                    json{{"cursor", "bm90IGEgY3Vyc29y"}}}) {
    json res = Handle(ToolCall(2, "audit_query", args))["result"];
    EXPECT_TRUE(res["isError"].get<bool>()) << args;
    EXPECT_EQ(res["content"][0]["type"], "text");
  }
}

TEST_F(DispatcherTest, EveryToolAnswersOnTheDemoStore) {
  std::vector<std::pair<std::string, json>> calls = {
      {"audit_query", {{"limit", 3}}},
      {"sys_query", {{"level", "error"}}},
      {"api_query", {{"status", 502}}},
      {"request_trace", {{"request_id", "3a7b1c9e4d20"}}},
      {"chain_verify", json::object()},
      {"red_metrics", {{"since", "2026-11-20T00:00:00Z"}, {"until", "2026-11-21T00:00:00Z"}}},
      {"topology", json::object()},
      {"search", {{"query", "stripe"}, {"since", "2026-11-20T00:00:00Z"}}}};
  for (auto& [name, args] : calls) {
    json r = Handle(ToolCall(1, name, args));
    ASSERT_TRUE(r.contains("result")) << name << r;
    EXPECT_FALSE(r["result"].value("isError", false)) << name << r["result"]["content"];
    EXPECT_EQ(json::parse(r["result"]["content"][0]["text"].get<std::string>()),
              r["result"]["structuredContent"])
        << name;
  }
  json trace = Handle(ToolCall(1, "request_trace", {{"request_id", "3a7b1c9e4d20"}}));
  EXPECT_EQ(trace["result"]["structuredContent"]["counts"]["api"], 4);
  json row = trace["result"]["structuredContent"]["timeline"][1]["row"];
  json got = Handle(
      ToolCall(2, "row_get", {{"monotonic_seq", row["monotonic_seq"]}, {"hash", row["hash"]}}));
  EXPECT_EQ(got["result"]["structuredContent"]["verification"]["ok"], true);
  json metrics = Handle(ToolCall(
      3, "red_metrics", {{"since", "2026-11-20T14:00:00Z"}, {"until", "2026-11-20T15:00:00Z"}}));
  EXPECT_GT(metrics["result"]["structuredContent"]["requests"].get<int64_t>(), 0);
}

// tools/call responses are written straight to text (no JSON document is built for them): the
// text must be byte for byte the dump of HandleRequest's JSON, for every version's framing
// (modern, legacy with and without structuredContent), for results and tool errors, with ids of
// every kind.
TEST_F(DispatcherTest, ToolCallTextIsTheDumpOfItsJson) {
  std::vector<json> requests;
  for (json id : {json(7), json("req-\"quoted\"\n"), json(-12)}) {
    json modern = ToolCall(0, "row_get", {{"monotonic_seq", 1}, {"hash", std::string(64, 'e')}});
    modern["id"] = id;
    requests.push_back(modern);
    json ok = ToolCall(0, "audit_query", {{"limit", 2}});
    ok["id"] = id;
    requests.push_back(ok);
    json bad = ToolCall(0, "audit_query", {{"limit", "two"}});
    bad["id"] = id;
    requests.push_back(bad);
    json not_object = ToolCall(0, "topology", json::array());
    not_object["id"] = id;
    requests.push_back(not_object);
  }
  std::vector<json> legacy_requests;
  for (const json& r : requests) {
    json legacy = r;
    legacy["params"].erase("_meta");
    legacy_requests.push_back(legacy);
  }
  for (const char* version : {"2025-11-25", "2025-03-26", "2024-11-05"}) {
    Connection legacy_connection;
    CallContext ctx{test_support::TestScopes::Tenant("acme")};
    ctx.connection = &legacy_connection;
    ctx.stores = &stores_;
    json init = {{"jsonrpc", "2.0"},
                 {"id", 0},
                 {"method", "initialize"},
                 {"params", {{"protocolVersion", version}}}};
    ASSERT_TRUE(dispatcher_.HandleRequest(init, ctx).contains("result"));
    for (const json& r : legacy_requests) {
      json as_json = dispatcher_.HandleRequest(r, ctx);
      ResponseShape shape;
      std::string text = dispatcher_.HandleRequestText(r, ctx, &shape);
      EXPECT_EQ(text, DumpJson(as_json)) << version << " " << r;
      EXPECT_EQ(shape.is_error, as_json["result"].value("isError", false)) << r;
      EXPECT_EQ(as_json["result"].contains("structuredContent"),
                std::string(version) == "2025-11-25" && !shape.is_error)
          << version << " " << r;
    }
  }
  for (const json& r : requests) {
    json as_json = Handle(r);
    ResponseShape shape;
    std::string text = dispatcher_.HandleRequestText(r, ctx_, &shape);
    EXPECT_EQ(text, DumpJson(as_json)) << r;
    EXPECT_EQ(shape.is_error, as_json["result"].value("isError", false)) << r;
    EXPECT_EQ(as_json["result"]["resultType"], "complete") << r;
    EXPECT_EQ(as_json["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
              "fasten-mcp");
  }
}

// doctor: reachability, counts and freshness per store, and the chain status of each node's
// newest rows, computed by verifying them: a tampered row inside the checked rows turns the node
// and the whole report not ok, one outside them does not (and the caveat says what was covered);
// a node without sealed rows has null, never 0, verified/breaks.
TEST_F(DispatcherTest, DoctorReportsEachStoreAndVerifiesTheNewestRowsOfEachNode) {
  json r = Handle(ToolCall(1, "doctor", json::object()));
  ASSERT_FALSE(r["result"].value("isError", false)) << r;
  json d = r["result"]["structuredContent"];
  EXPECT_EQ(d["ok"], true) << d;
  ASSERT_EQ(d["sources"].size(), 3u);
  const json& audit = d["sources"][0];
  EXPECT_EQ(audit["stream"], "audit");
  EXPECT_EQ(audit["reachable"], true);
  // A tenant is not told where the stores live; the operator (all tenants) is.
  for (const json& source : d["sources"]) EXPECT_FALSE(source.contains("dsn")) << source;
  json topo = Handle(ToolCall(2, "topology", json::object()))["result"]["structuredContent"];
  int64_t topo_rows = 0;
  for (const json& n : topo["nodes"]) topo_rows += n["rows"].get<int64_t>();
  EXPECT_EQ(audit["rows"], topo_rows);
  ASSERT_EQ(audit["nodes"].size(), topo["nodes"].size());
  bool saw_unsealed_node = false;
  for (const json& n : audit["nodes"]) {
    if (n["tip"].is_null()) {
      saw_unsealed_node = true;
      EXPECT_TRUE(n["chain"]["verified"].is_null()) << n;
      EXPECT_TRUE(n["chain"]["breaks"].is_null()) << n;
      continue;
    }
    EXPECT_EQ(n["chain"]["ok"], true) << n;
    EXPECT_EQ(n["chain"]["breaks"], 0) << n;
    EXPECT_GT(n["chain"]["verified"].get<int64_t>(), 0) << n;
    EXPECT_LE(n["chain"]["verified"].get<int64_t>(), 50) << n;
    EXPECT_EQ(n["chain"]["to_seq"], n["tip"]["seq"]);
    EXPECT_TRUE(n["checkpoint"].is_null());  // no checkpoint log configured
  }
  EXPECT_TRUE(saw_unsealed_node) << "the demo's Rust-core node has only unsealed rows";
  for (int i : {1, 2}) {
    EXPECT_EQ(d["sources"][i]["reachable"], true) << d["sources"][i];
    EXPECT_GT(d["sources"][i]["rows"].get<int64_t>(), 0) << d["sources"][i];
    EXPECT_TRUE(d["sources"][i]["last_row_at"].is_string());
  }
  EXPECT_EQ(d["checkpoints"]["configured"], false);
  EXPECT_EQ(d["index_advice"]["backend"], "sqlite");
  // Out-of-range arguments are tool errors.
  EXPECT_TRUE(
      Handle(ToolCall(3, "doctor", {{"rows_per_node", 0}}))["result"]["isError"].get<bool>());
  EXPECT_TRUE(
      Handle(ToolCall(4, "doctor", {{"rows_per_node", 100001}}))["result"]["isError"].get<bool>());

  // The tampered demo store: the edited row (an acme row of edge-us-1) is found when the checked
  // rows reach it, and only then.
  DemoOptions o;
  o.path = dir_->File("tampered-doctor.db");
  o.tamper = true;
  DemoSummary s;
  ASSERT_TRUE(WriteDemoStore(o, &s).ok());
  StoreSet tampered;
  ASSERT_TRUE(OpenStoreSet(testing::SqliteStoreConfig(o.path), true, &tampered).ok());
  CallContext ctx{test_support::TestScopes::Tenant("acme")};
  ctx.connection = &connection_;
  ctx.stores = &tampered;
  auto doctor = [&](int rows) {
    return dispatcher_.HandleRequest(ToolCall(5, "doctor", {{"rows_per_node", rows}}),
                                     ctx)["result"]["structuredContent"];
  };
  auto node = [&](const json& report, const std::string& name) {
    for (const json& n : report["sources"][0]["nodes"]) {
      if (n["source_node_id"] == name) return n;
    }
    return json();
  };
  json wide = doctor(5000);
  json us = node(wide, s.tampered_node);
  ASSERT_FALSE(us.is_null()) << wide;
  ASSERT_LE(us["chain"]["from_seq"].get<int64_t>(), s.tampered_seq) << us;
  EXPECT_EQ(wide["ok"], false);
  EXPECT_EQ(us["chain"]["ok"], false) << us;
  EXPECT_GE(us["chain"]["breaks"].get<int64_t>(), 1) << us;
  EXPECT_EQ(us["chain"]["first_break"]["seq"], s.tampered_seq) << us;
  json narrow = doctor(50);
  json us_narrow = node(narrow, s.tampered_node);
  ASSERT_GT(us_narrow["chain"]["from_seq"].get<int64_t>(), s.tampered_seq) << us_narrow;
  EXPECT_EQ(narrow["ok"], true);
  EXPECT_NE(narrow["caveat"].get<std::string>().find("newest 50"), std::string::npos);
}

// Found by tests/fuzz/fuzz_dispatcher (crashes/dispatcher/int64_max_seq_arguments): integer
// arguments were read through a double, so 9223372036854775807 (or 1e300, an integer to the
// schema) overflowed the conversion to int64 (undefined behaviour; on x86 it became INT64_MIN).
TEST_F(DispatcherTest, IntegerArgumentsBeyondADoubleAreReadExactly) {
  const json max = std::numeric_limits<int64_t>::max();
  json r = Handle(ToolCall(1, "chain_verify", {{"from_seq", 1}, {"to_seq", max}}));
  ASSERT_FALSE(r["result"].value("isError", false)) << r;
  EXPECT_EQ(r["result"]["structuredContent"]["window"]["to_seq"], max);
  EXPECT_EQ(r["result"]["structuredContent"]["ok"], true);
  // Beyond int64 the bound saturates: "up to 1e300" is "up to the end".
  r = Handle(ToolCall(2, "chain_verify", {{"to_seq", 1e300}}));
  EXPECT_EQ(r["result"]["structuredContent"]["window"]["to_seq"], max) << r;
  for (const json& seq : {max, json(1e300), json(9007199254740993u)}) {
    r = Handle(ToolCall(3, "row_get", {{"monotonic_seq", seq}, {"hash", std::string(64, '0')}}));
    std::string text = r["result"]["content"][0]["text"].get<std::string>();
    std::string want = seq.is_number_float() ? max.dump() : seq.dump();
    EXPECT_NE(text.find("monotonic_seq " + want + " "), std::string::npos) << text;
  }
}

// chain_verify {since, until}: per node, the seq range of the tenant's rows in the window, echoed
// in window.nodes, verified exactly as chain_verify {source_node_id, from_seq, to_seq} would.
TEST_F(DispatcherTest, ChainVerifyTimeWindowAgreesWithItsSeqWindows) {
  json r = Handle(ToolCall(1, "chain_verify",
                           {{"since", "2026-11-20T14:00:00Z"}, {"until", "2026-11-20T15:00:00Z"}}));
  ASSERT_FALSE(r["result"].value("isError", false)) << r;
  const json out = r["result"]["structuredContent"];
  const json& window = out["window"];
  EXPECT_EQ(window["since"], "2026-11-20T14:00:00.000000Z");
  EXPECT_EQ(window["until"], "2026-11-20T15:00:00.000000Z");
  ASSERT_GE(window["nodes"].size(), 2u) << window;
  ASSERT_EQ(window["nodes"].size(), out["nodes"].size());
  for (size_t i = 0; i < out["nodes"].size(); ++i) {
    const json& span = window["nodes"][i];
    EXPECT_EQ(span["source_node_id"], out["nodes"][i]["source_node_id"]);
    EXPECT_GT(span["rows_in_window"].get<int64_t>(), 0);
    json seq = Handle(ToolCall(2, "chain_verify",
                               {{"source_node_id", span["source_node_id"]},
                                {"from_seq", span["from_seq"]},
                                {"to_seq", span["to_seq"]}}));
    const json& nodes = seq["result"]["structuredContent"]["nodes"];
    ASSERT_EQ(nodes.size(), 1u) << seq;
    EXPECT_EQ(nodes[0], out["nodes"][i]);
  }
  // A date alone is its 00:00:00Z; a window without rows verifies nothing and says so.
  r = Handle(ToolCall(3, "chain_verify", {{"since", "2026-11-20"}, {"until", "2026-11-21"}}));
  EXPECT_EQ(r["result"]["structuredContent"]["window"]["since"], "2026-11-20T00:00:00.000000Z");
  EXPECT_EQ(r["result"]["structuredContent"]["ok"], true);
  r = Handle(ToolCall(4, "chain_verify", {{"since", "2030-01-01"}}));
  ASSERT_FALSE(r["result"].value("isError", false)) << r;
  EXPECT_TRUE(r["result"]["structuredContent"]["nodes"].empty());
  EXPECT_TRUE(r["result"]["structuredContent"]["window"]["nodes"].empty());
  EXPECT_NE(r["result"]["structuredContent"]["hint"].get<std::string>().find("time window"),
            std::string::npos);
  // Bad bounds and a seq window beside a time window are tool errors naming the arguments.
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"since", "yesterday"}}, "since:"},
      {{{"until", "2026-11-20T25:00:00Z"}}, "until:"},
      {{{"since", "2026-11-21"}, {"until", "2026-11-20"}}, "since is after until"},
      {{{"since", "2026-11-20"}, {"from_seq", 1}}, "from_seq/to_seq"},
      {{{"until", "now"}, {"to_seq", 9}}, "from_seq/to_seq"},
  };
  for (const auto& [args, want] : bad) {
    r = Handle(ToolCall(5, "chain_verify", args));
    ASSERT_TRUE(r["result"].value("isError", false)) << args << r;
    EXPECT_NE(r["result"]["content"][0]["text"].get<std::string>().find(want), std::string::npos)
        << args << r;
  }
}

// Request ids by prefix (6+ characters): an exact id wins, a unique prefix resolves and the
// result says so, a prefix of several ids is a tool error listing them; shorter finds nothing.
TEST_F(DispatcherTest, RequestIdPrefixesResolveOrListTheirCandidates) {
  auto call = [&](const char* tool, json args) {
    return Handle(ToolCall(1, tool, std::move(args)))["result"];
  };
  json r = call("request_trace", {{"request_id", "3a7b1c"}});
  ASSERT_FALSE(r.value("isError", false)) << r;
  json trace = r["structuredContent"];
  EXPECT_EQ(trace["request_id"], "3a7b1c9e4d20");
  EXPECT_EQ(trace["request_id_resolved_from"], "3a7b1c");
  EXPECT_EQ(trace["counts"]["api"], 4);
  EXPECT_EQ(
      trace["timeline"],
      call("request_trace", {{"request_id", "3a7b1c9e4d20"}})["structuredContent"]["timeline"]);
  EXPECT_FALSE(
      call("request_trace", {{"request_id", "3a7b1c9e4d20"}})["structuredContent"].contains(
          "request_id_resolved_from"));
  r = call("audit_query", {{"request_id", "3a7b1c9e"}});
  ASSERT_FALSE(r.value("isError", false)) << r;
  EXPECT_EQ(r["structuredContent"]["request_id_resolved_from"], "3a7b1c9e");
  EXPECT_EQ(r["structuredContent"]["count"], 2);
  for (const json& row : r["structuredContent"]["rows"])
    EXPECT_EQ(row["request_id"], "3a7b1c9e4d20");
  // Under six characters: not found, as before.
  r = call("request_trace", {{"request_id", "3a7b1"}});
  ASSERT_FALSE(r.value("isError", false)) << r;
  EXPECT_TRUE(r["structuredContent"]["timeline"].empty());
  EXPECT_FALSE(r["structuredContent"].contains("request_id_resolved_from"));
  // The demo's retention job writes many sched-<hex> ids for acme: ambiguous.
  for (const char* tool : {"request_trace", "audit_query"}) {
    r = call(tool, {{"request_id", "sched-"}});
    ASSERT_TRUE(r.value("isError", false)) << tool << r;
    const std::string text = r["content"][0]["text"].get<std::string>();
    EXPECT_NE(text.find("request_id 'sched-' is a prefix of "), std::string::npos) << text;
    EXPECT_NE(text.find(", sched-"), std::string::npos) << text;
    EXPECT_NE(text.find("longer prefix"), std::string::npos) << text;
  }
}

TEST_F(DispatcherTest, AuditQueryFiltersOffsetAndApiServiceId) {
  auto call = [&](const char* tool, json args) {
    return Handle(ToolCall(1, tool, std::move(args)))["result"];
  };
  json all = call("audit_query", {{"request_id", "3a7b1c9e4d20"}})["structuredContent"];
  ASSERT_EQ(all["count"], 2);
  const json& newest = all["rows"][0];
  for (const char* column : {"method", "actor_kind", "category"}) {
    json r = call("audit_query", {{"request_id", "3a7b1c9e4d20"}, {column, newest[column]}});
    ASSERT_FALSE(r.value("isError", false)) << column << r;
    for (const json& row : r["structuredContent"]["rows"]) EXPECT_EQ(row[column], newest[column]);
    EXPECT_GE(r["structuredContent"]["count"].get<int>(), 1) << column;
    r = call("audit_query", {{"request_id", "3a7b1c9e4d20"}, {column, "no-such-value"}});
    EXPECT_EQ(r["structuredContent"]["count"], 0) << column;
  }
  // offset skips matches; its next_cursor continues without it.
  json first = call("audit_query", {{"limit", 4}})["structuredContent"];
  json skipped = call("audit_query", {{"limit", 2}, {"offset", 2}})["structuredContent"];
  ASSERT_EQ(skipped["count"], 2);
  EXPECT_EQ(skipped["rows"][0], first["rows"][2]);
  EXPECT_EQ(skipped["rows"][1], first["rows"][3]);
  EXPECT_EQ(skipped["total_matched"], first["total_matched"]);
  json after = call("audit_query", {{"limit", 1}, {"cursor", skipped["next_cursor"]}});
  ASSERT_FALSE(after.value("isError", false)) << after;
  json five = call("audit_query", {{"limit", 5}})["structuredContent"];
  EXPECT_EQ(after["structuredContent"]["rows"][0], five["rows"][4]);
  json both = call("audit_query", {{"offset", 2}, {"cursor", skipped["next_cursor"]}});
  ASSERT_TRUE(both.value("isError", false)) << both;
  EXPECT_NE(both["content"][0]["text"].get<std::string>().find("offset and cursor"),
            std::string::npos);
  for (json bad : {json(-1), json(100001), json("2")}) {
    json r = call("audit_query", {{"offset", bad}});
    EXPECT_TRUE(r.value("isError", false)) << bad << r;
  }
  // api_query: service_id.
  json api = call("api_query", {{"request_id", "3a7b1c9e4d20"}})["structuredContent"];
  ASSERT_GT(api["count"].get<int>(), 0);
  const json service = api["rows"][0]["payload"]["service_id"];
  ASSERT_TRUE(service.is_string()) << api["rows"][0];
  json by_service = call("api_query", {{"service_id", service}})["structuredContent"];
  EXPECT_GT(by_service["count"].get<int>(), 0);
  for (const json& row : by_service["rows"]) EXPECT_EQ(row["payload"]["service_id"], service);
  EXPECT_EQ(call("api_query", {{"service_id", "no-such-service"}})["structuredContent"]["count"],
            0);
}

// A date alone is the whole UTC day: since from its first instant, until through its last.
TEST_F(DispatcherTest, DateOnlyBoundsCoverTheWholeDay) {
  json r = Handle(ToolCall(1, "audit_query", {{"since", "2026-11-20"}, {"until", "2026-11-20"}}));
  ASSERT_FALSE(r["result"].value("isError", false)) << r;
  const json& out = r["result"]["structuredContent"];
  EXPECT_EQ(out["window"]["since"], "2026-11-20T00:00:00.000000Z");
  EXPECT_EQ(out["window"]["until"], "2026-11-20T23:59:59.999999Z");
  json exact =
      Handle(ToolCall(2, "audit_query",
                      {{"since", "2026-11-20T00:00:00Z"},
                       {"until", "2026-11-20T23:59:59.999999Z"}}))["result"]["structuredContent"];
  EXPECT_EQ(out["total_matched"], exact["total_matched"]);
  EXPECT_GT(out["total_matched"].get<int64_t>(), 0);
}

// search also finds audit rows by their anchor columns (the demo details never hold the request
// id, its code or its category).
TEST_F(DispatcherTest, SearchMatchesAuditAnchorColumns) {
  json audit = Handle(
      ToolCall(1, "audit_query", {{"request_id", "3a7b1c9e4d20"}}))["result"]["structuredContent"];
  ASSERT_EQ(audit["count"], 2);
  json r = Handle(ToolCall(
      2, "search",
      {{"query", "3A7B1C9E4D20"}, {"since", "2026-11-19"}, {"streams", {"audit"}}}))["result"];
  ASSERT_FALSE(r.value("isError", false)) << r;
  EXPECT_EQ(r["structuredContent"]["counts"]["audit"], 2);
  for (const json& m : r["structuredContent"]["matches"])
    EXPECT_EQ(m["row"]["request_id"], "3a7b1c9e4d20");
  const std::string code = audit["rows"][0]["code"].get<std::string>();
  r = Handle(ToolCall(
      3, "search", {{"query", code}, {"since", "2026-11-19"}, {"streams", {"audit"}}}))["result"];
  ASSERT_FALSE(r.value("isError", false)) << r;
  EXPECT_GE(r["structuredContent"]["counts"]["audit"].get<int64_t>(), 1);
  for (const json& m : r["structuredContent"]["matches"]) EXPECT_EQ(m["row"]["code"], code);
}

TEST_F(DispatcherTest, ProgressIsReportedOnlyWhenAskedAndIncreases) {
  json call = ToolCall(1, "chain_verify", json::object());
  Handle(call);
  EXPECT_TRUE(notifications_.empty());
  call["params"]["_meta"]["progressToken"] = "p1";
  Handle(call);
  ASSERT_FALSE(notifications_.empty());
  double last = 0;
  for (const json& n : notifications_) {
    EXPECT_EQ(n["method"], "notifications/progress");
    EXPECT_EQ(n["params"]["progressToken"], "p1");
    EXPECT_GT(n["params"]["progress"].get<double>(), last);
    last = n["params"]["progress"].get<double>();
  }
}

TEST_F(DispatcherTest, ACancelledCallStopsItsQuery) {
  std::atomic<bool> cancelled{true};
  ctx_.cancelled = &cancelled;
  stores_.SetInterrupt(&cancelled);
  json r = Handle(ToolCall(1, "chain_verify", json::object()));
  stores_.SetInterrupt(nullptr);
  EXPECT_TRUE(r["result"]["isError"].get<bool>());
  EXPECT_NE(r["result"]["content"][0]["text"].get<std::string>().find("cancelled"),
            std::string::npos);
}

}  // namespace
}  // namespace fasten::mcp

namespace fasten::mcp {
namespace {

// Tool definitions cost every conversation tokens: the list may not grow more than 5 % over its
// budget without a deliberate change of the budget here (docs/mcp.md §4.1 rule 10). About 4 bytes a
// token: 14,600 bytes is roughly 3,650 tokens (11,419 for the nine query tools, raised by 1,511
// for validate_answer, whose nested claims/citations schema is most of it, and by 870 for its
// integrity field, claim scope and stated window in issue 13: 14,469 bytes measured then; raised
// in issue 16 to 15,800: the doctor tool (+834), audit_query's method/actor_kind/category and
// offset, api_query's service_id and the request_id prefix fields (+754), red_metrics' bucket and
// route fields and request_trace's waterfall (+~400): 16,462 bytes measured then).
TEST(ToolList, StaysWithinItsTokenBudget) {
  constexpr size_t kBudgetBytes = 15800;
  ToolRegistry registry = ToolRegistry::Default();
  CursorSigner cursors = CursorSigner::WithRandomKey();
  Dispatcher dispatcher(&registry, &cursors, ServerInfo{"fasten-mcp", "0.1.0", "t"});
  Connection connection;
  CallContext ctx{test_support::TestScopes::AllTenants()};
  ctx.connection = &connection;
  json r = dispatcher.HandleRequest({{"jsonrpc", "2.0"},
                                     {"id", 1},
                                     {"method", "tools/list"},
                                     {"params", {{"_meta", testing::ModernMeta()}}}},
                                    ctx);
  const size_t size = json({{"tools", r["result"]["tools"]}}).dump().size();
  EXPECT_LE(size, kBudgetBytes * 105 / 100) << "tools/list grew to " << size << " bytes";
  // No row text and no instruction-like prose in definitions.
  for (const json& t : r["result"]["tools"]) {
    const std::string d = t["description"];
    EXPECT_EQ(d.find("IMPORTANT"), std::string::npos) << t["name"];
    EXPECT_FALSE(d.empty());
  }
}

}  // namespace
}  // namespace fasten::mcp
