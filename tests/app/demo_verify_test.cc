// The demo store: sealed like the SDK, deterministic, tamper detected at the right row.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "app/demo_store.h"
#include "store/reader.h"
#include "test_store.h"
#include "validator/chain.h"

namespace fasten {
namespace {

using testing::TempDir;

VerifyReport VerifyStore(const std::string& path) {
  Result<Dsn> dsn = ParseDsn("sqlite:///" + path);
  std::unique_ptr<AuditReader> reader;
  EXPECT_TRUE(AuditReader::Open(*dsn, &reader).ok());
  ChainVerifier v;
  EXPECT_TRUE(reader
                  ->Scan(ScanRange(),
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
  ASSERT_TRUE(audit->Query(q, &page).ok());
  std::set<std::string> codes;
  for (const auto& r : page.rows) codes.insert(r.code);
  EXPECT_TRUE(codes.count("REFUND_ROLLED_BACK"));
  StreamQuery sq;
  sq.request_id = "3a7b1c9e4d20";
  sq.status = 502;
  StreamPage sp;
  ASSERT_TRUE(api->Query(sq, &sp).ok());
  EXPECT_EQ(sp.rows.size(), 3u);
  q = AuditQuery();
  q.code = "CONFIG_NODE_UPDATED";
  q.tenant_id = "globex";
  ASSERT_TRUE(audit->Query(q, &page).ok());
  EXPECT_GE(page.rows.size(), 2u);
  q.code = "MQTT_MESSAGE_LOST";
  ASSERT_TRUE(audit->Query(q, &page).ok());
  EXPECT_GT(page.rows.size(), 5u);
  StreamQuery drops;
  drops.event = "mqtt_message_dropped";
  drops.tenant_id = "acme";  // the loss is globex's alone
  ASSERT_TRUE(sys->Query(drops, &sp).ok());
  EXPECT_TRUE(sp.rows.empty());
}

}  // namespace
}  // namespace fasten
