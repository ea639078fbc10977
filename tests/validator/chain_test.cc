#include "validator/chain.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "support/test_scopes.h"
#include "test_store.h"
#include "util/crypto.h"
#include "validator/canonical.h"

namespace fasten {
namespace {

using testing::Chain;
using testing::MakeRow;
using testing::Seal;

VerifyReport Verify(std::vector<AuditRow> rows, ChainVerifier::Options options = {}) {
  std::stable_sort(rows.begin(), rows.end(), [](const AuditRow& a, const AuditRow& b) {
    if (a.monotonic_seq != b.monotonic_seq) return a.monotonic_seq < b.monotonic_seq;
    if (a.source_node_id != b.source_node_id) return a.source_node_id < b.source_node_id;
    return a.id < b.id;
  });
  ChainVerifier v(std::move(options));
  for (const AuditRow& r : rows) v.Add(r);
  return v.Finish();
}

// Seals with a non-default rendering (how an older or foreign writer sealed).
void SealWith(AuditRow* r, const std::string& prev, const RowHashOptions& o) {
  Canonicalizer canon;
  Sha256 sha;
  std::string bytes, error;
  r->prev_hash = prev;
  ASSERT_TRUE(canon.RowBytes(*r, o, &bytes, &error)) << error;
  r->hash = sha.Hex(bytes);
}

TEST(ChainVerify, IntactMixedFormChainVerifies) {
  std::vector<AuditRow> rows = Chain("node-1", 10, /*mixed=*/true);
  VerifyReport r = Verify(rows);
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.upstream.ok);
  EXPECT_FALSE(r.upstream.first_break_at.has_value());
  ASSERT_EQ(r.nodes.size(), 1u);
  EXPECT_EQ(r.nodes[0].verified, 10);
  EXPECT_EQ(r.nodes[0].valid(), 10);
  EXPECT_EQ(*r.nodes[0].tip_seq, 10);
  EXPECT_EQ(r.nodes[0].tip_hash, rows.back().hash);
  EXPECT_EQ(r.caveat, kTailTruncationCaveat);
}

// A report as text, to compare two reports whole.
std::string Describe(const VerifyReport& r) {
  std::string s = std::string(r.ok ? "ok" : "FAIL") + " rows=" + std::to_string(r.total_rows) +
                  " valid=" + std::to_string(r.valid) + " invalid=" + std::to_string(r.invalid) +
                  " bytes=" + std::to_string(r.bytes_hashed) +
                  " upstream=" + (r.upstream.ok ? "ok" : *r.upstream.reason);
  for (const NodeReport& n : r.nodes) {
    s += " | " + n.source_node_id + " " + std::to_string(n.first_seq) + ".." +
         std::to_string(n.last_seq) + " tip=" + (n.tip_seq ? std::to_string(*n.tip_seq) : "-") +
         " " + n.tip_hash + " verified=" + std::to_string(n.verified) +
         " invalid=" + std::to_string(n.invalid) +
         (n.first_break ? " break@" + std::to_string(n.first_break->seq) : "");
  }
  return s;
}

TEST(ChainVerify, RollbackForgetsTheRowsAddedSinceTheMarkAndCommitKeepsThem) {
  std::vector<AuditRow> a = Chain("node-a", 8), b = Chain("node-b", 4);
  a[6].actor = "mallory";  // seq 7 breaks
  ChainVerifier plain;
  for (int i = 0; i < 5; ++i) plain.Add(a[i]);
  for (const AuditRow& r : b) plain.Add(r);
  const std::string want = Describe(plain.Finish());

  ChainVerifier v;
  for (int i = 0; i < 5; ++i) v.Add(a[i]);
  v.Mark("node-a");
  v.Add(a[5]);
  v.Add(b[0]);  // another node's rows are not affected by node-a's mark
  v.Add(a[6]);
  for (size_t i = 1; i < b.size(); ++i) v.Add(b[i]);
  v.Rollback("node-a");
  v.Rollback("node-b");  // no mark: nothing happens
  EXPECT_EQ(Describe(v.Finish()), want);

  ChainVerifier all, committed;
  for (const AuditRow& r : a) all.Add(r);
  for (int i = 0; i < 5; ++i) committed.Add(a[i]);
  committed.Mark("node-a");
  for (size_t i = 5; i < a.size(); ++i) committed.Add(a[i]);
  committed.Commit("node-a");
  committed.Rollback("node-a");  // the mark is gone: nothing to return to
  const std::string full = Describe(all.Finish());
  EXPECT_EQ(Describe(committed.Finish()), full);
  EXPECT_NE(full, want);  // the test can tell the two apart
}

TEST(ChainVerify, DetectsAModifiedField) {
  std::vector<AuditRow> rows = Chain("node-1", 10, true);
  rows[4].actor = "mallory";  // seq 5
  VerifyReport r = Verify(rows);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.upstream.ok);
  EXPECT_EQ(*r.upstream.first_break_at, 5);
  EXPECT_EQ(*r.upstream.reason, "row evt-node-1-5: hash mismatch");
  const NodeReport& n = r.nodes[0];
  EXPECT_EQ(n.invalid, 1);
  EXPECT_EQ(n.valid(), 9);
  EXPECT_EQ(n.first_break->category, "hash");
  EXPECT_EQ(n.classification, "tampered-or-corrupt");
}

