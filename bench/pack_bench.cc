// Evidence packs against plain chain verification, measured in one run on one store (issue 14,
// docs/benchmarks.md, method and limits):
//   verify       VerifyStore over the whole store (what `fasten-mcp verify` runs): the limit;
//   pack         WritePack of tenant acme over the whole time span, with the checkpoint log:
//                records written per second (the tenant's rows in whole, every other row of
//                the window's nodes as a link record); goal >= 0.5 x verify;
//   verify-pack  VerifyPack of that pack: records (rows + links) per second; goal >= 0.8 x verify;
//   RSS          peak RSS of `fasten-mcp pack` and `fasten-mcp verify-pack` (run as children,
//                wait4) on the RSS-SMALL-row and the RSS-LARGE-row store: flat when the growth
//                is <= 1 MB. Both stores are larger than SQLite's 32 MiB page cache, which a
//                smaller store does not fill: its growth would be the cache's, not the pack's.
// The three rates are measured interleaved, RUNS times each, and reported as medians.
//
// The stores are demo stores (`fasten-mcp demo --audit-rows N`, as scripts/bench.sh makes them),
// generated under DIR when missing and reused otherwise; the key, the checkpoint logs and the packs
// go to a fresh temporary directory.
// Usage: pack_bench [--binary build/fasten-mcp] [--dir out/bench] [--rows 100000]
//                   [--rss-small 250000] [--rss-large 1000000] [--runs 5]
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "anchor/keys.h"
#include "app/launch_scopes.h"
#include "bench_util.h"
#include "pack/pack_verify.h"
#include "pack/pack_writer.h"
#include "store/dsn.h"
#include "store/reader.h"
#include "store/timestamp.h"
#include "validator/verify_store.h"

