// Streamable HTTP against the bare TCP loopback round trip, measured in one run
// (docs/benchmarks.md: transport floors, G10/G11), and a bounded load test.
//
//   L_rtt   a child answering each ~0.5 KB message with ~2 KB over one keep-alive TCP
//           connection with TCP_NODELAY (this binary, --tcp-echo)
//   echo    fasten-mcp serve --http: an echo-sized tools/call (row_get of a citation that does
//           not exist), keep-alive, bearer token, modern headers
//   lookup  audit_query by request_id (random ids of the tenant), end to end
//   records the echo again on a server that appends an access record per tools/call to the
//           investigation record log (the default of serve --http); the echo and lookup above
//           run with --no-access-records, and echo_access_records_over_off_p50 is the ratio
//           (the issue 13 budget: at most 1.10)
//   load    --clients N connections calling for --seconds S (a mix of lookups, row_get and
//           tools/list); counts every non-200 or isError answer as an error and samples the
//           server's RSS each second. Exit status 1 on any error or RSS growth over --rss-growth-mb
//           after the first 10 s.
//
// Placement (as in stdio_bench): split pins the client to CPU 0 and the child to CPU 1; same
// pins both to CPU 0; free leaves it to the scheduler.
// Usage: http_bench --binary B --store PATH [--tenant T] [--calls N] [--runs R]
//                   [--placement split|same|free|all] [--load-only] [--clients N] [--seconds S]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fasten::bench;

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr size_t kEchoRequest = 480, kEchoReply = 2048;

bool ReadFull(int fd, char* buf, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, buf, n);
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteFull(int fd, const char* buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w <= 0) return false;
    buf += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// --tcp-echo: listen on a free port, print it, answer fixed-size messages.
int TcpEcho() {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(lfd, 4);
  socklen_t len = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::printf("%d\n", ntohs(a.sin_port));
  std::fflush(stdout);
  int fd = accept(lfd, nullptr, nullptr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string req(kEchoRequest, 0), reply(kEchoReply, 'x');
  while (ReadFull(fd, req.data(), req.size())) {
    if (!WriteFull(fd, reply.data(), reply.size())) break;
  }
  return 0;
}

// One keep-alive HTTP/1.1 connection.
class HttpClient {
 public:
  HttpClient(uint16_t port, std::string token) : fd_(Connect(port)), token_(std::move(token)) {}
  ~HttpClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  // POSTs `body` to /mcp; returns the status (0 on a transport error) and fills *reply.
  int Post(const std::string& body, const std::string& method, const std::string& name,
           std::string* reply) {
    std::string req =
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\nAuthorization: Bearer " +
        token_ + "\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: " + method + "\r\n";
    if (!name.empty()) req += "Mcp-Name: " + name + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!WriteFull(fd_, req.data(), req.size())) return 0;
    // Headers.
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return 0;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    int status = std::atoi(head.c_str() + 9);
    size_t cl = head.find("Content-Length: ");
    if (cl == std::string::npos) return 0;
    size_t n = std::strtoul(head.c_str() + cl + 16, nullptr, 10);
    while (buf_.size() < n) {
      if (!Fill()) return 0;
    }
    reply->assign(buf_, 0, n);
    buf_.erase(0, n);
    return status;
  }

 private:
  bool Fill() {
    char tmp[65536];
    ssize_t r = read(fd_, tmp, sizeof tmp);
    if (r <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(r));
    return true;
  }
  int fd_;
  std::string token_;
  std::string buf_;
};

struct Setup {
  std::string self, binary, store, tenant = "acme", token, tokens_file;
  std::string state;  // the state database of servers that keep access records
  int calls = 10000, runs = 3, clients = 64, seconds = 60;
  double rss_growth_mb = 32;
  std::vector<std::string> ids;
  std::vector<std::pair<long long, std::string>> rows;  // (monotonic_seq, hash) of the tenant
};

const char kMeta[] =
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
    "\"io.modelcontextprotocol/clientCapabilities\":{}}";

std::string RowGet(int i) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
         ",\"method\":\"tools/call\",\"params\":{\"name\":\"row_get\",\"arguments\":{"
         "\"monotonic_seq\":1,\"hash\":\"" +
         std::string(64, 'e') + "\"}," + kMeta + "}}";
}