TEST(ChainVerify, DetectsADeletedMiddleRow) {
  std::vector<AuditRow> rows = Chain("node-1", 10);
  rows.erase(rows.begin() + 4);  // seq 5
  VerifyReport r = Verify(rows);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(*r.upstream.first_break_at, 6);
  EXPECT_EQ(*r.upstream.reason,
            "row evt-node-1-6: prev_hash does not match preceding row evt-node-1-4");
  EXPECT_EQ(r.nodes[0].seq_gaps, 1);
  EXPECT_EQ(r.nodes[0].failures.at("link"), 1);
}

TEST(ChainVerify, DetectsSwappedRows) {
  std::vector<AuditRow> rows = Chain("node-1", 10);
  std::swap(rows[3].monotonic_seq, rows[4].monotonic_seq);  // seq 4 <-> 5
  VerifyReport r = Verify(rows);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(*r.upstream.first_break_at, 4);
  EXPECT_EQ(*r.upstream.reason, "row evt-node-1-5: hash mismatch");
  EXPECT_GE(r.nodes[0].invalid, 2);
}

TEST(ChainVerify, DetectsDuplicateSeqWithTheExactUpstreamReason) {
  std::vector<AuditRow> rows = Chain("node-1", 5);
  AuditRow dup = MakeRow("node-1", 3);
  dup.id = "evt-node-1-3b";
  dup.origin_id = dup.id;
  Seal(&dup, rows[1].hash);
  rows.push_back(dup);
  VerifyReport r = Verify(rows);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(*r.upstream.first_break_at, 3);
  EXPECT_EQ(*r.upstream.reason,
            "duplicate monotonic_seq 3 on node 'node-1': rows evt-node-1-3 and evt-node-1-3b. "
            "Two engines allocated independently (spec §2.1).");
  EXPECT_EQ(r.nodes[0].classification, "duplicate-allocation");
}

TEST(ChainVerify, DuplicateReasonQuotesTheNodeLikePythonRepr) {
  EXPECT_EQ(PythonRepr("node-1"), "'node-1'");
  EXPECT_EQ(PythonRepr("no'de"), "\"no'de\"");
  EXPECT_EQ(PythonRepr("a'b\"c"), "'a\\'b\"c'");
}

