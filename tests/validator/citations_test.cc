// The citation validator on the demo store: the refund incident answered correctly, and every
// way an answer can be wrong rejected with its reason code; grounding token rules; round trips;
// the integrity verdict and claims marked with integrity (issue 13).
#include "validator/citations.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "demo/demo_store.h"
#include "store/reader.h"
#include "store/timestamp.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "tools/answer_json.h"
#include "validator/digest.h"
#include "validator/integrity_verdict.h"
#include "validator/verify_store.h"

namespace fasten {
namespace {

using json = nlohmann::json;
using testing::TempDir;

// Forwards to a real reader and counts the calls (one call = one store round trip).
class CountingReader : public AuditReader {
 public:
  explicit CountingReader(AuditReader* inner) : inner_(inner) {}
  int batch = 0, predecessor = 0, other = 0;
  Status fail_with;  // non-OK: every lookup fails with it

  int total() const { return batch + predecessor + other; }
  const Dsn& dsn() const override { return inner_->dsn(); }
  const WriterProfile& profile() const override { return inner_->profile(); }
  Status Scan(const TenantScope& scope, const ScanRange& range,
              const std::function<bool(AuditRow&)>& on_row) override {
    ++other;
    return inner_->Scan(scope, range, on_row);
  }
  Status Query(const TenantScope& scope, const AuditQuery& query, AuditPage* page) override {
    ++other;
    return inner_->Query(scope, query, page);
  }
  Status FindPredecessor(const TenantScope& scope, const std::string& node, int64_t seq,
                         std::optional<Predecessor>* out) override {
    ++predecessor;
    if (!fail_with.ok()) return fail_with;
    return inner_->FindPredecessor(scope, node, seq, out);
  }
  Status CountRows(const TenantScope& scope, int64_t* out) override {
    ++other;
    return inner_->CountRows(scope, out);
  }
  Status SeqSpans(const TenantScope& scope, const SeqSpanQuery& query,
                  std::vector<NodeSeqSpan>* out) override {
    ++other;
    return inner_->SeqSpans(scope, query, out);
  }
  Status FindBySeqHash(const TenantScope& scope, int64_t seq, const std::string& hash,
                       std::vector<AuditRow>* out) override {
    ++other;
    return inner_->FindBySeqHash(scope, seq, hash, out);
  }
  Status FindBySeqHashBatch(const TenantScope& scope,
                            const std::vector<std::pair<int64_t, std::string>>& pairs,
                            std::vector<AuditRow>* out) override {
    ++batch;
    if (!fail_with.ok()) return fail_with;
    return inner_->FindBySeqHashBatch(scope, pairs, out);
  }
  Status FindBySeqHashBatchWithLinks(const TenantScope& scope,
                                     const std::vector<std::pair<int64_t, std::string>>& pairs,
                                     std::vector<AuditRow>* out,
                                     std::vector<AuditRow>* links) override {
    ++batch;
    if (!fail_with.ok()) return fail_with;
    return inner_->FindBySeqHashBatchWithLinks(scope, pairs, out, links);
  }
  Status FindNeighbours(const TenantScope& scope, const std::string& node, int64_t seq,
                        std::optional<AuditRow>* prev, std::optional<AuditRow>* next) override {
    ++other;
    return inner_->FindNeighbours(scope, node, seq, prev, next);
  }
  Status Topology(const TenantScope& scope, std::vector<TopologyEntry>* entries) override {
    ++other;
    return inner_->Topology(scope, entries);
  }
  Status Tenants(const TenantScope& scope, size_t max, std::vector<std::string>* out) override {
    ++other;
    return inner_->Tenants(scope, max, out);
  }
  Status Tip(const TenantScope& scope, const std::string& node,
             std::optional<Predecessor>* out) override {
    ++other;
    return inner_->Tip(scope, node, out);
  }
  void SetInterrupt(const std::atomic<bool>* flag) override { inner_->SetInterrupt(flag); }

 private:
  AuditReader* inner_;
};

struct Store {
  std::unique_ptr<AuditReader> audit;
  std::unique_ptr<StreamReader> sys, api;
  std::unique_ptr<CountingReader> counting;

