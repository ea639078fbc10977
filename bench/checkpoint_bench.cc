// Signed checkpoints (issue 14) against their limits, measured in one run on one store:
//   periodic  AppendCheckpoint when the log already holds a checkpoint (what cron and
//             `serve --checkpoint-every` do), in process on one open reader, and the
//             `fasten-mcp checkpoint` command end to end (process start, key, store open);
//             limit 50 ms. On a copy of the store with the (source_node_id, monotonic_seq) index
//             `fasten-mcp index --apply` creates (ApplyIndexes). For context, in the same run:
//             the first checkpoint of a log (it counts every node's sealed rows once), the same
//             without the node index (the store as given), and the floor of a checkpoint's write
//             (one line appended and fsync'ed in the same directory).
//   verify    `fasten-mcp verify` with and without `--checkpoints LOG --pubkey PUB`, runs
//             interleaved (ABBA), same store; limit 1.05x. LOG holds `--log-checkpoints`
//             checkpoints taken as the store grew: checkpoint i of n records each node's last
//             sealed row at or below i/n of its seqs, so every checkpoint names other rows.
//             Also the anchor check alone (anchor::VerifyAnchors), in process.
//   RSS       peak RSS of `fasten-mcp verify --no-streams`, plain and with --checkpoints, on the
//             small and the large store (wait4): growth per extra 1 M rows, goal flat.
// Usage: checkpoint_bench --store PATH [--small PATH] [--work DIR] [--runs N] [--verify-runs N]
//                         [--log-checkpoints N] [--binary fasten-mcp] [--python python3]
// The stores are never written: the bench copies them into --work (default out/bench/checkpoint)
// and creates the index, the key pair and the logs there.
#include <fcntl.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "anchor/checkpoint.h"
#include "anchor/keys.h"
#include "anchor/signed_note.h"
#include "app/launch_scopes.h"
#include "bench_util.h"
#include "store/index_advice.h"
#include "store/reader.h"
#include "store/timestamp.h"

namespace {

using namespace fasten;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "checkpoint_bench: " << what << "\n";
  std::exit(2);
}

void Check(const Status& st, const std::string& what) {
  if (!st.ok()) Die(what + ": " + st.ToString());
}