TEST(ChainVerify, DuplicateCheckWinsOverAnEarlierHashBreak) {
  // Upstream checks duplicates before walking: the duplicate is the reason even when another
  // node breaks earlier in node order.
  std::vector<AuditRow> a = Chain("a-node", 3);
  a[0].actor = "mallory";
  std::vector<AuditRow> b = Chain("b-node", 3);
  AuditRow dup = MakeRow("b-node", 2);
  dup.id = "evt-b-node-2x";
  Seal(&dup, b[0].hash);
  std::vector<AuditRow> rows = a;
  rows.insert(rows.end(), b.begin(), b.end());
  rows.push_back(dup);
  VerifyReport r = Verify(rows);
  EXPECT_NE(r.upstream.reason->find("duplicate monotonic_seq 2 on node 'b-node'"),
            std::string::npos);
  EXPECT_EQ(r.nodes[0].first_break->reason, "row evt-a-node-1: hash mismatch");
}

TEST(ChainVerify, UpstreamVerdictReportsTheSmallestBrokenNode) {
  std::vector<AuditRow> a = Chain("node-a", 4), z = Chain("node-z", 4);
  z[0].code = "X";
  a[2].code = "X";
  std::vector<AuditRow> rows = z;
  rows.insert(rows.end(), a.begin(), a.end());
  VerifyReport r = Verify(rows);
  EXPECT_EQ(*r.upstream.reason, "row evt-node-a-3: hash mismatch");
  EXPECT_EQ(*r.upstream.first_break_at, 3);
  EXPECT_EQ(r.nodes.size(), 2u);
  EXPECT_FALSE(r.nodes[1].ok);
}

TEST(ChainVerify, RecognisesLegacyPerServiceChains) {
  // An older Go engine allocated seq per (service, node): two clean chains on one node.
  std::vector<AuditRow> rows;
  for (const char* svc : {"svc-a", "svc-b"}) {
    std::string prev = "genesis";
    for (int i = 1; i <= 4; ++i) {
      AuditRow r = MakeRow("node-1", i);
      r.service_id = svc;
      r.id = std::string("evt-") + svc + "-" + std::to_string(i);
      Seal(&r, prev);
      prev = r.hash;
      rows.push_back(r);
    }
  }
  VerifyReport r = Verify(rows);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.upstream.reason->find("duplicate monotonic_seq 1"), std::string::npos);
  EXPECT_EQ(r.nodes[0].classification, "legacy-per-service-chains");
}

TEST(ChainVerify, DetectsAForgedFormTwoDetail) {
  std::vector<AuditRow> rows = Chain("node-1", 4, true);
  ASSERT_EQ(rows[1].canonical_form_id, "2");
  rows[1].detail.Set("{\"qty\": 999, \"price\": 75.0, \"note\": \"Jos\\u00e9\"}");
  VerifyReport r = Verify(rows);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(*r.upstream.first_break_at, 2);
  EXPECT_EQ(*r.upstream.reason, "row evt-node-1-2: detail does not match its commitment");
  EXPECT_EQ(r.nodes[0].failures.count("hash"), 0u);  // detail is not hashed under form 2
}

TEST(ChainVerify, RedactedFormTwoRowStillVerifies) {
  std::vector<AuditRow> rows = Chain("node-1", 4, true);
  rows[1].detail.Set("null");  // the Python store's redaction spelling
  rows[1].detail_salt.SetNull();
  rows[3].detail.SetNull();  // the spec's
  rows[3].detail_salt.SetNull();
  VerifyReport r = Verify(rows);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.nodes[0].redacted, 2);
}

TEST(ChainVerify, RejectsAnUnknownFormId) {
  std::vector<AuditRow> rows = Chain("node-1", 3);
  rows[1].canonical_form_id = "9";
  VerifyReport r = Verify(rows);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(*r.upstream.reason, "row evt-node-1-2: unknown canonical_form_id \"9\"");
  EXPECT_EQ(r.nodes[0].classification, "unknown-form");
}

