// The citation validator on the demo store: the refund incident answered correctly, and every
// way an answer can be wrong rejected with its reason code; grounding token rules; round trips.
#include "validator/citations.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "app/demo_store.h"
#include "store/reader.h"
#include "test_store.h"
#include "validator/digest.h"

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
  Status Scan(const ScanRange& range, const std::function<bool(AuditRow&)>& on_row) override {
    ++other;
    return inner_->Scan(range, on_row);
  }
  Status Query(const AuditQuery& query, AuditPage* page) override {
    ++other;
    return inner_->Query(query, page);
  }
  Status FindPredecessor(const std::string& node, int64_t seq,
                         std::optional<Predecessor>* out) override {
    ++predecessor;
    if (!fail_with.ok()) return fail_with;
    return inner_->FindPredecessor(node, seq, out);
  }
  Status CountRows(int64_t* out) override {
    ++other;
    return inner_->CountRows(out);
  }
  Status SeqSpans(const SeqSpanQuery& query, std::vector<NodeSeqSpan>* out) override {
    ++other;
    return inner_->SeqSpans(query, out);
  }
  Status FindBySeqHash(int64_t seq, const std::string& hash, std::vector<AuditRow>* out) override {
    ++other;
    return inner_->FindBySeqHash(seq, hash, out);
  }
  Status FindBySeqHashBatch(const std::vector<std::pair<int64_t, std::string>>& pairs,
                            std::vector<AuditRow>* out) override {
    ++batch;
    if (!fail_with.ok()) return fail_with;
    return inner_->FindBySeqHashBatch(pairs, out);
  }
  Status FindBySeqHashBatchWithLinks(const std::vector<std::pair<int64_t, std::string>>& pairs,
                                     std::vector<AuditRow>* out,
                                     std::vector<AuditRow>* links) override {
    ++batch;
    if (!fail_with.ok()) return fail_with;
    return inner_->FindBySeqHashBatchWithLinks(pairs, out, links);
  }
  Status FindNeighbours(const std::string& node, int64_t seq, std::optional<AuditRow>* prev,
                        std::optional<AuditRow>* next) override {
    ++other;
    return inner_->FindNeighbours(node, seq, prev, next);
  }
  Status Topology(const std::optional<std::string>& tenant,
                  std::vector<TopologyEntry>* entries) override {
    ++other;
    return inner_->Topology(tenant, entries);
  }
  Status Tenants(size_t max, std::vector<std::string>* out) override {
    ++other;
    return inner_->Tenants(max, out);
  }
  Status Tip(const std::string& node, const std::optional<std::string>& tenant,
             std::optional<Predecessor>* out) override {
    ++other;
    return inner_->Tip(node, tenant, out);
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
  CitationStores Stores() { return {counting.get(), sys.get(), api.get(), "", ""}; }

  // answer_verdict false: only the citation lookups touch the store (the round-trip tests).
  Verdict Validate(const Answer& a, std::optional<std::string> tenant = "acme",
                   const CitationLedger* ledger = nullptr, bool answer_verdict = true) {
    CitationCheckOptions o;
    o.tenant = std::move(tenant);
    o.ledger = ledger;
    o.answer_verdict = answer_verdict;
    Verdict v;
    ValidateAnswer(a, Stores(), o, &v);
    return v;
  }

  AuditRow AuditRowWhere(const std::string& request_id, const std::string& code) {
    AuditQuery q;
    q.request_id = request_id;
    q.code = code;
    q.limit = 10;
    AuditPage page;
    EXPECT_TRUE(audit->Query(q, &page).ok());
    EXPECT_EQ(page.rows.size(), 1u) << code;
    return page.rows.empty() ? AuditRow() : page.rows[0];
  }
  StreamRow ApiRow(const std::string& request_id, int64_t status) {
    StreamQuery q;
    q.request_id = request_id;
    q.status = status;
    q.limit = 10;
    StreamPage page;
    EXPECT_TRUE(api->Query(q, &page).ok());
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
  q.tenant_id = "globex";
  q.code = "CONFIG_NODE_UPDATED";
  q.limit = 1;
  AuditPage page;
  ASSERT_TRUE(store.audit->Query(q, &page).ok());
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
  sq.tenant_id = "globex";
  sq.limit = 1;
  StreamPage sp;
  ASSERT_TRUE(store.api->Query(sq, &sp).ok());
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
  const std::string copy = Path("deleted-predecessor.db");
  std::filesystem::copy_file(Path("demo.db"), copy,
                             std::filesystem::copy_options::overwrite_existing);
  AuditRow rolled;
  {
    Store store(copy);
    rolled = store.AuditRowWhere("3a7b1c9e4d20", "REFUND_ROLLED_BACK");
  }
  ASSERT_NE(rolled.prev_hash, "genesis");
  testing::ExecSql(copy, "DELETE FROM audit_log WHERE hash = " + testing::Quote(rolled.prev_hash));
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
  q.tenant_id = "acme";
  q.limit = 60;
  AuditPage page;
  ASSERT_TRUE(store.audit->Query(q, &page).ok());
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
                  ->Scan({first.source_node_id, 1, 20, ScanRange::Order::kSeq},
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
  CitationStores s{no_streams.counting.get(), nullptr, nullptr, "no syslog table", "no table"};
  Verdict vs;
  ValidateAnswer(a, s, CitationCheckOptions{"acme", nullptr}, &vs);
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

}  // namespace
}  // namespace fasten
