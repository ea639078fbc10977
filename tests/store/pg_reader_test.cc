// Postgres-only behaviour of the readers: outages and reconnects, the read-only session, the
// statement timeout, DSN parameters.
#include <gtest/gtest.h>

#include <time.h>

#include <atomic>
#include <thread>

#include "store/pg_session.h"
#include "store/reader.h"
#include "support/pg_cluster.h"
#include "support/store_backend.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "util/calls_running.h"
#include "util/work_queue.h"
#include "validator/chain.h"

namespace fasten {
namespace {

[[maybe_unused]] TenantScope AllScope() {
  return test_support::TestScopes::AllTenants();
}
[[maybe_unused]] TenantScope Scope(const std::string& t) {
  return test_support::TestScopes::Tenant(t);
}

using testing::BackendParam;
using testing::Chain;
using testing::StoreBackend;

std::unique_ptr<AuditReader> Open(const std::string& text, Status* status = nullptr) {
  Result<Dsn> dsn = ParseDsn(text);
  EXPECT_TRUE(dsn.ok()) << dsn.status().ToString();
  std::unique_ptr<AuditReader> reader;
  Status st = AuditReader::Open(*dsn, &reader);
  if (status)
    *status = st;
  else
    EXPECT_TRUE(st.ok()) << st.ToString();
  return reader;
}

TEST(PgReader, ReconnectsAfterTheServerRestarts) {
  auto store = StoreBackend::Create(BackendParam{true, true});
  store->Exec(store->SpecDdl("audit_log"));
  store->Insert("audit_log", Chain("n", 30));
  auto reader = Open(store->Dsn());
  ASSERT_TRUE(reader);
  AuditPage page;
  ASSERT_TRUE(reader->Query(AllScope(), AuditQuery(), &page).ok());
  testing::PgCluster* cluster = testing::SharedPgCluster();
  ASSERT_TRUE(cluster);

  ASSERT_TRUE(cluster->Stop().ok());
  Status st = reader->Query(AllScope(), AuditQuery(), &page);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("connection lost"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("will reconnect"), std::string::npos) << st.ToString();
  // Still down: the reconnect attempt fails with a clear error too.
  int64_t n = 0;
  st = reader->CountRows(AllScope(), &n);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("reconnect"), std::string::npos) << st.ToString();

