// tools/call over stdio against the bare pipe round trip, measured in one run
// (performance.md §8, G10/G11):
//   L_rtt   a child that answers each ~0.5 KB line with a ~2 KB line (this binary, --echo)
//   echo    fasten-mcp serve: an echo-sized tools/call (row_get of a citation that does not
//           exist: validation, dispatch, one indexed lookup, a small result)
//   lookup  fasten-mcp serve: audit_query by request_id (random ids of the store), end to end
// Usage: stdio_bench --binary build/fasten-mcp --store PATH [--tenant T] [--calls N] [--runs R]
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

struct Child {
  pid_t pid = -1;
  FILE* in = nullptr;   // child's stdin
  FILE* out = nullptr;  // child's stdout
};

Child Spawn(const std::vector<std::string>& argv) {
  int to[2], from[2];
  if (pipe(to) != 0 || pipe(from) != 0) std::exit(2);
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(to[0], 0);
    dup2(from[1], 1);
    close(to[1]);
    close(from[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(to[0]);
  close(from[1]);
  c.in = fdopen(to[1], "w");
  c.out = fdopen(from[0], "r");
  return c;
}

void Stop(Child& c) {
  fclose(c.in);
  int status = 0;
  waitpid(c.pid, &status, 0);
  fclose(c.out);
}

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

struct Stats {
  double p50 = 0, p99 = 0;
};

Stats Percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename F>
Stats Measure(int calls, F&& one) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(calls));
  for (int i = 0; i < 200; ++i) one(i);  // warm-up
  for (int i = 0; i < calls; ++i) {
    auto t0 = Clock::now();
    one(i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return Percentiles(std::move(us));
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

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "build/fasten-mcp", store, tenant = "acme";
  int calls = 10000, runs = 3;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--echo") return EchoServer();
    if (i + 1 >= argc) break;
    std::string v = argv[++i];
    if (k == "--binary")
      binary = v;
    else if (k == "--store")
      store = v;
    else if (k == "--tenant")
      tenant = v;
    else if (k == "--calls")
      calls = std::stoi(v);
    else if (k == "--runs")
      runs = std::stoi(v);
  }
  if (store.empty()) {
    std::cerr << "usage: stdio_bench --binary B --store PATH [--tenant T] [--calls N] [--runs R]\n";
    return 2;
  }
  // Request ids of the tenant, for the lookup benchmark.
  std::vector<std::string> ids;
  {
    sqlite3* db = nullptr;
    sqlite3_open_v2(store.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT request_id FROM audit_log WHERE tenant_id = ? AND request_id NOT "
                       "LIKE 'bg-%' LIMIT 20000",
                       -1, &st, nullptr);
    sqlite3_bind_text(st, 1, tenant.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
      ids.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  std::mt19937_64 rng(7);
  std::shuffle(ids.begin(), ids.end(), rng);
  const std::string meta =
      "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
      "\"io.modelcontextprotocol/clientCapabilities\":{}}";
  const std::string pad(300, 'p');
  std::vector<double> pipe50, pipe99, echo50, echo99, look50, look99;
  size_t echo_bytes = 0, look_bytes = 0;
  for (int run = 0; run < runs; ++run) {
    Child echo = Spawn({argv[0], "--echo"});
    const std::string request =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"p\":\"" + pad + "\"}}";
    Stats p = Measure(calls, [&](int) { RoundTrip(echo, request); });
    Stop(echo);
    Child server = Spawn({binary, "serve", "--store", "sqlite:///" + store, "--tenant", tenant,
                          "--log-level", "error"});
    Stats e = Measure(calls, [&](int i) {
      std::string r = RoundTrip(
          server, "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
                      ",\"method\":\"tools/call\",\"params\":{\"name\":\"row_get\",\"arguments\":"
                      "{\"monotonic_seq\":1,\"hash\":\"" +
                      std::string(64, 'e') + "\"}," + meta + "}}");
      echo_bytes = r.size();
    });
    Stats l = Measure(calls, [&](int i) {
      std::string r = RoundTrip(
          server,
          "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
              ",\"method\":\"tools/call\",\"params\":{\"name\":\"audit_query\",\"arguments\":"
              "{\"request_id\":\"" +
              ids[static_cast<size_t>(i) % ids.size()] + "\"}," + meta + "}}");
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
  json j = {{"calls_per_run", calls},
            {"runs", runs},
            {"L_rtt_pipe_p50_us", Median(pipe50)},
            {"L_rtt_pipe_p99_us", Median(pipe99)},
            {"echo_call_p50_us", Median(echo50)},
            {"echo_call_p99_us", Median(echo99)},
            {"echo_reply_bytes", echo_bytes},
            {"echo_over_pipe_p50", Median(echo50) / Median(pipe50)},
            {"audit_query_by_request_id_p50_us", Median(look50)},
            {"audit_query_by_request_id_p99_us", Median(look99)},
            {"audit_query_reply_bytes_last", look_bytes},
            {"request_ids", ids.size()}};
  std::cout << j.dump(2) << "\n";
  std::cerr << "tools/call echo p50 " << Median(echo50)
            << " us = " << Median(echo50) / Median(pipe50)
            << " x pipe (goal <= 2); audit_query by request_id p50 " << Median(look50)
            << " us (goal <= 300)\n";
  return 0;
}
