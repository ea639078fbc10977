// One tenant attribution for stream payloads (store/payload_tenant.h), through every tool that
// shows or counts sys/api rows, on every backend, without and with the advised indexes
// (`fasten-mcp index --apply`): for each tenant, the rows every tool returns (and every count it
// reports) are exactly the rows the rule attributes to that tenant, and an ambiguous payload
// belongs to no tenant. The table holds the reproducers of issue 12 item 2.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "store/index_advice.h"
#include "store/payload_tenant.h"
#include "support/store_backend.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "tools/cursor.h"
#include "tools/registry.h"

namespace fasten {
namespace {

using nlohmann::json;
using testing::BackendParam;
using testing::StoreBackend;

constexpr char kSince[] = "2026-06-15T00:00:00Z";
constexpr char kUntil[] = "2026-06-16T00:00:00Z";

struct Variant {
  std::string payload;  // stored exactly
  std::string owner;    // the tenant it belongs to; "" for none (no tenant or ambiguous)
};

// Every payload holds the word "probe" (the search term) and no row is another's duplicate.
std::vector<Variant> Variants(bool postgres) {
  std::vector<Variant> v = {
      {R"({"tenant_id":"acme","m":"probe plain"})", "acme"},
      {R"({"tenant_id":"globex","m":"probe plain"})", "globex"},
      // Issue 12 item 2: duplicates and NUL, each order.
      {R"({"tenant_id":"acme","tenant_id":"globex","m":"probe dup"})", ""},
      {R"({"tenant_id":"globex","tenant_id":"acme","m":"probe dup"})", ""},
      {R"({"tenant_id":"acme\u0000globex","m":"probe nul"})", ""},
      {R"({"tenant_id":"globex\u0000acme","m":"probe nul"})", ""},
      {R"({"tenant_id":"acme","tenant_id":1,"m":"probe dup"})", ""},
      {R"({"tenant_id":"acme","tenant\u005fid":"globex","m":"probe dup"})", ""},
      // Escapes in the key make it ambiguous; escapes in the value decode.
      {R"({"tenant\u005fid":"acme","m":"probe key"})", ""},
      {R"({"tenant_id":"a\u0063me","m":"probe value escape"})", "acme"},
      {R"({"tenant_id":"\u0061\u0063\u006D\u0065","m":"probe value escape"})", "acme"},
      {R"({"tenant_id":"ac\/me","m":"probe slash"})", "ac/me"},
      {R"({"tenant_id":"ac/me","m":"probe slash"})", "ac/me"},
      {R"({"tenant_id":"Jos\u00e9","m":"probe unicode"})", "Jos\xC3\xA9"},
      {"{\"tenant_id\":\"Jos\xC3\xA9\",\"m\":\"probe unicode\"}", "Jos\xC3\xA9"},
      {"{ \"tenant_id\" \t:\n \"acme\" , \"m\" : \"probe space\" }", "acme"},
      // Not a string, nested only, control characters, lone surrogates.
      {R"({"tenant_id":1,"m":"probe number"})", ""},
      {R"({"tenant_id":["acme"],"m":"probe array"})", ""},
      {R"({"tenant_id":{"tenant_id":"acme"},"m":"probe object"})", ""},
      {R"({"x":{"tenant_id":"acme"},"m":"probe nested"})", ""},
      {R"({"x":{"tenant_id":"globex"},"tenant_id":"acme","m":"probe nested"})", "acme"},
      {R"({"tenant_id":"acme\n","m":"probe control"})", ""},
      {R"({"tenant_id":"acme\u007f","m":"probe control"})", ""},
      {R"({"tenant_id":"acme\ud800","m":"probe surrogate"})", ""},
      {R"({"tenant_id":"acme","m":"probe \ud800 elsewhere"})", ""},
      {R"({"tenant_id":"acme","m":"probe \u0000 elsewhere"})", ""},
      // Not strict JSON.
      {R"({"tenant_id":"acme","m":"probe"} trailing)", ""},
      {R"({"tenant_id":"acme","m":"probe","n":NaN})", ""},
      {R"({"tenant_id":"acme","m":"probe",})", ""},
      {"probe: not json at all", ""},
      {"{\"tenant_id\":\"acme\",\"m\":\"probe deep\",\"x\":" + std::string(kMaxPayloadDepth, '[') +
           std::string(kMaxPayloadDepth, ']') + "}",
       ""},
      {R"({"m":"probe no tenant"})", ""},
      {"{\"tenant_id\":\"acme\",\"m\":\"probe \x7F raw del\"}", "acme"},
      {"{\"tenant_id\":\"acme\x7F\",\"m\":\"probe raw del\"}", ""},
  };
  if (!postgres) {
    // Bytes a UTF-8 Postgres database refuses to store.
    v.push_back({"{\"tenant_id\":\"acme\",\"m\":\"probe \xFF\"}", ""});
  }
  return v;
}

const std::vector<std::string>& Tenants() {
  static const std::vector<std::string> kTenants = {"acme", "globex", "Jos\xC3\xA9", "ac/me"};
  return kTenants;
}

class TenantAttribution : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    store_ = StoreBackend::Create(GetParam());
    variants_ = Variants(GetParam().postgres);
    store_->Exec(store_->SpecDdl("audit_log") + store_->StreamDdl("syslog") +
                 store_->StreamDdl("api_log"));
    std::vector<AuditRow> audit = testing::Chain("n", 4);
    for (size_t i = 0; i < audit.size(); ++i) audit[i].tenant_id.Set(i % 2 ? "globex" : "acme");
    store_->Insert("audit_log", audit);
    std::string sql;
    for (size_t i = 0; i < variants_.size(); ++i) {
      const std::string ts =
          "'2026-06-15T10:00:" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".000000Z'";
      const std::string p = testing::Quote(variants_[i].payload);
      sql +=
          "INSERT INTO syslog (request_id, timestamp, level, service_id, event, payload) "
          "VALUES ('r1', " +
          ts + ", 'info', 'svc', 'evt', " + p + ");";
      sql +=
          "INSERT INTO api_log (request_id, timestamp, service_id, method, path, status, "
          "payload) VALUES ('r1', " +
          ts + ", 'svc', 'GET', '/p', 200, " + p + ");";
    }
    store_->Exec(sql);
    Dsn dsn = ParseDsn(store_->Dsn()).value();
    StoreConfig config{dsn, dsn, dsn};
    Status st = OpenStoreSet(config, true, &stores_);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(stores_.sys && stores_.api);
    // Digests, from an all-tenants listing.
    for (const char* tool : {"sys_query", "api_query"}) {
      json page = Call(tool, std::nullopt, {{"limit", 200}, {"since", kSince}, {"until", kUntil}});
      ASSERT_EQ(page["rows"].size(), variants_.size());
      for (const json& r : page["rows"]) digests_[tool][r["seq"].get<int64_t>()] = r["digest"];
    }
  }

