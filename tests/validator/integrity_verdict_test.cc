// The integrity verdict (validator/integrity_verdict.h) and the validator's integrity checks
// (validator/citations.h) on the demo store and its tampered twin (seq 1239 on edge-us-1, the
// refund's REFUND_ROLLED_BACK row, altered after sealing).
#include "validator/integrity_verdict.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "app/demo_store.h"
#include "store/reader.h"
#include "store/timestamp.h"
#include "test_store.h"
#include "validator/citations.h"
#include "validator/digest.h"
#include "validator/verify_store.h"

namespace fasten {
namespace {

using json = nlohmann::json;
using testing::TempDir;

constexpr char kRefund[] = "3a7b1c9e4d20";

Micros T(const char* text) {
  Micros t = 0;
  EXPECT_TRUE(ParseTimestamp(text, &t)) << text;
  return t;
}

struct Store {
  std::unique_ptr<AuditReader> audit;
  std::unique_ptr<StreamReader> sys, api;

  explicit Store(const std::string& path) {
    Dsn dsn = ParseDsn("sqlite:///" + path).value();
    EXPECT_TRUE(AuditReader::Open(dsn, &audit).ok());
    EXPECT_TRUE(StreamReader::Open(dsn, StreamKind::kSys, &sys).ok());
    EXPECT_TRUE(StreamReader::Open(dsn, StreamKind::kApi, &api).ok());
  }
  CitationStores Stores() { return {audit.get(), sys.get(), api.get(), "", ""}; }

