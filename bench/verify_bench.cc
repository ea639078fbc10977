// Chain verification against its limits, measured in one run on one store (docs/benchmarks.md):
//   L_scan  raw SQLite C-API scan of the same ordered query, every column read;
//   L_sha   OpenSSL SHA-256 over the same canonical bytes, one reused EVP context;
//   verify  fasten-mcp's end-to-end streaming verify (reader + canonical + SHA + links);
//   cpu     the CPU stage alone (canonical + SHA + hex compare + link) on rows held in memory;
//   L_py    the CPython peer (json.loads + json.dumps(sort_keys) + hashlib), end to end;
//   RSS     peak RSS of `fasten-mcp verify` on a small and a large store, growth per 1 M rows.
// Usage: verify_bench --store PATH [--small PATH] [--runs N] [--binary fasten-mcp]
//                     [--peer scripts/fasten_peer.py] [--python python3]
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/launch_scopes.h"
#include "bench_util.h"
#include "store/reader.h"
#include "util/crypto.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/verify_store.h"

namespace {

using namespace fasten;
using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Secs(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

// Raw scan: the same SELECT the reader issues, every column fetched as text.
double RawScan(const std::string& path, const char* order, int64_t* rows) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_exec(db, "PRAGMA cache_size=-32768", nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  const std::string sql =
      "SELECT id, origin_id, monotonic_seq, timestamp, code, action, severity, service_id, "
      "source_node_id, tenant_id, actor, actor_kind, target, category, domain, method, "
      "request_id, detail, pii_in_detail, shipped_at, wire_version, hash, prev_hash, "
      "canonical_form_id, detail_salt, detail_commitment FROM audit_log ORDER BY " +
      std::string(order);
  sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  auto t0 = Clock::now();
  int64_t n = 0;
  size_t bytes = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < 26; ++i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      if (t) bytes += static_cast<size_t>(sqlite3_column_bytes(st, i)) + t[0];
    }
    ++n;
  }
  double s = Secs(t0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (bytes == 42) std::cerr << "";  // keep the reads
  *rows = n;
  return n / s;
}

double Verify(const std::string& path, int threads, int64_t* rows) {
  Result<Dsn> dsn = ParseDsn("sqlite:///" + path);
  std::unique_ptr<AuditReader> reader;
  if (!dsn.ok() || !AuditReader::Open(*dsn, &reader).ok()) {
    std::cerr << "cannot open " << path << "\n";
    std::exit(2);
  }
  auto t0 = Clock::now();
  VerifyStoreOptions options;
  options.threads = threads;
  VerifyStoreResult result;
  Status st = VerifyStore(app::LaunchScopes::AllTenants(), reader.get(), options, &result);
  double s = Secs(t0);
  if (!st.ok() || !result.report.ok || result.rescanned_in_seq_order) {
    std::cerr << "verify failed: " << st.ToString() << "\n";
    std::exit(2);
  }
  *rows = result.rows_scanned;
  return *rows / s;
}

struct Sample {
  std::vector<AuditRow> rows;
  std::vector<std::string> canonical;
  double mean_bytes = 0;
};

Sample Load(const std::string& path, size_t max_rows) {
  Result<Dsn> dsn = ParseDsn("sqlite:///" + path);
  std::unique_ptr<AuditReader> reader;
  (void)AuditReader::Open(*dsn, &reader);
  Sample s;
  Canonicalizer canon;
  std::string bytes, err;
  size_t total = 0;
  (void)reader->Scan(app::LaunchScopes::AllTenants(), ScanRange(), [&](const AuditRow& r) {
    s.rows.push_back(r);
    if (r.sealed() && canon.RowBytes(r, RowHashOptions(), &bytes, &err)) {
      total += bytes.size();
      s.canonical.push_back(bytes);
    }
    return s.rows.size() < max_rows;
  });
  s.mean_bytes = s.canonical.empty() ? 0 : static_cast<double>(total) / s.canonical.size();
  return s;
}

double ShaRate(const Sample& s) {
  Sha256 sha;
  char out[64];
  auto t0 = Clock::now();
  for (const auto& b : s.canonical) sha.HexInto(b, {}, out);
  return s.canonical.size() / Secs(t0);
}

double CpuStage(const Sample& s) {
  auto t0 = Clock::now();
  ChainVerifier v;
  for (const auto& r : s.rows) v.Add(r);
  VerifyReport rep = v.Finish();
  if (!rep.ok) std::cerr << "warning: sample did not verify\n";
  return s.rows.size() / Secs(t0);
}

// Runs a command; its exit status, peak RSS in KiB and stdout (bench_util.h SpawnAndWait).
int RunChild(const std::vector<std::string>& argv, long* max_rss_kb, std::string* out) {
  return fasten::bench::SpawnAndWait(argv, max_rss_kb, out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string store, small, binary = "build/fasten-mcp", peer = "scripts/fasten_peer.py",
                            python = "python3";
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--store")
      store = v;
    else if (k == "--small")
      small = v;
    else if (k == "--runs")
      runs = std::stoi(v);
    else if (k == "--binary")
      binary = v;
    else if (k == "--peer")
      peer = v;
    else if (k == "--python")
      python = v;
  }
  if (store.empty()) {
    std::cerr << "usage: verify_bench --store PATH [--small PATH] [--runs N] [--binary B]\n";
    return 2;
  }
  int64_t rows = 0;
  // Memory first, while this process is small: fasten-mcp verify on the small and large store.
  long rss_large = 0, rss_small = 0;
  int64_t small_rows = 0;
  std::string ignored;
  RunChild({binary, "verify", "--store", "sqlite:///" + store, "--json", "--no-progress"},
           &rss_large, &ignored);
  if (!small.empty()) {
    std::string small_out;
    RunChild({binary, "verify", "--store", "sqlite:///" + small, "--json", "--no-progress"},
             &rss_small, &small_out);
    try {
      small_rows = nlohmann::json::parse(small_out)["summary"]["total_rows"].get<int64_t>();
    } catch (...) {
    }
  }
  std::vector<double> scan, scan_seq, verify, verify1;
  RawScan(store, "rowid", &rows);  // warm the OS cache
  for (int i = 0; i < runs; ++i) {
    scan.push_back(RawScan(store, "rowid", &rows));
    scan_seq.push_back(RawScan(store, "monotonic_seq, source_node_id, id", &rows));
    verify.push_back(Verify(store, 2, &rows));
    verify1.push_back(Verify(store, 1, &rows));
  }
  Sample sample = Load(store, 300000);
  std::vector<double> sha, cpu;
  for (int i = 0; i < runs; ++i) {
    sha.push_back(ShaRate(sample));
    cpu.push_back(CpuStage(sample));
  }
  // The CPython peer, same store, same run.
  std::string py_out;
  long rss = 0;
  RunChild({python, peer, "bench", store, "--runs", "3"}, &rss, &py_out);
  double py_rate = 0;
  try {
    py_rate = nlohmann::json::parse(py_out).at("median_rows_per_sec").get<double>();
  } catch (...) {
    std::cerr << "peer output unreadable: " << py_out << "\n";
  }
  const double m_scan = Median(scan), m_verify = Median(verify), m_sha = Median(sha),
               m_cpu = Median(cpu), m_scan_seq = Median(scan_seq), m_verify1 = Median(verify1);
  nlohmann::json j = {
      {"rows", rows},
      {"mean_canonical_bytes", sample.mean_bytes},
      {"runs", runs},
      {"L_scan_rows_per_s", m_scan},
      {"L_scan_seq_order_rows_per_s", m_scan_seq},
      {"verify_1thread_rows_per_s", m_verify1},
      {"verify_1thread_over_scan", m_verify1 / m_scan},
      {"verify_1thread_over_py", py_rate > 0 ? m_verify1 / py_rate : 0.0},
      {"pipeline_speedup", m_verify / m_verify1},
      {"L_sha_rows_per_s", m_sha},
      {"verify_rows_per_s", m_verify},
      {"cpu_stage_rows_per_s", m_cpu},
      {"L_py_rows_per_s", py_rate},
      {"verify_over_scan", m_verify / m_scan},
      {"verify_over_sha", m_verify / m_sha},
      {"cpu_over_sha", m_cpu / m_sha},
      {"verify_over_py", py_rate > 0 ? m_verify / py_rate : 0.0},
      {"rss_kb_large", rss_large},
      {"rss_kb_small", rss_small},
      {"small_rows", small_rows},
  };
  if (small_rows > 0 && rows > small_rows) {
    double growth_mb_per_m = (rss_large - rss_small) / 1024.0 / ((rows - small_rows) / 1e6);
    j["rss_growth_mb_per_million_rows"] = growth_mb_per_m;
  }
  std::cout << j.dump(2) << "\n";
  std::cerr << "verify " << static_cast<int64_t>(m_verify) << " rows/s = " << m_verify / m_scan
            << " x L_scan (goal >= 0.45), " << m_verify / m_sha << " x L_sha, "
            << (py_rate > 0 ? m_verify / py_rate : 0) << " x CPython peer (goal >= 5)\n";
  return 0;
}