std::string RowGetReal(int i, const std::pair<long long, std::string>& row) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
         ",\"method\":\"tools/call\",\"params\":{\"name\":\"row_get\",\"arguments\":{"
         "\"monotonic_seq\":" +
         std::to_string(row.first) + ",\"hash\":\"" + row.second + "\"}," + kMeta + "}}";
}

std::string Lookup(int i, const std::string& id) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
         ",\"method\":\"tools/call\",\"params\":{\"name\":\"audit_query\",\"arguments\":{"
         "\"request_id\":\"" +
         id + "\"}," + kMeta + "}}";
}

std::string ToolsList(int i) {
  return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
         ",\"method\":\"tools/list\",\"params\":{" + kMeta + "}}";
}

// Removes the state database (and its WAL companions) of an earlier server.
void RemoveState(const Setup& s) {
  for (const char* suffix : {"", "-wal", "-shm"}) unlink((s.state + suffix).c_str());
}

// Starts the server pinned to `cpu`, appending access records to a fresh s.state or not;
// returns its port.
uint16_t StartServer(const Setup& s, int cpu, Child* child, bool access_records) {
  std::vector<std::string> args = {s.binary,      "serve",           "--http",
                                   "127.0.0.1:0", "--store",         "sqlite:///" + s.store,
                                   "--tokens",    s.tokens_file,     "--log-level",
                                   "info",        "--max-in-flight", "256"};
  RemoveState(s);
  if (access_records) {
    args.insert(args.end(), {"--state", s.state});
  } else {
    args.push_back("--no-access-records");
  }
  *child = Spawn(args, cpu, /*pipe_stderr=*/true);
  char line[4096];
  while (fgets(line, sizeof line, child->err)) {
    const char* p = std::strstr(line, "http://127.0.0.1:");
    if (p) {
      // Keep draining the server's stderr so it never blocks on a full pipe.
      FILE* err = child->err;
      child->err = nullptr;
      std::thread([err] {
        char buf[4096];
        while (fgets(buf, sizeof buf, err)) {
        }
        fclose(err);
      }).detach();
      return static_cast<uint16_t>(std::atoi(p + std::strlen("http://127.0.0.1:")));
    }
  }
  std::cerr << "http_bench: the server did not start\n";
  std::exit(2);
}

long RssKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string k;
  while (f >> k) {
    if (k == "VmRSS:") {
      long v;
      f >> v;
      return v;
    }
  }
  return -1;
}

json RunPlacement(const Setup& s, const std::string& name, int client_cpu, int child_cpu) {
  Pin(client_cpu);
  std::vector<double> tcp50, tcp99, echo50, echo99, look50, look99, rec50, rec99;
  for (int run = 0; run < s.runs; ++run) {
    Child echo = Spawn({s.self, "--tcp-echo"}, child_cpu, false);
    int port = 0;
    if (fscanf(echo.out, "%d", &port) != 1) std::exit(2);
    int fd = Connect(static_cast<uint16_t>(port));
    std::string req(kEchoRequest, 'r'), reply(kEchoReply, 0);
    Stats t = Measure(s.calls, [&](int) {
      WriteFull(fd, req.data(), req.size());
      ReadFull(fd, reply.data(), reply.size());
    });
    close(fd);
    Stop(echo);

    Child server;
    uint16_t sport = StartServer(s, child_cpu, &server, /*access_records=*/false);
    HttpClient c(sport, s.token);
    std::string r;
    Stats e = Measure(s.calls, [&](int i) {
      if (c.Post(RowGet(i), "tools/call", "row_get", &r) != 200) std::exit(3);
    });
    Stats l = Measure(s.calls, [&](int i) {
      if (c.Post(Lookup(i, s.ids[static_cast<size_t>(i) % s.ids.size()]), "tools/call",
                 "audit_query", &r) != 200) {
        std::exit(3);
      }
    });
    Stop(server);
    // The same echo with every call recorded.
    Child recording;
    uint16_t rport = StartServer(s, child_cpu, &recording, /*access_records=*/true);
    HttpClient rc(rport, s.token);
    Stats a = Measure(s.calls, [&](int i) {
      if (rc.Post(RowGet(i), "tools/call", "row_get", &r) != 200) std::exit(3);
    });
    Stop(recording);
    rec50.push_back(a.p50);
    rec99.push_back(a.p99);
    tcp50.push_back(t.p50);
    tcp99.push_back(t.p99);
    echo50.push_back(e.p50);
    echo99.push_back(e.p99);
    look50.push_back(l.p50);
    look99.push_back(l.p99);
  }
  std::cerr << name << ": tcp p50 " << Median(tcp50) << " us; HTTP tools/call echo p50 "
            << Median(echo50) << " us = " << Median(echo50) / Median(tcp50)
            << " x tcp; audit_query by request_id p50 " << Median(look50)
            << " us; echo p50 with access records " << Median(rec50)
            << " us = " << Median(rec50) / Median(echo50) << " x without\n";
  return {{"placement", name},
          {"L_rtt_tcp_p50_us", Median(tcp50)},
          {"L_rtt_tcp_p99_us", Median(tcp99)},
          {"echo_call_p50_us", Median(echo50)},
          {"echo_call_p99_us", Median(echo99)},
          {"echo_over_tcp_p50", Median(echo50) / Median(tcp50)},
          {"audit_query_by_request_id_p50_us", Median(look50)},
          {"audit_query_by_request_id_p99_us", Median(look99)},
          {"echo_access_records_p50_us", Median(rec50)},
          {"echo_access_records_p99_us", Median(rec99)},
          {"echo_access_records_over_off_p50", Median(rec50) / Median(echo50)}};
}

