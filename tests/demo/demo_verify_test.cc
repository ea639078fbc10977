// The demo store: sealed like the SDK, deterministic, tamper detected at the right row.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "demo/demo_store.h"
#include "store/reader.h"
#include "store/timestamp.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "tools/verify_json.h"
#include "validator/chain.h"
#include "validator/verify_store.h"

namespace fasten {
namespace {

[[maybe_unused]] TenantScope AllScope() {
  return test_support::TestScopes::AllTenants();
}
[[maybe_unused]] TenantScope Scope(const std::string& t) {
  return test_support::TestScopes::Tenant(t);
}

using testing::TempDir;

VerifyReport VerifyStore(const std::string& path) {
  Result<Dsn> dsn = ParseDsn("sqlite:///" + path);
  std::unique_ptr<AuditReader> reader;
  EXPECT_TRUE(AuditReader::Open(*dsn, &reader).ok());
  ChainVerifier v;
  EXPECT_TRUE(reader
                  ->Scan(AllScope(), ScanRange(),
                         [&](const AuditRow& r) {
                           v.Add(r);
                           return true;
                         })
                  .ok());
  return v.Finish();
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(DemoStore, VerifiesOnEveryNodeWithBothFormsUnsealedAndRedactedRows) {
  TempDir dir;
  DemoOptions o;
  o.path = dir.File("demo.db");
  DemoSummary s;
  ASSERT_TRUE(WriteDemoStore(o, &s).ok());
  EXPECT_GE(s.audit_rows, 5000);
  EXPECT_GT(s.sys_rows, 0);
  EXPECT_GT(s.api_rows, 0);
  VerifyReport r = VerifyStore(o.path);
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.upstream.ok);
  EXPECT_GE(r.nodes.size(), 3u);
  int64_t redacted = 0;
  for (const auto& n : r.nodes) {
    EXPECT_TRUE(n.ok) << n.source_node_id;
    redacted += n.redacted;
  }
  EXPECT_EQ(redacted, 1);
  EXPECT_EQ(r.unsealed, s.unsealed);
  EXPECT_GT(r.unsealed, 0);
}

TEST(DemoStore, IsDeterministicForASeed) {
  TempDir dir;
  DemoOptions a, b, c;
  a.path = dir.File("a.db");
  b.path = dir.File("b.db");
  c.path = dir.File("c.db");
  c.seed = 7;
  DemoSummary s;
  ASSERT_TRUE(WriteDemoStore(a, &s).ok());
  ASSERT_TRUE(WriteDemoStore(b, &s).ok());
  ASSERT_TRUE(WriteDemoStore(c, &s).ok());
  EXPECT_EQ(Slurp(a.path), Slurp(b.path));
  EXPECT_NE(Slurp(a.path), Slurp(c.path));
}

TEST(DemoStore, TamperIsDetectedAtTheTamperedRow) {
  TempDir dir;
  DemoOptions o;
  o.path = dir.File("t.db");
  o.tamper = true;
  DemoSummary s;
  ASSERT_TRUE(WriteDemoStore(o, &s).ok());
  VerifyReport r = VerifyStore(o.path);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(*r.upstream.first_break_at, s.tampered_seq);
  EXPECT_EQ(*r.upstream.reason, "row " + s.tampered_id + ": hash mismatch");
  EXPECT_EQ(r.invalid, 1);
  for (const auto& n : r.nodes) {
    EXPECT_EQ(n.ok, n.source_node_id != s.tampered_node) << n.source_node_id;
  }
}

// Verifies a time window and, per node it resolved to, the seq window; every node report must
// be the same. Returns the time window's result.
VerifyStoreResult ExpectTimeWindowEqualsSeqWindows(AuditReader* reader, const std::string& since,
                                                   const std::string& until,
                                                   std::optional<std::string> tenant = {}) {
  SCOPED_TRACE(since + " .. " + until + " tenant " + tenant.value_or("*"));
  std::string error;
  VerifyStoreOptions o;
  if (!since.empty()) o.since = ParseTimeBound(since, 0, TimeEdge::kSince, &error);
  if (!until.empty()) o.until = ParseTimeBound(until, 0, TimeEdge::kUntil, &error);
  EXPECT_TRUE(error.empty()) << error;
  const TenantScope scope = test_support::TestScopes::Of(tenant);
  VerifyStoreResult window;
  Status st = fasten::VerifyStore(scope, reader, o, &window);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(window.report.nodes.size(), window.spans.size());
  bool all_ok = true;
  for (size_t i = 0; i < window.spans.size() && i < window.report.nodes.size(); ++i) {
    const NodeSeqSpan& span = window.spans[i];
    VerifyStoreOptions seq;
    seq.range.source_node_id = span.source_node_id;
    seq.range.from_seq = span.first_seq;
    seq.range.to_seq = span.last_seq;
    VerifyStoreResult expected;
    st = fasten::VerifyStore(scope, reader, seq, &expected);
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(expected.report.nodes.size(), 1u);
    if (expected.report.nodes.size() != 1) continue;
    EXPECT_EQ(NodeReportJson(window.report.nodes[i]), NodeReportJson(expected.report.nodes[0]))
        << span.source_node_id;
    all_ok = all_ok && expected.report.ok;
  }
  EXPECT_EQ(window.report.ok, all_ok);
  return window;
}

// Acceptance of issue 13 (time windows): on the demo store and its tampered twin, a time window
// gives, node by node, the result of the seq window it resolves to, also when it starts just after
// the break, and a window without rows verifies nothing.
TEST(DemoStore, TimeWindowsAgreeWithTheirSeqWindows) {
  TempDir dir;
  DemoOptions clean, tampered;
  clean.path = dir.File("clean.db");
  tampered.path = dir.File("tampered.db");
  tampered.tamper = true;
  DemoSummary cs, ts;
  ASSERT_TRUE(WriteDemoStore(clean, &cs).ok());
  ASSERT_TRUE(WriteDemoStore(tampered, &ts).ok());
  std::unique_ptr<AuditReader> reader;
  for (const DemoOptions* o : {&clean, &tampered}) {
    const bool ok = o == &clean;
    Result<Dsn> dsn = ParseDsn("sqlite:///" + o->path);
    ASSERT_TRUE(dsn.ok());
    ASSERT_TRUE(AuditReader::Open(*dsn, &reader).ok());
    // The refund incident's hour, the whole demo day by dates alone, and one tenant's view.
    VerifyStoreResult hour = ExpectTimeWindowEqualsSeqWindows(reader.get(), "2026-11-20T14:00:00Z",
                                                              "2026-11-20T15:00:00Z");
    EXPECT_GE(hour.spans.size(), 3u);
    EXPECT_EQ(hour.report.ok, ok);
    VerifyStoreResult day =
        ExpectTimeWindowEqualsSeqWindows(reader.get(), "2026-11-20", "2026-11-21");
    EXPECT_EQ(day.report.ok, ok);
    for (const NodeSeqSpan& span : day.spans) EXPECT_EQ(span.first_seq, 1) << span.source_node_id;
    ExpectTimeWindowEqualsSeqWindows(reader.get(), "2026-11-20T14:00:00Z", "2026-11-20T15:00:00Z",
                                     std::string("acme"));
    // No rows in the window.
    VerifyStoreResult none = ExpectTimeWindowEqualsSeqWindows(reader.get(), "2027-01-01", "");
    EXPECT_TRUE(none.spans.empty());
    EXPECT_TRUE(none.report.nodes.empty());
    EXPECT_TRUE(none.report.ok);
  }
  // Windows that start at the tampered row, and one microsecond after it.
  ScanRange at;
  at.source_node_id = ts.tampered_node;
  at.from_seq = at.to_seq = ts.tampered_seq;
  std::optional<AuditRow> broken;
  ASSERT_TRUE(reader
                  ->Scan(AllScope(), at,
                         [&](AuditRow& r) {
                           broken = r;
                           return false;
                         })
                  .ok());
  ASSERT_TRUE(broken.has_value());
  const Micros t = broken->timestamp_us;
  const std::string until = CanonicalTimestamp(t + 3600LL * 1000000);
  VerifyStoreResult w =
      ExpectTimeWindowEqualsSeqWindows(reader.get(), CanonicalTimestamp(t), until);
  EXPECT_FALSE(w.report.ok);
  bool seen = false;
  for (size_t i = 0; i < w.spans.size(); ++i) {
    if (w.spans[i].source_node_id != ts.tampered_node) continue;
    seen = true;
    EXPECT_LE(w.spans[i].first_seq, ts.tampered_seq);
    ASSERT_TRUE(w.report.nodes[i].first_break.has_value());
    EXPECT_EQ(w.report.nodes[i].first_break->seq, ts.tampered_seq);
  }
  EXPECT_TRUE(seen);
  w = ExpectTimeWindowEqualsSeqWindows(reader.get(), CanonicalTimestamp(t + 1), until);
  seen = false;
  for (size_t i = 0; i < w.spans.size(); ++i) {
    if (w.spans[i].source_node_id != ts.tampered_node) continue;
    seen = true;
    // The window starts after the tampered row; its first link is checked against that row's
    // stored hash, which the edit left alone, so the window verifies.
    EXPECT_GT(w.spans[i].first_seq, ts.tampered_seq);
    EXPECT_TRUE(w.report.nodes[i].ok);
  }
  EXPECT_TRUE(seen);
}

TEST(DemoStore, RefusesToOverwriteWithoutForce) {
  TempDir dir;
  DemoOptions o;
  o.path = dir.File("x.db");
  std::ofstream(o.path) << "precious";
  DemoSummary s;
  Status st = WriteDemoStore(o, &s);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--force"), std::string::npos);
  EXPECT_EQ(Slurp(o.path), "precious");
}

TEST(DemoStore, IncidentsAreThereToFind) {
  TempDir dir;
  DemoOptions o;
  o.path = dir.File("i.db");
  DemoSummary s;
  ASSERT_TRUE(WriteDemoStore(o, &s).ok());
  Result<Dsn> dsn = ParseDsn("sqlite:///" + o.path);
  std::unique_ptr<AuditReader> audit;
  std::unique_ptr<StreamReader> api, sys;
  ASSERT_TRUE(AuditReader::Open(*dsn, &audit).ok());
  ASSERT_TRUE(StreamReader::Open(*dsn, StreamKind::kApi, &api).ok());
  ASSERT_TRUE(StreamReader::Open(*dsn, StreamKind::kSys, &sys).ok());
  AuditQuery q;
  q.request_id = "3a7b1c9e4d20";
  AuditPage page;
  ASSERT_TRUE(audit->Query(AllScope(), q, &page).ok());
  std::set<std::string> codes;
  for (const auto& r : page.rows) codes.insert(r.code);
  EXPECT_TRUE(codes.count("REFUND_ROLLED_BACK"));
  StreamQuery sq;
  sq.request_id = "3a7b1c9e4d20";
  sq.status = 502;
  StreamPage sp;
  ASSERT_TRUE(api->Query(AllScope(), sq, &sp).ok());
  EXPECT_EQ(sp.rows.size(), 3u);
  q = AuditQuery();
  q.code = "CONFIG_NODE_UPDATED";
  ASSERT_TRUE(audit->Query(Scope("globex"), q, &page).ok());
  EXPECT_GE(page.rows.size(), 2u);
  q.code = "MQTT_MESSAGE_LOST";
  ASSERT_TRUE(audit->Query(Scope("globex"), q, &page).ok());
  EXPECT_GT(page.rows.size(), 5u);
  StreamQuery drops;
  drops.event = "mqtt_message_dropped";
  // the loss is globex's alone
  ASSERT_TRUE(sys->Query(Scope("acme"), drops, &sp).ok());
  EXPECT_TRUE(sp.rows.empty());
}

}  // namespace
}  // namespace fasten