  json Call(const std::string& tool, const std::optional<std::string>& tenant, const json& args,
            Status* status = nullptr) {
    ToolEnv env{test_support::TestScopes::Of(tenant)};
    env.stores = &stores_;
    env.cursors = &cursors_;
    env.byte_budget = 1 << 24;
    const ToolDef* def = registry_.Find(tool);
    EXPECT_TRUE(def) << tool;
    Result<json> r = registry_.Call(*def, args, env);
    if (status) {
      *status = r.status();
      return r.ok() ? *r : json();
    }
    EXPECT_TRUE(r.ok()) << tool << " " << args.dump() << ": " << r.status().ToString();
    return r.ok() ? *r : json::object();
  }

  // The seqs (1-based insertion order) of the variants the rule gives `tenant`.
  std::set<int64_t> Expected(const std::string& tenant) const {
    std::set<int64_t> out;
    for (size_t i = 0; i < variants_.size(); ++i) {
      if (variants_[i].owner == tenant) out.insert(static_cast<int64_t>(i + 1));
    }
    return out;
  }

  // Every tool that shows or counts stream rows, for one tenant.
  void CheckEveryTool(const std::string& tenant, const std::string& phase) {
    SCOPED_TRACE(phase + ", tenant " + tenant);
    const std::set<int64_t> want = Expected(tenant);
    const int64_t n = static_cast<int64_t>(want.size());
    for (const char* tool : {"sys_query", "api_query"}) {
      SCOPED_TRACE(tool);
      // Pages of 2 (the first page's count runs the count path when there is more).
      std::set<int64_t> got;
      json args = {{"limit", 2}, {"since", kSince}, {"until", kUntil}};
      for (int page = 0; page < 50; ++page) {
        json r = Call(tool, tenant, args);
        if (page == 0) {
          EXPECT_EQ(r["total_matched"], n);
          EXPECT_EQ(r.value("total_is_lower_bound", false), false);
        }
        for (const json& row : r["rows"]) got.insert(row["seq"].get<int64_t>());
        if (r["next_cursor"].is_null()) break;
        args["cursor"] = r["next_cursor"];
      }
      EXPECT_EQ(got, want);
      // A filtered list goes through the same rule.
      json filtered = Call(tool, tenant, {{"request_id", "r1"}, {"limit", 200}, {"since", kSince}});
      EXPECT_EQ(filtered["total_matched"], n);
    }
    // search: rows and counts (limit 1 makes the counts a separate path).
    for (int limit : {200, 1}) {
      json r = Call("search", tenant,
                    {{"query", "probe"},
                     {"since", kSince},
                     {"until", kUntil},
                     {"streams", {"sys", "api"}},
                     {"limit", limit}});
      EXPECT_EQ(r["counts"]["sys"], n) << limit;
      EXPECT_EQ(r["counts"]["api"], n) << limit;
      if (limit == 200) {
        std::set<int64_t> sys, api;
        for (const json& m : r["matches"]) {
          (m["stream"] == "sys" ? sys : api).insert(m["row"]["seq"].get<int64_t>());
        }
        EXPECT_EQ(sys, want);
        EXPECT_EQ(api, want);
      }
    }
    // red_metrics counts api rows.
    json red = Call("red_metrics", tenant, {{"since", kSince}, {"until", kUntil}});
    EXPECT_EQ(red["requests"], n);
    // request_trace: the timeline and the totals.
    json trace = Call("request_trace", tenant, {{"request_id", "r1"}, {"limit_per_stream", 200}});
    std::set<int64_t> sys, api;
    for (const json& e : trace["timeline"]) {
      if (e["stream"] == "sys") sys.insert(e["row"]["seq"].get<int64_t>());
      if (e["stream"] == "api") api.insert(e["row"]["seq"].get<int64_t>());
    }
    EXPECT_EQ(sys, want);
    EXPECT_EQ(api, want);
    EXPECT_EQ(trace["totals"]["sys"], n);
    EXPECT_EQ(trace["totals"]["api"], n);
    // row_get and validate_answer resolve exactly the tenant's rows.
    json claims = json::array();
    for (const auto& [tool, stream] :
         {std::pair<std::string, std::string>{"sys_query", "sys"}, {"api_query", "api"}}) {
      for (const auto& [seq, digest] : digests_[tool]) {
        Status st;
        Call("row_get", tenant, {{"stream", stream}, {"seq", seq}, {"hash", digest}}, &st);
        EXPECT_EQ(st.ok(), want.count(seq) == 1)
            << stream << " seq " << seq << ": " << st.ToString();
        if (!st.ok()) {
          EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
        }
        claims.push_back({{"text", "row"},
                          {"citations", {{{"stream", stream}, {"seq", seq}, {"hash", digest}}}}});
      }
    }
    json verdict = Call("validate_answer", tenant, {{"claims", claims}});
    ASSERT_TRUE(verdict.contains("claims")) << verdict.dump();
    for (const json& c : verdict["claims"]) {
      for (const json& cit : c["citations"]) {
        bool not_found = false;
        for (const json& p : cit["problems"]) not_found |= p["reason"] == "not_found";
        EXPECT_EQ(not_found, want.count(cit["seq"].get<int64_t>()) == 0) << cit.dump();
      }
    }
  }