  Verdict Validate(const Answer& a, std::optional<std::string> tenant = "acme",
                   const CitationLedger* ledger = nullptr) {
    CitationCheckOptions o;
    o.tenant = std::move(tenant);
    o.ledger = ledger;
    Verdict v;
    ValidateAnswer(a, Stores(), o, &v);
    return v;
  }
  IntegrityVerdict Compute(const IntegrityScope& scope,
                           std::optional<std::string> tenant = "acme") {
    IntegrityVerdict v;
    Status st = ComputeIntegrityVerdict(audit.get(), tenant, scope, &v);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return v;
  }
  AuditRow AuditRowWhere(const std::string& code) {
    AuditQuery q;
    q.request_id = kRefund;
    q.code = code;
    q.limit = 10;
    AuditPage page;
    EXPECT_TRUE(audit->Query(q, &page).ok());
    EXPECT_EQ(page.rows.size(), 1u) << code;
    return page.rows.empty() ? AuditRow() : page.rows[0];
  }
  StreamRow SysRow(const std::string& event) {
    StreamQuery q;
    q.request_id = kRefund;
    q.event = event;
    q.limit = 10;
    StreamPage page;
    EXPECT_TRUE(sys->Query(q, &page).ok());
    EXPECT_FALSE(page.rows.empty()) << event;
    return page.rows.empty() ? StreamRow() : page.rows.back();
  }
};

Citation Cite(const AuditRow& r) {
  return {CitationStream::kAudit, r.monotonic_seq, r.hash};
}
Citation Cite(const StreamRow& r) {
  return {CitationStream::kSys, r.seq, StreamContentDigest(r.payload).hex};
}

std::vector<std::string> Reasons(const Verdict& v) {
  std::vector<std::string> out;
  for (const auto& p : v.problems) out.push_back(p.reason);
  for (const ClaimResult& c : v.claims) {
    for (const CitationResult& r : c.citations) {
      for (const auto& p : r.problems) out.push_back(p.reason);
    }
    for (const auto& p : c.problems) out.push_back(p.reason);
  }
  return out;
}

std::string AllMessages(const Verdict& v) {
  return RepairText(v);
}

Claim Marked(std::string text, std::vector<Citation> cites, IntegrityPolarity p,
             std::optional<ClaimScope> scope = std::nullopt) {
  return Claim(std::move(text), std::move(cites), p, std::move(scope));
}

class IntegrityVerdictTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    DemoOptions o;
    o.path = dir_->File("demo.db");
    DemoSummary s;
    ASSERT_TRUE(WriteDemoStore(o, &s).ok());
    o.path = dir_->File("tampered.db");
    o.tamper = true;
    ASSERT_TRUE(WriteDemoStore(o, &s).ok());
    ASSERT_EQ(s.tampered_node, "edge-us-1");
    ASSERT_EQ(s.tampered_seq, 1239);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string Path(const std::string& name) { return dir_->File(name); }
  static TempDir* dir_;
};
TempDir* IntegrityVerdictTest::dir_ = nullptr;

// The refund window of the issue: 14:32 ± 30 min.
IntegrityScope RefundWindow() {
  return {T("2026-11-20T14:02:00Z"), T("2026-11-20T15:03:00Z"), {}};
}

// ---------------------------------------------------------------------------------------------
// The verdict itself.

TEST_F(IntegrityVerdictTest, CleanStoreIsOkOnEveryNodeWithRowsInTheWindow) {
  Store store(Path("demo.db"));
  IntegrityVerdict v = store.Compute(RefundWindow());
  EXPECT_TRUE(v.ok);
  std::vector<std::string> nodes;
  for (const NodeIntegrity& n : v.nodes) {
    nodes.push_back(n.source_node_id);
    EXPECT_TRUE(n.ok) << n.source_node_id;
    EXPECT_TRUE(n.present);
    EXPECT_GT(n.rows_in_window, 0);
    EXPECT_LE(n.from_seq, n.to_seq);
  }
  // The refund's two nodes and the others that wrote in that hour, not only the cited ones.
  EXPECT_NE(std::find(nodes.begin(), nodes.end(), "edge-eu-1"), nodes.end());
  EXPECT_NE(std::find(nodes.begin(), nodes.end(), "edge-us-1"), nodes.end());
  EXPECT_NE(std::find(nodes.begin(), nodes.end(), "core-1"), nodes.end());
  EXPECT_EQ(
      v.line.rfind("doctor: chain OK in window 14:02–15:03Z on core-1, edge-eu-1, edge-us-1", 0),
      0u)
      << v.line;
  EXPECT_NE(v.line.find("· no tampering"), std::string::npos) << v.line;
  json j = IntegrityVerdictJson(v);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["window"]["since"], "2026-11-20T14:02:00.000000Z");
  EXPECT_EQ(j["window"]["until"], "2026-11-20T15:03:00.000000Z");
  EXPECT_EQ(j["line"], v.line);
}

TEST_F(IntegrityVerdictTest, TamperedStoreBreaksOnEdgeUs1AtSeq1239) {
  Store store(Path("tampered.db"));
  IntegrityVerdict v = store.Compute(RefundWindow());
  EXPECT_FALSE(v.ok);
  const NodeIntegrity* b = v.FirstBreak();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->source_node_id, "edge-us-1");
  ASSERT_TRUE(b->first_break.has_value());
  EXPECT_EQ(b->first_break->seq, 1239);
  EXPECT_EQ(b->first_break->category, "hash");
  EXPECT_EQ(v.line.rfind("doctor: BREAK on edge-us-1 at seq 1239 (hash mismatch) · in window "
                         "14:02–15:03Z; chain OK on core-1, edge-eu-1",
                         0),
            0u)
      << v.line;
  EXPECT_EQ(v.line.find("no tampering"), std::string::npos);
}

