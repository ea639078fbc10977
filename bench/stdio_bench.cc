// tools/call over stdio against the bare pipe round trip, measured in one run
// (docs/benchmarks.md: transport floors, G10/G11):
//   L_rtt   a child that answers each ~0.5 KB line with a ~2 KB line (this binary, --echo)
//   echo    fasten-mcp serve: an echo-sized tools/call (row_get of a citation that does not
//           exist: validation, dispatch, one indexed lookup, a small result)
//   lookup  fasten-mcp serve: audit_query by request_id (random ids of the store), end to end
// Placement matters more than anything else on a small VM: a ping-pong whose two ends share a
// core costs a few microseconds, one that crosses cores pays an inter-processor wake-up (tens of
// microseconds). Each placement pins the client and the child the same way for the floor and for
// the subject, so every ratio compares like with like:
//   split  client on CPU 0, child on CPU 1 (the transport floor, and the G10 gate)
//   same   client and child both on CPU 0
//   free   no pinning: the scheduler decides, run to run
// Usage: stdio_bench --binary build/fasten-mcp --store PATH [--tenant T] [--calls N] [--runs R]
//                    [--placement split|same|free|all] [--serve-store DSN]
// --serve-store serves another store holding the same rows (e.g. PATH loaded into Postgres with
// scripts/pg-load-demo.sh); request ids are still read from PATH.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fasten::bench;

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// CPU for the client and for the child; -1 = not pinned.
struct Placement {
  std::string name;
  int client_cpu = -1;
  int child_cpu = -1;
};

std::string RoundTrip(Child& c, const std::string& line) {
  fwrite(line.data(), 1, line.size(), c.in);
  fputc('\n', c.in);
  fflush(c.in);
  std::string reply;
  char buf[65536];
  while (fgets(buf, sizeof buf, c.out)) {
    reply += buf;
    if (!reply.empty() && reply.back() == '\n') break;
  }
  return reply;
}

int EchoServer() {
  std::string reply(2000, 'x');
  reply = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"pad\":\"" + reply + "\"}}\n";
  char buf[65536];
  while (fgets(buf, sizeof buf, stdin)) {
    fwrite(reply.data(), 1, reply.size(), stdout);
    fflush(stdout);
  }
  return 0;
}

struct Setup {
  std::string self, binary, store, tenant;
  std::string serve_store;  // what the server reads; default sqlite:///<store>
  int calls = 10000, runs = 3;
  std::vector<std::string> ids;
};