  // The SQL prefilter is a superset of the rule: every row the rule gives a tenant passes the
  // prefilter for that tenant (SQLite's expression; Postgres' function once it exists). The
  // statement fails (so Exec fails the test) when one does not.
  void CheckPrefilterSuperset(bool function_exists) {
    const bool pg = GetParam().postgres;
    if (pg && !function_exists) return;  // the regex prefilter is checked through the tools
    for (const std::string& t : Tenants()) {
      std::string seqs;
      for (int64_t seq : Expected(t)) seqs += (seqs.empty() ? "" : ", ") + std::to_string(seq);
      if (seqs.empty()) continue;
      for (const char* table : {"syslog", "api_log"}) {
        const std::string missed =
            std::string("SELECT 1 FROM ") + table + " WHERE seq IN (" + seqs + ") AND " +
            (pg ? "public.fasten_payload_tenant(payload)" : std::string(kSqlitePayloadTenant)) +
            " IS DISTINCT FROM " + testing::Quote(t);
        store_->Exec(pg ? "DO $$ BEGIN IF EXISTS (" + missed +
                              ") THEN RAISE EXCEPTION 'prefilter misses a row of the tenant'; "
                              "END IF; END $$;"
                        : "SELECT CASE WHEN EXISTS (" + missed +
                              ") THEN json('prefilter misses a row of the tenant') END;");
      }
    }
  }