TEST_F(IntegrityVerdictTest, AgreesWithVerifyOfTheSameTimeWindow) {
  for (const char* file : {"demo.db", "tampered.db"}) {
    Store store(Path(file));
    IntegrityScope scope = RefundWindow();
    IntegrityVerdict v = store.Compute(scope, std::nullopt);
    VerifyStoreOptions o;
    o.since = scope.since;
    o.until = scope.until;
    o.threads = 1;
    VerifyStoreResult r;
    ASSERT_TRUE(VerifyStore(store.audit.get(), o, &r).ok());
    ASSERT_EQ(v.nodes.size(), r.report.nodes.size()) << file;
    for (size_t i = 0; i < v.nodes.size(); ++i) {
      EXPECT_EQ(v.nodes[i].source_node_id, r.report.nodes[i].source_node_id);
      EXPECT_EQ(v.nodes[i].ok, r.report.nodes[i].ok);
      EXPECT_EQ(v.nodes[i].first_break.has_value(), r.report.nodes[i].first_break.has_value());
      EXPECT_EQ(v.nodes[i].unsealed, r.report.nodes[i].unsealed);
    }
    EXPECT_EQ(v.ok, r.report.ok) << file;
  }
}

TEST_F(IntegrityVerdictTest, AnotherTenantNeverSeesTheBreakInARowItCannotSee) {
  // seq 1239 is acme's row: globex's verdict over the same hour neither names nor counts it (its
  // own rows link to their stored predecessors), so nothing about acme leaks.
  Store store(Path("tampered.db"));
  IntegrityVerdict v = store.Compute(RefundWindow(), "globex");
  EXPECT_EQ(v.line.find("1239"), std::string::npos) << v.line;
  EXPECT_EQ(IntegrityVerdictJson(v).dump().find("evt-77749972c91d3ae94f39"), std::string::npos);
}

TEST_F(IntegrityVerdictTest, ListedNodesOnlyAndAListedNodeWithoutRowsIsNotOk) {
  Store store(Path("tampered.db"));
  IntegrityScope scope = RefundWindow();
  scope.nodes = {"edge-eu-1"};
  IntegrityVerdict v = store.Compute(scope);
  EXPECT_TRUE(v.ok);
  ASSERT_EQ(v.nodes.size(), 1u);
  EXPECT_NE(v.line.find("on edge-eu-1 only"), std::string::npos) << v.line;

  scope.nodes = {"edge-eu-1", "no-such-node"};
  v = store.Compute(scope);
  EXPECT_FALSE(v.ok);
  ASSERT_EQ(v.nodes.size(), 2u);
  EXPECT_FALSE(v.nodes[1].present);
  EXPECT_NE(v.line.find("no audit rows on no-such-node (not verified)"), std::string::npos)
      << v.line;
}

TEST_F(IntegrityVerdictTest, AWindowWithoutRowsVerifiesNothingAndIsNotOk) {
  Store store(Path("demo.db"));
  IntegrityVerdict v = store.Compute({T("2020-01-01T00:00:00Z"), T("2020-01-01T01:00:00Z"), {}});
  EXPECT_FALSE(v.ok);
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.line, "doctor: no audit rows in window 00:00–01:00Z · nothing to verify");
}

TEST(IntegrityWindow, WidenedToWholeMinutesAndFormatted) {
  IntegrityScope s = WidenedScope(T("2026-11-20T14:32:32.104Z"), T("2026-11-20T14:32:01.106Z"),
                                  kDefaultIntegrityMargin);
  EXPECT_EQ(CanonicalTimestamp(s.since), "2026-11-20T14:02:00.000000Z");
  EXPECT_EQ(CanonicalTimestamp(s.until), "2026-11-20T15:03:00.000000Z");
  EXPECT_EQ(FormatWindow(s.since, s.until), "14:02–15:03Z");
  // Exact minutes stay; a window over midnight carries its dates.
  s = WidenedScope(T("2026-11-20T23:50:00Z"), T("2026-11-20T23:50:00Z"), 30 * kMicrosPerMinute);
  EXPECT_EQ(FormatWindow(s.since, s.until), "2026-11-20T23:20Z–2026-11-21T00:20Z");
  EXPECT_EQ(FormatWindow(T("2026-11-20T14:02:05.5Z"), T("2026-11-20T15:00:00Z")),
            "14:02:05.500000–15:00Z");
}