json RunPlacement(const Setup& setup, const Placement& placement) {
  const std::string meta =
      "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
      "\"io.modelcontextprotocol/clientCapabilities\":{}}";
  const std::string pad(300, 'p');
  std::vector<double> pipe50, pipe99, echo50, echo99, look50, look99;
  size_t echo_bytes = 0, look_bytes = 0;
  if (placement.client_cpu >= 0)
    Pin(placement.client_cpu);
  else
    Pin(-1);
  for (int run = 0; run < setup.runs; ++run) {
    Child echo = Spawn({setup.self, "--echo"}, placement.child_cpu);
    const std::string request =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"p\":\"" + pad + "\"}}";
    Stats p = Measure(setup.calls, [&](int) { RoundTrip(echo, request); });
    Stop(echo);
    Child server =
        Spawn({setup.binary, "serve", "--store",
               setup.serve_store.empty() ? "sqlite:///" + setup.store : setup.serve_store,
               "--tenant", setup.tenant, "--log-level", "error"},
              placement.child_cpu);
    Stats e = Measure(setup.calls, [&](int i) {
      std::string r = RoundTrip(
          server, "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
                      ",\"method\":\"tools/call\",\"params\":{\"name\":\"row_get\",\"arguments\":"
                      "{\"monotonic_seq\":1,\"hash\":\"" +
                      std::string(64, 'e') + "\"}," + meta + "}}");
      echo_bytes = r.size();
    });
    Stats l = Measure(setup.calls, [&](int i) {
      std::string r = RoundTrip(
          server,
          "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
              ",\"method\":\"tools/call\",\"params\":{\"name\":\"audit_query\",\"arguments\":"
              "{\"request_id\":\"" +
              setup.ids[static_cast<size_t>(i) % setup.ids.size()] + "\"}," + meta + "}}");
      look_bytes = r.size();
    });
    Stop(server);
    pipe50.push_back(p.p50);
    pipe99.push_back(p.p99);
    echo50.push_back(e.p50);
    echo99.push_back(e.p99);
    look50.push_back(l.p50);
    look99.push_back(l.p99);
  }
  json j = {{"placement", placement.name},
            {"client_cpu", placement.client_cpu},
            {"child_cpu", placement.child_cpu},
            {"L_rtt_pipe_p50_us", Median(pipe50)},
            {"L_rtt_pipe_p99_us", Median(pipe99)},
            {"echo_call_p50_us", Median(echo50)},
            {"echo_call_p99_us", Median(echo99)},
            {"echo_reply_bytes", echo_bytes},
            {"echo_over_pipe_p50", Median(echo50) / Median(pipe50)},
            {"audit_query_by_request_id_p50_us", Median(look50)},
            {"audit_query_by_request_id_p99_us", Median(look99)},
            {"audit_query_reply_bytes_last", look_bytes}};
  std::cerr << placement.name << ": pipe p50 " << Median(pipe50) << " us; tools/call echo p50 "
            << Median(echo50) << " us = " << Median(echo50) / Median(pipe50)
            << " x pipe; audit_query by request_id p50 " << Median(look50) << " us\n";
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Setup setup;
  setup.self = argv[0];
  setup.binary = "build/fasten-mcp";
  setup.tenant = "acme";
  std::string which = "all";
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--echo") return EchoServer();
    if (i + 1 >= argc) break;
    std::string v = argv[++i];
    if (k == "--binary")
      setup.binary = v;
    else if (k == "--store")
      setup.store = v;
    else if (k == "--serve-store")
      setup.serve_store = v;
    else if (k == "--tenant")
      setup.tenant = v;
    else if (k == "--calls")
      setup.calls = std::stoi(v);
    else if (k == "--runs")
      setup.runs = std::stoi(v);
    else if (k == "--placement")
      which = v;
  }
  if (setup.store.empty()) {
    std::cerr << "usage: stdio_bench --binary B --store PATH [--tenant T] [--calls N] [--runs R] "
                 "[--placement split|same|free|all] [--serve-store DSN]\n";
    return 2;
  }
  // Request ids of the tenant, for the lookup benchmark.
  {
    sqlite3* db = nullptr;
    sqlite3_open_v2(setup.store.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT request_id FROM audit_log WHERE tenant_id = ? AND request_id NOT "
                       "LIKE 'bg-%' LIMIT 20000",
                       -1, &st, nullptr);
    sqlite3_bind_text(st, 1, setup.tenant.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
      setup.ids.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  if (setup.ids.empty()) {
    std::cerr << "stdio_bench: no request ids for tenant " << setup.tenant << " in " << setup.store
              << "\n";
    return 2;
  }
  std::mt19937_64 rng(7);
  std::shuffle(setup.ids.begin(), setup.ids.end(), rng);
  const bool two_cpus = std::thread::hardware_concurrency() >= 2;
  std::vector<Placement> placements;
  if ((which == "all" || which == "split") && two_cpus) placements.push_back({"split", 0, 1});
  if (which == "all" || which == "same") placements.push_back({"same", 0, 0});
  if (which == "all" || which == "free") placements.push_back({"free", -1, -1});
  if (placements.empty()) {
    std::cerr << "stdio_bench: unknown or impossible --placement " << which << "\n";
    return 2;
  }
  json out = {{"calls_per_run", setup.calls},
              {"runs", setup.runs},
              {"request_ids", setup.ids.size()},
              {"placements", json::array()}};
  for (const Placement& p : placements) out["placements"].push_back(RunPlacement(setup, p));
  std::cout << out.dump(2) << "\n";
  return 0;
}