  explicit Store(const std::string& path) {
    Dsn dsn = ParseDsn("sqlite:///" + path).value();
    EXPECT_TRUE(AuditReader::Open(dsn, &audit).ok());
    EXPECT_TRUE(StreamReader::Open(dsn, StreamKind::kSys, &sys).ok());
    EXPECT_TRUE(StreamReader::Open(dsn, StreamKind::kApi, &api).ok());
    counting = std::make_unique<CountingReader>(audit.get());
  }
  StoreView Stores() { return {counting.get(), sys.get(), api.get(), "", ""}; }

  // answer_verdict false: only the citation lookups touch the store (the round-trip tests).
  Verdict Validate(const Answer& a, std::optional<std::string> tenant = "acme",
                   const CitationLedger* ledger = nullptr, bool answer_verdict = true) {
    CitationCheckOptions o;
    o.ledger = ledger;
    o.answer_verdict = answer_verdict;
    Verdict v;
    ValidateAnswer(test_support::TestScopes::Of(tenant), a, Stores(), o, &v);
    return v;
  }

  AuditRow AuditRowWhere(const std::string& request_id, const std::string& code) {
    AuditQuery q;
    q.request_id = request_id;
    q.code = code;
    q.limit = 10;
    AuditPage page;
    EXPECT_TRUE(audit->Query(test_support::TestScopes::AllTenants(), q, &page).ok());
    EXPECT_EQ(page.rows.size(), 1u) << code;
    return page.rows.empty() ? AuditRow() : page.rows[0];
  }
  StreamRow SysRow(const std::string& event) {
    StreamQuery q;
    q.request_id = "3a7b1c9e4d20";
    q.event = event;
    q.limit = 10;
    StreamPage page;
    EXPECT_TRUE(sys->Query(test_support::TestScopes::AllTenants(), q, &page).ok());
    EXPECT_FALSE(page.rows.empty()) << event;
    return page.rows.empty() ? StreamRow() : page.rows.back();
  }
  IntegrityVerdict Compute(const IntegrityScope& scope,
                           std::optional<std::string> tenant = "acme") {
    IntegrityVerdict v;
    Status st =
        ComputeIntegrityVerdict(audit.get(), test_support::TestScopes::Of(tenant), scope, &v);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return v;
  }
  StreamRow ApiRow(const std::string& request_id, int64_t status) {
    StreamQuery q;
    q.request_id = request_id;
    q.status = status;
    q.limit = 10;
    StreamPage page;
    EXPECT_TRUE(api->Query(test_support::TestScopes::AllTenants(), q, &page).ok());
    EXPECT_FALSE(page.rows.empty());
    return page.rows.empty() ? StreamRow() : page.rows.back();
  }
};

Citation Cite(const AuditRow& r) {
  return {CitationStream::kAudit, r.monotonic_seq, r.hash};
}
Citation Cite(const StreamRow& r) {
  return {r.kind == StreamKind::kApi ? CitationStream::kApi : CitationStream::kSys, r.seq,
          StreamContentDigest(r.payload).hex};
}

// The reason codes of a verdict, flattened in order.
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

class Citations : public ::testing::Test {
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
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Path(const char* name) { return dir_->File(name); }

  // A copy of the demo store (made once) without the row before the refund's REFUND_ROLLED_BACK
  // row (*rolled, as it was read before the deletion): that row's link is broken.
  static std::string DeleteRolledBacksPredecessor(AuditRow* rolled) {
    const std::string copy = Path("deleted-predecessor.db");
    std::filesystem::copy_file(Path("demo.db"), copy,
                               std::filesystem::copy_options::overwrite_existing);
    {
      Store store(copy);
      *rolled = store.AuditRowWhere("3a7b1c9e4d20", "REFUND_ROLLED_BACK");
    }
    EXPECT_NE(rolled->prev_hash, "genesis");
    testing::ExecSql(copy,
                     "DELETE FROM audit_log WHERE hash = " + testing::Quote(rolled->prev_hash));
    return copy;
  }