json RunLoad(const Setup& s, bool* ok) {
  Pin(-1);
  Child server;
  uint16_t port = StartServer(s, -1, &server, /*access_records=*/true);
  std::atomic<bool> stop{false};
  std::atomic<long> calls{0}, errors{0};
  std::mutex mu;
  std::vector<double> latencies;
  std::string first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < s.clients; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(port, s.token);
      std::mt19937 rng(static_cast<unsigned>(t));
      std::vector<double> mine;
      std::string r;
      for (int i = 0; !stop.load(); ++i) {
        int kind = static_cast<int>(rng() % 10);
        std::string body, method = "tools/call", name;
        if (kind < 7) {
          body = Lookup(i, s.ids[rng() % s.ids.size()]);
          name = "audit_query";
        } else if (kind < 9) {
          body = RowGetReal(i, s.rows[rng() % s.rows.size()]);
          name = "row_get";
        } else {
          body = ToolsList(i);
          method = "tools/list";
        }
        auto t0 = Clock::now();
        int status = c.ok() ? c.Post(body, method, name, &r) : 0;
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        calls.fetch_add(1);
        bool bad = status != 200;
        if (!bad) {
          json reply = json::parse(r, nullptr, false);
          bad = reply.is_discarded() || reply.contains("error") ||
                reply["result"].value("isError", false);
        }
        if (bad) {
          errors.fetch_add(1);
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.empty()) first_error = std::to_string(status) + " " + r.substr(0, 300);
          if (status == 0) return;  // the connection is gone
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  std::vector<long> rss;
  auto start = Clock::now();
  for (int sec = 0; sec < s.seconds; ++sec) {
    std::this_thread::sleep_until(start + std::chrono::seconds(sec + 1));
    rss.push_back(RssKb(server.pid));
    if (sec % 10 == 9) {
      std::cerr << "load: " << sec + 1 << " s, " << calls.load() << " calls, " << errors.load()
                << " errors, server RSS " << rss.back() / 1024 << " MB\n";
    }
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Stop(server);
  Stats lat = latencies.empty() ? Stats{} : Percentiles(latencies);
  const long base = rss.size() > 10 ? rss[9] : rss.front();
  const long peak = *std::max_element(rss.begin(), rss.end());
  const double growth_mb = static_cast<double>(rss.back() - base) / 1024.0;
  *ok = errors.load() == 0 && growth_mb <= s.rss_growth_mb;
  json j = {{"clients", s.clients},
            {"seconds", elapsed},
            {"calls", calls.load()},
            {"errors", errors.load()},
            {"calls_per_second", static_cast<double>(calls.load()) / elapsed},
            {"p50_us", lat.p50},
            {"p99_us", lat.p99},
            {"rss_mb_at_10s", static_cast<double>(base) / 1024.0},
            {"rss_mb_peak", static_cast<double>(peak) / 1024.0},
            {"rss_mb_end", static_cast<double>(rss.back()) / 1024.0},
            {"rss_growth_mb_after_10s", growth_mb},
            {"rss_growth_limit_mb", s.rss_growth_mb},
            {"ok", *ok}};
  if (!first_error.empty()) j["first_error"] = first_error;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Setup s;
  s.self = argv[0];
  s.binary = "build/fasten-mcp";
  std::string which = "all";
  bool load_only = false, with_load = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--tcp-echo") return TcpEcho();
    if (k == "--load-only") {
      load_only = true;
      continue;
    }
    if (k == "--load") {
      with_load = true;
      continue;
    }
    if (i + 1 >= argc) break;
    std::string v = argv[++i];
    if (k == "--binary") {
      s.binary = v;
    } else if (k == "--store") {
      s.store = v;
    } else if (k == "--tenant") {
      s.tenant = v;
    } else if (k == "--calls") {
      s.calls = std::stoi(v);
    } else if (k == "--runs") {
      s.runs = std::stoi(v);
    } else if (k == "--placement") {
      which = v;
    } else if (k == "--clients") {
      s.clients = std::stoi(v);
    } else if (k == "--seconds") {
      s.seconds = std::stoi(v);
    } else if (k == "--rss-growth-mb") {
      s.rss_growth_mb = std::stod(v);
    }
  }
  if (s.store.empty()) {
    std::cerr << "usage: http_bench --binary B --store PATH [--tenant T] [--calls N] [--runs R] "
                 "[--placement split|same|free|all] [--load | --load-only] [--clients N] "
                 "[--seconds S] [--rss-growth-mb M]\n";
    return 2;
  }
  {
    sqlite3* db = nullptr;
    sqlite3_open_v2(s.store.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT request_id FROM audit_log WHERE tenant_id = ? AND request_id NOT "
                       "LIKE 'bg-%' LIMIT 20000",
                       -1, &st, nullptr);
    sqlite3_bind_text(st, 1, s.tenant.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
      s.ids.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db,
                       "SELECT monotonic_seq, hash FROM audit_log WHERE tenant_id = ? AND hash "
                       "IS NOT NULL AND hash != '' LIMIT 20000",
                       -1, &st, nullptr);
    sqlite3_bind_text(st, 1, s.tenant.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
      s.rows.emplace_back(sqlite3_column_int64(st, 0),
                          reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  if (s.ids.empty() || s.rows.empty()) {
    std::cerr << "http_bench: no request ids for tenant " << s.tenant << " in " << s.store << "\n";
    return 2;
  }
  std::shuffle(s.ids.begin(), s.ids.end(), std::mt19937_64(7));
  // A bearer token for the tenant, in a throwaway tokens file.
  char dir[] = "/tmp/fasten-http-bench-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  s.tokens_file = std::string(dir) + "/tokens";
  s.state = std::string(dir) + "/state.db";
  {
    Child add = Spawn({s.binary, "token", "add", "--tenant", s.tenant, "--tokens", s.tokens_file},
                      -1, false);
    char line[512] = {0};
    if (!fgets(line, sizeof line, add.out)) return 2;
    s.token = line;
    while (!s.token.empty() && (s.token.back() == '\n' || s.token.back() == '\r')) {
      s.token.pop_back();
    }
    Stop(add);
  }
  json out = {{"calls_per_run", s.calls}, {"runs", s.runs}, {"placements", json::array()}};
  if (!load_only) {
    const bool two = std::thread::hardware_concurrency() >= 2;
    if ((which == "all" || which == "split") && two) {
      out["placements"].push_back(RunPlacement(s, "split", 0, 1));
    }
    if (which == "all" || which == "same")
      out["placements"].push_back(RunPlacement(s, "same", 0, 0));
    if (which == "all" || which == "free") {
      out["placements"].push_back(RunPlacement(s, "free", -1, -1));
    }
  }
  bool ok = true;
  if (load_only || with_load) out["load"] = RunLoad(s, &ok);
  std::cout << out.dump(2) << "\n";
  unlink(s.tokens_file.c_str());
  RemoveState(s);
  rmdir(dir);
  return ok ? 0 : 1;
}