  void CheckAll(const std::string& phase) {
    for (const std::string& t : Tenants()) CheckEveryTool(t, phase);
    // All-tenants mode sees every row, ambiguous ones included.
    json all = Call("sys_query", std::nullopt, {{"limit", 200}, {"since", kSince}});
    EXPECT_EQ(all["rows"].size(), variants_.size()) << phase;
  }

  std::unique_ptr<StoreBackend> store_;
  std::vector<Variant> variants_;
  StoreSet stores_;
  ToolRegistry registry_ = ToolRegistry::Default();
  CursorSigner cursors_ = CursorSigner::WithRandomKey();
  std::map<std::string, std::map<int64_t, std::string>> digests_;
};

TEST_P(TenantAttribution, TheTableMatchesTheRule) {
  for (const Variant& v : variants_) {
    PayloadTenantResult r = PayloadTenant(v.payload);
    EXPECT_EQ(r.tenant.value_or(""), v.owner) << v.payload.substr(0, 80);
  }
}

TEST_P(TenantAttribution, EveryToolShowsAndCountsExactlyTheRowsTheRuleAttributes) {
  CheckPrefilterSuperset(false);
  CheckAll("default indexes");
  Dsn dsn = ParseDsn(store_->Dsn()).value();
  IndexReport report;
  ASSERT_TRUE(AdviseIndexes(dsn, &report).ok());
  Status st = ApplyIndexes(dsn, report.advice, nullptr);
  ASSERT_TRUE(st.ok()) << st.ToString();
  // New readers see the payload-tenant function (Postgres) and the expression indexes.
  stores_ = StoreSet();
  Dsn d = ParseDsn(store_->Dsn()).value();
  ASSERT_TRUE(OpenStoreSet(StoreConfig{d, d, d}, true, &stores_).ok());
  CheckPrefilterSuperset(true);
  CheckAll("advised indexes");
}