TEST(ChainVerify, CountsUnsealedRowsWithoutVerifyingThem) {
  // Newest allocation: unsealed rows occupy their seq; the next sealed row links to the last
  // sealed one.
  std::vector<AuditRow> rows;
  std::string prev = "genesis";
  for (int i = 1; i <= 8; ++i) {
    AuditRow r = MakeRow("node-1", i);
    if (i % 3 == 0) {
      r.prev_hash = "genesis";  // column default
    } else {
      Seal(&r, prev);
      prev = r.hash;
    }
    rows.push_back(r);
  }
  VerifyReport r = Verify(rows);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.nodes[0].unsealed, 2);
  EXPECT_EQ(r.nodes[0].verified, 6);
  EXPECT_EQ(r.nodes[0].links_skipped, 2);
  EXPECT_TRUE(r.nodes[0].notes.empty());
  EXPECT_EQ(r.unsealed, 2);
  EXPECT_EQ(r.valid, 6);
}

TEST(ChainVerify, AnEntirelyUnsealedNodeIsNeitherVerifiedNorBroken) {
  std::vector<AuditRow> rows;
  for (int i = 1; i <= 3; ++i) rows.push_back(MakeRow("rust-node", i));
  VerifyReport r = Verify(rows);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.nodes[0].unsealed, 3);
  EXPECT_EQ(r.nodes[0].valid(), 0);
  EXPECT_FALSE(r.nodes[0].tip_seq.has_value());
}

TEST(ChainVerify, ANodeWithOnlyDetachedUnsealedRowsIsStillReported) {
  // Issue 12: `verify --ndjson` dropped a node whose rows were all unsealed phase-1 lines
  // ("0 unsealed, 0 node(s)" where --store said 198 unsealed).
  ChainVerifier v;
  for (int i = 0; i < 198; ++i) v.AddDetachedUnsealed("edge-1");
  for (const AuditRow& row : Chain("edge-2", 3)) v.Add(row);
  v.AddDetachedUnsealed("edge-2");
  VerifyReport r = v.Finish();
  EXPECT_TRUE(r.ok);
  ASSERT_EQ(r.nodes.size(), 2u);
  EXPECT_EQ(r.unsealed, 199);
  EXPECT_EQ(r.total_rows, 202);
  const NodeReport& only_unsealed = r.nodes[0].source_node_id == "edge-1" ? r.nodes[0] : r.nodes[1];
  EXPECT_EQ(only_unsealed.source_node_id, "edge-1");
  EXPECT_EQ(only_unsealed.unsealed, 198);
  EXPECT_EQ(only_unsealed.valid(), 0);
  EXPECT_TRUE(only_unsealed.ok);
}

TEST(ChainVerify, ClassifiesAMidChainGenesisAsAGoRestart) {
  std::vector<AuditRow> rows = Chain("node-1", 6);
  Seal(&rows[3], "genesis");  // the engine restarted before seq 4
  Seal(&rows[4], rows[3].hash);
  Seal(&rows[5], rows[4].hash);
  VerifyReport r = Verify(rows);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(*r.upstream.reason,
            "row evt-node-1-4: prev_hash does not match preceding row evt-node-1-3");
  EXPECT_EQ(r.nodes[0].classification, "legacy-go-restart");
  EXPECT_EQ(r.nodes[0].legacy_restarts, 1);
}

