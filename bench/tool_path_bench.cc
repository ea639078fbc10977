// The audit_query tool path in-process, stage by stage, without any transport: what one
// request_id lookup costs between the request line arriving and the response line leaving.
//
//   parse           json::parse of the request line
//   store           AuditReader::Query (the database round trip and row parsing)
//   row_check       RowChecker over the page's rows (each row's hash recomputed)
//   row_json        AuditRowJson for the page's rows
//   fingerprint     QueryFingerprint of the arguments (what cursors are bound to)
//   validate        the compiled input schema on the arguments
//   tool            ToolRegistry::Call (validate + the handler: store .. ListPage)
//   dispatch        parse + Dispatcher::HandleRequest (the response as a JSON tree)
//   line            parse + Dispatcher::HandleRequestText: what the stdio worker does per request
// Each stage reports wall-clock p50/p99 and the thread's mean CPU time per call.
//
// --dump FILE writes, for a fixed set of requests (lookups, pages followed by their cursors,
// budget-truncated pages, other tools, errors), every response line with a fixed cursor key, so
// the bytes can be compared between builds.
// Usage: tool_path_bench --store DSN --ids-from SQLITE_DB [--tenant T] [--calls N] [--dump FILE]
#include <sqlite3.h>

#include "app/launch_scopes.h"
#include "bench_util.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "mcp/dispatcher.h"
#include "store/dsn.h"
#include "store/store_set.h"
#include "tools/cursor.h"
#include "tools/registry.h"
#include "tools/row_json.h"
#include "tools/schema.h"
#include "validator/chain.h"

namespace {

using namespace fasten;
using namespace fasten::bench;
using json = nlohmann::json;

double ThreadCpuUs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

std::vector<std::string> RequestIds(const std::string& db_path, const std::string& tenant) {
  std::vector<std::string> ids;
  sqlite3* db = nullptr;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT DISTINCT request_id FROM audit_log WHERE tenant_id = ? AND "
                     "request_id NOT LIKE 'bg-%' LIMIT 20000",
                     -1, &st, nullptr);
  sqlite3_bind_text(st, 1, tenant.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(st) == SQLITE_ROW) {
    ids.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(11));
  return ids;
}

json Call(int id, const std::string& tool, json args, bool modern = false) {
  json params = {{"name", tool}, {"arguments", std::move(args)}};
  if (modern) {
    params["_meta"] = {{"io.modelcontextprotocol/protocolVersion", mcp::kModernVersion},
                       {"io.modelcontextprotocol/clientCapabilities", json::object()}};
  }
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"}, {"params", params}};
}

// The response line for one request line, as the stdio worker builds it.
std::string Respond(const mcp::Dispatcher& d, const std::string& line, mcp::CallContext& ctx) {
  json request = json::parse(line);
  return d.HandleRequestText(request, ctx);
}