// The advised indexes serve every tenant-bound filter the tools offer: the plan of the statement
// each reader actually runs names only indexes led by the tenant, so a query of acme never walks
// another tenant's index entries (the timing channel of issue 12 item 3). With the SDK's own
// indexes it does not.
class TenantIndexes : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    store_ = StoreBackend::Create(GetParam());
    const bool pg = GetParam().postgres;
    store_->Exec(store_->SpecDdl("audit_log") + store_->StreamDdl("syslog") +
                 store_->StreamDdl("api_log"));
    // The SDK's single-column indexes (docs/format.md §2.4, §4.1).
    std::string sql;
    for (const char* c : {"request_id", "code", "timestamp", "monotonic_seq", "service_id"}) {
      sql += std::string("CREATE INDEX idx_audit_log_") + c + " ON audit_log (" + c + ");";
    }
    for (const char* t : {"syslog", "api_log"}) {
      for (const char* c : {"request_id", "timestamp", "level", "service_id", "event", "method",
                            "path", "status"}) {
        sql += std::string("CREATE INDEX idx_") + t + "_" + c + " ON " + t + " (" + c + ");";
      }
    }
    store_->Exec(sql);
    // 3000 rows of globex sharing every filter value, 30 of acme.
    for (const auto& [tenant, from, n] :
         {std::tuple<std::string, int, int>{"globex", 1, 3000}, {"acme", 3001, 30}}) {
      const std::string g = tenant == "globex" ? "'gx'" : "'ac'";
      const std::string series = pg ? "generate_series(" + std::to_string(from) + ", " +
                                          std::to_string(from + n - 1) + ") AS g(x)"
                                    : "(WITH RECURSIVE g(x) AS (SELECT " + std::to_string(from) +
                                          " UNION ALL SELECT x + 1 FROM g WHERE x < " +
                                          std::to_string(from + n - 1) + ") SELECT x FROM g) AS g";
      const std::string ts = "'2026-06-15T10:00:00.000000Z'";
      store_->Exec(
          "INSERT INTO audit_log (id, origin_id, monotonic_seq, timestamp, code, action, "
          "severity, service_id, source_node_id, tenant_id, actor, actor_kind, target, category, "
          "domain, method, request_id, detail) SELECT 'id-' || x, 'o', x, " +
          ts + ", " + g + ", 'a', " + g + ", " + g + ", " + g + ", '" + tenant + "', " + g +
          ", 'k', " + g + ", 'c', " + g + ", 'm', " + g + ", '{}' FROM " + series + ";" +
          "INSERT INTO syslog (request_id, timestamp, level, service_id, event, payload) SELECT " +
          g + ", " + ts + ", " + g + ", " + g + ", " + g + ", '{\"tenant_id\":\"" + tenant +
          "\"}' FROM " + series + ";" +
          "INSERT INTO api_log (request_id, timestamp, service_id, method, path, status, "
          "payload) SELECT " +
          g + ", " + ts + ", " + g + ", " + g + ", " + g + ", " +
          (tenant == "globex" ? "503" : "200") + ", '{\"tenant_id\":\"" + tenant + "\"}' FROM " +
          series + ";");
    }
    if (pg) store_->Exec("ANALYZE");
  }

  // Every index the plan names, for acme querying globex's value of each filter.
  std::vector<std::pair<std::string, std::string>> Plans() {
    Dsn dsn = ParseDsn(store_->Dsn()).value();
    StoreSet stores;
    EXPECT_TRUE(OpenStoreSet(StoreConfig{dsn, dsn, dsn}, true, &stores).ok());
    std::vector<std::pair<std::string, std::string>> out;  // (filter, plan)
    auto audit = [&](const std::string& name, std::optional<std::string> AuditQuery::*field) {
      AuditQuery q;
      if (field) q.*field = "gx";
      std::string plan;
      Status st = stores.audit->ExplainQuery(test_support::TestScopes::Tenant("acme"), q, &plan);
      EXPECT_TRUE(st.ok()) << st.ToString();
      out.emplace_back("audit " + name, plan);
    };
    audit("code", &AuditQuery::code);
    audit("request_id", &AuditQuery::request_id);
    audit("domain", &AuditQuery::domain);
    audit("actor", &AuditQuery::actor);
    audit("target", &AuditQuery::target);
    audit("source_node_id", &AuditQuery::source_node_id);
    audit("service_id", &AuditQuery::service_id);
    audit("severity", &AuditQuery::severity);
    audit("(none)", nullptr);
    auto stream = [&](StreamReader* reader, const std::string& name,
                      std::optional<std::string> StreamQuery::*field, bool status = false) {
      StreamQuery q;
      if (field) q.*field = "gx";
      if (status) q.status = 503;
      std::string plan;
      Status st = reader->ExplainQuery(test_support::TestScopes::Tenant("acme"), q, &plan);
      EXPECT_TRUE(st.ok()) << st.ToString();
      out.emplace_back(std::string(StreamName(reader->kind())) + " " + name, plan);
    };
    stream(stores.sys.get(), "event", &StreamQuery::event);
    stream(stores.sys.get(), "level", &StreamQuery::level);
    stream(stores.sys.get(), "request_id", &StreamQuery::request_id);
    stream(stores.sys.get(), "service_id", &StreamQuery::service_id);
    stream(stores.sys.get(), "(none)", nullptr);
    stream(stores.api.get(), "method", &StreamQuery::method);
    stream(stores.api.get(), "path", &StreamQuery::path);
    stream(stores.api.get(), "status", nullptr, true);
    stream(stores.api.get(), "request_id", &StreamQuery::request_id);
    stream(stores.api.get(), "service_id", &StreamQuery::service_id);
    stream(stores.api.get(), "(none)", nullptr);
    return out;
  }

  // True when the plan reads through indexes, each led by the tenant.
  static bool TenantLed(const std::string& plan) {
    size_t n = 0;
    for (size_t at = plan.find("idx_"); at != std::string::npos; at = plan.find("idx_", at + 1)) {
      size_t end = plan.find_first_of(" \n()", at);
      const std::string name = plan.substr(at, end - at);
      if (name.find("_tenant_") == std::string::npos) return false;
      ++n;
    }
    return n > 0;
  }

  std::unique_ptr<StoreBackend> store_;
};