TEST(ChainVerify, LabelledFallbacksPassOnlyUnderTheirLabel) {
  std::vector<AuditRow> rows = Chain("node-1", 5);
  RowHashOptions pre;
  pre.include_form_id = false;
  SealWith(&rows[1], rows[0].hash, pre);  // sealed before the form id was hashed
  rows[2].actor = "line\fone\bend";
  RowHashOptions go;
  go.escapes = EscapeStyle::kGo;
  SealWith(&rows[2], rows[1].hash, go);  // sealed by Go's encoder
  Seal(&rows[3], rows[2].hash);
  rows[3].shipped_at.Set("2026-06-16T00:00:00.000000Z");  // stamped after sealing
  ParseTimestamp(rows[3].shipped_at.value, &rows[3].shipped_at_us);
  rows[3].shipped_at_ok = true;
  Seal(&rows[4], rows[3].hash);
  VerifyReport r = Verify(rows);
  EXPECT_TRUE(r.ok);
  const NodeReport& n = r.nodes[0];
  EXPECT_EQ(n.verified, 2);
  EXPECT_EQ(n.verified_fallback.at(kFallbackPreFormId), 1);
  EXPECT_EQ(n.verified_fallback.at(kFallbackGoEscapes), 1);
  EXPECT_EQ(n.verified_fallback.at(kFallbackShippedAfterSeal), 1);
  // The upstream verifier does not accept these.
  EXPECT_FALSE(r.upstream.ok);
  EXPECT_EQ(*r.upstream.reason, "row evt-node-1-2: hash mismatch");
}

TEST(ChainVerify, FormOneZTimestampIsAcceptedUpstreamAndLabelled) {
  std::vector<AuditRow> rows = Chain("node-1", 3);
  RowHashOptions z;
  z.timestamps = RowHashOptions::Timestamps::kCanonicalZ;
  SealWith(&rows[1], rows[0].hash, z);
  Seal(&rows[2], rows[1].hash);
  VerifyReport r = Verify(rows);
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.upstream.ok);
  EXPECT_EQ(r.nodes[0].verified_fallback.at(kFallbackForm1Z), 1);
}

TEST(ChainVerify, FirstRowOfAChainMustSayGenesis) {
  std::vector<AuditRow> rows = Chain("node-1", 3);
  Seal(&rows[0], std::string(64, 'a'));
  Seal(&rows[1], rows[0].hash);
  Seal(&rows[2], rows[1].hash);
  VerifyReport r = Verify(rows);
  EXPECT_TRUE(r.upstream.ok);  // upstream never checks the first row
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.nodes[0].first_break->category, "link");
}

TEST(ChainVerify, WindowChecksItsFirstLinkAgainstThePredecessor) {
  std::vector<AuditRow> rows = Chain("node-1", 10);
  std::vector<AuditRow> window(rows.begin() + 4, rows.end());  // seq 5..10
  ChainVerifier::Options ok;
  ok.predecessor = [&](const std::string& node, int64_t seq) -> std::optional<Predecessor> {
    EXPECT_EQ(node, "node-1");
    EXPECT_EQ(seq, 5);
    return Predecessor{4, rows[3].id, rows[3].hash};
  };
  EXPECT_TRUE(Verify(window, ok).ok);
  ChainVerifier::Options wrong;
  wrong.predecessor = [&](const std::string&, int64_t) -> std::optional<Predecessor> {
    return Predecessor{3, rows[2].id, rows[2].hash};
  };
  VerifyReport r = Verify(window, wrong);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.nodes[0].first_break->seq, 5);
  EXPECT_EQ(r.nodes[0].first_break->category, "link");
}

TEST(ChainVerify, CorruptDetailAndOddTimestampsAreBreaksWithANote) {
  std::vector<AuditRow> rows = Chain("node-1", 4);
  rows[1].detail.Set("{\"qty\": 2, \"price\": 75.0");  // truncated JSON
  rows[2].timestamp = "last tuesday";
  rows[2].timestamp_ok = false;
  VerifyReport r = Verify(rows);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.nodes[0].failures.at("hash"), 2);
  EXPECT_NE(r.nodes[0].first_break->note.find("detail is not valid JSON"), std::string::npos);
}

TEST(ChainVerify, NonUtf8BytesVerifyAsReplacementCharacters) {
  std::vector<AuditRow> rows = Chain("node-1", 2);
  rows[1].target = "order/\xff\xfe";
  Seal(&rows[1], rows[0].hash);
  EXPECT_TRUE(Verify(rows).ok);
  rows[1].target = "order/\xff";  // one byte fewer
  EXPECT_FALSE(Verify(rows).ok);
}

