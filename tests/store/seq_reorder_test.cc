#include "store/seq_reorder.h"

#include <gtest/gtest.h>

#include <limits>

#include "store/reader.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "validator/verify_store.h"

namespace fasten {
namespace {

[[maybe_unused]] TenantScope AllScope() {
  return test_support::TestScopes::AllTenants();
}
[[maybe_unused]] TenantScope Scope(const std::string& t) {
  return test_support::TestScopes::Tenant(t);
}

using testing::MakeRow;

// Push takes a mutable row (the consumer may take its contents).
bool PushRow(SeqReorder& r, AuditRow row) {
  return r.Push(row);
}

struct Collected {
  std::vector<std::pair<std::string, int64_t>> rows;
  SeqReorder::Emit Sink() {
    return [this](const AuditRow& r) { rows.emplace_back(r.source_node_id, r.monotonic_seq); };
  }
};

TEST(SeqReorder, PassesInOrderRowsStraightThrough) {
  Collected c;
  SeqReorder r(8, 1, c.Sink());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(PushRow(r, MakeRow("a", i)));
    ASSERT_TRUE(PushRow(r, MakeRow("b", i)));
    EXPECT_EQ(r.waiting(), 0u);
  }
  EXPECT_EQ(c.rows.size(), 10u);
}

TEST(SeqReorder, RestoresOrderWithinTheWindow) {
  Collected c;
  SeqReorder r(8, 1, c.Sink());
  for (int s : {2, 1, 4, 3, 6, 5}) ASSERT_TRUE(PushRow(r, MakeRow("a", s)));
  r.Flush();
  std::vector<std::pair<std::string, int64_t>> want;
  for (int s = 1; s <= 6; ++s) want.emplace_back("a", s);
  EXPECT_EQ(c.rows, want);
}

TEST(SeqReorder, AcceptsAGapOnceTheWindowIsFull) {
  Collected c;
  SeqReorder r(3, 1, c.Sink());
  ASSERT_TRUE(PushRow(r, MakeRow("a", 1)));
  for (int s = 3; s <= 7; ++s) ASSERT_TRUE(PushRow(r, MakeRow("a", s)));  // seq 2 never comes
  r.Flush();
  ASSERT_EQ(c.rows.size(), 6u);
  EXPECT_EQ(c.rows[1].second, 3);
  EXPECT_EQ(c.rows.back().second, 7);
  // A row older than one already passed on cannot be placed any more.
  EXPECT_FALSE(PushRow(r, MakeRow("a", 2)));
}

TEST(SeqReorder, DuplicateSeqsMustComeInIdOrder) {
  Collected c;
  SeqReorder r(8, 1, c.Sink());
  AuditRow x = MakeRow("a", 1), y = MakeRow("a", 1);
  x.id = "evt-b";
  y.id = "evt-a";
  ASSERT_TRUE(PushRow(r, x));
  EXPECT_FALSE(PushRow(r, y));
}

// Found by tests/fuzz/fuzz_ndjson (crashes/ndjson/seq_int64_max): after a node's row with seq
// INT64_MAX, checking whether the next row continues the sequence computed INT64_MAX + 1
// (undefined behaviour; the ASan + UBSan build aborts).
TEST(SeqReorder, RowsAfterTheLargestSeqAreComparedWithoutOverflow) {
  Collected c;
  SeqReorder r(0, 1, c.Sink());
  auto row = [](int64_t seq, const std::string& id) {
    AuditRow a = MakeRow("a", 1);
    a.monotonic_seq = seq;
    a.id = id;
    return a;
  };
  const int64_t max = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(PushRow(r, row(1, "x")));
  ASSERT_TRUE(PushRow(r, row(max, "m")));  // a gap: passed on at once with a window of 0
  ASSERT_TRUE(PushRow(r, row(max, "n")));  // the same seq, a later id: continues
  EXPECT_FALSE(PushRow(r, row(max - 1, "z")));
  r.Flush();
  EXPECT_EQ(c.rows,
            (std::vector<std::pair<std::string, int64_t>>{{"a", 1}, {"a", max}, {"a", max}}));
}

TEST(VerifyStore, FallsBackToSeqOrderWhenStorageOrderIsTooScrambled) {
  testing::TempDir dir;
  const std::string db = dir.File("rev.db");
  testing::ExecSql(db, testing::SpecDdl("audit_log"));
  std::vector<AuditRow> rows = testing::Chain("n", 4300);
  std::reverse(rows.begin(), rows.end());  // newest first on disk: beyond the 4096-row window
  testing::InsertRows(db, "audit_log", rows);
  Result<Dsn> dsn = ParseDsn("sqlite:///" + db);
  std::unique_ptr<AuditReader> reader;
  ASSERT_TRUE(AuditReader::Open(*dsn, &reader).ok());
  Status st = reader->Scan(AllScope(), ScanRange(), [](const AuditRow&) { return true; });
  EXPECT_EQ(st.code(), StatusCode::kAborted);
  VerifyStoreResult result;
  ASSERT_TRUE(VerifyStore(AllScope(), reader.get(), VerifyStoreOptions(), &result).ok());
  EXPECT_TRUE(result.rescanned_in_seq_order);
  EXPECT_TRUE(result.report.ok);
  EXPECT_EQ(result.report.valid, 4300);
  EXPECT_EQ(result.rows_scanned, 4300);
}

TEST(VerifyStore, SlightlyScrambledStorageNeedsNoRescan) {
  testing::TempDir dir;
  const std::string db = dir.File("swap.db");
  testing::ExecSql(db, testing::SpecDdl("audit_log"));
  std::vector<AuditRow> rows = testing::Chain("n", 50);
  std::swap(rows[10], rows[11]);  // e.g. two drainer batches committed out of order
  testing::InsertRows(db, "audit_log", rows);
  Result<Dsn> dsn = ParseDsn("sqlite:///" + db);
  std::unique_ptr<AuditReader> reader;
  ASSERT_TRUE(AuditReader::Open(*dsn, &reader).ok());
  VerifyStoreResult result;
  ASSERT_TRUE(VerifyStore(AllScope(), reader.get(), VerifyStoreOptions(), &result).ok());
  EXPECT_FALSE(result.rescanned_in_seq_order);
  EXPECT_TRUE(result.report.ok);
}

}  // namespace
}  // namespace fasten