TEST_P(TenantIndexes, AdvisedIndexesLeadEveryTenantBoundQueryPlan) {
  int sdk_tenant_led = 0;
  for (const auto& [filter, plan] : Plans()) sdk_tenant_led += TenantLed(plan);
  EXPECT_EQ(sdk_tenant_led, 0) << "no tenant-leading index exists yet";
  // Postgres builds these indexes with parallel workers (forced here on a small table), where a
  // function that opens a subtransaction must not be PARALLEL SAFE.
  Dsn dsn = ParseDsn(store_->Dsn(GetParam().postgres
                                     ? "?options=-c%20min_parallel_table_scan_size%3D0%20-c%20"
                                       "max_parallel_maintenance_workers%3D2"
                                     : ""))
                .value();
  IndexReport report;
  ASSERT_TRUE(AdviseIndexes(dsn, &report).ok());
  ASSERT_TRUE(ApplyIndexes(dsn, report.advice, nullptr).ok());
  if (GetParam().postgres) store_->Exec("ANALYZE");
  ASSERT_TRUE(AdviseIndexes(dsn, &report).ok());
  for (const IndexAdvice& a : report.advice) EXPECT_TRUE(a.exists) << a.name;
  for (const auto& [filter, plan] : Plans())
    EXPECT_TRUE(TenantLed(plan)) << filter << ":\n" << plan;
}

INSTANTIATE_TEST_SUITE_P(Backends, TenantIndexes,
                         ::testing::Values(BackendParam{false, false}, BackendParam{true, false}),
                         [](const ::testing::TestParamInfo<BackendParam>& info) {
                           return info.param.Name();
                         });

INSTANTIATE_TEST_SUITE_P(Backends, TenantAttribution,
                         ::testing::Values(BackendParam{false, false}, BackendParam{true, false}),
                         [](const ::testing::TestParamInfo<BackendParam>& info) {
                           return info.param.Name();
                         });

}  // namespace
}  // namespace fasten
