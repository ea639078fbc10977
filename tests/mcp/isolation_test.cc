// Tenant isolation: a server bound to tenant acme on a two-tenant store must answer exactly as an
// all-tenants server on a copy of the store that holds only acme's rows — for thousands of
// randomized tool calls, cursors followed page by page — and nothing it returns may name a row
// of globex. (chain_verify, whose links run through globex rows, and row_get's neighbours are
// checked for leaks only.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>

#include "demo/demo_store.h"
#include "mcp/dispatcher.h"
#include "mcp/mcp_test_util.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "tools/cursor.h"
#include "tools/row_json.h"

namespace fasten::mcp {
namespace {

using json = nlohmann::json;
using testing::ToolCall;

struct Server {
  StoreSet stores;
  Connection connection;
  CallContext ctx;
  std::unique_ptr<Dispatcher> dispatcher;

  Server(const std::string& path, std::optional<std::string> tenant, const ToolRegistry* tools,
         const CursorSigner* cursors)
      : ctx{test_support::TestScopes::Of(tenant)} {
    StoreConfig config;
    config.audit = ParseDsn("sqlite:///" + path).value();
    config.sys = config.api = config.audit;
    EXPECT_TRUE(OpenStoreSet(config, true, &stores).ok());
    dispatcher = std::make_unique<Dispatcher>(tools, cursors, ServerInfo{"fasten-mcp", "t", "t"});
    ctx.connection = &connection;
    ctx.stores = &stores;
  }
  json Call(const std::string& tool, const json& args) {
    return dispatcher->HandleRequest(ToolCall(1, tool, args), ctx)["result"];
  }
};

// Every string in `j`, except under keys whose values are a visible row's own columns that may
// name a neighbour (prev_hash is the caller's row's column).
void Strings(const json& j, std::vector<std::string>* out, const std::string& key = "") {
  if (key == "prev_hash") return;
  if (j.is_string()) out->push_back(j.get<std::string>());
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) Strings(it.value(), out, it.key());
  }
  if (j.is_array()) {
    for (const json& v : j) Strings(v, out);
  }
}

// Removes what legitimately differs between the two servers: cursors (bound to the tenant key)
// and, for row_get, the neighbours and link (their chain runs through other tenants' rows).
json Comparable(const std::string& tool, json r) {
  if (!r.contains("structuredContent")) return r;
  json& s = r["structuredContent"];
  s.erase("next_cursor");
  if (tool == "row_get") {
    s.erase("neighbours");
    s["verification"].erase("link_to_predecessor");
    s["verification"].erase("ok");
  }
  r["content"] = nullptr;  // the text is the same JSON, cursor included
  return r;
}

class Isolation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    full_ = dir_->File("full.db");
    only_ = dir_->File("acme-only.db");
    DemoOptions o;
    o.path = full_;
    DemoSummary s;
    ASSERT_TRUE(WriteDemoStore(o, &s).ok());
    std::filesystem::copy_file(full_, only_);
    testing::ExecSql(only_,
                     "DELETE FROM audit_log WHERE tenant_id IS NOT 'acme';"
                     "DELETE FROM syslog WHERE CASE WHEN json_valid(payload) THEN "
                     "json_extract(payload, '$.tenant_id') END IS NOT 'acme';"
                     "DELETE FROM api_log WHERE CASE WHEN json_valid(payload) THEN "
                     "json_extract(payload, '$.tenant_id') END IS NOT 'acme';");
  }
  static void TearDownTestSuite() { delete dir_; }

  static testing::TempDir* dir_;
  static std::string full_, only_;
  ToolRegistry tools_ = ToolRegistry::Default();
  CursorSigner cursors_ = CursorSigner::WithRandomKey();
};
testing::TempDir* Isolation::dir_ = nullptr;
std::string Isolation::full_, Isolation::only_;