TEST(ChainVerify, RedeliveredRowIsNotComparedWithItself) {
  std::vector<AuditRow> rows = Chain("node-1", 3);
  rows.push_back(rows[1]);
  VerifyReport r = Verify(rows);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.nodes[0].total_rows, 4);
  EXPECT_EQ(r.nodes[0].verified, 3);
}

TEST(RowCheck, SummarisesEachOutcome) {
  std::vector<AuditRow> rows = Chain("node-1", 2, true);
  RowChecker c;
  EXPECT_EQ(c.Check(rows[0]).Summary(), "verified");
  rows[0].code = "TAMPERED";
  EXPECT_EQ(c.Check(rows[0]).Summary(), "hash mismatch");
  EXPECT_EQ(c.Check(MakeRow("n", 1)).Summary(), "unsealed");
}

}  // namespace
}  // namespace fasten

namespace fasten {
namespace {

// Rows alternate between two tenants on one node.
std::vector<AuditRow> TwoTenantChain(int n) {
  std::vector<AuditRow> rows;
  std::string prev = "genesis";
  for (int i = 1; i <= n; ++i) {
    AuditRow r = testing::MakeRow("node-1", i);
    r.tenant_id.Set(i % 2 ? "tenant-a" : "tenant-b");
    testing::Seal(&r, prev);
    prev = r.hash;
    rows.push_back(r);
  }
  return rows;
}

VerifyReport VerifyAs(const std::vector<AuditRow>& rows, const std::string& tenant) {
  ChainVerifier::Options o;
  o.scope = test_support::TestScopes::Tenant(tenant);
  ChainVerifier v(std::move(o));
  for (const AuditRow& r : rows) v.Add(r);
  return v.Finish();
}

TEST(ChainVerifyTenant, CountsAndNamesOnlyTheTenantsRows) {
  std::vector<AuditRow> rows = TwoTenantChain(10);
  VerifyReport r = VerifyAs(rows, "tenant-a");
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.nodes.size(), 1u);
  EXPECT_EQ(r.nodes[0].total_rows, 5);
  EXPECT_EQ(r.nodes[0].verified, 5);
  EXPECT_EQ(*r.nodes[0].tip_seq, 9);  // the tenant's last row, not the node's
  EXPECT_EQ(r.nodes[0].seq_gaps, 0);
  EXPECT_TRUE(VerifyAs(rows, "tenant-c").nodes.empty());
}

TEST(ChainVerifyTenant, AnotherTenantsBreakIsNeitherReportedNorNamed) {
  std::vector<AuditRow> rows = TwoTenantChain(10);
  rows[3].actor = "mallory";  // seq 4, tenant-b: content tampered, hash column intact
  EXPECT_TRUE(VerifyAs(rows, "tenant-a").ok);
  EXPECT_FALSE(VerifyAs(rows, "tenant-b").ok);
  rows = TwoTenantChain(10);
  const std::string hidden_id = rows[5].id;  // seq 6, tenant-b
  rows[5].hash = std::string(64, 'f');       // its stored hash rewritten
  VerifyReport r = VerifyAs(rows, "tenant-a");
  EXPECT_FALSE(r.ok);  // seq 7 (tenant-a) no longer links to it
  ASSERT_TRUE(r.nodes[0].first_break.has_value());
  EXPECT_EQ(r.nodes[0].first_break->seq, 7);
  EXPECT_EQ(r.nodes[0].first_break->reason,
            "row evt-node-1-7: prev_hash does not match preceding row (a row not visible to this "
            "tenant)");
  EXPECT_EQ(r.nodes[0].first_break->reason.find(hidden_id), std::string::npos);
  EXPECT_EQ(r.upstream.reason->find(hidden_id), std::string::npos);
}

}  // namespace
}  // namespace fasten