TEST(IntegrityWindow, MarginParsing) {
  EXPECT_EQ(ParseIntegrityMargin("30m"), 30 * kMicrosPerMinute);
  EXPECT_EQ(ParseIntegrityMargin("1h"), 60 * kMicrosPerMinute);
  EXPECT_EQ(ParseIntegrityMargin("90s"), 90 * int64_t{1000000});
  EXPECT_EQ(ParseIntegrityMargin("0"), 0);
  EXPECT_EQ(ParseIntegrityMargin("24h"), kMaxIntegrityMargin);
  for (const char* bad : {"", "30", "25h", "-1m", "1.5h", "m", "1d", "99999999m"}) {
    EXPECT_FALSE(ParseIntegrityMargin(bad).has_value()) << bad;
  }
}

TEST(IntegrityWindow, CoverageNeedsTheWholeWindowAndEveryNode) {
  IntegrityScope inner{100, 200, {}};
  EXPECT_TRUE(ScopeCovers({100, 200, {}}, inner, {"a", "b"}));
  EXPECT_TRUE(ScopeCovers({50, 250, {}}, inner, {"a", "b"}));
  EXPECT_FALSE(ScopeCovers({101, 200, {}}, inner, {"a", "b"}));
  EXPECT_FALSE(ScopeCovers({100, 199, {}}, inner, {"a", "b"}));
  EXPECT_FALSE(ScopeCovers({100, 200, {"a"}}, inner, {"a", "b"}));
  EXPECT_TRUE(ScopeCovers({100, 200, {"a", "b"}}, inner, {"a", "b"}));
}

// ---------------------------------------------------------------------------------------------
// Claims marked with integrity, checked against the verdict.

TEST_F(IntegrityVerdictTest, TheNoTamperingLieIsContradictedWhateverRowItCites) {
  Store store(Path("tampered.db"));
  // The issue's lie: an unrelated sys row at 14:32, then a row of the clean node in the window.
  const std::vector<Citation> citations = {Cite(store.SysRow("refund_initiated")),
                                           Cite(store.AuditRowWhere("REFUND_REQUESTED"))};
  for (const Citation& c : citations) {
    Answer a({Marked("No audit row was tampered with around 14:32: doctor chain OK in window", {c},
                     IntegrityPolarity::kIntact)});
    a.prose = "Chain is intact.";
    Verdict v = store.Validate(a);
    EXPECT_FALSE(v.accepted);
    std::vector<std::string> reasons = Reasons(v);
    EXPECT_NE(std::find(reasons.begin(), reasons.end(), "integrity_contradicted"), reasons.end());
    EXPECT_NE(AllMessages(v).find("BREAK on edge-us-1 at seq 1239 (hash mismatch)"),
              std::string::npos)
        << AllMessages(v);
    // The answer's own verdict says what the chain says.
    ASSERT_TRUE(v.integrity.has_value());
    EXPECT_EQ(v.integrity->line.rfind("doctor: BREAK on edge-us-1 at seq 1239", 0), 0u);
  }
}