TEST_F(Isolation, TenantBoundServerEqualsTheTenantsOwnStoreAndNeverNamesAnotherTenant) {
  Server acme(full_, "acme", &tools_, &cursors_);
  Server oracle(only_, std::nullopt, &tools_, &cursors_);
  Server all(full_, std::nullopt, &tools_, &cursors_);

  // What globex owns: ids, hashes and digests that must never reach acme.
  std::set<std::string> forbidden;
  std::vector<json> globex_audit, globex_stream;
  {
    Server globex(full_, "globex", &tools_, &cursors_);
    json args = {{"limit", 200}};
    for (int page = 0; page < 100; ++page) {
      json r = globex.Call("audit_query", args)["structuredContent"];
      for (const json& row : r["rows"]) {
        forbidden.insert(row["id"]);
        if (row["hash"] == "") continue;  // unsealed rows cannot be cited
        forbidden.insert(row["hash"]);
        globex_audit.push_back(row);
      }
      if (r["next_cursor"].is_null()) break;
      args["cursor"] = r["next_cursor"];
    }
    for (const char* tool : {"sys_query", "api_query"}) {
      json r = globex.Call(tool, {{"limit", 200}})["structuredContent"];
      for (const json& row : r["rows"]) {
        forbidden.insert(row["digest"]);
        globex_stream.push_back(row);
      }
    }
  }
  ASSERT_GT(globex_audit.size(), 500u);
  forbidden.erase("");
  ASSERT_FALSE(globex_stream.empty());

  // Argument pools from both tenants.
  std::vector<std::string> request_ids = {"3a7b1c9e4d20", "c0f1e2d3a4b5", "sched-5e1f0a7c",
                                          "5be0c4a19f02", "no-such-request"};
  std::vector<std::string> codes, actors, targets;
  {
    json r = all.Call("audit_query", {{"limit", 200}})["structuredContent"];
    for (const json& row : r["rows"]) {
      request_ids.push_back(row["request_id"]);
      codes.push_back(row["code"]);
      actors.push_back(row["actor"]);
      targets.push_back(row["target"]);
    }
  }
  const std::vector<std::string> nodes = {"edge-eu-1", "edge-us-1", "core-1", "mqtt-bridge-1"};
  const std::vector<std::string> services = {"checkout-api", "payments-worker", "iot-gateway",
                                             "config-service"};
  const std::vector<std::string> severities = {"info", "warn", "error"};
  const std::vector<std::string> terms = {"stripe", "mqtt",   "export", "order", "José",   "qos",
                                          "refund", "globex", "acme",   "502",   "plant-7"};
  const std::vector<int> statuses = {200, 201, 202, 401, 404, 500, 502};
  const std::vector<std::string> levels = {"info", "warn", "error", "debug"};
  const std::vector<std::string> events = {"order_created", "mqtt_message_dropped",
                                           "stripe_webhook_failed", "export_started"};

  const int calls = std::getenv("FASTEN_ISOLATION_CALLS")
                        ? std::atoi(std::getenv("FASTEN_ISOLATION_CALLS"))
                        : 10000;
  std::mt19937_64 rng(20261123);
  auto pick = [&](const auto& v) { return v[rng() % v.size()]; };
  auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  auto window = [&](json* a) {
    if (chance(40)) {
      int h = static_cast<int>(rng() % 24);
      char since[32], until[32];
      std::snprintf(since, sizeof since, "2026-11-20T%02d:00:00Z", h);
      std::snprintf(until, sizeof until, "2026-11-20T%02d:59:59Z",
                    std::min(23, h + static_cast<int>(rng() % 6)));
      (*a)["since"] = since;
      (*a)["until"] = until;
    }
  };

  int compared = 0, pages = 0;
  for (int i = 0; i < calls; ++i) {
    json a = json::object();
    std::string tool;
    const int r = static_cast<int>(rng() % 100);
    if (r < 25) {
      tool = "audit_query";
      if (chance(30)) a["request_id"] = pick(request_ids);
      if (chance(30)) a["code"] = pick(codes);
      if (chance(15)) a["actor"] = pick(actors);
      if (chance(10)) a["target"] = pick(targets);
      if (chance(20)) a["source_node_id"] = pick(nodes);
      if (chance(15)) a["service_id"] = pick(services);
      if (chance(15)) a["severity"] = pick(severities);
      window(&a);
      a["limit"] = 1 + static_cast<int>(rng() % 30);
    } else if (r < 40) {
      tool = "sys_query";
      if (chance(30)) a["request_id"] = pick(request_ids);
      if (chance(30)) a["level"] = pick(levels);
      if (chance(20)) a["event"] = pick(events);
      if (chance(15)) a["service_id"] = pick(services);
      window(&a);
      a["limit"] = 1 + static_cast<int>(rng() % 30);
    } else if (r < 55) {
      tool = "api_query";
      if (chance(30)) a["request_id"] = pick(request_ids);
      if (chance(30)) a["status"] = pick(statuses);
      if (chance(20)) a["method"] = chance(50) ? "POST" : "GET";
      window(&a);
      a["limit"] = 1 + static_cast<int>(rng() % 30);
    } else if (r < 70) {
      tool = "request_trace";
      a["request_id"] = pick(request_ids);
    } else if (r < 80) {
      tool = "search";
      a["query"] = pick(terms);
      a["since"] = "2026-11-20T00:00:00Z";
      if (chance(50)) a["until"] = "2026-11-20T12:00:00Z";
      a["limit"] = 1 + static_cast<int>(rng() % 20);
    } else if (r < 92) {
      tool = "row_get";
      // Half of the time a globex citation: it must look exactly like a citation that does
      // not exist.
      if (chance(50)) {
        const json& row = globex_audit[rng() % globex_audit.size()];
        a = {{"monotonic_seq", row["monotonic_seq"]}, {"hash", row["hash"]}};
      } else {
        const json& row = globex_stream[rng() % globex_stream.size()];
        a = {{"stream", row["stream"]}, {"seq", row["seq"]}, {"hash", row["digest"]}};
      }
    } else if (r < 96) {
      tool = "red_metrics";
      a["since"] = "2026-11-20T00:00:00Z";
      a["until"] = "2026-11-21T00:00:00Z";
      if (chance(50)) a["service_id"] = pick(services);
    } else if (r < 98) {
      tool = "topology";
    } else {
      tool = "chain_verify";
      if (chance(70)) a["source_node_id"] = pick(nodes);
    }
    json got = acme.Call(tool, a);
    std::vector<std::string> strings;
    Strings(got, &strings);
    for (const std::string& s : strings) {
      ASSERT_EQ(forbidden.count(s), 0u) << tool << " " << a << " leaked " << s;
      ASSERT_EQ(s.find("globex"), std::string::npos) << tool << " " << a << " named globex";
    }
    if (tool == "row_get") {
      ASSERT_TRUE(got["isError"].get<bool>()) << a;
      ASSERT_NE(got["content"][0]["text"].get<std::string>().find("is visible to this caller"),
                std::string::npos)
          << a << got;
      continue;
    }
    if (tool == "chain_verify") continue;
    json want = oracle.Call(tool, a);
    ASSERT_EQ(Comparable(tool, got), Comparable(tool, want)) << tool << " " << a;
    ++compared;
    // Follow cursors in lockstep.
    json oa = a;
    for (int p = 0; p < 3 && chance(40); ++p) {
      if (!got.contains("structuredContent") || got["structuredContent"]["next_cursor"].is_null()) {
        break;
      }
      a["cursor"] = got["structuredContent"]["next_cursor"];
      oa["cursor"] = want["structuredContent"]["next_cursor"];
      got = acme.Call(tool, a);
      want = oracle.Call(tool, oa);
      ASSERT_EQ(Comparable(tool, got), Comparable(tool, want)) << tool << " page " << p;
      ++pages;
      // A cursor of one tenant (or of the all-tenants server) is refused by the other.
      json foreign = acme.Call(tool, oa);
      ASSERT_TRUE(foreign["isError"].get<bool>());
    }
  }
  EXPECT_GT(compared, calls / 2);
  EXPECT_GT(pages, 100);
}

