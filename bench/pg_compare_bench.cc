// fasten-mcp against @modelcontextprotocol/server-postgres (what a user would otherwise point an
// agent at) on the same Postgres data, same client, same run: the same request_id lookup through
// its `query` tool (SQL) versus our `audit_query` tool.
//
// Both servers speak MCP over stdio, both get the legacy initialize handshake, then:
//   latency     one call at a time, p50/p99, from the request's write to the reply's last byte
//   throughput  --concurrency calls kept in flight over the one stdio pipe, calls/s, and the CPU
//               per call of the server process, of this client and of the whole machine
// The goals (>= 3x the throughput, <= 1/3 the p50) are judged unpinned ("free"); the pinned
// placements ("split": client and server on different cores, "same": on one core) are shown to
// locate costs.
// Every answer is checked: a result, not isError, and the looked-up request_id in it.
// Usage: pg_compare_bench --binary B --pg-dsn DSN --server-postgres INDEX_JS --ids-from SQLITE_DB
//                         [--node NODE] [--tenant T] [--calls N] [--runs R] [--concurrency C]
//                         [--only fasten-mcp|server-postgres] [--placement split|same|free]
// (--only and --placement run a subset, e.g. under perf; ratios are then meaningless.
// --workers N passes fasten-mcp its --workers; default 4.)
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace fasten::bench;

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

void Send(Child& c, const json& m) {
  std::string line = m.dump();
  line += '\n';
  fwrite(line.data(), 1, line.size(), c.in);
  fflush(c.in);
}

// The next JSON-RPC response (lines without an id, e.g. notifications, are skipped), its raw
// line in `*raw` and the time its last byte was read in `*arrived`, when asked. Latency stops at
// `arrived`: parsing the reply is the client's own work, and it grows with the reply's size.
json Receive(Child& c, std::string* raw = nullptr, Clock::time_point* arrived = nullptr) {
  std::string line;
  char buf[65536];
  while (true) {
    line.clear();
    while (fgets(buf, sizeof buf, c.out)) {
      line += buf;
      if (line.back() == '\n') break;
    }
    if (arrived) *arrived = Clock::now();
    if (line.empty()) {
      std::cerr << "pg_compare_bench: server closed its output\n";
      std::exit(3);
    }
    json m = json::parse(line, nullptr, false);
    if (!m.is_discarded() && m.contains("id")) {
      if (raw) *raw = std::move(line);
      return m;
    }
  }
}

struct Server {
  std::string name;
  std::vector<std::string> argv;
  std::function<json(int id, const std::string& request_id)> request;
};

// A result, not isError, and the request_id in it (searched in the raw line: serialising the
// parsed reply again would make the client, not the servers, the bottleneck).
void Check(const json& reply, const std::string& raw, const std::string& request_id,
           const std::string& who) {
  const json* result = reply.contains("result") ? &reply["result"] : nullptr;
  if (!result || result->value("isError", false) || raw.find(request_id) == std::string::npos) {
    std::cerr << "pg_compare_bench: " << who << " answered badly: " << raw.substr(0, 400) << "\n";
    std::exit(3);
  }
}

struct Figures {
  double p50 = 0, p99 = 0, per_second = 0;
  // CPU per call in the throughput phase: the server process (all its threads), and the whole
  // machine (client, server, Postgres and anything else running).
  double server_cpu_us = 0, machine_cpu_us = 0, client_cpu_us = 0;
};

// One server's figures over several runs; each figure's median is reported.
struct Series {
  std::vector<Figures> runs;
  void Add(const Figures& f) { runs.push_back(f); }
  Figures Medians() const {
    auto median = [&](double Figures::*field) {
      std::vector<double> v;
      for (const Figures& f : runs) v.push_back(f.*field);
      return v.empty() ? 0.0 : Median(v);
    };
    Figures m;
    for (double Figures::*field :
         {&Figures::p50, &Figures::p99, &Figures::per_second, &Figures::server_cpu_us,
          &Figures::machine_cpu_us, &Figures::client_cpu_us}) {
      m.*field = median(field);
    }
    return m;
  }
};