namespace {

using namespace fasten;
using Clock = std::chrono::steady_clock;

double Secs(Clock::time_point a) {
  return std::chrono::duration<double>(Clock::now() - a).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "pack_bench: " << what << "\n";
  std::exit(2);
}

// Runs a command; its exit status, peak RSS in KiB and stdout (bench_util.h SpawnAndWait).
int RunChild(const std::vector<std::string>& argv, long* max_rss_kb, std::string* out) {
  return fasten::bench::SpawnAndWait(argv, max_rss_kb, out);
}

void MustRun(const std::vector<std::string>& argv, long* rss_kb = nullptr) {
  long rss = 0;
  std::string out;
  int rc = RunChild(argv, &rss, &out);
  if (rc != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    Die("exit " + std::to_string(rc) + ": " + cmd);
  }
  if (rss_kb) *rss_kb = rss;
}

std::unique_ptr<AuditReader> Open(const std::string& path) {
  Result<Dsn> dsn = ParseDsn("sqlite:///" + path);
  std::unique_ptr<AuditReader> reader;
  if (!dsn.ok() || !AuditReader::Open(*dsn, &reader).ok()) Die("cannot open " + path);
  return reader;
}

constexpr char kSince[] = "2000-01-01T00:00:00Z";
constexpr char kUntil[] = "2100-01-01T00:00:00Z";

// Rows per second of plain verify; *rows the rows scanned.
double Verify(const std::string& store, int64_t* rows) {
  std::unique_ptr<AuditReader> reader = Open(store);
  auto t0 = Clock::now();
  VerifyStoreResult result;
  Status st =
      VerifyStore(app::LaunchScopes::AllTenants(), reader.get(), VerifyStoreOptions(), &result);
  const double s = Secs(t0);
  if (!st.ok() || !result.report.ok) Die("verify failed: " + st.ToString());
  *rows = result.rows_scanned;
  return result.rows_scanned / s;
}

// Records (rows + links) written per second by WritePack; *summary what it wrote.
double Pack(const std::string& store, const std::string& log, const anchor::PrivateKey& key,
            const std::string& out, pack::PackSummary* summary) {
  std::unique_ptr<AuditReader> reader = Open(store);
  pack::PackOptions o;
  o.reader = reader.get();
  o.store_identity = reader->dsn().Display();
  o.scope = app::LaunchScopes::Tenant("acme");
  if (!ParseTimestamp(kSince, &o.since) || !ParseTimestamp(kUntil, &o.until)) Die("window");
  o.name = "bench";
  o.checkpoints_path = log;
  o.key = &key;
  o.out_path = out;
  *summary = pack::PackSummary();
  auto t0 = Clock::now();
  Status st = pack::WritePack(o, summary);
  const double s = Secs(t0);
  if (!st.ok() || !summary->chain_ok) Die("pack failed: " + st.ToString());
  return (summary->audit_rows + summary->links) / s;
}

// Records (rows + links) per second of VerifyPack.
double VerifyPackRate(const std::string& path, const anchor::PublicKey& pub, int64_t* records) {
  pack::VerifyPackOptions o;
  o.keys = {pub};
  auto t0 = Clock::now();
  pack::PackReport r = pack::VerifyPack(path, o);
  const double s = Secs(t0);
  if (!r.ok()) Die("verify-pack failed: " + pack::PackReportJson(r).dump());
  *records = r.audit_rows + r.links;
  return *records / s;
}

std::string EnsureStore(const std::string& binary, const std::string& dir, int64_t rows) {
  const std::string path = dir + "/demo-" + std::to_string(rows) + ".db";
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0) {
    std::cerr << "generating " << path << "\n";
    MustRun({binary, "demo", "--out", path, "--audit-rows", std::to_string(rows)});
  }
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "build/fasten-mcp", dir = "out/bench";
  int64_t rows_rate = 100000, rows_small = 250000, rows_large = 1000000;
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--binary") {
      binary = v;
    } else if (k == "--dir") {
      dir = v;
    } else if (k == "--rows") {
      rows_rate = std::stoll(v);
    } else if (k == "--rss-small") {
      rows_small = std::stoll(v);
    } else if (k == "--rss-large") {
      rows_large = std::stoll(v);
    } else if (k == "--runs") {
      runs = std::stoi(v);
    } else {
      Die("unknown option " + k +
          " (usage: pack_bench [--binary B] [--dir D] [--rows N] [--rss-small N] [--rss-large N]"
          " [--runs N])");
    }
  }
  std::filesystem::create_directories(dir);
  const std::string big = EnsureStore(binary, dir, rows_rate);
  const std::string small = EnsureStore(binary, dir, rows_small);
  const std::string large = EnsureStore(binary, dir, rows_large);

  char tmpl[] = "/tmp/fasten-pack-bench-XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp");
  const std::string tmp = tmpl;
  const std::string key_path = tmp + "/key";
  Result<anchor::PrivateKey> key = anchor::PrivateKey::Generate("fasten-bench");
  if (!key.ok() || !anchor::WriteKeyPair(*key, key_path).ok()) Die("cannot write a key");
  const anchor::PublicKey pub = key->Public();

  // Memory first, while this process is small: the binary's pack and verify-pack on both stores.
  long rss[2][2] = {};  // [small, large][pack, verify-pack]
  for (int s = 0; s < 2; ++s) {
    const std::string& store = s == 0 ? small : large;
    const std::string log = tmp + "/log-" + std::to_string(s),
                      out = tmp + "/rss-" + std::to_string(s) + ".pack";
    MustRun(
        {binary, "checkpoint", "--store", "sqlite:///" + store, "--key", key_path, "--log", log});
    MustRun(
        {binary, "pack", "--store", "sqlite:///" + store, "--tenant", "acme", "--since", kSince,
         "--until", kUntil, "--checkpoints", log, "--key", key_path, "--out", out, "--no-progress"},
        &rss[s][0]);
    MustRun({binary, "verify-pack", out, "--pubkey", key_path + ".pub", "--json"}, &rss[s][1]);
  }

  const std::string log = tmp + "/log-rate", pack_path = tmp + "/bench.pack";
  MustRun({binary, "checkpoint", "--store", "sqlite:///" + big, "--key", key_path, "--log", log});
  std::vector<double> verify, packed, verified;
  int64_t verify_rows = 0, pack_records = 0;
  pack::PackSummary summary;
  Verify(big, &verify_rows);  // warm the OS cache
  for (int i = 0; i < runs; ++i) {
    verify.push_back(Verify(big, &verify_rows));
    packed.push_back(Pack(big, log, *key, pack_path, &summary));
    verified.push_back(VerifyPackRate(pack_path, pub, &pack_records));
  }
  const double m_verify = bench::Median(verify), m_pack = bench::Median(packed),
               m_vpack = bench::Median(verified);
  const double pack_ratio = m_pack / m_verify, vpack_ratio = m_vpack / m_verify;
  const double pack_growth_mb = (rss[1][0] - rss[0][0]) / 1024.0,
               vpack_growth_mb = (rss[1][1] - rss[0][1]) / 1024.0;
  const bool pass_pack = pack_ratio >= 0.5, pass_vpack = vpack_ratio >= 0.8,
             pass_rss = pack_growth_mb <= 1.0 && vpack_growth_mb <= 1.0;
  nlohmann::json j = {
      {"rows", verify_rows},
      {"rss_small_rows", rows_small},
      {"rss_large_rows", rows_large},
      {"runs", runs},
      {"pack_audit_rows", summary.audit_rows},
      {"pack_links", summary.links},
      {"pack_rows_scanned", summary.rows_scanned},
      {"pack_plan", pack::PackPlanName(summary.plan)},
      {"pack_records", pack_records},
      {"pack_bytes", summary.bytes},
      {"verify_rows_per_s", m_verify},
      {"pack_records_per_s", m_pack},
      {"verify_pack_records_per_s", m_vpack},
      {"pack_over_verify", pack_ratio},
      {"verify_pack_over_verify", vpack_ratio},
      {"rss_kb_pack_small", rss[0][0]},
      {"rss_kb_pack_large", rss[1][0]},
      {"rss_kb_verify_pack_small", rss[0][1]},
      {"rss_kb_verify_pack_large", rss[1][1]},
      {"pack_rss_growth_mb", pack_growth_mb},
      {"verify_pack_rss_growth_mb", vpack_growth_mb},
      {"pass_pack", pass_pack},
      {"pass_verify_pack", pass_vpack},
      {"pass_rss_flat", pass_rss},
  };
  std::cout << j.dump(2) << "\n";
  std::cerr << "pack " << static_cast<int64_t>(m_pack) << " records/s = " << pack_ratio
            << " x verify (goal >= 0.5: " << (pass_pack ? "PASS" : "FAIL") << "); verify-pack "
            << static_cast<int64_t>(m_vpack) << " records/s = " << vpack_ratio
            << " x verify (goal >= 0.8: " << (pass_vpack ? "PASS" : "FAIL") << "); RSS growth "
            << rows_small << " -> " << rows_large << " rows: pack " << pack_growth_mb
            << " MB, verify-pack " << vpack_growth_mb << " MB (" << (pass_rss ? "PASS" : "FAIL")
            << ")\n";
  std::filesystem::remove_all(tmp);
  return 0;
}
