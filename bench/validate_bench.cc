// The citation validator against its limit, measured in one run on one store (llm.md §7.5):
//   L_batch   the raw batched lookup of the 20 cited (seq, hash) pairs (AuditReader::
//             FindBySeqHashBatch): one store round trip, the floor of any validator;
//   L_links   the same lookup with the predecessors the link check needs, in the same statement
//             (AuditReader::FindBySeqHashBatchWithLinks): the one round trip of this design;
//   validate  ValidateAnswer end to end: 20 claims citing 20 sealed audit rows of one tenant,
//             with a ledger: lookups, tenant, ledger, hash recomputation, links, grounding.
// Each run uses the next of 64 citation sets (rows drawn at random once), so the cache is warm as
// in a server but not pinned to one page set. p50/p99 over --runs runs of each, interleaved.
// Usage: validate_bench --store PATH [--runs N] [--citations N] [--tenant T]
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "store/reader.h"
#include "validator/citations.h"

namespace {

using namespace fasten;
using Clock = std::chrono::steady_clock;

double Micro(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(k, v.size() - 1)];
}

struct Cited {
  int64_t seq;
  std::string hash, code;
};

// `sets` x `n` random sealed rows of `tenant` (read once with the SQLite C API).
bool Draw(const std::string& path, const std::string& tenant, int sets, int n,
          std::vector<std::vector<Cited>>* out) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return false;
  sqlite3_stmt* st = nullptr;
  const char* sql =
      "SELECT monotonic_seq, hash, code FROM audit_log WHERE hash != '' AND tenant_id = ? "
      "ORDER BY random() LIMIT ?";
  bool ok = sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK;
  if (ok) {
    sqlite3_bind_text(st, 1, tenant.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, sets * n);
    std::vector<Cited> all;
    while (sqlite3_step(st) == SQLITE_ROW) {
      all.push_back({sqlite3_column_int64(st, 0),
                     reinterpret_cast<const char*>(sqlite3_column_text(st, 1)),
                     reinterpret_cast<const char*>(sqlite3_column_text(st, 2))});
    }
    ok = all.size() == static_cast<size_t>(sets * n);
    for (int s = 0; ok && s < sets; ++s) {
      out->emplace_back(all.begin() + s * n, all.begin() + (s + 1) * n);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::string store, tenant = "acme";
  int runs = 10000, n = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--store")) store = argv[i + 1];
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--citations")) n = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--tenant")) tenant = argv[i + 1];
  }
  if (store.empty() || runs < 1 || n < 1) {
    std::cerr << "usage: validate_bench --store PATH [--runs N] [--citations N] [--tenant T]\n";
    return 2;
  }
  constexpr int kSets = 64;
  std::vector<std::vector<Cited>> sets;
  if (!Draw(store, tenant, kSets, n, &sets)) {
    std::cerr << "validate_bench: cannot draw " << kSets * n << " sealed rows of " << tenant
              << " from " << store << "\n";
    return 2;
  }
  Dsn dsn = ParseDsn("sqlite:///" + store).value();
  std::unique_ptr<AuditReader> audit;
  std::unique_ptr<StreamReader> sys, api;
  if (!AuditReader::Open(dsn, &audit).ok() ||
      !StreamReader::Open(dsn, StreamKind::kSys, &sys).ok() ||
      !StreamReader::Open(dsn, StreamKind::kApi, &api).ok()) {
    std::cerr << "validate_bench: cannot open " << store << "\n";
    return 2;
  }
  int64_t rows = 0;
  (void)audit->CountRows(&rows);

  std::vector<Answer> answers(kSets);
  std::vector<CitationLedger> ledgers(kSets);
  std::vector<std::vector<std::pair<int64_t, std::string>>> pairs(kSets);
  for (int s = 0; s < kSets; ++s) {
    for (const Cited& c : sets[s]) {
      answers[s].claims.push_back(
          {"The store recorded " + c.code + " here.", {{CitationStream::kAudit, c.seq, c.hash}}});
      ledgers[s].Add(CitationStream::kAudit, c.seq, c.hash);
      pairs[s].emplace_back(c.seq, c.hash);
    }
  }
  CitationStores stores{audit.get(), sys.get(), api.get(), "", ""};

  // Warm-up, and the correctness of what is measured.
  int round_trips = 0;
  for (int s = 0; s < kSets; ++s) {
    Verdict v;
    ValidateAnswer(answers[s], stores, CitationCheckOptions{tenant, &ledgers[s]}, &v);
    if (!v.accepted) {
      std::cerr << "validate_bench: a set was rejected:\n" << RepairText(v);
      return 1;
    }
    round_trips = std::max(round_trips, v.store_round_trips);
  }

  std::vector<double> batch, two, validate;
  batch.reserve(runs);
  two.reserve(runs);
  validate.reserve(runs);
  std::vector<AuditRow> out, links;
  for (int i = 0; i < runs; ++i) {
    const int s = i % kSets;
    auto t0 = Clock::now();
    (void)audit->FindBySeqHashBatch(pairs[s], &out);
    auto t1 = Clock::now();
    batch.push_back(Micro(t0, t1));

    t0 = Clock::now();
    (void)audit->FindBySeqHashBatchWithLinks(pairs[s], &out, &links);
    t1 = Clock::now();
    two.push_back(Micro(t0, t1));

    Verdict v;
    t0 = Clock::now();
    ValidateAnswer(answers[s], stores, CitationCheckOptions{tenant, &ledgers[s]}, &v);
    t1 = Clock::now();
    validate.push_back(Micro(t0, t1));
    if (!v.accepted) return 1;
  }
  std::printf("validate_bench: %s (%lld audit rows), %d citations per answer, %d runs each\n",
              store.c_str(), static_cast<long long>(rows), n, runs);
  std::printf("  %-10s %10s %10s %10s\n", "", "p50 us", "p99 us", "max us");
  auto line = [](const char* name, const std::vector<double>& v) {
    std::printf("  %-10s %10.1f %10.1f %10.1f\n", name, Pct(v, 0.50), Pct(v, 0.99),
                *std::max_element(v.begin(), v.end()));
  };
  line("L_batch", batch);
  line("L_links", two);
  line("validate", validate);
  std::printf(
      "  store round trips per answer: %d (cited rows and their predecessors: one "
      "statement); goal 1: %s\n",
      round_trips, round_trips == 1 ? "met" : "NOT met");
  std::printf("  validate / L_links at p50: %.2fx; goal p99 <= 1000 us: %s\n",
              Pct(validate, 0.5) / std::max(1e-9, Pct(two, 0.5)),
              Pct(validate, 0.99) <= 1000 ? "met" : "NOT met");
  return round_trips == 1 ? 0 : 1;
}