  // The correct answer about the refund incident, and the ledger of a run that showed its rows.
  void RefundAnswer(Store& store, Answer* a, CitationLedger* ledger) {
    AuditRow rolled = store.AuditRowWhere("3a7b1c9e4d20", "REFUND_ROLLED_BACK");
    AuditRow requested = store.AuditRowWhere("3a7b1c9e4d20", "REFUND_REQUESTED");
    StreamRow webhook = store.ApiRow("3a7b1c9e4d20", 502);
    a->claims = {{"Refund request 3a7b1c9e4d20 was rolled back (REFUND_ROLLED_BACK) after Stripe "
                  "returned HTTP 502 three times.",
                  {Cite(rolled)}},
                 {"The Stripe webhook POST /v1/webhooks/stripe/refund answered 502 at 14:32 UTC on "
                  "2026-11-20.",
                  {Cite(webhook)}},
                 {"alice requested refund rf_5T2x9 for order ord-88412 (`REFUND_REQUESTED`).",
                  {Cite(requested)}}};
    for (const Claim& c : a->claims) {
      for (const Citation& x : c.citations) ledger->Add(x.stream, x.seq, x.hash);
    }
  }

  static TempDir* dir_;
};
TempDir* Citations::dir_ = nullptr;

TEST_F(Citations, TheRefundIncidentAnsweredWithCorrectCitationsIsAccepted) {
  Store store(Path("demo.db"));
  Answer a;
  CitationLedger ledger;
  RefundAnswer(store, &a, &ledger);
  Verdict v = store.Validate(a, "acme", &ledger);
  EXPECT_TRUE(v.error.ok()) << v.error.message();
  EXPECT_TRUE(v.accepted) << RepairText(v);
  EXPECT_EQ(Reasons(v), std::vector<std::string>{});
  EXPECT_EQ(v.citations_ok, 3);
  EXPECT_EQ(v.claims[0].citations[0].integrity, "verified");
  // Every quoted value was found, and only those.
  EXPECT_EQ(v.claims[0].grounded,
            (std::vector<std::string>{"3a7b1c9e4d20", "REFUND_ROLLED_BACK", "502"}));
  EXPECT_EQ(v.claims[1].grounded.size(), 4u);  // path, 502, 14:32, the date
  json j = VerdictJson(v);
  EXPECT_TRUE(j["accepted"].get<bool>());
  EXPECT_FALSE(j.contains("repair"));
  EXPECT_EQ(j["summary"]["citations_ok"], 3);
  EXPECT_EQ(j["checks"].back(), "ledger");
  // The same answer from an external agent (no ledger) and in all-tenants mode.
  EXPECT_TRUE(store.Validate(a).accepted);
  EXPECT_TRUE(store.Validate(a, std::nullopt).accepted);
}

TEST_F(Citations, AFabricatedHashIsNotFound) {
  Store store(Path("demo.db"));
  AuditRow rolled = store.AuditRowWhere("3a7b1c9e4d20", "REFUND_ROLLED_BACK");
  Answer a{{{"Refund 3a7b1c9e4d20 was rolled back.",
             {{CitationStream::kAudit, rolled.monotonic_seq, std::string(64, 'd')}}}}};
  Verdict v = store.Validate(a);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(Reasons(v), std::vector<std::string>{"not_found"});
  EXPECT_TRUE(v.claims[0].citations[0].row_summary.empty());
  // A fabricated digest of a real stream row is a mismatch of that row's content.
  StreamRow webhook = store.ApiRow("3a7b1c9e4d20", 502);
  Answer b{{{"Stripe answered 502.", {{CitationStream::kApi, webhook.seq, std::string(64, 'e')}}}}};
  EXPECT_EQ(Reasons(store.Validate(b)), std::vector<std::string>{"hash_mismatch"});
  // A stream seq that does not exist.
  Answer c{{{"x", {{CitationStream::kSys, 99999999, std::string(64, 'e')}}}}};
  EXPECT_EQ(Reasons(store.Validate(c)), std::vector<std::string>{"not_found"});
  // Malformed citations never reach the store.
  Answer d{
      {{"x",
        {{CitationStream::kAudit, 0, std::string(64, 'a')}, {CitationStream::kAudit, 5, "ABC"}}}}};
  Verdict vd = store.Validate(d);
  EXPECT_EQ(Reasons(vd), (std::vector<std::string>{"malformed", "malformed"}));
  EXPECT_EQ(vd.store_round_trips, 0);
}

TEST_F(Citations, ARealRowNeverShownToTheModelIsNotShown) {
  Store store(Path("demo.db"));
  Answer a;
  CitationLedger ledger;
  RefundAnswer(store, &a, &ledger);
  CitationLedger partial;
  const Citation& skipped = a.claims[0].citations[0];
  for (const Claim& c : a.claims) {
    for (const Citation& x : c.citations) {
      if (&x != &skipped) partial.Add(x.stream, x.seq, x.hash);
    }
  }
  Verdict v = store.Validate(a, "acme", &partial);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(Reasons(v), std::vector<std::string>{"not_shown"});
  EXPECT_FALSE(v.claims[0].ok);
  EXPECT_TRUE(v.claims[1].ok);
  // Without a ledger (an external answer) the same row passes.
  EXPECT_TRUE(store.Validate(a).accepted);
}

TEST_F(Citations, AnotherTenantsRowReadsExactlyLikeARowThatDoesNotExist) {
  const std::string copy = Path("without-row.db");
  std::filesystem::copy_file(Path("demo.db"), copy,
                             std::filesystem::copy_options::overwrite_existing);
  Store store(Path("demo.db"));
  AuditQuery q;
  q.code = "CONFIG_NODE_UPDATED";
  q.limit = 1;
  AuditPage page;
  ASSERT_TRUE(store.audit->Query(test_support::TestScopes::Tenant("globex"), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  const AuditRow foreign = page.rows[0];
  ASSERT_TRUE(foreign.sealed());
  testing::ExecSql(copy, "DELETE FROM audit_log WHERE id = " + testing::Quote(foreign.id));
  Store without(copy);

  Answer a{{{"CONFIG_NODE_UPDATED lowered the MQTT QoS.", {Cite(foreign)}}}};
  Verdict as_acme = store.Validate(a, "acme");
  Verdict missing = without.Validate(a, "acme");
  EXPECT_EQ(Reasons(as_acme), std::vector<std::string>{"not_found"});
  EXPECT_EQ(VerdictJson(as_acme), VerdictJson(missing));
  EXPECT_EQ(VerdictJson(as_acme).dump().find("globex"), std::string::npos);
  // globex itself may cite it.
  EXPECT_TRUE(store.Validate(a, "globex").accepted) << RepairText(store.Validate(a, "globex"));

  // The same for a stream row: a globex api row cited by acme.
  StreamQuery sq;
  sq.limit = 1;
  StreamPage sp;
  ASSERT_TRUE(store.api->Query(test_support::TestScopes::Tenant("globex"), sq, &sp).ok());
  ASSERT_EQ(sp.rows.size(), 1u);
  Answer b{{{"a request", {Cite(sp.rows[0])}}}};
  testing::ExecSql(copy, "DELETE FROM api_log WHERE seq = " + std::to_string(sp.rows[0].seq));
  Store without2(copy);
  EXPECT_EQ(VerdictJson(store.Validate(b)), VerdictJson(without2.Validate(b)));
  EXPECT_EQ(Reasons(store.Validate(b)), std::vector<std::string>{"not_found"});
}

TEST_F(Citations, ARowOfTheTamperedStoreDoesNotRecompute) {
  Store store(Path("tampered.db"));
  AuditRow rolled = store.AuditRowWhere("3a7b1c9e4d20", "REFUND_ROLLED_BACK");
  Answer a{{{"Refund request 3a7b1c9e4d20 was rolled back (REFUND_ROLLED_BACK).", {Cite(rolled)}}}};
  Verdict v = store.Validate(a);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(Reasons(v), std::vector<std::string>{"hash_mismatch"});
  EXPECT_EQ(v.claims[0].citations[0].integrity, "hash mismatch");
  EXPECT_FALSE(v.claims[0].citations[0].row_summary.empty());
  // Its neighbour rows are intact.
  AuditRow requested = store.AuditRowWhere("3a7b1c9e4d20", "REFUND_REQUESTED");
  Answer b{{{"alice requested a refund.", {Cite(requested)}}}};
  EXPECT_TRUE(store.Validate(b).accepted);
}

TEST_F(Citations, ARowWhosePredecessorWasDeletedBreaksTheChain) {
  AuditRow rolled;
  const std::string copy = DeleteRolledBacksPredecessor(&rolled);
  Store store(copy);
  Answer a{{{"Refund request 3a7b1c9e4d20 was rolled back.", {Cite(rolled)}}}};
  Verdict v = store.Validate(a, "acme", nullptr, /*answer_verdict=*/false);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(Reasons(v), std::vector<std::string>{"chain_break"});
  EXPECT_EQ(v.claims[0].citations[0].integrity, "verified");  // the row itself is intact
  EXPECT_EQ(store.counting->predecessor, 1);  // the batch missed, the nearest row decided
}

TEST_F(Citations, AnUncitedClaimAndAnEmptyAnswerAreRejected) {
  Store store(Path("demo.db"));
  Answer a;
  CitationLedger ledger;
  RefundAnswer(store, &a, &ledger);
  a.claims.push_back(
      {"The outage was caused by a bad deploy.", {}, IntegrityPolarity::kNone, std::nullopt});
  Verdict v = store.Validate(a);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(Reasons(v), std::vector<std::string>{"uncited"});
  EXPECT_EQ(v.claims_ok, 3);
  Verdict empty = store.Validate(Answer{});
  EXPECT_FALSE(empty.accepted);
  EXPECT_EQ(Reasons(empty), std::vector<std::string>{"no_claims"});
}

TEST_F(Citations, AQuotedStatusCodeThatIsNotInTheCitedRowIsUngrounded) {
  Store store(Path("demo.db"));
  StreamRow webhook = store.ApiRow("3a7b1c9e4d20", 502);
  Answer a{{{"The Stripe webhook returned HTTP 503 for request 3a7b1c9e4d20.", {Cite(webhook)}}}};
  Verdict v = store.Validate(a);
  EXPECT_FALSE(v.accepted);
  ASSERT_EQ(Reasons(v), std::vector<std::string>{"ungrounded"});
  const CitationProblem& p = v.claims[0].problems[0];
  EXPECT_EQ(p.value, "503");
  EXPECT_NE(p.message.find("value \"503\" (status code) not in cited rows"), std::string::npos)
      << p.message;
  EXPECT_NE(p.message.find("502"), std::string::npos) << p.message;  // the hint
  EXPECT_NE(RepairText(v).find("503"), std::string::npos);
  // Other quoted values that are not in the row: a code, a request id, a time, a literal.
  Answer b{{{"REFUND_FAILED for 3a7b1c9e4d21 at 15:10, see `no such text`.", {Cite(webhook)}}}};
  Verdict vb = store.Validate(b);
  std::vector<std::string> values;
  for (const auto& q : vb.claims[0].problems) values.push_back(q.value);
  EXPECT_EQ(values,
            (std::vector<std::string>{"no such text", "REFUND_FAILED", "3a7b1c9e4d21", "15:10"}));
}

TEST_F(Citations, TwentyAuditCitationsAreOneBatchedLookupPlusOneForTheirLinks) {
  Store store(Path("demo.db"));
  AuditQuery q;
  q.limit = 60;
  AuditPage page;
  ASSERT_TRUE(store.audit->Query(test_support::TestScopes::Tenant("acme"), q, &page).ok());
  Answer a;
  for (const AuditRow& r : page.rows) {
    if (!r.sealed() || a.claims.size() == 20) continue;
    a.claims.push_back(
        {"Row " + r.code + " was written.", {Cite(r)}, IntegrityPolarity::kNone, std::nullopt});
  }
  ASSERT_EQ(a.claims.size(), 20u);
  Verdict v = store.Validate(a, "acme", nullptr, /*answer_verdict=*/false);
  EXPECT_TRUE(v.accepted) << RepairText(v);
  EXPECT_EQ(store.counting->batch, 1);
  EXPECT_EQ(store.counting->predecessor, 0);
  EXPECT_EQ(store.counting->total(), 1);
  EXPECT_EQ(v.store_round_trips, 1);

  // Twenty consecutive rows from the start of one node's chain: their links are all at hand,
  // so the whole answer is one round trip.
  AuditRow first = store.AuditRowWhere("3a7b1c9e4d20", "REFUND_REQUESTED");
  std::vector<AuditRow> chain;
  ASSERT_TRUE(store.audit
                  ->Scan(test_support::TestScopes::AllTenants(),
                         {first.source_node_id, 1, 20, ScanRange::Order::kSeq},
                         [&](AuditRow& r) {
                           chain.push_back(r);
                           return true;
                         })
                  .ok());
  ASSERT_EQ(chain.size(), 20u);
  Answer b;
  for (const AuditRow& r : chain)
    b.claims.push_back({"A row.", {Cite(r)}, IntegrityPolarity::kNone, std::nullopt});
  Store fresh(Path("demo.db"));
  Verdict vb = fresh.Validate(b, std::nullopt, nullptr, /*answer_verdict=*/false);
  EXPECT_TRUE(vb.accepted) << RepairText(vb);
  EXPECT_EQ(fresh.counting->total(), 1);
}

TEST_F(Citations, AStoreErrorIsNeverAnAcceptance) {
  Store store(Path("demo.db"));
  Answer a;
  CitationLedger ledger;
  RefundAnswer(store, &a, &ledger);
  store.counting->fail_with = UnavailableError("connection lost");
  Verdict v = store.Validate(a);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.error.code(), StatusCode::kUnavailable);
  json j = VerdictJson(v);
  EXPECT_FALSE(j["accepted"].get<bool>());
  EXPECT_EQ(j["error"], "connection lost");
  // A stream without a store cannot be checked either.
  Store no_streams(Path("demo.db"));
  StoreView s{no_streams.counting.get(), nullptr, nullptr, "no syslog table", "no table"};
  Verdict vs;
  ValidateAnswer(test_support::TestScopes::Tenant("acme"), a, s, CitationCheckOptions{nullptr},
                 &vs);
  EXPECT_FALSE(vs.accepted);
  EXPECT_EQ(vs.error.code(), StatusCode::kFailedPrecondition);
}

TEST(CitationAnswer, ParsesSubmitAnswerAndRejectsStrayMembers) {
  Answer a;
  ASSERT_TRUE(ParseAnswer(json::parse(R"({"answer": "prose", "unknowns": [],
      "claims": [{"text": "t", "citations": [{"stream": "sys", "seq": 3, "hash": "ab"}]}]})"),
                          &a)
                  .ok());
  ASSERT_EQ(a.claims.size(), 1u);
  EXPECT_EQ(a.claims[0].citations[0].stream, CitationStream::kSys);
  EXPECT_EQ(a.claims[0].citations[0].seq, 3);
  for (
      const char* bad :
      {R"([])", R"({"claims": {}})", R"({"claims": [], "tenant_id": "globex"})",
       R"({"claims": [{"text": 1, "citations": []}]})",
       R"({"claims": [{"text": "t", "citations": [{"stream": "db", "seq": 1, "hash": "a"}]}]})",
       R"({"claims": [{"text": "t", "citations": [{"stream": "audit", "seq": 1.5, "hash": "a"}]}]})",
       R"({"claims": [{"text": "t", "kind": "x", "citations": []}]})"}) {
    EXPECT_EQ(ParseAnswer(json::parse(bad), &a).code(), StatusCode::kInvalidArgument) << bad;
  }
}

std::vector<std::pair<std::string, std::string>> Tokens(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const GroundingToken& t : ExtractGroundingTokens(text)) {
    out.emplace_back(GroundingKindName(t.kind), t.text);
  }
  return out;
}

using TokenList = std::vector<std::pair<std::string, std::string>>;

TEST(GroundingTokens, FindsWhatLooksCopiedFromARow) {
  EXPECT_EQ(Tokens("Request 3a7b1c9e4d20 got HTTP 502 from /v1/webhooks/stripe/refund; "
                   "REFUND_ROLLED_BACK at 2026-11-20T14:32:31.106Z (seq 812)."),
            (TokenList{{"hex id", "3a7b1c9e4d20"},
                       {"status code", "502"},
                       {"path", "/v1/webhooks/stripe/refund"},
                       {"code", "REFUND_ROLLED_BACK"},
                       {"timestamp", "2026-11-20T14:32:31.106Z"},
                       {"seq", "812"}}));
  EXPECT_EQ(Tokens("refund rf_5T2x9 on order/ord-88412 by edge-eu-1, a 503 error, `x y`"),
            (TokenList{{"literal", "x y"},
                       {"identifier", "rf_5T2x9"},
                       {"identifier", "ord-88412"},
                       {"identifier", "edge-eu-1"},
                       {"status code", "503"}}));
  EXPECT_EQ(Tokens("at 14:32 UTC on 2026-11-20, then 2026-11-20 14:33:05"),
            (TokenList{{"time of day", "14:32"},
                       {"timestamp", "2026-11-20"},
                       {"timestamp", "2026-11-20 14:33:05"}}));
}

TEST(GroundingTokens, LeavesProseCountsAndTechnicalTermsAlone) {
  EXPECT_EQ(Tokens("Within a 30-minute window the service took 250 ms, returned 200 rows, "
                   "retried 3 times over utf-8 and SHA-256; HTTP is fine; ratio 3:1; deadbeef."),
            TokenList{});
  EXPECT_EQ(Tokens("The refund failed because the payment provider was down."), TokenList{});
}

TEST(GroundingTokens, TimePrecisionIsTheQuotedOne) {
  std::vector<GroundingToken> t =
      ExtractGroundingTokens("2026-11-20T14:32Z 14:32:05.1 09:00+02:00");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].to - t[0].from, 60 * 1000000);
  EXPECT_EQ(t[1].kind, GroundingKind::kTimeOfDay);
  EXPECT_EQ(t[1].from, (14 * 3600 + 32 * 60 + 5) * 1000000LL + 100000);
  EXPECT_EQ(t[1].to - t[1].from, 100000);
  EXPECT_EQ(t[2].from, 7 * 3600 * 1000000LL);  // converted to UTC
}