TEST_F(IntegrityVerdictTest, TheHonestTamperedClaimMayCiteTheRowThatFails) {
  Store store(Path("tampered.db"));
  AuditRow rolled = store.AuditRowWhere("REFUND_ROLLED_BACK");
  ASSERT_EQ(rolled.monotonic_seq, 1239);
  Answer a({Marked("The REFUND_ROLLED_BACK audit row seq 1239 was altered after sealing",
                   {Cite(rolled)}, IntegrityPolarity::kTampered)});
  a.prose = "Audit row 1239 on edge-us-1 was tampered with.";
  Verdict v = store.Validate(a);
  EXPECT_TRUE(v.accepted) << RepairText(v);
  EXPECT_EQ(v.claims[0].citations[0].tamper_evidence, "hash mismatch");
  ASSERT_TRUE(v.integrity.has_value());
  EXPECT_EQ(v.integrity->line.rfind("doctor: BREAK on edge-us-1 at seq 1239 (hash mismatch)", 0),
            0u);
  EXPECT_NE(DescribeClaimIntegrity(v.claims[0]).find("evidence: seq 1239 hash mismatch"),
            std::string::npos);
  json j = VerdictJson(v);
  EXPECT_EQ(j["integrity"]["ok"], false);
  EXPECT_EQ(j["claims"][0]["integrity"]["field"], "tampered");
  EXPECT_EQ(j["claims"][0]["citations"][0]["tamper_evidence"], "hash mismatch");

  // Without the field the same citation is what it always was: a row that does not recompute.
  Answer unmarked({Claim("The REFUND_ROLLED_BACK row seq 1239 was written", {Cite(rolled)})});
  EXPECT_EQ(Reasons(store.Validate(unmarked)), std::vector<std::string>{"hash_mismatch"});
}

TEST_F(IntegrityVerdictTest, ATamperedClaimCitingARowThatVerifiesIsContradicted) {
  for (const char* file : {"demo.db", "tampered.db"}) {
    Store store(Path(file));
    AuditRow row = store.AuditRowWhere(std::string(file) == "demo.db" ? "REFUND_ROLLED_BACK"
                                                                      : "REFUND_REQUESTED");
    Answer a({Marked("Audit rows were altered", {Cite(row)}, IntegrityPolarity::kTampered)});
    Verdict v = store.Validate(a);
    EXPECT_FALSE(v.accepted) << file;
    EXPECT_EQ(Reasons(v), std::vector<std::string>{"integrity_contradicted"}) << file;
  }
  // A tampered claim must rest on an audit row.
  Store store(Path("tampered.db"));
  Answer a({Marked("Audit rows were altered", {Cite(store.SysRow("refund_initiated"))},
                   IntegrityPolarity::kTampered)});
  EXPECT_EQ(Reasons(store.Validate(a)), std::vector<std::string>{"integrity_contradicted"});
}

TEST_F(IntegrityVerdictTest, ATamperedRowStillHasToBeVisibleAndShown) {
  Store store(Path("tampered.db"));
  AuditRow rolled = store.AuditRowWhere("REFUND_ROLLED_BACK");
  Answer a(
      {Marked("Audit row seq 1239 was altered", {Cite(rolled)}, IntegrityPolarity::kTampered)});
  CitationLedger ledger;  // shown nothing
  EXPECT_EQ(Reasons(store.Validate(a, "acme", &ledger)), std::vector<std::string>{"not_shown"});
  // Another tenant cannot use acme's broken row (nor learn that it exists).
  Verdict g = store.Validate(a, "globex");
  EXPECT_EQ(Reasons(g), std::vector<std::string>{"not_found"});
  EXPECT_EQ(RepairText(g).find("hash mismatch"), std::string::npos);
}

TEST_F(IntegrityVerdictTest, AMissingPredecessorIsTamperEvidence) {
  const std::string copy = Path("deleted.db");
  std::filesystem::copy_file(Path("demo.db"), copy,
                             std::filesystem::copy_options::overwrite_existing);
  AuditRow rolled;
  {
    Store store(copy);
    rolled = store.AuditRowWhere("REFUND_ROLLED_BACK");
  }
  testing::ExecSql(copy, "DELETE FROM audit_log WHERE hash = " + testing::Quote(rolled.prev_hash));
  Store store(copy);
  Answer a({Marked("The audit row before seq 1239 was deleted", {Cite(rolled)},
                   IntegrityPolarity::kTampered)});
  Verdict v = store.Validate(a);
  EXPECT_TRUE(v.accepted) << RepairText(v);
  EXPECT_NE(v.claims[0].citations[0].tamper_evidence.find("broken link"), std::string::npos)
      << v.claims[0].citations[0].tamper_evidence;
  ASSERT_TRUE(v.integrity.has_value());
  EXPECT_FALSE(v.integrity->ok);
}