TEST_F(Isolation, ASharedRequestIdTracesOnlyTheCallersRows) {
  Server acme(full_, "acme", &tools_, &cursors_);
  Server globex(full_, "globex", &tools_, &cursors_);
  json a = acme.Call("request_trace", {{"request_id", "sched-5e1f0a7c"}})["structuredContent"];
  json g = globex.Call("request_trace", {{"request_id", "sched-5e1f0a7c"}})["structuredContent"];
  EXPECT_EQ(a["counts"]["audit"], 1);
  EXPECT_EQ(a["counts"]["sys"], 1);
  EXPECT_EQ(g["counts"]["audit"], 1);
  EXPECT_NE(a["timeline"], g["timeline"]);
  EXPECT_EQ(DumpJson(a).find("nightly-globex"), std::string::npos);
}

TEST_F(Isolation, EveryToolRefusesATenantArgument) {
  Server acme(full_, "acme", &tools_, &cursors_);
  const json required = {{"request_trace", {{"request_id", "3a7b1c9e4d20"}}},
                         {"row_get", {{"hash", std::string(64, 'a')}, {"monotonic_seq", 1}}},
                         {"search", {{"query", "x"}, {"since", "now-1h"}}},
                         {"validate_answer", {{"claims", json::array()}}}};
  for (const ToolDef& t : tools_.tools()) {
    json args = required.contains(t.name) ? required[t.name] : json::object();
    args["tenant_id"] = "globex";
    json r = acme.Call(t.name, args);
    EXPECT_TRUE(r["isError"].get<bool>()) << t.name;
    EXPECT_NE(r["content"][0]["text"].get<std::string>().find("tenant_id: unknown argument"),
              std::string::npos)
        << t.name;
  }
}