  ASSERT_TRUE(cluster->Restart().ok());
  // The same reader, not reopened: reconnects, prepares again, answers.
  st = reader->Query(AllScope(), AuditQuery(), &page);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(page.total_matched, 30);
  ChainVerifier v;
  ASSERT_TRUE(reader
                  ->Scan(AllScope(), ScanRange(),
                         [&](const AuditRow& r) {
                           v.Add(r);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(v.Finish().valid, 30);
}

TEST(PgReader, ASessionOpenedReadOnlyCannotWrite) {
  auto store = StoreBackend::Create(BackendParam{true, false});
  store->Exec(store->SpecDdl("audit_log"));
  Result<Dsn> dsn = ParseDsn(store->Dsn());
  ASSERT_TRUE(dsn.ok());
  std::unique_ptr<PgSession> ro;
  ASSERT_TRUE(PgSession::Open(*dsn, /*read_only=*/true, /*no_timeout=*/false, &ro).ok());
  for (const char* sql :
       {"CREATE TABLE x (a INT)", "DELETE FROM audit_log", "CREATE INDEX idx_x ON audit_log (code)",
        "BEGIN; INSERT INTO audit_log (id) VALUES ('x'); COMMIT"}) {
    Status st = ro->Exec(sql);
    EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << sql << ": " << st.ToString();
    EXPECT_NE(st.message().find("read-only"), std::string::npos) << st.ToString();
  }
  // The readers' sessions are the same kind: their session reports read-only transactions.
  std::vector<PgSession::Row> rows;
  ASSERT_TRUE(ro->Query("SHOW default_transaction_read_only", {}, &rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].value_or(""), "on");
}

TEST(PgReader, StatementTimeoutComesFromTheDsn) {
  auto store = StoreBackend::Create(BackendParam{true, false});
  Result<Dsn> dsn = ParseDsn(store->Dsn("?statement_timeout=200ms"));
  ASSERT_TRUE(dsn.ok());
  EXPECT_EQ(dsn->statement_timeout_ms, 200);
  std::unique_ptr<PgSession> s;
  ASSERT_TRUE(PgSession::Open(*dsn, true, false, &s).ok());
  Status st = s->Exec("SELECT pg_sleep(2)");
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_NE(st.message().find("statement_timeout"), std::string::npos);
  // The session survives the timeout.
  EXPECT_TRUE(s->Exec("SELECT 1").ok());
  for (const char* bad : {"?statement_timeout=abc", "?statement_timeout=5d"}) {
    EXPECT_EQ(ParseDsn(store->Dsn(bad)).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PgReader, BusyPollBudgetComesFromTheDsnAndNeverChangesAnswers) {
  auto store = StoreBackend::Create(BackendParam{true, false});
  store->Exec(store->SpecDdl("audit_log"));
  store->Insert("audit_log", Chain("n1", 5));
  Result<Dsn> defaulted = ParseDsn(store->Dsn());
  ASSERT_TRUE(defaulted.ok());
  EXPECT_FALSE(defaulted->busy_poll_us.has_value());
  for (const char* bad : {"?busy_poll_us=", "?busy_poll_us=abc", "?busy_poll_us=-1",
                          "?busy_poll_us=10001", "?busy_poll_us=5ms"}) {
    Result<Dsn> d = ParseDsn(store->Dsn(bad));
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << bad;
    if (!d.ok()) {
      EXPECT_NE(d.status().message().find("busy_poll_us"), std::string::npos);
    }
  }
  // Off, the largest budget, and a statement slower than the budget: the same rows every time,
  // and many sessions at once (only one of them may busy-poll) all finish.
  for (const char* q : {"?busy_poll_us=0", "?busy_poll_us=10000"}) {
    Result<Dsn> dsn = ParseDsn(store->Dsn(q));
    ASSERT_TRUE(dsn.ok()) << q;
    EXPECT_EQ(dsn->busy_poll_us, std::string(q) == "?busy_poll_us=0" ? 0 : 10000);
    std::unique_ptr<PgSession> s;
    ASSERT_TRUE(PgSession::Open(*dsn, true, false, &s).ok());
    std::vector<PgSession::Row> rows;
    ASSERT_TRUE(s->Query("SELECT count(*) FROM audit_log", {}, &rows).ok());
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][0].value_or(""), "5") << q;
    ASSERT_TRUE(s->Query("SELECT pg_sleep(0.03), 'late'", {}, &rows).ok()) << q;
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][1].value_or(""), "late") << q;
    std::vector<std::thread> threads;
    std::atomic<int> answered{0};
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&] {
        std::unique_ptr<PgSession> own;
        if (!PgSession::Open(*dsn, true, false, &own).ok()) return;
        for (int i = 0; i < 20; ++i) {
          std::vector<PgSession::Row> r;
          if (own->Query("SELECT max(monotonic_seq) FROM audit_log", {}, &r).ok() &&
              r.size() == 1 && r[0][0].value_or("") == "5") {
            answered.fetch_add(1);
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(answered.load(), 6 * 20) << q;
  }
}

// CPU time the calling thread has used, in milliseconds.
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Regression (docs/benchmarks.md, 2026-11-23): a round trip busy-polled whenever its connection
// was the only one waiting, even while the process ran other calls on the same cores, which
// took the CPU from them and from the database. It spins only while at most one call runs.
TEST(PgReader, BusyPollsOnlyWhileTheProcessRunsAtMostOneCall) {
  auto store = StoreBackend::Create(BackendParam{true, false});
  Result<Dsn> dsn = ParseDsn(store->Dsn("?busy_poll_us=10000"));
  ASSERT_TRUE(dsn.ok());
  std::unique_ptr<PgSession> s;
  ASSERT_TRUE(PgSession::Open(*dsn, true, false, &s).ok());
  std::vector<PgSession::Row> rows;
  // A statement that outlasts the 10 ms budget: a spinning wait burns CPU for the whole budget,
  // a sleeping one almost none.
  auto cpu_of_slow_statement = [&] {
    const double before = ThreadCpuMs();
    EXPECT_TRUE(s->Query("SELECT pg_sleep(0.05)", {}, &rows).ok());
    return ThreadCpuMs() - before;
  };
  ASSERT_EQ(CallsRunning(), 0);
  const double alone = cpu_of_slow_statement();
  EXPECT_GT(alone, 2.5) << "one call running: the wait should busy-poll for its budget";

  WorkQueue<int> calls;  // two calls taken from a worker queue and still running
  calls.Push(1);
  calls.Push(2);
  int item = 0;
  ASSERT_TRUE(calls.Pop(&item));
  ASSERT_TRUE(calls.Pop(&item));
  ASSERT_EQ(CallsRunning(), 2);
  const double crowded = cpu_of_slow_statement();
  EXPECT_LT(crowded, 2.0) << "two calls running: the wait should sleep, not spin";
  calls.Done();
  calls.Done();
  EXPECT_EQ(CallsRunning(), 0);
}

TEST(PgReader, UnreachableServerIsUnavailableAndNamesTheServer) {
  Status st;
  auto reader = Open("postgres://fasten@127.0.0.1:1/nope?connect_timeout=2", &st);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("127.0.0.1:1"), std::string::npos) << st.ToString();
}

TEST(PgReader, NanosecondTimesRoundedByTimestamptzVerifyUnderTheLabelledFallback) {
  auto store = StoreBackend::Create(BackendParam{true, true});
  store->Exec(store->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("go", 3);
  // A Go writer sends nanoseconds; the hash truncated them, Postgres rounds (format.md §5.5).
  rows[1].timestamp = CanonicalTimestamp(rows[1].timestamp_us).substr(0, 26) + "999Z";
  store->Insert("audit_log", rows);
  auto reader = Open(store->Dsn());
  ASSERT_TRUE(reader);
  ChainVerifier v;
  ASSERT_TRUE(reader
                  ->Scan(AllScope(), ScanRange(),
                         [&](const AuditRow& r) {
                           v.Add(r);
                           return true;
                         })
                  .ok());
  VerifyReport report = v.Finish();
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.valid, 3);
  ASSERT_EQ(report.nodes.size(), 1u);
  EXPECT_EQ(report.nodes[0].verified_fallback.count("pg-us-rounding"), 1u);
}

}  // namespace
}  // namespace fasten