TEST_F(IntegrityVerdictTest, AnIntactClaimOnTheCleanStoreIsAcceptedWithTheOkLine) {
  Store store(Path("demo.db"));
  AuditRow rolled = store.AuditRowWhere("REFUND_ROLLED_BACK");
  Answer a({Marked("The audit chain is intact around the refund at 14:32", {Cite(rolled)},
                   IntegrityPolarity::kIntact)});
  a.prose = "The refund was rolled back; no tampering.";
  Verdict v = store.Validate(a);
  EXPECT_TRUE(v.accepted) << RepairText(v);
  ASSERT_TRUE(v.claims[0].integrity.verdict.has_value());
  EXPECT_TRUE(v.claims[0].integrity.verdict->ok);
  ASSERT_TRUE(v.integrity.has_value());
  EXPECT_EQ(v.integrity->line.rfind("doctor: chain OK in window 14:02–15:03Z on ", 0), 0u)
      << v.integrity->line;
  EXPECT_EQ(v.integrity->basis, "cited rows ± 30 min");
}

TEST_F(IntegrityVerdictTest, UnmarkedAndConflictingStatementsAreIntegrityUnmarked) {
  Store store(Path("demo.db"));
  AuditRow rolled = store.AuditRowWhere("REFUND_ROLLED_BACK");
  Answer unmarked(
      {Claim("REFUND_ROLLED_BACK was written and the chain is intact", {Cite(rolled)})});
  EXPECT_EQ(Reasons(store.Validate(unmarked)), std::vector<std::string>{"integrity_unmarked"});
  Answer conflicting({Marked("REFUND_ROLLED_BACK was written; audit rows were deleted",
                             {Cite(rolled)}, IntegrityPolarity::kIntact)});
  EXPECT_EQ(Reasons(store.Validate(conflicting)), std::vector<std::string>{"integrity_unmarked"});
  // Undetermined words need no field.
  Answer hedged(
      {Claim("REFUND_ROLLED_BACK was written; I could not confirm the chain", {Cite(rolled)})});
  EXPECT_TRUE(store.Validate(hedged).accepted);
  // The answer text may not state integrity without a backing claim.
  Answer prose({Claim("REFUND_ROLLED_BACK was written", {Cite(rolled)})});
  prose.prose = "The chain is intact.";
  EXPECT_EQ(Reasons(store.Validate(prose)), std::vector<std::string>{"integrity_unmarked"});
  prose.prose = "Audit rows were deleted.";
  EXPECT_EQ(Reasons(store.Validate(prose)), std::vector<std::string>{"integrity_unmarked"});
}

TEST_F(IntegrityVerdictTest, ANarrowedScopeIsSaidAndDoesNotBackTheWholeAnswer) {
  Store store(Path("tampered.db"));
  AuditRow requested = store.AuditRowWhere("REFUND_REQUESTED");
  ClaimScope scope;
  scope.nodes = {"edge-eu-1"};
  Answer a({Marked("The audit chain of edge-eu-1 is intact around 14:32", {Cite(requested)},
                   IntegrityPolarity::kIntact, scope)});
  Verdict v = store.Validate(a);
  EXPECT_TRUE(v.accepted) << RepairText(v);
  EXPECT_NE(DescribeClaimIntegrity(v.claims[0]).find("on edge-eu-1 only"), std::string::npos)
      << DescribeClaimIntegrity(v.claims[0]);
  // "No tampering" in the text would speak for every node: the narrowed claim does not back it.
  a.prose = "No tampering.";
  v = store.Validate(a);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(Reasons(v), std::vector<std::string>{"integrity_unmarked"});
}