// Citing another tenant's rows reads exactly like citing rows that do not exist: the verdict of
// acme on the full store equals the verdict on a store without globex's rows.
TEST_F(Isolation, ValidateAnswerCannotProbeAnotherTenantsRows) {
  Server acme(full_, "acme", &tools_, &cursors_);
  Server oracle(only_, std::nullopt, &tools_, &cursors_);
  Server all(full_, std::nullopt, &tools_, &cursors_);
  json claims = json::array();
  auto cite = [&](const char* stream, const json& seq, const json& hash) {
    claims.push_back({{"text", "A row was written at 14:32."},
                      {"citations", {{{"stream", stream}, {"seq", seq}, {"hash", hash}}}}});
  };
  const json audit = all.Call("audit_query", {{"limit", 100}});
  for (const json& r : audit["structuredContent"]["rows"]) {
    if (r["tenant_id"] == "globex" && r["hash"].get<std::string>().size() == 64) {
      cite("audit", r["monotonic_seq"], r["hash"]);
    }
  }
  for (const char* stream : {"api", "sys"}) {
    const std::string tool = std::string(stream) + "_query";
    const json page = all.Call(tool, {{"limit", 30}});
    for (const json& r : page["structuredContent"]["rows"]) {
      if (r["payload"].is_object() && r["payload"].value("tenant_id", "") == "globex") {
        cite(stream, r["seq"], r["digest"]);
      }
    }
  }
  ASSERT_GE(claims.size(), 10u);
  json a = acme.Call("validate_answer", {{"claims", claims}});
  EXPECT_EQ(a, oracle.Call("validate_answer", {{"claims", claims}}));
  EXPECT_EQ(a["structuredContent"]["summary"]["rejections"], json({{"not_found", claims.size()}}));
  EXPECT_EQ(DumpJson(a).find("globex"), std::string::npos);
}

TEST_F(Isolation, TopologyAndVerifyCountOnlyTheCallersRows) {
  Server acme(full_, "acme", &tools_, &cursors_);
  Server oracle(only_, std::nullopt, &tools_, &cursors_);
  json t = acme.Call("topology", json::object())["structuredContent"];
  json o = oracle.Call("topology", json::object())["structuredContent"];
  EXPECT_EQ(t, o);
  json v = acme.Call("chain_verify", json::object())["structuredContent"];
  int64_t rows = 0;
  for (const json& n : t["nodes"]) rows += n["rows"].get<int64_t>();
  EXPECT_EQ(v["summary"]["total_rows"], rows);
  EXPECT_TRUE(v["ok"].get<bool>());
}

}  // namespace
}  // namespace fasten::mcp
