// The citation validator against its limit, measured in one run on one store (docs/validation.md):
//   L_batch   the raw batched lookup of the 20 cited (seq, hash) pairs (AuditReader::
//             FindBySeqHashBatch): one store round trip, the floor of any validator;
//   L_links   the same lookup with the predecessors the link check needs, in the same statement
//             (AuditReader::FindBySeqHashBatchWithLinks): the one round trip of this design;
//   validate  ValidateAnswer end to end: 20 claims citing 20 sealed audit rows of one tenant,
//             with a ledger: lookups, tenant, ledger, hash recomputation, links, grounding; no
//             answer-level integrity verdict (CitationCheckOptions::answer_verdict = false).
// Each run uses the next of 64 citation sets (rows drawn at random once), so the cache is warm as
// in a server but not pinned to one page set. p50/p99 over --runs runs of each, interleaved.
//
// Verdict mode (issue 13: "the integrity verdict for a one-hour window of one node adds <= 5 ms
// p99 to validation"), --verdict-runs runs of each, interleaved, over 64 windows drawn once: a
// random sealed row of the tenant places each window, [its timestamp - U(0, 1 h), + 1 h], on
// the row's node, so windows fall at random across the store's time range on a node with rows:
//   without   `validate` above (answer_verdict = false) on the window's citation set;
//   with      the same answer plus one claim marked "integrity": "intact" whose scope is
//             {since, until = since + 1 h, nodes: [node]}, citing the placing row: the claim's
//             verdict is the only integrity verdict computed;
//   verdict   ComputeIntegrityVerdict for that scope alone, and its parts: spans (AuditReader::
//             SeqSpans, the indexed query that resolves the window to a seq span), read
//             (AuditReader::Scan of that span into memory, no hashing: what any verifier reading
//             these rows through the reader pays) and hash (ChainVerifier over those rows in
//             memory: canonical form, SHA-256, links; the CPU floor of verifying them at all).
// The limit is absolute: added p99 = p99(with) - p99(without) <= 5000 us, PASS or FAIL (printed;
// like the other goals it does not change the exit status, which is 1 only when a check of
// what is measured fails or an answer takes more than one round trip). Windows whose verdict is
// not ok (a break in the demo store) are redrawn, so every answer is accepted.
// Informational, --default-runs runs: the default answer-level verdict (cited rows' time span
// ± 30 min, every node) of the 20-citation answer; random rows span the store's whole time range,
// so that window is the whole store.
// Usage: validate_bench --store PATH [--runs N] [--citations N] [--tenant T] [--verdict-runs N]
//                       [--default-runs N]
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "app/launch_scopes.h"
#include "store/reader.h"
#include "store/timestamp.h"
#include "validator/chain.h"
#include "validator/citations.h"
#include "validator/integrity_verdict.h"

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

double Max(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

struct Cited {
  int64_t seq;
  std::string hash, code, node, timestamp;
};

// `count` random sealed rows of `tenant` (read once with the SQLite C API).
bool DrawRows(const std::string& path, const std::string& tenant, int count,
              std::vector<Cited>* out) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return false;
  sqlite3_stmt* st = nullptr;
  const char* sql =
      "SELECT monotonic_seq, hash, code, source_node_id, timestamp FROM audit_log "
      "WHERE hash != '' AND tenant_id = ? ORDER BY random() LIMIT ?";
  bool ok = sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK;
  if (ok) {
    sqlite3_bind_text(st, 1, tenant.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, count);
    auto text = [&](int i) {
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i)));
    };
    while (sqlite3_step(st) == SQLITE_ROW) {
      out->push_back({sqlite3_column_int64(st, 0), text(1), text(2), text(3), text(4)});
    }
    ok = out->size() == static_cast<size_t>(count);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return ok;
}

