#include "store/ndjson_source.h"

#include <gtest/gtest.h>

#include <sstream>

#include "store/json_row.h"
#include "test_store.h"
#include "validator/chain.h"

namespace fasten {
namespace {

using testing::Chain;

// Renders a row as a Python SDK stdout line (json.dumps default separators).
std::string Line(const AuditRow& r, bool with_shape = true) {
  auto q = [](const std::string& s) { return "\"" + s + "\""; };
  auto n = [&](const NullableText& t) { return t.null ? std::string("null") : q(t.value); };
  std::string s = "{";
  if (with_shape) s += "\"shape\": \"audit\", ";
  s += "\"id\": " + q(r.id) + ", \"origin_id\": " + q(r.origin_id) +
       ", \"monotonic_seq\": " + std::to_string(r.monotonic_seq) +
       ", \"timestamp\": " + q(r.timestamp) + ", \"code\": " + q(r.code) +
       ", \"action\": " + q(r.action) + ", \"severity\": " + q(r.severity) +
       ", \"service_id\": " + q(r.service_id) + ", \"source_node_id\": " + q(r.source_node_id) +
       ", \"tenant_id\": " + n(r.tenant_id) + ", \"actor\": " + q(r.actor) +
       ", \"actor_kind\": " + q(r.actor_kind) + ", \"target\": " + q(r.target) +
       ", \"category\": " + q(r.category) + ", \"domain\": " + q(r.domain) +
       ", \"method\": " + q(r.method) + ", \"request_id\": " + q(r.request_id) +
       ", \"detail\": " + (r.detail.null ? "null" : r.detail.value) +
       ", \"wire_version\": \"1\", \"shipped_at\": " + "null, \"canonical_form_id\": " +
       q(r.canonical_form_id) + ", \"prev_hash\": " + q(r.prev_hash) + ", \"hash\": " + q(r.hash) +
       ", \"detail_salt\": " + n(r.detail_salt) +
       ", \"detail_commitment\": " + n(r.detail_commitment) + "}";
  return s;
}

struct NdjsonRun {
  VerifyReport report;
  NdjsonStats stats;
  Status status;
};

NdjsonRun VerifyText(const std::string& text, NdjsonOptions options = {}) {
  std::istringstream in(text);
  ChainVerifier v;
  NdjsonRun run;
  run.status = ReadNdjsonAudit(
      in, options, [&](const AuditRow& r) { v.Add(r); },
      [&](const std::string& node) { v.AddDetachedUnsealed(node); }, &run.stats);
  run.report = v.Finish();
  return run;
}

TEST(Ndjson, VerifiesSdkLinesAndSkipsOtherShapes) {
  std::string text = "{\"shape\":\"sys\",\"level\":\"info\",\"event\":\"boot\"}\n";
  for (const AuditRow& r : Chain("n", 5, true)) text += Line(r) + "\n";
  text += "{\"shape\": \"api\", \"method\": \"GET\", \"path\": \"/x\", \"status\": 200}\n\n";
  NdjsonRun run = VerifyText(text);
  ASSERT_TRUE(run.status.ok()) << run.status.ToString();
  EXPECT_TRUE(run.report.ok);
  EXPECT_EQ(run.report.valid, 5);
  EXPECT_EQ(run.stats.other_shapes, 2);
  EXPECT_EQ(run.stats.audit_lines, 5);
}

TEST(Ndjson, PhaseOneLinesAreSupersededByTheirSealedLine) {
  std::vector<AuditRow> rows = Chain("n", 4);
  std::string text;
  for (const AuditRow& r : rows) {
    AuditRow phase1 = r;
    phase1.monotonic_seq = 0;
    phase1.prev_hash = "";
    phase1.hash = "";
    text += Line(phase1) + "\n";
  }
  for (const AuditRow& r : rows) text += Line(r, /*with_shape=*/false) + "\n";  // bare rows
  AuditRow lonely = rows[0];
  lonely.id = "evt-never-sealed";
  lonely.monotonic_seq = 0;
  lonely.hash = "";
  text += Line(lonely) + "\n";
  NdjsonRun run = VerifyText(text);
  ASSERT_TRUE(run.status.ok());
  EXPECT_TRUE(run.report.ok);
  EXPECT_EQ(run.stats.superseded, 4);
  EXPECT_EQ(run.report.valid, 4);
  EXPECT_EQ(run.report.unsealed, 1);
}

TEST(Ndjson, RestoresSeqOrderWithinTheWindowAndRefusesBeyondIt) {
  std::vector<AuditRow> rows = Chain("n", 6);
  std::string text;
  for (int i : {1, 0, 3, 2, 5, 4}) text += Line(rows[i]) + "\n";
  NdjsonRun run = VerifyText(text);
  ASSERT_TRUE(run.status.ok());
  EXPECT_TRUE(run.report.ok);
  NdjsonOptions tiny;
  tiny.reorder_window = 1;
  text.clear();
  for (int i : {3, 4, 5, 0, 1, 2}) text += Line(rows[i]) + "\n";
  run = VerifyText(text, tiny);
  EXPECT_EQ(run.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(run.status.message().find("out of seq order"), std::string::npos);
}

TEST(Ndjson, MalformedLinesAreCountedWithLineNumbers) {
  std::vector<AuditRow> rows = Chain("n", 2);
  std::string text =
      Line(rows[0]) +
      "\nnot json\n{\"shape\":\"audit\",\"id\":\"x\",\"monotonic_seq\":\"seven\"}\n" +
      Line(rows[1]).substr(0, 40) + "\n" + Line(rows[1]) + "\n[1,2]\n";
  NdjsonRun run = VerifyText(text);
  ASSERT_TRUE(run.status.ok());
  EXPECT_EQ(run.stats.malformed, 4);
  ASSERT_FALSE(run.stats.malformed_examples.empty());
  EXPECT_EQ(run.stats.malformed_examples[0].rfind("line 2:", 0), 0u);
  EXPECT_EQ(run.report.valid, 2);
}

TEST(Ndjson, GoLinesOmittingEmptyFieldsTakeTheDefaults) {
  AuditRow r = Chain("n", 1)[0];
  std::string line = Line(r);
  // Go omits canonical_form_id when empty and renders RFC3339Nano timestamps.
  size_t pos = line.find(", \"canonical_form_id\": \"1\"");
  ASSERT_NE(pos, std::string::npos);
  line.erase(pos, std::string(", \"canonical_form_id\": \"1\"").size());
  AuditRow parsed;
  ASSERT_TRUE(AuditRowFromJson(line, &parsed).ok());
  EXPECT_EQ(parsed.canonical_form_id, "1");
  NdjsonRun run = VerifyText(line + "\n");
  EXPECT_TRUE(run.report.ok);
}

}  // namespace
}  // namespace fasten