TEST_F(IntegrityVerdictTest, AStatedWindowIsTheAnswersWindow) {
  Store store(Path("demo.db"));
  AuditRow rolled = store.AuditRowWhere("REFUND_ROLLED_BACK");
  Answer a({Claim("REFUND_ROLLED_BACK was written", {Cite(rolled)})});
  a.window = std::make_pair(T("2026-11-20T14:00:00Z"), T("2026-11-20T16:00:00Z"));
  Verdict v = store.Validate(a);
  EXPECT_TRUE(v.accepted) << RepairText(v);
  ASSERT_TRUE(v.integrity.has_value());
  EXPECT_EQ(v.integrity->basis, "stated window");
  EXPECT_EQ(v.integrity->line.rfind("doctor: chain OK in window 14:00–16:00Z on ", 0), 0u)
      << v.integrity->line;
  // An "intact" claim whose own scope is smaller does not back "intact" prose over it.
  Answer b({Marked("The audit chain is intact around the refund at 14:32", {Cite(rolled)},
                   IntegrityPolarity::kIntact)});
  b.window = a.window;
  b.prose = "The chain is intact.";
  EXPECT_EQ(Reasons(store.Validate(b)), std::vector<std::string>{"integrity_unmarked"});
  ClaimScope wide;
  wide.since = T("2026-11-20T14:00:00Z");
  wide.until = T("2026-11-20T16:00:00Z");
  b.claims[0].scope = wide;
  EXPECT_TRUE(store.Validate(b).accepted);
}

TEST(IntegrityParse, FieldsAndTheirErrors) {
  Answer a;
  ASSERT_TRUE(ParseAnswer(json::parse(R"({"answer": null, "unknowns": null, "window": null,
      "claims": [{"text": "x", "integrity": null, "scope": null, "citations": []},
                 {"text": "y", "integrity": "tampered", "citations": [],
                  "scope": {"since": "2026-11-20", "until": "2026-11-20T15:00:00Z",
                            "nodes": ["edge-us-1"]}}]})"),
                          &a)
                  .ok());
  EXPECT_EQ(a.claims[0].integrity, IntegrityPolarity::kNone);
  EXPECT_EQ(a.claims[1].integrity, IntegrityPolarity::kTampered);
  ASSERT_TRUE(a.claims[1].scope.has_value());
  EXPECT_EQ(CanonicalTimestamp(*a.claims[1].scope->since), "2026-11-20T00:00:00.000000Z");
  EXPECT_EQ(a.claims[1].scope->nodes, std::vector<std::string>{"edge-us-1"});
  ASSERT_TRUE(ParseAnswer(json::parse(R"({"claims": [], "answer": "text",
      "window": {"since": "now-1h", "until": "now"}})"),
                          &a, T("2026-11-20T15:00:00Z"))
                  .ok());
  ASSERT_TRUE(a.window.has_value());
  EXPECT_EQ(CanonicalTimestamp(a.window->first), "2026-11-20T14:00:00.000000Z");
  EXPECT_EQ(a.prose, "text");
  const char* bad[] = {
      R"({"claims": [{"text": "x", "integrity": "maybe"}]})",
      R"({"claims": [{"text": "x", "scope": {"nodes": ["a"]}}]})",
      R"({"claims": [{"text": "x", "integrity": "intact", "scope": {"colour": 1}}]})",
      R"({"claims": [{"text": "x", "integrity": "intact", "scope": {"since": "yesterday"}}]})",
      R"({"claims": [{"text": "x", "integrity": "intact",
                      "scope": {"since": "2026-11-21", "until": "2026-11-20"}}]})",
      R"({"claims": [{"text": "x", "integrity": "intact", "scope": {"nodes": [""]}}]})",
      R"({"claims": [], "window": {"since": "2026-11-20"}})",
      R"({"claims": [], "window": "today"})",
  };
  for (const char* text : bad) {
    Status st = ParseAnswer(json::parse(text), &a);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << text;
    EXPECT_FALSE(st.message().empty());
  }
}

}  // namespace
}  // namespace fasten