// ---------------------------------------------------------------------------------------------
// Integrity (issue 13): the verdict (validator/integrity_verdict.h) and claims marked with
// integrity, on the demo store and its tampered twin (seq 1239 on edge-us-1, the refund's
// REFUND_ROLLED_BACK row, altered after sealing).

constexpr char kRefund[] = "3a7b1c9e4d20";

Micros T(const char* text) {
  Micros t = 0;
  EXPECT_TRUE(ParseTimestamp(text, &t)) << text;
  return t;
}

std::string AllMessages(const Verdict& v) {
  return RepairText(v);
}

Claim Marked(std::string text, std::vector<Citation> cites, IntegrityPolarity p,
             std::optional<ClaimScope> scope = std::nullopt) {
  return Claim(std::move(text), std::move(cites), p, std::move(scope));
}

// The refund window of the issue: 14:32 ± 30 min.
IntegrityScope RefundWindow() {
  return {T("2026-11-20T14:02:00Z"), T("2026-11-20T15:03:00Z"), {}};
}

// ---------------------------------------------------------------------------------------------
// The verdict itself.

TEST_F(Citations, IntegrityCleanStoreIsOkOnEveryNodeWithRowsInTheWindow) {
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

TEST_F(Citations, IntegrityTamperedStoreBreaksOnEdgeUs1AtSeq1239) {
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

TEST_F(Citations, IntegrityAgreesWithVerifyOfTheSameTimeWindow) {
  for (const char* file : {"demo.db", "tampered.db"}) {
    Store store(Path(file));
    IntegrityScope scope = RefundWindow();
    IntegrityVerdict v = store.Compute(scope, std::nullopt);
    VerifyStoreOptions o;
    o.since = scope.since;
    o.until = scope.until;
    o.threads = 1;
    VerifyStoreResult r;
    ASSERT_TRUE(VerifyStore(test_support::TestScopes::AllTenants(), store.audit.get(), o, &r).ok());
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

TEST_F(Citations, IntegrityAnotherTenantNeverSeesTheBreakInARowItCannotSee) {
  // seq 1239 is acme's row: globex's verdict over the same hour neither names nor counts it (its
  // own rows link to their stored predecessors), so nothing about acme leaks.
  Store store(Path("tampered.db"));
  IntegrityVerdict v = store.Compute(RefundWindow(), "globex");
  EXPECT_EQ(v.line.find("1239"), std::string::npos) << v.line;
  EXPECT_EQ(IntegrityVerdictJson(v).dump().find("evt-77749972c91d3ae94f39"), std::string::npos);
}

TEST_F(Citations, IntegrityListedNodesOnlyAndAListedNodeWithoutRowsIsNotOk) {
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

TEST_F(Citations, IntegrityAWindowTooLargeToVerifyIsNotVerifiedAndNotOk) {
  Store store(Path("demo.db"));
  IntegrityVerdict v;
  ASSERT_TRUE(ComputeIntegrityVerdict(store.audit.get(), test_support::TestScopes::Tenant("acme"),
                                      RefundWindow(), &v,
                                      /*max_seqs=*/50)
                  .ok());
  EXPECT_TRUE(v.too_large);
  EXPECT_FALSE(v.ok);
  EXPECT_TRUE(v.nodes.empty());
  EXPECT_GT(v.window_seqs, 50);
  EXPECT_EQ(v.line.rfind("doctor: window 14:02–15:03Z spans ", 0), 0u) << v.line;
  EXPECT_NE(v.line.find("more than the 50 an answer's verdict verifies · not verified (run "
                        "fasten-mcp verify --since 2026-11-20T14:02:00.000000Z"),
            std::string::npos)
      << v.line;
  // With the default bound the same window is verified.
  EXPECT_FALSE(store.Compute(RefundWindow()).too_large);
}

TEST_F(Citations, IntegrityAWindowWithoutRowsVerifiesNothingAndIsNotOk) {
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

TEST_F(Citations, IntegrityTheNoTamperingLieIsContradictedWhateverRowItCites) {
  Store store(Path("tampered.db"));
  // The issue's lie: an unrelated sys row at 14:32, then a row of the clean node in the window.
  const std::vector<Citation> citations = {Cite(store.SysRow("refund_initiated")),
                                           Cite(store.AuditRowWhere(kRefund, "REFUND_REQUESTED"))};
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

TEST_F(Citations, IntegrityTheHonestTamperedClaimMayCiteTheRowThatFails) {
  Store store(Path("tampered.db"));
  AuditRow rolled = store.AuditRowWhere(kRefund, "REFUND_ROLLED_BACK");
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

TEST_F(Citations, IntegrityATamperedClaimCitingARowThatVerifiesIsContradicted) {
  for (const char* file : {"demo.db", "tampered.db"}) {
    Store store(Path(file));
    AuditRow row = store.AuditRowWhere(
        kRefund, std::string(file) == "demo.db" ? "REFUND_ROLLED_BACK" : "REFUND_REQUESTED");
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

TEST_F(Citations, IntegrityATamperedRowStillHasToBeVisibleAndShown) {
  Store store(Path("tampered.db"));
  AuditRow rolled = store.AuditRowWhere(kRefund, "REFUND_ROLLED_BACK");
  Answer a(
      {Marked("Audit row seq 1239 was altered", {Cite(rolled)}, IntegrityPolarity::kTampered)});
  CitationLedger ledger;  // shown nothing
  EXPECT_EQ(Reasons(store.Validate(a, "acme", &ledger)), std::vector<std::string>{"not_shown"});
  // Another tenant cannot use acme's broken row (nor learn that it exists).
  Verdict g = store.Validate(a, "globex");
  EXPECT_EQ(Reasons(g), std::vector<std::string>{"not_found"});
  EXPECT_EQ(RepairText(g).find("hash mismatch"), std::string::npos);
}

TEST_F(Citations, IntegrityAMissingPredecessorIsTamperEvidence) {
  AuditRow rolled;
  const std::string copy = DeleteRolledBacksPredecessor(&rolled);
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

TEST_F(Citations, IntegrityAnIntactClaimOnTheCleanStoreIsAcceptedWithTheOkLine) {
  Store store(Path("demo.db"));
  AuditRow rolled = store.AuditRowWhere(kRefund, "REFUND_ROLLED_BACK");
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

TEST_F(Citations, IntegrityUnmarkedAndConflictingStatementsAreIntegrityUnmarked) {
  Store store(Path("demo.db"));
  AuditRow rolled = store.AuditRowWhere(kRefund, "REFUND_ROLLED_BACK");
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

TEST_F(Citations, IntegrityANarrowedScopeIsSaidAndDoesNotBackTheWholeAnswer) {
  Store store(Path("tampered.db"));
  AuditRow requested = store.AuditRowWhere(kRefund, "REFUND_REQUESTED");
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

TEST_F(Citations, IntegrityAStatedWindowIsTheAnswersWindow) {
  Store store(Path("demo.db"));
  AuditRow rolled = store.AuditRowWhere(kRefund, "REFUND_ROLLED_BACK");
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
  // A stated window that stops short of the cited rows' surroundings is widened to them: the
  // break at 14:32:32 next to the cited 14:32:01 row stays in the doctor line.
  Store tampered(Path("tampered.db"));
  Answer narrow({Claim("REFUND_REQUESTED was written at 14:32",
                       {Cite(tampered.AuditRowWhere(kRefund, "REFUND_REQUESTED"))})});
  narrow.window = std::make_pair(T("2026-11-20T14:33:00Z"), T("2026-11-20T15:00:00Z"));
  Verdict vn = tampered.Validate(narrow);
  ASSERT_TRUE(vn.integrity.has_value());
  EXPECT_EQ(vn.integrity->basis, "stated window, widened to the cited rows ± 30 min");
  EXPECT_EQ(vn.integrity->line.rfind("doctor: BREAK on edge-us-1 at seq 1239", 0), 0u)
      << vn.integrity->line;
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