int Dump(const mcp::Dispatcher& d, mcp::CallContext& ctx, const std::vector<std::string>& ids,
         const std::string& path) {
  std::ofstream out(path);
  int n = 0;
  auto emit = [&](const json& request) {
    std::string line = Respond(d, request.dump(), ctx);
    out << line << '\n';
    ++n;
    return json::parse(line);
  };
  emit({{"jsonrpc", "2.0"},
        {"id", 0},
        {"method", "initialize"},
        {"params", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()}}}});
  for (size_t i = 0; i < std::min<size_t>(ids.size(), 300); ++i) {
    emit(Call(static_cast<int>(i + 1), "audit_query", {{"request_id", ids[i]}}, i % 3 == 0));
  }
  // Pages followed by their cursors, and pages cut by the byte budget.
  for (const json& args :
       {json{{"limit", 7}}, json{{"severity", "info"}, {"limit", 200}},
        json{{"code", "auth.login"}, {"limit", 3}}, json{{"limit", 150}, {"domain", "billing"}}}) {
    json a = args;
    for (int page = 0; page < 4; ++page) {
      json r = emit(Call(1000 + page, "audit_query", a));
      const json& sc = r["result"]["structuredContent"];
      if (!sc.contains("next_cursor") || sc["next_cursor"].is_null()) break;
      a["cursor"] = sc["next_cursor"];
    }
  }
  for (size_t i = 0; i < std::min<size_t>(ids.size(), 20); ++i) {
    emit(Call(2000, "request_trace", {{"request_id", ids[i]}}));
    emit(Call(2001, "sys_query", {{"request_id", ids[i]}}));
    emit(Call(2002, "api_query", {{"request_id", ids[i]}}, true));
  }
  emit(Call(3000, "sys_query", {{"limit", 200}}));
  emit(Call(3001, "api_query", {{"limit", 200}}));
  emit(Call(3002, "audit_query", {{"request_id", 5}}));
  emit(Call(3003, "audit_query", {{"cursor", "bogus"}}));
  emit(Call(3004, "no_such_tool", json::object()));
  emit(Call(3005, "audit_query", {{"request_id", "does-not-exist"}}, true));
  emit(Call(3006, "audit_query", {{"request_id", "x"}, {"tenant_id", "other"}}));
  emit(Call(3007, "topology", json::object()));
  emit({{"jsonrpc", "2.0"}, {"id", 3008}, {"method", "tools/list"}});
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string store, ids_from, tenant = "acme", dump, only;
  int calls = 5000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--store") {
      store = v;
    } else if (k == "--ids-from") {
      ids_from = v;
    } else if (k == "--tenant") {
      tenant = v;
    } else if (k == "--calls") {
      calls = std::stoi(v);
    } else if (k == "--dump") {
      dump = v;
    } else if (k == "--only") {
      only = v;  // run just this stage (for a profiler)
    }
  }
  if (store.empty() || ids_from.empty()) {
    std::cerr << "usage: tool_path_bench --store DSN --ids-from SQLITE_DB [--tenant T] "
                 "[--calls N] [--dump FILE]\n";
    return 2;
  }
  const std::vector<std::string> ids = RequestIds(ids_from, tenant);
  if (ids.empty()) {
    std::cerr << "tool_path_bench: no request ids\n";
    return 2;
  }
  Result<Dsn> dsn = ParseDsn(store);
  if (!dsn.ok()) {
    std::cerr << dsn.status().ToString() << "\n";
    return 2;
  }
  StoreConfig config;
  config.audit = *dsn;
  config.sys = *dsn;
  config.sys.table.reset();
  config.api = config.sys;
  StoreSet stores;
  Status st = OpenStoreSet(config, true, &stores);
  if (!st.ok()) {
    std::cerr << st.ToString() << "\n";
    return 2;
  }
  const ToolRegistry registry = ToolRegistry::Default();
  const CursorSigner signer(std::string(32, 'k'));
  mcp::ServerInfo info;
  info.version = "bench";
  const mcp::Dispatcher dispatcher(&registry, &signer, info);
  mcp::Connection connection;
  const TenantScope scope = app::LaunchScopes::Tenant(tenant);  // the bench is the operator
  mcp::CallContext ctx{scope};
  ctx.connection = &connection;
  ctx.stores = &stores;
  {
    json init = {{"jsonrpc", "2.0"},
                 {"id", 0},
                 {"method", "initialize"},
                 {"params", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()}}}};
    dispatcher.HandleRequest(init, ctx);
  }
  if (!dump.empty()) {
    int n = Dump(dispatcher, ctx, ids, dump);
    std::cerr << "wrote " << n << " responses to " << dump << "\n";
    return 0;
  }

  auto id_of = [&](int i) { return ids[static_cast<size_t>(i) % ids.size()]; };
  std::vector<std::string> lines;
  for (size_t i = 0; i < ids.size(); ++i) {
    lines.push_back(
        Call(static_cast<int>(1000 + i), "audit_query", {{"request_id", ids[i]}}).dump());
  }
  auto line_of = [&](int i) -> const std::string& {
    return lines[static_cast<size_t>(i) % lines.size()];
  };
  const ToolDef* tool = registry.Find("audit_query");
  auto args_of = [&](int i) { return json{{"request_id", id_of(i)}}; };
  auto query_of = [&](int i) {
    AuditQuery q;
    q.request_id = id_of(i);
    return q;
  };
  // Pages in memory for the CPU-only stages.
  std::vector<AuditPage> pages(std::min<size_t>(ids.size(), 500));
  size_t rows = 0, response_bytes = 0;
  for (size_t i = 0; i < pages.size(); ++i) {
    st = stores.audit->Query(scope, query_of(static_cast<int>(i)), &pages[i]);
    if (!st.ok()) {
      std::cerr << st.ToString() << "\n";
      return 2;
    }
    rows += pages[i].rows.size();
    response_bytes += Respond(dispatcher, line_of(static_cast<int>(i)), ctx).size();
  }
  auto page_of = [&](int i) -> const AuditPage& {
    return pages[static_cast<size_t>(i) % pages.size()];
  };

  struct Stage {
    const char* name;
    Stats s;
    double
        cpu_us;  // mean CPU time of this thread per call (steadier than wall time on a busy host)
  };
  std::vector<Stage> stages;
  size_t sink = 0;
  auto add = [&](const char* name, auto&& one) {
    if (!only.empty() && only != name) return;
    const double cpu0 = ThreadCpuUs();
    Stats wall = Measure(calls, one);
    stages.push_back({name, wall, (ThreadCpuUs() - cpu0) / (calls + 200)});
  };
  add("parse", [&](int i) { sink += json::parse(line_of(i)).size(); });
  add("store", [&](int i) {
    AuditPage p;
    Status s = stores.audit->Query(scope, query_of(i), &p);
    sink += p.rows.size() + s.ok();
  });
  add("row_check", [&](int i) {
    RowChecker checker;
    for (const AuditRow& r : page_of(i).rows) sink += checker.Check(r).hash_ok;
  });
  add("row_json", [&](int i) {
    for (const AuditRow& r : page_of(i).rows) sink += AuditRowJson(r, nullptr).size();
  });
  add("fingerprint", [&](int i) { sink += QueryFingerprint(args_of(i)).size(); });
  add("validate", [&](int i) { sink += tool->compiled_input->Validate(args_of(i)).ok(); });
  add("tool", [&](int i) {
    ToolEnv env{scope};
    env.stores = &stores;
    env.cursors = &signer;
    env.now = NowMicros();
    Result<json> r = registry.Call(*tool, args_of(i), env);
    sink += r.ok();
  });
  add("dispatch", [&](int i) {
    json request = json::parse(line_of(i));
    sink += dispatcher.HandleRequest(request, ctx).size();
  });
  add("line", [&](int i) { sink += Respond(dispatcher, line_of(i), ctx).size(); });
  json out = {{"store", dsn->Display()},
              {"calls", calls},
              {"mean_rows_per_page", static_cast<double>(rows) / pages.size()},
              {"mean_response_bytes", static_cast<double>(response_bytes) / pages.size()},
              {"stages_us", json::object()},
              {"sink", sink % 2}};
  for (const Stage& s : stages) {
    out["stages_us"][s.name] = {{"p50", s.s.p50}, {"p99", s.s.p99}, {"cpu", s.cpu_us}};
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}