// `sets` x `n` random sealed rows of `tenant`.
bool Draw(const std::string& path, const std::string& tenant, int sets, int n,
          std::vector<std::vector<Cited>>* out) {
  std::vector<Cited> all;
  if (!DrawRows(path, tenant, sets * n, &all)) return false;
  for (int s = 0; s < sets; ++s) out->emplace_back(all.begin() + s * n, all.begin() + (s + 1) * n);
  return true;
}

struct Window {
  Cited row;  // places the window; cited by the "intact" claim
  IntegrityScope scope;
};

void Line(const char* name, const std::vector<double>& v) {
  std::printf("  %-10s %10.1f %10.1f %10.1f\n", name, Pct(v, 0.50), Pct(v, 0.99), Max(v));
}

}  // namespace

int main(int argc, char** argv) {
  std::string store, tenant = "acme";
  int runs = 10000, n = 20, verdict_runs = 300, default_runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--store")) store = argv[i + 1];
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--citations")) n = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--tenant")) tenant = argv[i + 1];
    if (!std::strcmp(argv[i], "--verdict-runs")) verdict_runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--default-runs")) default_runs = std::atoi(argv[i + 1]);
  }
  if (store.empty() || runs < 1 || n < 1 || verdict_runs < 0 || default_runs < 0) {
    std::cerr << "usage: validate_bench --store PATH [--runs N] [--citations N] [--tenant T] "
                 "[--verdict-runs N] [--default-runs N]\n";
    return 2;
  }
  const TenantScope scope = app::LaunchScopes::Tenant(tenant);  // the bench is the operator
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
  (void)audit->CountRows(scope, &rows);

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
  const StoreView stores{audit.get(), sys.get(), api.get(), "", ""};
  auto options = [&](int s, bool answer_verdict) {
    CitationCheckOptions o{&ledgers[s]};
    o.answer_verdict = answer_verdict;
    return o;
  };

  // Warm-up, and the correctness of what is measured.
  int round_trips = 0;
  for (int s = 0; s < kSets; ++s) {
    Verdict v;
    ValidateAnswer(scope, answers[s], stores, options(s, false), &v);
    if (!v.accepted || v.integrity_verdicts != 0) {
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
    (void)audit->FindBySeqHashBatch(scope, pairs[s], &out);
    auto t1 = Clock::now();
    batch.push_back(Micro(t0, t1));

    t0 = Clock::now();
    (void)audit->FindBySeqHashBatchWithLinks(scope, pairs[s], &out, &links);
    t1 = Clock::now();
    two.push_back(Micro(t0, t1));

    Verdict v;
    t0 = Clock::now();
    ValidateAnswer(scope, answers[s], stores, options(s, false), &v);
    t1 = Clock::now();
    validate.push_back(Micro(t0, t1));
    if (!v.accepted) return 1;
  }
  std::printf("validate_bench: %s (%lld audit rows), %d citations per answer, %d runs each\n",
              store.c_str(), static_cast<long long>(rows), n, runs);
  std::printf("  %-10s %10s %10s %10s\n", "", "p50 us", "p99 us", "max us");
  Line("L_batch", batch);
  Line("L_links", two);
  Line("validate", validate);
  std::printf(
      "  store round trips per answer: %d (cited rows and their predecessors: one "
      "statement); goal 1: %s\n",
      round_trips, round_trips == 1 ? "met" : "NOT met");
  std::printf("  validate / L_links at p50: %.2fx; goal p99 <= 1000 us: %s\n",
              Pct(validate, 0.5) / std::max(1e-9, Pct(two, 0.5)),
              Pct(validate, 0.99) <= 1000 ? "met" : "NOT met");
  const bool pass = round_trips == 1;  // goals print met/PASS or NOT met/FAIL; exit 1 on errors
  if (verdict_runs == 0 && default_runs == 0) return pass ? 0 : 1;

  // ---- Verdict mode: one node, one hour.
  constexpr Micros kHour = 60 * kMicrosPerMinute;
  std::mt19937_64 rng(13);
  std::vector<Window> windows;
  int redrawn = 0;
  double rows_in_window = 0, rows_in_span = 0;
  for (int attempt = 0; verdict_runs > 0 && windows.size() < kSets && attempt < 8; ++attempt) {
    std::vector<Cited> placing;
    if (!DrawRows(store, tenant, kSets, &placing)) {
      std::cerr << "validate_bench: cannot draw window rows\n";
      return 2;
    }
    for (Cited& c : placing) {
      if (windows.size() == kSets) break;
      Micros t = 0;
      if (!ParseTimestamp(c.timestamp, &t)) continue;
      Window w;
      w.scope.since = t - static_cast<Micros>(rng() % static_cast<uint64_t>(kHour));
      w.scope.until = w.scope.since + kHour;
      w.scope.nodes = {c.node};
      w.row = std::move(c);
      IntegrityVerdict iv;
      if (!ComputeIntegrityVerdict(audit.get(), scope, w.scope, &iv).ok()) return 2;
      if (!iv.ok || iv.nodes.size() != 1) {
        ++redrawn;
        continue;
      }
      rows_in_window += static_cast<double>(iv.nodes[0].rows_in_window);
      rows_in_span += static_cast<double>(iv.nodes[0].to_seq - iv.nodes[0].from_seq + 1);
      windows.push_back(std::move(w));
    }
  }
  if (verdict_runs > 0 && windows.size() < kSets) {
    std::cerr << "validate_bench: cannot place " << kSets << " one-hour windows\n";
    return 2;
  }
  std::vector<Answer> intact(windows.size());
  for (size_t s = 0; s < windows.size(); ++s) {
    const Window& w = windows[s];
    intact[s] = answers[s];
    intact[s].claims.push_back({"The audit chain is intact over the stated hour.",
                                {{CitationStream::kAudit, w.row.seq, w.row.hash}},
                                IntegrityPolarity::kIntact,
                                ClaimScope{w.scope.since, w.scope.until, w.scope.nodes}});
    ledgers[s].Add(CitationStream::kAudit, w.row.seq, w.row.hash);
    Verdict v;
    ValidateAnswer(scope, intact[s], stores, options(static_cast<int>(s), false), &v);
    if (!v.accepted || v.integrity_verdicts != 1) {
      std::cerr << "validate_bench: an answer with an intact claim was rejected:\n"
                << RepairText(v);
      return 1;
    }
  }
  std::vector<double> without, with, alone, spans_t, read_t, hash_t;
  std::vector<AuditRow> held;
  for (int i = 0; i < verdict_runs; ++i) {
    const int s = i % kSets;
    const Window& w = windows[s];
    Verdict v;
    auto t0 = Clock::now();
    ValidateAnswer(scope, answers[s], stores, options(s, false), &v);
    auto t1 = Clock::now();
    without.push_back(Micro(t0, t1));
    if (!v.accepted) return 1;

    t0 = Clock::now();
    ValidateAnswer(scope, intact[s], stores, options(s, false), &v);
    t1 = Clock::now();
    with.push_back(Micro(t0, t1));
    if (!v.accepted) return 1;

    IntegrityVerdict iv;
    t0 = Clock::now();
    Status st = ComputeIntegrityVerdict(audit.get(), scope, w.scope, &iv);
    t1 = Clock::now();
    alone.push_back(Micro(t0, t1));
    if (!st.ok() || !iv.ok) return 1;

    SeqSpanQuery q;
    q.since = w.scope.since;
    q.until = w.scope.until;
    q.source_node_id = w.scope.nodes[0];
    std::vector<NodeSeqSpan> spans;
    t0 = Clock::now();
    st = audit->SeqSpans(scope, q, &spans);
    t1 = Clock::now();
    spans_t.push_back(Micro(t0, t1));
    if (!st.ok() || spans.size() != 1) return 1;

    ScanRange range;
    range.source_node_id = spans[0].source_node_id;
    range.from_seq = spans[0].first_seq;
    range.to_seq = spans[0].last_seq;
    size_t read = 0;
    auto collect = [&](AuditRow& row) {
      if (read == held.size()) held.emplace_back();
      std::swap(held[read++], row);
      return true;
    };
    t0 = Clock::now();
    st = audit->Scan(scope, range, collect);
    if (st.code() == StatusCode::kAborted) {
      range.order = ScanRange::Order::kSeq;
      read = 0;
      st = audit->Scan(scope, range, collect);
    }
    t1 = Clock::now();
    read_t.push_back(Micro(t0, t1));
    if (!st.ok()) return 1;

    // The CPU stage alone over the rows in memory (canonical form, SHA-256, links).
    ChainVerifier::Options vo;
    vo.scope = scope;
    t0 = Clock::now();
    ChainVerifier verifier(std::move(vo));
    for (size_t r = 0; r < read; ++r) verifier.Add(held[r]);
    VerifyReport report = verifier.Finish();
    t1 = Clock::now();
    hash_t.push_back(Micro(t0, t1));
    if (report.nodes.empty()) return 1;
  }
  if (verdict_runs > 0) {
    const double added = Pct(with, 0.99) - Pct(without, 0.99);
    std::printf(
        "integrity verdict, one node, one hour: %d runs each over %d windows (%d redrawn: "
        "not ok); per window on average %.0f rows of %s timestamped in it, %.0f rows verified "
        "(its seq span, every tenant)\n",
        verdict_runs, kSets, redrawn, rows_in_window / kSets, tenant.c_str(), rows_in_span / kSets);
    std::printf("  %-10s %10s %10s %10s\n", "", "p50 us", "p99 us", "max us");
    Line("without", without);
    Line("with", with);
    Line("verdict", alone);
    Line("spans", spans_t);
    Line("read", read_t);
    Line("hash", hash_t);
    std::printf(
        "  added p99 (with - without): %.1f us; verdict / (spans + read + hash) at p50: %.2fx\n",
        added,
        Pct(alone, 0.5) / std::max(1e-9, Pct(spans_t, 0.5) + Pct(read_t, 0.5) + Pct(hash_t, 0.5)));
    std::printf("  goal added p99 <= 5000 us: %s\n", added <= 5000 ? "PASS" : "FAIL");
  }

  // ---- Informational: the default answer-level verdict of the 20-citation answer.
  if (default_runs > 0) {
    std::vector<double> dflt;
    double width_h = 0, verified = 0;
    int too_large = 0;
    for (int i = 0; i < default_runs; ++i) {
      const int s = i % kSets;
      Verdict v;
      auto t0 = Clock::now();
      ValidateAnswer(scope, answers[s], stores, options(s, true), &v);
      auto t1 = Clock::now();
      dflt.push_back(Micro(t0, t1));
      if (!v.integrity) return 1;
      width_h += static_cast<double>(v.integrity->scope.until - v.integrity->scope.since) /
                 static_cast<double>(kHour);
      if (v.integrity->too_large) ++too_large;
      for (const NodeIntegrity& ni : v.integrity->nodes) {
        verified += static_cast<double>(ni.sealed + ni.unsealed);
      }
    }
    std::printf(
        "default answer verdict (informational, %d runs): validate with the answer-level verdict "
        "over the cited rows' span ± 30 min, every node: p50 %.1f us, max %.1f us; the 20 rows "
        "are drawn across the whole store, so the window spans their whole time span (%.1f h "
        "on average; %.0f rows of the tenant verified; %d of %d windows above the verdict's "
        "bound of %lld seqs, reported too_large after the one SeqSpans query that measures "
        "them)\n",
        default_runs, Pct(dflt, 0.5), Max(dflt), width_h / default_runs, verified / default_runs,
        too_large, default_runs, static_cast<long long>(kMaxVerdictSeqs));
  }
  return pass ? 0 : 1;
}