double Ms(Clock::time_point a) {
  return std::chrono::duration<double, std::milli>(Clock::now() - a).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double P95(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

std::string DsnOf(const std::string& path) {
  return "sqlite:///" + fs::absolute(path).string();
}

std::unique_ptr<AuditReader> OpenReader(const std::string& path) {
  Result<Dsn> dsn = ParseDsn(DsnOf(path));
  std::unique_ptr<AuditReader> reader;
  if (!dsn.ok()) Die("bad path " + path);
  Check(AuditReader::Open(*dsn, &reader), "cannot open " + path);
  return reader;
}

int64_t CountRows(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_log", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

// The audit table's (source_node_id, monotonic_seq) advice of `fasten-mcp index`.
// The node indexes `fasten-mcp index` advises: (source_node_id, monotonic_seq), and the same
// over sealed rows only (WHERE hash <> ''), which a checkpoint's tips and counts use.
std::vector<IndexAdvice> NodeIndexAdvice(const std::string& path) {
  Result<Dsn> dsn = ParseDsn(DsnOf(path));
  IndexReport report;
  Check(AdviseIndexes(*dsn, &report), "index advice for " + path);
  std::vector<IndexAdvice> out;
  for (const IndexAdvice& a : report.advice) {
    if (a.columns.rfind("(source_node_id, monotonic_seq)", 0) == 0) out.push_back(a);
  }
  if (out.size() != 2) Die("no (source_node_id, monotonic_seq) advice for " + path);
  return out;
}

bool AllExist(const std::vector<IndexAdvice>& advice) {
  return std::all_of(advice.begin(), advice.end(), [](const IndexAdvice& a) { return a.exists; });
}

// Copies the store (and its WAL, when it has one) to `dst` and creates the node indexes on the
// copy as `fasten-mcp index --apply` does. Returns the index build time (ms).
double IndexedCopy(const std::string& src, const std::string& dst) {
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(dst + suffix);
  fs::copy_file(src, dst);
  std::error_code ec;
  if (fs::exists(src + "-wal") && fs::file_size(src + "-wal", ec) > 0) {
    fs::copy_file(src + "-wal", dst + "-wal");
  }
  std::vector<IndexAdvice> advice = NodeIndexAdvice(dst);
  auto t0 = Clock::now();
  Result<Dsn> dsn = ParseDsn(DsnOf(dst));
  Check(ApplyIndexes(*dsn, advice, [](const IndexAdvice&, const Status&) {}),
        "creating the node indexes on " + dst);
  double ms = Ms(t0);
  if (!AllExist(NodeIndexAdvice(dst))) Die("the node indexes are still missing on " + dst);
  return ms;
}

// One AppendCheckpoint; ms.
double Append(AuditReader* reader, const std::string& log, const anchor::PrivateKey& key,
              anchor::CheckpointBody* body) {
  anchor::AppendOptions o;
  o.store = "bench";
  o.key = &key;
  std::vector<std::string> warnings;
  auto t0 = Clock::now();
  Check(anchor::AppendCheckpoint(app::LaunchScopes::AllTenants(), reader, log, o, body, &warnings),
        "AppendCheckpoint " + log);
  double ms = Ms(t0);
  if (!warnings.empty()) Die("unexpected warning: " + warnings[0]);
  return ms;
}

// The floor of a checkpoint's write: a line of `bytes` appended to a file next to the log and
// fsync'ed; ms.
double AppendFsyncFloor(const std::string& path, size_t bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) Die("cannot open " + path);
  std::string line(bytes, 'x');
  line.back() = '\n';
  auto t0 = Clock::now();
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || fsync(fd) != 0) {
    Die("cannot write " + path);
  }
  double ms = Ms(t0);
  close(fd);
  return ms;
}

// A log of `n` checkpoints as if taken while the store grew: checkpoint i records each node's
// last sealed row at or below seq max * i / n, with the node's sealed count up to it, five
// minutes apart, chained and signed like AppendCheckpoint's.
void BuildGrowingLog(AuditReader* reader, const anchor::PrivateKey& key, int n,
                     const std::string& path) {
  fs::remove(path);
  std::vector<std::string> nodes;
  Check(reader->Nodes(app::LaunchScopes::AllTenants(), anchor::kMaxCheckpointNodes, &nodes),
        "Nodes");
  struct Node {
    std::string name;
    int64_t max_seq = 0, last_seq = 0, sealed = 0;
  };
  std::vector<Node> tips;
  for (const std::string& node : nodes) {
    std::optional<Predecessor> tip;
    Check(reader->Tip(app::LaunchScopes::AllTenants(), node, &tip), "Tip");
    if (tip) tips.push_back({node, tip->seq, 0, 0});
  }
  std::ofstream out(path, std::ios::binary);
  std::string prev = "genesis";
  const int64_t start = NowMicros() / 1000000 - 300LL * n;
  for (int i = 1; i <= n; ++i) {
    anchor::CheckpointBody body;
    body.store = "bench";
    body.index = i;
    body.time = SecondPrefix((start + 300LL * i) * 1000000) + "Z";
    body.prev = prev;
    for (Node& t : tips) {
      int64_t target = t.max_seq * i / n;
      std::optional<AuditRow> below, above;
      Check(reader->FindNeighbours(app::LaunchScopes::AllTenants(), t.name, target + 1, &below,
                                   &above),
            "FindNeighbours");
      while (below && !below->sealed()) {
        Check(reader->FindNeighbours(app::LaunchScopes::AllTenants(), t.name, below->monotonic_seq,
                                     &below, &above),
              "FindNeighbours");
      }
      if (!below) continue;
      int64_t added = 0;
      if (below->monotonic_seq > t.last_seq) {
        Check(reader->CountSealed(app::LaunchScopes::AllTenants(), t.name, t.last_seq,
                                  below->monotonic_seq, &added),
              "Count");
        t.last_seq = below->monotonic_seq;
      }
      t.sealed += added;
      body.nodes.push_back({t.name, below->monotonic_seq, below->hash, t.sealed});
    }
    const std::string text = body.Text();
    Result<std::string> note = anchor::SignNote(text, {&key});
    if (!note.ok()) Die("SignNote: " + note.status().ToString());
    out << anchor::LogLine(*note, "") << "\n";
    prev = anchor::CheckpointDigest(text);
  }
  if (!out.flush()) Die("cannot write " + path);
}

struct ChildResult {
  int status = -1;
  long max_rss_kb = 0;
  double ms = 0;
  std::string out;
};

// Runs a command with stdout on a pipe; its exit status, peak RSS (wait4) and wall time.
ChildResult RunChild(const std::vector<std::string>& argv) {
  ChildResult r;
  auto t0 = Clock::now();
  r.status = fasten::bench::SpawnAndWait(argv, &r.max_rss_kb, &r.out);
  r.ms = Ms(t0);
  if (r.status == -1 && r.out.empty()) Die("cannot run " + argv[0]);
  return r;
}

// The peak RSS of a child: wait4's ru_maxrss of a process spawned by this (large) process starts
// at this process's own peak (exec keeps the old mm's high-water mark), so the RSS runs go
// through a small python3 that forks the command and reports the grandchild's ru_maxrss (KiB)
// into the file named by its first argument.
constexpr char kRssWrapper[] =
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, st, ru = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(ru.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n";
std::string g_rss_file, g_python = "python3";

// `fasten-mcp verify` on `store`, with the checkpoint log when `log` is given; exits on a
// verdict other than OK.
ChildResult RunVerify(const std::string& binary, const std::string& store, const std::string& log,
                      const std::string& pub, bool streams) {
  std::vector<std::string> argv = {binary,       "verify", "--store",
                                   DsnOf(store), "--json", "--no-progress"};
  if (!streams) argv.push_back("--no-streams");
  if (!log.empty()) {
    for (const std::string& a : {std::string("--checkpoints"), log, std::string("--pubkey"), pub}) {
      argv.push_back(a);
    }
  }
  if (!g_rss_file.empty()) argv.insert(argv.begin(), {g_python, "-c", kRssWrapper, g_rss_file});
  ChildResult r = RunChild(argv);
  if (!g_rss_file.empty()) {
    std::ifstream in(g_rss_file);
    r.max_rss_kb = 0;
    if (!(in >> r.max_rss_kb)) Die("no RSS figure from the wrapper");
  }
  bool ok = r.status == 0;
  try {
    json j = json::parse(r.out);
    ok = ok && j.value("ok", false);
    if (!log.empty()) ok = ok && j.at("anchors").at("ok").get<bool>();
  } catch (...) {
    ok = false;
  }
  if (!ok)
    Die("verify " + store + (log.empty() ? "" : " --checkpoints " + log) + " exited " +
        std::to_string(r.status) + ": " + r.out.substr(0, 2000));
  return r;
}

json Figures(const std::vector<double>& ms) {
  return {{"runs", ms.size()}, {"median_ms", Median(ms)}, {"p95_ms", P95(ms)}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string store, small, work = "out/bench/checkpoint", binary = "build/fasten-mcp";
  int runs = 20, verify_runs = 5, log_checkpoints = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--store")
      store = v;
    else if (k == "--small")
      small = v;
    else if (k == "--work")
      work = v;
    else if (k == "--runs")
      runs = std::stoi(v);
    else if (k == "--verify-runs")
      verify_runs = std::stoi(v);
    else if (k == "--log-checkpoints")
      log_checkpoints = std::stoi(v);
    else if (k == "--binary")
      binary = v;
    else if (k == "--python")
      g_python = v;
  }
  if (store.empty()) {
    std::cerr << "usage: checkpoint_bench --store PATH [--small PATH] [--work DIR] [--runs N] "
                 "[--verify-runs N] [--log-checkpoints N] [--binary B]\n";
    return 2;
  }
  fs::create_directories(work);
  const std::string big = work + "/indexed-large.db", small_copy = work + "/indexed-small.db";
  const std::string key_path = work + "/bench.key", pub = key_path + ".pub";
  json j;
  j["rows"] = CountRows(store);

  // The key pair, as `fasten-mcp keygen` writes it (0600 / 0644).
  Result<anchor::PrivateKey> key = anchor::PrivateKey::Generate("bench.example");
  if (!key.ok()) Die(key.status().ToString());
  fs::remove(key_path);
  fs::remove(pub);
  Check(anchor::WriteKeyPair(*key, key_path), "WriteKeyPair");

  std::cerr << "copying " << store << " and creating the node index\n";
  j["index_build_ms"] = IndexedCopy(store, big);

  // (a) Checkpoints on the indexed copy.
  {
    std::unique_ptr<AuditReader> reader = OpenReader(big);
    const std::string log = work + "/periodic.log";
    anchor::CheckpointBody body;
    std::vector<double> first;
    for (int i = 0; i < 3; ++i) {
      fs::remove(log);
      first.push_back(Append(reader.get(), log, *key, &body));
    }
    int64_t sealed = 0;
    for (const anchor::NodeTip& t : body.nodes) sealed += t.sealed;
    std::vector<double> periodic, cli, floor;
    for (int i = 0; i < runs; ++i) periodic.push_back(Append(reader.get(), log, *key, &body));
    const std::string floor_file = work + "/fsync-floor";
    fs::remove(floor_file);
    Result<std::string> note = anchor::SignNote(body.Text(), {&key.value()});
    if (!note.ok()) Die(note.status().ToString());
    const size_t line_bytes = anchor::LogLine(*note, "").size() + 1;
    for (int i = 0; i < runs; ++i) floor.push_back(AppendFsyncFloor(floor_file, line_bytes));
    for (int i = 0; i < runs; ++i) {
      ChildResult r =
          RunChild({binary, "checkpoint", "--store", DsnOf(big), "--key", key_path, "--log", log});
      if (r.status != 0) Die("fasten-mcp checkpoint exited " + std::to_string(r.status));
      cli.push_back(r.ms);
    }
    j["checkpoint"] = {
        {"store", "copy with the (source_node_id, monotonic_seq) index"},
        {"nodes", body.nodes.size()},
        {"sealed_rows", sealed},
        {"log_line_bytes", line_bytes},
        {"first", Figures(first)},
        {"periodic_in_process", Figures(periodic)},
        {"periodic_command", Figures(cli)},
        {"append_fsync_floor", Figures(floor)},
        {"limit_ms", 50},
    };
  }
  // The same on the store as given, when it lacks the node index.
  if (!AllExist(NodeIndexAdvice(store))) {
    std::unique_ptr<AuditReader> reader = OpenReader(store);
    const std::string log = work + "/no-index.log";
    fs::remove(log);
    anchor::CheckpointBody body;
    std::vector<double> first = {Append(reader.get(), log, *key, &body)}, periodic;
    for (int i = 0; i < 3; ++i) periodic.push_back(Append(reader.get(), log, *key, &body));
    j["checkpoint_without_node_index"] = {{"first", Figures(first)},
                                          {"periodic_in_process", Figures(periodic)}};
  } else {
    j["checkpoint_without_node_index"] = "skipped: the store given has the node index";
  }

  // (b) verify with and without --checkpoints, interleaved.
  const std::string big_log = work + "/growing-large.log";
  {
    std::unique_ptr<AuditReader> reader = OpenReader(big);
    BuildGrowingLog(reader.get(), *key, log_checkpoints, big_log);
    anchor::AnchorConfig config;
    config.log = big_log;
    config.check.keys = {key->Public()};
    config.scope = app::LaunchScopes::AllTenants();
    std::vector<double> alone;
    for (int i = 0; i < verify_runs; ++i) {
      anchor::AnchorReport report;
      auto t0 = Clock::now();
      Check(anchor::VerifyAnchors(reader.get(), config, nullptr, &report), "VerifyAnchors");
      alone.push_back(Ms(t0));
      if (!report.ok() || report.checkpoints != log_checkpoints) Die("the growing log fails");
    }
    RunVerify(binary, big, "", pub, true);  // warm the OS cache
    std::vector<double> plain, anchored;
    long rss_plain = 0, rss_anchored = 0;
    for (int i = 0; i < verify_runs; ++i) {
      for (int k = 0; k < 2; ++k) {
        bool with = (k == 0) == (i % 2 == 1);  // ABBA
        ChildResult r = RunVerify(binary, big, with ? big_log : "", pub, true);
        (with ? anchored : plain).push_back(r.ms);
        long& rss = with ? rss_anchored : rss_plain;
        rss = std::max(rss, r.max_rss_kb);
      }
    }
    j["verify"] = {{"log_checkpoints", log_checkpoints},
                   {"plain", Figures(plain)},
                   {"with_checkpoints", Figures(anchored)},
                   {"ratio_of_medians", Median(anchored) / Median(plain)},
                   {"anchor_check_alone", Figures(alone)},
                   {"rss_kb_plain", rss_plain},
                   {"rss_kb_with_checkpoints", rss_anchored},
                   {"limit_ratio", 1.05}};
  }

  // (c) Peak RSS of verify --checkpoints on the small and the large store (--no-streams: the
  // stream count's page caches are issue 12's figure).
  if (!small.empty()) {
    std::cerr << "copying " << small << " and creating the node index\n";
    IndexedCopy(small, small_copy);
    const std::string small_log = work + "/growing-small.log";
    {
      std::unique_ptr<AuditReader> reader = OpenReader(small_copy);
      BuildGrowingLog(reader.get(), *key, log_checkpoints, small_log);
    }
    g_rss_file = work + "/rss";
    const int64_t small_rows = CountRows(small);
    json m = {{"small_rows", small_rows}};
    for (bool with : {false, true}) {
      long s = RunVerify(binary, small_copy, with ? small_log : "", pub, false).max_rss_kb;
      long l = RunVerify(binary, big, with ? big_log : "", pub, false).max_rss_kb;
      const char* name = with ? "with_checkpoints" : "plain";
      m[name] = {{"rss_kb_small", s},
                 {"rss_kb_large", l},
                 {"growth_mb_per_million_rows",
                  (l - s) / 1024.0 / ((j["rows"].get<int64_t>() - small_rows) / 1e6)}};
    }
    m["goal_growth_mb_per_million_rows"] = 1.0;
    j["memory"] = m;
  }

  std::cout << j.dump(2) << "\n";
  const json& c = j["checkpoint"];
  const double p = c["periodic_in_process"]["median_ms"].get<double>(),
               p95 = c["periodic_in_process"]["p95_ms"].get<double>(),
               cmd = c["periodic_command"]["median_ms"].get<double>();
  const double ratio = j["verify"]["ratio_of_medians"].get<double>();
  std::cerr << "checkpoint (periodic) " << p << " ms median, " << p95 << " ms p95, command " << cmd
            << " ms: " << (p95 <= 50 && cmd <= 50 ? "PASS" : "FAIL") << " (<= 50 ms)\n"
            << "verify --checkpoints / verify = " << ratio << ": "
            << (ratio <= 1.05 ? "PASS" : "FAIL") << " (<= 1.05)\n";
  if (j.contains("memory")) {
    double g = j["memory"]["with_checkpoints"]["growth_mb_per_million_rows"].get<double>();
    std::cerr << "verify --checkpoints RSS growth " << g
              << " MB per 1 M rows: " << (g <= 1.0 ? "PASS" : "FAIL") << " (<= 1 MB)\n";
  }
  return 0;
}