json ToJson(const Figures& f) {
  return {{"p50_us", f.p50},
          {"p99_us", f.p99},
          {"calls_per_second", f.per_second},
          {"server_cpu_us_per_call", f.server_cpu_us},
          {"client_cpu_us_per_call", f.client_cpu_us},
          {"machine_cpu_us_per_call", f.machine_cpu_us}};
}

Figures Run(const Server& s, const std::vector<std::string>& ids, int calls, int concurrency,
            int server_cpu) {
  Child c = Spawn(s.argv, server_cpu);
  Send(c, {{"jsonrpc", "2.0"},
           {"id", 0},
           {"method", "initialize"},
           {"params",
            {{"protocolVersion", "2025-06-18"},
             {"capabilities", json::object()},
             {"clientInfo", {{"name", "pg_compare_bench"}, {"version", "1"}}}}}});
  Receive(c);
  Send(c, {{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  auto id_of = [&](int i) { return ids[static_cast<size_t>(i) % ids.size()]; };
  std::string raw;
  for (int i = 1; i <= 200; ++i) {  // warm-up
    Send(c, s.request(i, id_of(i)));
    json r = Receive(c, &raw);
    Check(r, raw, id_of(i), s.name);
  }
  std::vector<double> us;
  for (int i = 0; i < calls; ++i) {
    auto t0 = Clock::now();
    Send(c, s.request(1000 + i, id_of(i)));
    Clock::time_point arrived;
    json r = Receive(c, &raw, &arrived);
    us.push_back(std::chrono::duration<double, std::micro>(arrived - t0).count());
    Check(r, raw, id_of(i), s.name);
  }
  std::sort(us.begin(), us.end());
  Figures f;
  f.p50 = us[us.size() / 2];
  f.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  // Throughput with `concurrency` calls in flight.
  const int base = 1000000;
  std::map<int, std::string> pending;
  const double server_cpu0 = ProcessCpuSeconds(c.pid), machine_cpu0 = MachineBusySeconds(),
               client_cpu0 = ProcessCpuSeconds(getpid());
  auto t0 = Clock::now();
  int sent = 0, done = 0;
  while (done < calls) {
    while (sent < calls && sent - done < concurrency) {
      pending[base + sent] = id_of(sent * 7 + 3);
      Send(c, s.request(base + sent, pending[base + sent]));
      ++sent;
    }
    json r = Receive(c, &raw);
    int id = r["id"].get<int>();
    Check(r, raw, pending[id], s.name);
    pending.erase(id);
    ++done;
  }
  f.per_second = calls / std::chrono::duration<double>(Clock::now() - t0).count();
  f.server_cpu_us = (ProcessCpuSeconds(c.pid) - server_cpu0) * 1e6 / calls;
  f.machine_cpu_us = (MachineBusySeconds() - machine_cpu0) * 1e6 / calls;
  f.client_cpu_us = (ProcessCpuSeconds(getpid()) - client_cpu0) * 1e6 / calls;
  Stop(c);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "build/fasten-mcp", dsn, js, ids_from, node = "node", tenant = "acme";
  std::string only, only_placement, workers = "4";  // for profiling one server in one placement
  int calls = 3000, runs = 3, concurrency = 8;
  const std::map<std::string, std::string*> text_flags = {
      {"--binary", &binary},     {"--pg-dsn", &dsn}, {"--server-postgres", &js},
      {"--ids-from", &ids_from}, {"--node", &node},  {"--tenant", &tenant},
      {"--workers", &workers},   {"--only", &only},  {"--placement", &only_placement}};
  const std::map<std::string, int*> int_flags = {
      {"--calls", &calls}, {"--runs", &runs}, {"--concurrency", &concurrency}};
  bool known = argc % 2 == 1;  // every flag takes a value
  for (int i = 1; known && i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    auto t = text_flags.find(k);
    auto n = int_flags.find(k);
    if (t != text_flags.end()) {
      *t->second = v;
    } else if (n != int_flags.end()) {
      *n->second = std::atoi(v.c_str());
    } else {
      known = false;
    }
  }
  if (!known || dsn.empty() || js.empty() || ids_from.empty() || calls < 1 || runs < 1 ||
      concurrency < 1) {
    std::cerr
        << "usage: pg_compare_bench --binary B --pg-dsn DSN --server-postgres INDEX_JS "
           "--ids-from SQLITE_DB [--node NODE] [--tenant T] [--calls N] [--runs R] "
           "[--concurrency C] [--only fasten-mcp|server-postgres] [--placement split|same|free] "
           "[--workers N]\n";
    return 2;
  }
  std::vector<std::string> ids;
  {
    sqlite3* db = nullptr;
    sqlite3_open_v2(ids_from.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
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
  }
  if (ids.empty()) {
    std::cerr << "pg_compare_bench: no request ids in " << ids_from << "\n";
    return 2;
  }
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(11));
  const std::string table = "audit_log";
  Server theirs{"server-postgres", {node, js, dsn}, [&](int id, const std::string& rid) {
                  return json{{"jsonrpc", "2.0"},
                              {"id", id},
                              {"method", "tools/call"},
                              {"params",
                               {{"name", "query"},
                                {"arguments",
                                 {{"sql", "SELECT * FROM " + table + " WHERE tenant_id = '" +
                                              tenant + "' AND request_id = '" + rid +
                                              "' ORDER BY timestamp DESC LIMIT 20"}}}}}};
                }};
  Server ours{"fasten-mcp",
              {binary, "serve", "--store", dsn, "--tenant", tenant, "--log-level", "error",
               "--workers", workers},
              [&](int id, const std::string& rid) {
                return json{
                    {"jsonrpc", "2.0"},
                    {"id", id},
                    {"method", "tools/call"},
                    {"params", {{"name", "audit_query"}, {"arguments", {{"request_id", rid}}}}}};
              }};
  struct Placement {
    const char* name;
    int client_cpu, server_cpu;
  };
  // As in stdio_bench: where the two ends of the pipe run decides the round-trip floor; both
  // servers get the same placement in each row. Postgres itself is never pinned.
  std::vector<Placement> placements = {{"split", 0, 1}, {"same", 0, 0}, {"free", -1, -1}};
  json out = {{"calls_per_run", calls},
              {"runs", runs},
              {"concurrency", concurrency},
              {"placements", json::array()}};
  for (const Placement& pl : placements) {
    if (!only_placement.empty() && only_placement != pl.name) continue;
    Pin(pl.client_cpu);
    Series theirs_runs, ours_runs;
    for (int r = 0; r < runs; ++r) {
      if (only != "fasten-mcp")
        theirs_runs.Add(Run(theirs, ids, calls, concurrency, pl.server_cpu));
      if (only != "server-postgres")
        ours_runs.Add(Run(ours, ids, calls, concurrency, pl.server_cpu));
    }
    const Figures t = theirs_runs.Medians(), o = ours_runs.Medians();
    out["placements"].push_back({{"placement", pl.name},
                                 {"server_postgres", ToJson(t)},
                                 {"fasten_mcp", ToJson(o)},
                                 {"throughput_ratio", o.per_second / t.per_second},
                                 {"p50_ratio", o.p50 / t.p50}});
    // The goals are judged unpinned ("free"), as both servers run when deployed; the pinned
    // placements squeeze one or both ends onto one core to show where the costs are.
    const bool judged = std::string(pl.name) == "free";
    std::cerr << pl.name << (judged ? " (unpinned, judged)" : " (pinned, diagnostic)")
              << ": fasten-mcp audit_query vs server-postgres query: throughput "
              << o.per_second / t.per_second << "x (goal >= 3), p50 " << o.p50 / t.p50
              << "x (goal <= 0.33)\n";
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}