namespace fasten {
namespace {

TEST(VerifyStore, PipelinedAndSingleThreadedReportsAgree) {
  testing::TempDir dir;
  const std::string db = dir.File("agree.db");
  testing::ExecSql(db, testing::SpecDdl("audit_log"));
  std::vector<AuditRow> rows;
  for (const char* node : {"a", "b", "c"}) {
    auto c = testing::Chain(node, 1500, /*mixed=*/true);
    rows.insert(rows.end(), c.begin(), c.end());
  }
  rows[700].actor = "mallory";      // node a, seq 701
  rows.erase(rows.begin() + 2000);  // node b, seq 501
  testing::InsertRows(db, "audit_log", rows);
  Result<Dsn> dsn = ParseDsn("sqlite:///" + db);
  std::unique_ptr<AuditReader> reader;
  ASSERT_TRUE(AuditReader::Open(*dsn, &reader).ok());
  VerifyStoreResult one, two;
  VerifyStoreOptions o;
  o.threads = 1;
  ASSERT_TRUE(VerifyStore(AllScope(), reader.get(), o, &one).ok());
  o.threads = 2;
  int64_t ticks = 0;
  o.progress = [&](int64_t) { ++ticks; };
  ASSERT_TRUE(VerifyStore(AllScope(), reader.get(), o, &two).ok());
  EXPECT_EQ(ticks, 4499 / 4096);
  EXPECT_EQ(one.rows_scanned, 4499);
  EXPECT_EQ(two.rows_scanned, 4499);
  EXPECT_EQ(*one.report.upstream.reason, *two.report.upstream.reason);
  EXPECT_EQ(*two.report.upstream.reason, "row evt-a-701: hash mismatch");
  ASSERT_EQ(one.report.nodes.size(), two.report.nodes.size());
  for (size_t i = 0; i < one.report.nodes.size(); ++i) {
    const NodeReport &x = one.report.nodes[i], &y = two.report.nodes[i];
    EXPECT_EQ(x.valid(), y.valid());
    EXPECT_EQ(x.invalid, y.invalid);
    ASSERT_EQ(x.first_break.has_value(), y.first_break.has_value());
    if (x.first_break) {
      EXPECT_EQ(x.first_break->seq, y.first_break->seq);
    }
    EXPECT_EQ(x.tip_hash, y.tip_hash);
  }
  ASSERT_TRUE(two.report.nodes[1].first_break.has_value());
  EXPECT_EQ(two.report.nodes[1].first_break->seq, 502);
  EXPECT_FALSE(two.report.nodes[2].first_break.has_value());
}

}  // namespace
}  // namespace fasten
