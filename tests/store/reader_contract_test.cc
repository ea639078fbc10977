// One contract suite for every reader backend: SQLite, Postgres with TEXT timestamps, and
// Postgres with TIMESTAMPTZ timestamps. Each test builds its store through StoreBackend with the
// writers' DDL in that backend's dialect, then checks the reader through the abstract interface.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "store/index_advice.h"
#include "store/query_plan.h"
#include "store/reader.h"
#include "store/request_id.h"
#include "support/store_backend.h"
#include "support/test_scopes.h"
#include "support/visibility_cases.h"
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

using testing::BackendParam;
using testing::Chain;
using testing::MakeRow;
using testing::Seal;
using testing::StoreBackend;

class ReaderContract : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override { store_ = StoreBackend::Create(GetParam()); }

  std::unique_ptr<AuditReader> OpenAudit(const std::string& query = "") {
    Result<Dsn> dsn = ParseDsn(store_->Dsn(query));
    EXPECT_TRUE(dsn.ok()) << dsn.status().ToString();
    std::unique_ptr<AuditReader> reader;
    if (!dsn.ok()) return reader;
    Status st = AuditReader::Open(*dsn, &reader);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return reader;
  }
  Status OpenStatus(const std::string& query = "") {
    Result<Dsn> dsn = ParseDsn(store_->Dsn(query));
    if (!dsn.ok()) return dsn.status();
    std::unique_ptr<AuditReader> reader;
    return AuditReader::Open(*dsn, &reader);
  }
  std::unique_ptr<StreamReader> OpenStream(StreamKind kind, Status* status = nullptr) {
    Result<Dsn> dsn = ParseDsn(store_->Dsn());
    std::unique_ptr<StreamReader> reader;
    Status st = StreamReader::Open(*dsn, kind, &reader);
    if (status)
      *status = st;
    else
      EXPECT_TRUE(st.ok()) << st.ToString();
    return reader;
  }
  bool postgres() const { return GetParam().postgres; }

  std::unique_ptr<StoreBackend> store_;
};

VerifyReport VerifyAll(AuditReader* reader, ScanRange::Order order = ScanRange::Order::kPhysical) {
  ChainVerifier v;
  ScanRange range;
  range.order = order;
  Status st = reader->Scan(AllScope(), range, [&](const AuditRow& r) {
    v.Add(r);
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return v.Finish();
}

TEST_P(ReaderContract, MissingTableListsWhatIsThere) {
  store_->Exec("CREATE TABLE something_else (x INTEGER);");
  Status st = OpenStatus();
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find("audit_log"), std::string::npos);
  EXPECT_NE(st.message().find("fasten_audit"), std::string::npos);
  EXPECT_NE(st.message().find("something_else"), std::string::npos);
  st = OpenStatus("?table=nope");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
}

TEST_P(ReaderContract, NotAnAuditTableIsRefused) {
  store_->Exec("CREATE TABLE audit_log (id TEXT, x INTEGER);");
  Status st = OpenStatus();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("monotonic_seq"), std::string::npos);
}

TEST_P(ReaderContract, FallsBackToTheGoDefaultTable) {
  store_->Exec(store_->SpecDdl("fasten_audit"));
  store_->Insert("fasten_audit", Chain("n", 3));
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->profile().table, "fasten_audit");
  EXPECT_TRUE(reader->profile().table_fallback);
  EXPECT_TRUE(VerifyAll(reader.get()).ok);
}

TEST_P(ReaderContract, ReadsEveryWritersColumnSet) {
  store_->Exec(store_->SpecDdl("spec") + store_->PythonNewestDdl("py") +
               store_->CppHeaderDdl("cpp") + store_->OlderGoDdl("oldgo"));
  store_->Insert("spec", Chain("n", 6, true));
  store_->Insert("py", Chain("n", 6, true));
  std::vector<AuditRow> unsealed;
  for (int i = 1; i <= 4; ++i) unsealed.push_back(MakeRow("cpp-node", i));
  store_->Insert("cpp", unsealed);
  store_->Insert("oldgo", Chain("n", 5));

  auto spec = OpenAudit("?table=spec");
  ASSERT_TRUE(spec);
  EXPECT_TRUE(spec->profile().missing.empty());
  EXPECT_EQ(spec->profile().timestamp_type, GetParam().timestamptz ? "TIMESTAMPTZ" : "TEXT");
  VerifyReport r = VerifyAll(spec.get());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.valid, 6);

  auto py = OpenAudit("?table=py");
  ASSERT_TRUE(py);
  std::set<std::string> missing(py->profile().missing.begin(), py->profile().missing.end());
  EXPECT_EQ(missing, (std::set<std::string>{"pii_in_detail", "wire_version"}));
  r = VerifyAll(py.get());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.valid, 6);

  auto cpp = OpenAudit("?table=cpp");
  ASSERT_TRUE(cpp);
  EXPECT_EQ(cpp->profile().timestamp_type, "TEXT");  // also in the Postgres header sink
  r = VerifyAll(cpp.get());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.unsealed, 4);
  EXPECT_EQ(r.valid, 0);

  auto go = OpenAudit("?table=oldgo");
  ASSERT_TRUE(go);
  EXPECT_NE(
      std::find(go->profile().missing.begin(), go->profile().missing.end(), "canonical_form_id"),
      go->profile().missing.end());
  r = VerifyAll(go.get(), ScanRange::Order::kSeq);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.valid, 5);
}

TEST_P(ReaderContract, ReadsASchemaQualifiedTable) {
  if (!postgres()) GTEST_SKIP() << "SQLite table names have no schema";
  store_->Exec(store_->SpecDdl("audit.events"));
  store_->Insert("audit.events", Chain("n", 4, true));
  auto reader = OpenAudit("?table=audit.events");
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->profile().table, "audit.events");
  EXPECT_EQ(VerifyAll(reader.get()).valid, 4);
  // A bare name does not find it: `events` is not on the search_path.
  EXPECT_EQ(OpenStatus("?table=events").code(), StatusCode::kNotFound);
}

TEST_P(ReaderContract, TimestampsComeBackAsTheHashedInstant) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 3, true);
  store_->Insert("audit_log", rows);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  AuditQuery q;
  q.request_id = "req-2";
  AuditPage page;
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  // TIMESTAMPTZ reads back in the canonical wire spelling (6 digits, Z); text as stored.
  EXPECT_EQ(page.rows[0].timestamp, rows[1].timestamp);
  EXPECT_EQ(page.rows[0].timestamp_us, rows[1].timestamp_us);
  EXPECT_EQ(page.rows[0].from_timestamptz, GetParam().timestamptz);
}

TEST_P(ReaderContract, MixedTimestampSpellingsVerifyAndSortByInstant) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 5);
  // Re-spell the stored timestamps as different writers do; the hash is over the instant.
  rows[0].timestamp = "2026-06-15T10:00:01.250000+00:00";
  rows[1].timestamp = "2026-06-15T10:00:02.500000123Z";
  rows[2].timestamp = "2026-06-15T10:00:03";
  rows[3].timestamp = "2026-06-15T10:00:04.250Z";
  store_->Insert("audit_log", rows);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  EXPECT_TRUE(VerifyAll(reader.get()).ok);
  AuditQuery q;
  q.limit = 10;
  AuditPage page;
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 5u);
  for (size_t i = 1; i < page.rows.size(); ++i) {
    EXPECT_GT(page.rows[i - 1].timestamp_us, page.rows[i].timestamp_us);
  }
  // A window on instants, exact despite the spellings.
  q.since = rows[1].timestamp_us;
  q.until = rows[3].timestamp_us;
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 3u);
  EXPECT_EQ(page.total_matched, 3);
}

TEST_P(ReaderContract, PagesThroughEveryRowWithoutGapsOrRepeats) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> all;
  for (const char* node : {"a", "B", "c"}) {
    std::vector<AuditRow> c = Chain(node, 40);
    for (auto& r : c) {
      // Many rows share a second and even an instant across nodes.
      r.timestamp = CanonicalTimestamp(r.timestamp_us - (r.timestamp_us % 3000000));
    }
    all.insert(all.end(), c.begin(), c.end());
  }
  store_->Insert("audit_log", all);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  std::set<std::string> seen;
  std::vector<AuditKey> keys;
  AuditQuery q;
  q.limit = 7;
  int pages = 0;
  while (pages < 100) {
    AuditPage page;
    ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
    EXPECT_EQ(page.total_matched, 120);
    for (const AuditRow& r : page.rows) {
      EXPECT_TRUE(seen.insert(r.id).second) << "repeated " << r.id;
      keys.push_back(AuditKey::Of(r));
    }
    ++pages;
    if (!page.has_more) break;
    q.after = AuditKey::Decode(page.next->Encode());
    ASSERT_TRUE(q.after.has_value());
  }
  EXPECT_EQ(seen.size(), 120u);
  EXPECT_EQ(pages, 18);
  for (size_t i = 1; i < keys.size(); ++i) EXPECT_TRUE(AuditKey::Before(keys[i - 1], keys[i]));
}

TEST_P(ReaderContract, FiltersAreBoundNeverInterpolated) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 4);
  rows[2].tenant_id.Set("tenant-b");
  Seal(&rows[2], rows[1].hash);
  store_->Insert("audit_log", rows);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  AuditQuery q;
  q.actor = "alice' OR '1'='1";
  AuditPage page;
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  EXPECT_TRUE(page.rows.empty());
  q = AuditQuery();
  ASSERT_TRUE(reader->Query(Scope("tenant-b"), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].id, rows[2].id);
  ASSERT_TRUE(reader->Query(Scope(""), q, &page).ok());
  EXPECT_TRUE(page.rows.empty());
  q = AuditQuery();
  q.request_id = "req-2";
  q.code = "USER_LOGIN";
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].monotonic_seq, 2);
  std::vector<std::string> tenants;
  ASSERT_TRUE(reader->Tenants(AllScope(), 10, &tenants).ok());
  EXPECT_EQ(std::set<std::string>(tenants.begin(), tenants.end()),
            (std::set<std::string>{"tenant-a", "tenant-b"}));
}

TEST_P(ReaderContract, TextSearchIsCaseInsensitiveLiteralAndFindsEscapedUnicode) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 3);
  rows[1].detail.Set("{\"note\": \"100% Stripe_refund\"}");
  Seal(&rows[1], rows[0].hash);
  rows[2].detail.Set("{\"note\": \"stripeXrefund\"}");
  Seal(&rows[2], rows[1].hash);
  store_->Insert("audit_log", rows);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  auto count = [&](const std::string& term) {
    AuditQuery q;
    q.text = term;
    AuditPage page;
    Status st = reader->Query(AllScope(), q, &page);
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(page.total_matched, static_cast<int64_t>(page.rows.size()));
    return page.rows.size();
  };
  EXPECT_EQ(count("STRIPE_REFUND"), 1u);  // _ is literal: stripeXrefund does not match
  EXPECT_EQ(count("stripexrefund"), 1u);
  EXPECT_EQ(count("100%"), 1u);
  EXPECT_EQ(count("stripe%refund"), 0u);  // % is literal
  EXPECT_EQ(count("José"), 1u);           // stored as Jos\u00e9 (row 1 only now)
}

TEST_P(ReaderContract, FindsThePredecessorTipAndNeighbours) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 6);
  rows[3].hash = "";  // seq 4 unsealed: the predecessor of seq 5 is seq 3
  store_->Insert("audit_log", rows);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  std::optional<Predecessor> p;
  ASSERT_TRUE(reader->FindPredecessor(AllScope(), "n", 5, &p).ok());
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->seq, 3);
  EXPECT_EQ(p->hash, rows[2].hash);
  ASSERT_TRUE(reader->FindPredecessor(AllScope(), "n", 1, &p).ok());
  EXPECT_FALSE(p.has_value());
  ASSERT_TRUE(reader->Tip(AllScope(), "n", &p).ok());
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->seq, 6);
  ASSERT_TRUE(reader->Tip(Scope("other-tenant"), "n", &p).ok());
  EXPECT_FALSE(p.has_value());
  std::optional<AuditRow> prev, next;
  ASSERT_TRUE(reader->FindNeighbours(AllScope(), "n", 3, &prev, &next).ok());
  ASSERT_TRUE(prev && next);
  EXPECT_EQ(prev->monotonic_seq, 2);
  EXPECT_EQ(next->monotonic_seq, 4);
  ASSERT_TRUE(reader->FindNeighbours(AllScope(), "n", 6, &prev, &next).ok());
  EXPECT_TRUE(prev.has_value());
  EXPECT_FALSE(next.has_value());
  std::vector<AuditReader::TopologyEntry> topo;
  ASSERT_TRUE(reader->Topology(AllScope(), &topo).ok());
  ASSERT_EQ(topo.size(), 1u);
  EXPECT_EQ(topo[0].rows, 6);
  EXPECT_EQ(topo[0].first_seen, rows[0].timestamp);
  EXPECT_EQ(topo[0].last_seen, rows[5].timestamp);
  int64_t n = 0;
  ASSERT_TRUE(reader->CountRows(AllScope(), &n).ok());
  EXPECT_EQ(n, 6);
}

TEST_P(ReaderContract, LooksUpCitationsInOneBatch) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> a = Chain("a", 5, true), b = Chain("b", 5);
  std::vector<AuditRow> all = a;
  all.insert(all.end(), b.begin(), b.end());
  store_->Insert("audit_log", all);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  std::vector<AuditRow> out;
  ASSERT_TRUE(reader
                  ->FindBySeqHashBatch(AllScope(),
                                       {{2, a[1].hash},
                                        {4, b[3].hash},
                                        {2, a[1].hash},        // duplicate: counted once
                                        {3, a[1].hash},        // wrong seq for that hash
                                        {5, "deadbeef"},       // no such hash
                                        {1, "x' OR '1'='1"}},  // bound, not interpolated
                                       &out)
                  .ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, a[1].id);  // ordered by (seq, node, id)
  EXPECT_EQ(out[1].id, b[3].id);
  EXPECT_EQ(out[1].hash, b[3].hash);
  ASSERT_TRUE(reader->FindBySeqHashBatch(AllScope(), {}, &out).ok());
  EXPECT_TRUE(out.empty());
  std::vector<std::pair<int64_t, std::string>> too_many(AuditReader::kMaxBatchPairs + 1, {1, "x"});
  EXPECT_EQ(reader->FindBySeqHashBatch(AllScope(), too_many, &out).code(),
            StatusCode::kInvalidArgument);
  // The single lookup agrees.
  ASSERT_TRUE(reader->FindBySeqHash(AllScope(), 4, b[3].hash, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, b[3].id);
}

TEST_P(ReaderContract, BatchWithLinksReturnsTheRowsAndTheirPredecessorsInOneStatement) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> a = Chain("a", 6), b = Chain("b", 6);
  std::vector<AuditRow> rows = a;
  rows.insert(rows.end(), b.begin(), b.end());
  store_->Insert("audit_log", rows);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  std::vector<AuditRow> out, links;
  ASSERT_TRUE(reader
                  ->FindBySeqHashBatchWithLinks(AllScope(),
                                                {{3, a[2].hash},
                                                 {4, a[3].hash},  // its predecessor is cited too
                                                 {5, b[4].hash},
                                                 {1, a[0].hash},  // genesis: no predecessor
                                                 {6, "x' OR '1'='1"}},
                                                &out, &links)
                  .ok());
  std::set<std::string> got, linked;
  for (const AuditRow& r : out) got.insert(r.id);
  for (const AuditRow& r : links) linked.insert(r.id);
  EXPECT_EQ(got, (std::set<std::string>{a[0].id, a[2].id, a[3].id, b[4].id}));
  EXPECT_EQ(out.size(), 4u);  // each once, although a[2] is also a predecessor
  // Every predecessor (node, seq - 1, prev_hash) is among the links; b's other rows at seq 2, 3
  // (other nodes' rows at those seqs) may be too, as a superset, but not a row two seqs below.
  for (const AuditRow* p : {&a[1], &a[2], &b[3]}) EXPECT_TRUE(linked.count(p->id)) << p->id;
  EXPECT_FALSE(linked.count(b[2].id));
  EXPECT_FALSE(linked.count(a[4].id));
  ASSERT_TRUE(reader->FindBySeqHashBatchWithLinks(AllScope(), {}, &out, &links).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(links.empty());
}

TEST_P(ReaderContract, ScanStopsAtTheRangeAndWhenAsked) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("a", 10), b = Chain("b", 10);
  rows.insert(rows.end(), b.begin(), b.end());
  store_->Insert("audit_log", rows);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  for (auto order : {ScanRange::Order::kPhysical, ScanRange::Order::kSeq}) {
    ScanRange range;
    range.order = order;
    range.source_node_id = "b";
    range.from_seq = 3;
    range.to_seq = 7;
    std::vector<int64_t> seqs;
    ASSERT_TRUE(reader
                    ->Scan(AllScope(), range,
                           [&](const AuditRow& r) {
                             EXPECT_EQ(r.source_node_id, "b");
                             seqs.push_back(r.monotonic_seq);
                             return seqs.size() < 4;
                           })
                    .ok());
    EXPECT_EQ(seqs, (std::vector<int64_t>{3, 4, 5, 6}));
  }
  // The reader is still usable after a scan stopped early.
  EXPECT_TRUE(VerifyAll(reader.get()).ok);
}

// A chain of `node` sealed in seq order with these stored timestamps and (when given) tenants.
std::vector<AuditRow> TimedChain(const std::string& node, const std::vector<std::string>& times,
                                 const std::vector<std::string>& tenants = {}) {
  std::vector<AuditRow> rows;
  std::string prev = "genesis";
  for (size_t i = 0; i < times.size(); ++i) {
    AuditRow r = MakeRow(node, static_cast<int64_t>(i + 1));
    r.timestamp = times[i];
    EXPECT_TRUE(ParseTimestamp(r.timestamp, &r.timestamp_us)) << r.timestamp;
    if (i < tenants.size()) r.tenant_id.Set(tenants[i]);
    Seal(&r, prev);
    prev = r.hash;
    rows.push_back(r);
  }
  return rows;
}

Micros At(const char* text) {
  Micros t = 0;
  EXPECT_TRUE(ParseTimestamp(text, &t)) << text;
  return t;
}

// Node a's clock jumps ahead at seq 4 and back at seq 7; its window rows are spelled as
// different writers spell them, and two of them share a second with a bound.
std::vector<AuditRow> WindowFixture(std::vector<AuditRow>* a_rows = nullptr) {
  std::vector<AuditRow> a = TimedChain("a",
                                       {"2026-06-15T10:00:01.000000Z",
                                        "2026-06-15T10:00:02.500000Z",       // before since
                                        "2026-06-15T10:00:02.700000+00:00",  // after since
                                        "2026-06-15T10:00:30Z",              // clock ahead
                                        "2026-06-15T10:00:04.25Z",
                                        "2026-06-15T10:00:06.000000Z",  // == until
                                        "2026-06-15T10:00:05.9Z",       // clock back
                                        "2026-06-15T10:00:06.000001Z"},
                                       {"tenant-a", "tenant-a", "tenant-a", "tenant-a", "tenant-b",
                                        "tenant-a", "tenant-a", "tenant-a"});
  std::vector<AuditRow> b =
      TimedChain("b", {"2026-06-15T10:00:01Z", "2026-06-15T10:00:03Z", "2026-06-15T10:00:07Z"},
                 {"tenant-a", "tenant-b", "tenant-a"});
  if (a_rows) *a_rows = a;
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string Spans(const std::vector<NodeSeqSpan>& spans) {
  std::string s;
  for (const NodeSeqSpan& x : spans) {
    s += (s.empty() ? "" : " ") + x.source_node_id + ":" + std::to_string(x.first_seq) + ".." +
         std::to_string(x.last_seq) + "/" + std::to_string(x.rows);
  }
  return s;
}

TEST_P(ReaderContract, SeqSpansCoverEachNodesRowsInATimeWindowExactly) {
  store_->Exec(store_->SpecDdl("audit_log"));
  store_->Insert("audit_log", WindowFixture());
  if (!GetParam().timestamptz) {
    // A timestamp that cannot be parsed is in no bounded window.
    AuditRow bad = MakeRow("c", 1);
    bad.timestamp = "2026-06-15T10:00:04 not a time";
    store_->Insert("audit_log", {bad});
  }
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  auto spans = [&](std::optional<Micros> since, std::optional<Micros> until,
                   std::optional<std::string> node = {}, std::optional<std::string> tenant = {}) {
    SeqSpanQuery q;
    q.since = since;
    q.until = until;
    q.source_node_id = node;
    std::vector<NodeSeqSpan> out;
    Status st = reader->SeqSpans(test_support::TestScopes::Of(tenant), q, &out);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return Spans(out);
  };
  const Micros since = At("2026-06-15T10:00:02.6Z"), until = At("2026-06-15T10:00:06Z");
  // a: seqs 3, 5, 6, 7 are in the window (4 lies between, timestamped outside); b: seq 2.
  EXPECT_EQ(spans(since, until), "a:3..7/4 b:2..2/1");
  EXPECT_EQ(spans(since, until, std::string("b")), "b:2..2/1");
  EXPECT_EQ(spans(since, until, std::nullopt, std::string("tenant-a")), "a:3..7/3");
  EXPECT_EQ(spans(since, until, std::string("b"), std::string("tenant-a")), "");
  EXPECT_EQ(spans(std::nullopt, until), "a:1..7/6 b:1..2/2");
  EXPECT_EQ(spans(until + 1, std::nullopt), "a:4..8/2 b:3..3/1");
  EXPECT_EQ(spans(At("2026-06-15T10:00:06.000001Z"), At("2026-06-15T10:00:06.000001Z")),
            "a:8..8/1");
  EXPECT_EQ(spans(At("2027-01-01T00:00:00Z"), std::nullopt), "");
  EXPECT_EQ(spans(since, until, std::string("no-such-node")), "");
}

TEST_P(ReaderContract, TimeBoundsAreTheOldestAndNewestRows) {
  store_->Exec(store_->SpecDdl("audit_log"));
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  std::optional<Micros> oldest, newest;
  ASSERT_TRUE(reader->TimeBounds(AllScope(), &oldest, &newest).ok());
  EXPECT_FALSE(oldest.has_value());  // no row
  EXPECT_FALSE(newest.has_value());
  store_->Insert("audit_log", WindowFixture());
  Status st = reader->TimeBounds(AllScope(), &oldest, &newest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(oldest && newest);
  EXPECT_EQ(*oldest, At("2026-06-15T10:00:01Z"));
  EXPECT_EQ(*newest, At("2026-06-15T10:00:30Z"));  // the clock that ran ahead
}

// A time window verifies exactly as the seq windows it resolves to: per node, the same report
// (first link included); for one node, the same whole report.
TEST_P(ReaderContract, TimeWindowVerificationEqualsItsSeqWindows) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> a;
  store_->Insert("audit_log", WindowFixture(&a));
  // Tamper a's seq 2 (its stored hash no longer matches): the window from seq 3 starts just after
  // the break, and its first link (to seq 2's stored hash) holds.
  store_->Exec("UPDATE audit_log SET actor = 'mallory' WHERE id = '" + a[1].id + "'");
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  auto verify = [&](VerifyStoreOptions o, std::optional<std::string> tenant = {}) {
    VerifyStoreResult r;
    Status st = VerifyStore(test_support::TestScopes::Of(tenant), reader.get(), o, &r);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return r;
  };
  struct Case {
    const char* since;
    const char* until;
    std::optional<std::string> node, tenant;
    bool a_ok;
  };
  const std::vector<Case> cases = {
      {"2026-06-15T10:00:02.6Z", "2026-06-15T10:00:06Z", {}, {}, true},   // just after the break
      {"2026-06-15T10:00:02.5Z", "2026-06-15T10:00:06Z", {}, {}, false},  // from the break
      {"2026-06-15T10:00:02.6Z", "2026-06-15T10:00:06Z", "a", {}, true},
      {"2026-06-15T10:00:02Z", "2026-06-15T10:00:06Z", "a", {}, false},
      {"2026-06-15T10:00:02.6Z", "2026-06-15T10:00:06Z", {}, "tenant-a", true},
      {"2026-06-15T10:00:00Z", "2026-06-15T10:01:00Z", {}, "tenant-a", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.since) + " .. " + c.until + " node " + c.node.value_or("*") +
                 " tenant " + c.tenant.value_or("*"));
    VerifyStoreOptions o;
    o.since = At(c.since);
    o.until = At(c.until);
    o.range.source_node_id = c.node;
    VerifyStoreResult window = verify(o, c.tenant);
    ASSERT_FALSE(window.spans.empty());
    ASSERT_EQ(window.report.nodes.size(), window.spans.size());
    bool all_ok = true;
    for (size_t i = 0; i < window.spans.size(); ++i) {
      const NodeSeqSpan& span = window.spans[i];
      VerifyStoreOptions seq;
      seq.range.source_node_id = span.source_node_id;
      seq.range.from_seq = span.first_seq;
      seq.range.to_seq = span.last_seq;
      VerifyStoreResult expected = verify(seq, c.tenant);
      ASSERT_EQ(expected.report.nodes.size(), 1u);
      EXPECT_EQ(NodeReportJson(window.report.nodes[i]), NodeReportJson(expected.report.nodes[0]));
      if (c.node) {
        EXPECT_EQ(VerifyReportJson(window.report), VerifyReportJson(expected.report));
      }
      if (span.source_node_id == "a") {
        EXPECT_EQ(window.report.nodes[i].ok, c.a_ok);
      }
      all_ok = all_ok && expected.report.ok;
    }
    EXPECT_EQ(window.report.ok, all_ok);
  }
  // An empty window: nothing verified, nothing broken.
  VerifyStoreOptions empty;
  empty.since = At("2027-01-01T00:00:00Z");
  VerifyStoreResult r = verify(empty);
  EXPECT_TRUE(r.spans.empty());
  EXPECT_TRUE(r.report.nodes.empty());
  EXPECT_TRUE(r.report.ok);
  // A time window and a seq window do not combine.
  VerifyStoreOptions both;
  both.since = At("2026-06-15T10:00:00Z");
  both.range.from_seq = 2;
  EXPECT_EQ(VerifyStore(AllScope(), reader.get(), both, &r).code(), StatusCode::kInvalidArgument);
}

TEST_P(ReaderContract, PhysicalScanRefusesRowsStoredFarOutOfOrder) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 5000);
  std::swap(rows[0], rows[4999]);  // seq 1 stored last, beyond the reorder window
  store_->Insert("audit_log", rows);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  Status st = reader->Scan(AllScope(), ScanRange(), [](const AuditRow&) { return true; });
  EXPECT_EQ(st.code(), StatusCode::kAborted) << st.ToString();
  VerifyReport r = VerifyAll(reader.get(), ScanRange::Order::kSeq);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.valid, 5000);
}

TEST_P(ReaderContract, InterruptStopsQueriesWithCancelled) {
  store_->Exec(store_->SpecDdl("audit_log"));
  store_->Insert("audit_log", Chain("n", 20));
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  std::atomic<bool> flag{true};
  reader->SetInterrupt(&flag);
  AuditPage page;
  EXPECT_EQ(reader->Query(AllScope(), AuditQuery(), &page).code(), StatusCode::kCancelled);
  int seen = 0;
  Status st = reader->Scan(AllScope(), ScanRange(), [&](const AuditRow&) {
    ++seen;
    return true;
  });
  EXPECT_EQ(st.code(), StatusCode::kCancelled) << st.ToString();
  flag = false;
  ASSERT_TRUE(reader->Query(AllScope(), AuditQuery(), &page).ok());
  EXPECT_EQ(page.total_matched, 20);
  reader->SetInterrupt(nullptr);
}

TEST_P(ReaderContract, ManyDistinctQueriesOutliveTheStatementCache) {
  store_->Exec(store_->SpecDdl("audit_log"));
  store_->Insert("audit_log", Chain("n", 20));
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  for (int mask = 0; mask < 300; ++mask) {
    AuditQuery q;
    if (mask & 1) q.request_id = "req-3";
    if (mask & 2) q.code = "ORDER_PLACED";
    if (mask & 4) q.actor = "alice";
    if (mask & 8) q.target = "order/3";
    if (mask & 16) q.source_node_id = "n";
    if (mask & 32) q.service_id = "svc-a";
    if (mask & 64) q.severity = "info";
    if (mask & 128) q.domain = "sales";
    if (mask & 256) q.text = "qty";
    AuditPage page;
    ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok()) << mask;
    EXPECT_EQ(page.total_matched, static_cast<int64_t>(page.rows.size()));
  }
}

TEST_P(ReaderContract, StreamTenantFilterUsesThePayloadAndDropsRowsWithoutOne) {
  store_->Exec(store_->StreamDdl("syslog") +
               "INSERT INTO syslog (request_id, timestamp, level, event, payload) VALUES "
               "('r1','2026-06-15T10:00:00.000000Z','info','a','{\"tenant_id\":\"A\",\"event\":"
               "\"a\"}'),"
               "('r1','2026-06-15T10:00:01.000000Z','info','b','{\"event\":\"b\"}'),"
               "('r1','2026-06-15T10:00:02.000000Z','warn','c','{\"tenant_id\":\"B\"}'),"
               "('r1','2026-06-15T10:00:03.000000Z','warn','d','not json at all'),"
               "('r1','2026-06-15T10:00:04.000000Z','warn','e','{\"x\":{\"tenant_id\":\"A\"}}'),"
               "('r1','2026-06-15T10:00:05.000000Z','warn','f','{\"tenant_id\": \"A\", "
               "\"n\": 1}');");
  auto reader = OpenStream(StreamKind::kSys);
  ASSERT_TRUE(reader);
  StreamQuery q;
  StreamPage page;
  ASSERT_TRUE(reader->Query(Scope("A"), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 2u);
  EXPECT_EQ(page.rows[0].event, "f");
  EXPECT_EQ(page.rows[1].event, "a");
  EXPECT_EQ(page.total_matched, 2);  // the page holds every match: its own count
  q.limit = 1;
  ASSERT_TRUE(reader->Query(Scope("A"), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_TRUE(page.has_more);
  // Counted exactly on both backends: row "e" (whose payload only nests a "tenant_id") and
  // other tenants' rows are never counted, or a count would confirm rows the caller cannot see.
  EXPECT_EQ(page.total_matched, 2);
  EXPECT_FALSE(page.total_is_lower_bound);
  q.before_seq = page.next_before_seq;
  ASSERT_TRUE(reader->Query(Scope("A"), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].event, "a");
  EXPECT_FALSE(page.has_more);
  q = StreamQuery();
  q.limit = 3;
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  EXPECT_EQ(page.rows.size(), 3u);
  EXPECT_TRUE(page.has_more);
  EXPECT_EQ(page.total_matched, 6);
  q.before_seq = page.next_before_seq;
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 3u);
  EXPECT_EQ(page.rows[2].seq, 1);
  EXPECT_FALSE(page.has_more);
  // Windows, level and text filters; the scan agrees with the pages.
  q = StreamQuery();
  q.since = page.rows[1].timestamp_us;
  q.level = "info";
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].event, "b");
  EXPECT_EQ(page.total_matched, 1);
  std::vector<int64_t> seqs;
  bool complete = false;
  ASSERT_TRUE(reader
                  ->Scan(
                      AllScope(), StreamQuery(), 4,
                      [&](const StreamRow& r) { seqs.push_back(r.seq); }, &complete)
                  .ok());
  EXPECT_EQ(seqs, (std::vector<int64_t>{6, 5, 4, 3}));
  EXPECT_FALSE(complete);
  std::optional<StreamRow> row;
  ASSERT_TRUE(reader->FindBySeq(AllScope(), 4, &row).ok());
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->payload, "not json at all");
}

// The count stops at count_cap and says so only when more rows match: the same with a tenant
// (each counted row passes the payload tenant rule) as without.
TEST_P(ReaderContract, AStreamCountIsALowerBoundOnlyWhenMoreRowsMatchThanTheCap) {
  std::string rows;
  for (char second : {'0', '1', '2'}) {
    rows += std::string(rows.empty() ? "" : ",") + "('r1','2026-06-15T10:00:0" + second +
            ".000000Z','info','e','{\"tenant_id\":\"A\"}')";
  }
  store_->Exec(store_->StreamDdl("syslog") +
               "INSERT INTO syslog (request_id, timestamp, level, event, payload) VALUES " + rows);
  auto reader = OpenStream(StreamKind::kSys);
  ASSERT_TRUE(reader);
  for (bool tenant : {false, true}) {
    const TenantScope scope =
        test_support::TestScopes::Of(tenant ? std::optional<std::string>("A") : std::nullopt);
    StreamQuery q;
    q.limit = 1;
    q.count_cap = 3;
    StreamPage page;
    ASSERT_TRUE(reader->Query(scope, q, &page).ok());
    EXPECT_TRUE(page.has_more);
    EXPECT_EQ(page.total_matched, 3) << tenant;
    EXPECT_FALSE(page.total_is_lower_bound) << tenant;
    q.count_cap = 2;
    ASSERT_TRUE(reader->Query(scope, q, &page).ok());
    EXPECT_EQ(page.total_matched, 2) << tenant;
    EXPECT_TRUE(page.total_is_lower_bound) << tenant;
  }
}

TEST_P(ReaderContract, ApiStatusComparesAsANumber) {
  store_->Exec(store_->StreamDdl("api_log") +
               "INSERT INTO api_log (request_id, timestamp, method, path, status, payload) VALUES "
               "('r1','2026-06-15T10:00:00.000000Z','GET','/a',200,'{}'),"
               "('r2','2026-06-15T10:00:01.000000Z','POST','/b',502,'{\"note\":\"Bad\"}'),"
               "('r3','2026-06-15T10:00:02.000000Z','POST','/b',502,'{}');");
  auto reader = OpenStream(StreamKind::kApi);
  ASSERT_TRUE(reader);
  StreamQuery q;
  q.status = 502;
  StreamPage page;
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 2u);
  EXPECT_TRUE(page.rows[0].has_status);
  EXPECT_EQ(page.rows[0].status, 502);
  EXPECT_EQ(page.total_matched, 2);
  q.text = "bad";
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].request_id, "r2");
}

TEST_P(ReaderContract, MissingStreamTableIsNotFound) {
  store_->Exec(store_->SpecDdl("audit_log"));
  Status st;
  auto reader = OpenStream(StreamKind::kApi, &st);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("api_log"), std::string::npos);
}

TEST_P(ReaderContract, IndexAdviceMarksExistingAndAppliesTheMissing) {
  store_->Exec(store_->SpecDdl("audit_log") + store_->StreamDdl("syslog"));
  store_->Insert("audit_log", Chain("n", 5));
  Result<Dsn> dsn = ParseDsn(store_->Dsn());
  ASSERT_TRUE(dsn.ok());
  IndexReport report;
  ASSERT_TRUE(AdviseIndexes(*dsn, &report).ok());
  EXPECT_EQ(report.backend, postgres() ? "postgres" : "sqlite");
  std::map<std::string, bool> exists;
  for (const IndexAdvice& a : report.advice) {
    // Text timestamps under a linguistic collation get COLLATE "C" indexes, named ..._c.
    std::string name = a.name;
    if (name.size() > 2 && name.compare(name.size() - 2, 2, "_c") == 0)
      name.resize(name.size() - 2);
    exists[name] = a.exists;
  }
  ASSERT_TRUE(exists.count("idx_audit_log_tenant_code_ts"));
  ASSERT_TRUE(exists.count("idx_audit_log_tenant_req"));
  ASSERT_TRUE(exists.count("idx_syslog_req_seq"));
  EXPECT_TRUE(exists["idx_audit_log_seq"]);  // the spec DDL's own seq index
  EXPECT_FALSE(exists["idx_audit_log_tenant_code_ts"]);
  ASSERT_EQ(report.notes.size(), 1u);  // no api_log
  // A reader keeps working while indexes are created, and nothing is left to do afterwards.
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  int created = 0;
  Status st = ApplyIndexes(*dsn, report.advice, [&](const IndexAdvice&, const Status& s) {
    EXPECT_TRUE(s.ok()) << s.ToString();
    ++created;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GT(created, 3);
  ASSERT_TRUE(AdviseIndexes(*dsn, &report).ok());
  for (const IndexAdvice& a : report.advice) EXPECT_TRUE(a.exists) << a.name;
  EXPECT_TRUE(VerifyAll(reader.get()).ok);
}

// Seals `rows` (one node, in seq order) again after their columns were changed.
void Reseal(std::vector<AuditRow>* rows) {
  for (size_t i = 0; i < rows->size(); ++i) Seal(&(*rows)[i], i ? (*rows)[i - 1].hash : "genesis");
}

// The new audit filters are exact matches on anchor columns; offset skips matches before the page
// and its next cursor continues without it.
TEST_P(ReaderContract, AuditFiltersMethodActorKindCategoryAndOffset) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 8);
  rows[2].method = "mqtt";
  rows[3].actor_kind = "service";
  rows[4].category = "payment";
  Reseal(&rows);
  store_->Insert("audit_log", rows);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  auto seqs = [&](const AuditQuery& q, AuditPage* page = nullptr) {
    AuditPage local;
    if (!page) page = &local;
    Status st = reader->Query(AllScope(), q, page);
    EXPECT_TRUE(st.ok()) << st.ToString();
    std::vector<int64_t> out;
    for (const AuditRow& r : page->rows) out.push_back(r.monotonic_seq);
    return out;
  };
  AuditQuery q;
  q.method = "mqtt";
  EXPECT_EQ(seqs(q), (std::vector<int64_t>{3}));
  q.method = "http";
  EXPECT_EQ(seqs(q).size(), 7u);
  q = AuditQuery();
  q.actor_kind = "service";
  EXPECT_EQ(seqs(q), (std::vector<int64_t>{4}));
  q = AuditQuery();
  q.category = "payment";
  EXPECT_EQ(seqs(q), (std::vector<int64_t>{5}));
  q.method = "mqtt";  // filters combine
  EXPECT_TRUE(seqs(q).empty());

  // Offset: newest first, seqs 8..1.
  q = AuditQuery();
  q.limit = 3;
  q.offset = 2;
  AuditPage page;
  EXPECT_EQ(seqs(q, &page), (std::vector<int64_t>{6, 5, 4}));
  EXPECT_TRUE(page.has_more);
  EXPECT_EQ(page.total_matched, 8);
  ASSERT_TRUE(page.next);
  AuditQuery next;
  next.limit = 3;
  next.after = page.next;
  EXPECT_EQ(seqs(next), (std::vector<int64_t>{3, 2, 1}));
  q.offset = 7;
  EXPECT_EQ(seqs(q, &page), (std::vector<int64_t>{1}));
  EXPECT_FALSE(page.has_more);
  EXPECT_EQ(page.total_matched, 8);
  for (int64_t beyond : {8, 100}) {
    q.offset = beyond;
    EXPECT_TRUE(seqs(q, &page).empty()) << beyond;
    EXPECT_FALSE(page.has_more);
    EXPECT_EQ(page.total_matched, 8) << beyond;
  }
  q.offset = 1;
  q.method = "http";  // offset counts matches, not rows: seq 3 is not one
  q.limit = 4;
  EXPECT_EQ(seqs(q, &page), (std::vector<int64_t>{7, 6, 5, 4}));
  EXPECT_EQ(page.total_matched, 7);
}

// Free text matches the anchor columns as well as the detail, case-insensitively.
TEST_P(ReaderContract, TextSearchAlsoMatchesTheAnchorColumns) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 6);
  rows[4].category = "payment";
  rows[1].actor = "Bob_Smith";
  Reseal(&rows);
  store_->Insert("audit_log", rows);
  auto reader = OpenAudit();
  ASSERT_TRUE(reader);
  auto seqs = [&](const std::string& term) {
    AuditQuery q;
    q.text = term;
    AuditPage page;
    Status st = reader->Query(AllScope(), q, &page);
    EXPECT_TRUE(st.ok()) << st.ToString();
    std::set<int64_t> out;
    for (const AuditRow& r : page.rows) out.insert(r.monotonic_seq);
    return out;
  };
  EXPECT_EQ(seqs("PAYMENT"), (std::set<int64_t>{5}));           // category
  EXPECT_EQ(seqs("order/4"), (std::set<int64_t>{4}));           // target
  EXPECT_EQ(seqs("REQ-6"), (std::set<int64_t>{6}));             // request_id
  EXPECT_EQ(seqs("user_login"), (std::set<int64_t>{2, 4, 6}));  // code; _ is literal
  EXPECT_EQ(seqs("bob_smith"), (std::set<int64_t>{2}));         // actor
  EXPECT_EQ(seqs("bobxsmith"), (std::set<int64_t>{}));
  EXPECT_EQ(seqs("SALES").size(), 6u);     // domain
  EXPECT_EQ(seqs("qty\": 3").size(), 1u);  // the detail still
  EXPECT_TRUE(seqs("nowhere-at-all").empty());
}

// Request ids by prefix: a byte range, DISTINCT, ascending, bounded, and scoped: another tenant's
// ids never appear (audit: tenant_id; streams: the payload tenant rule).
TEST_P(ReaderContract, RequestIdPrefixesAreScopedRanges) {
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 6);
  rows[0].request_id = "3a7b1c9e4d20";
  rows[1].request_id = "3a7b1c000001";
  rows[2].request_id = "3a7b1d";  // the successor of 3a7b1c: outside the range
  rows[3].request_id = "3a7b1c5555";
  rows[3].tenant_id.Set("tenant-b");
  rows[4].request_id = "3a7b1";  // shorter: not in the range of 3a7b1c
  rows[5].request_id = "3a7b1c9e4d20";
  Reseal(&rows);
  store_->Insert("audit_log", rows);
  store_->Exec(
      store_->StreamDdl("syslog") +
      "INSERT INTO syslog (request_id, timestamp, level, event, payload) VALUES "
      "('3a7b1cffff01','2026-06-15T10:00:00.000000Z','info','a','{\"tenant_id\":\"tenant-a\"}'),"
      "('3a7b1cffff01','2026-06-15T10:00:01.000000Z','info','a','{\"tenant_id\":\"tenant-a\"}'),"
      "('3a7b1cbbbb','2026-06-15T10:00:02.000000Z','info','b','{\"tenant_id\":\"tenant-b\"}'),"
      "('3a7b1caaaa','2026-06-15T10:00:03.000000Z','info','c',"
      "'{\"x\":{\"tenant_id\":\"tenant-a\"}}'),"
      "('3a7b1c%_','2026-06-15T10:00:04.000000Z','info','d','{\"tenant_id\":\"tenant-c\"}');");
  std::string api;
  for (int i = 0; i < 22; ++i) {
    const std::string id = std::string(i < 10 ? "bulkid-0" : "bulkid-") + std::to_string(i);
    api += std::string(api.empty() ? "" : ",") + "('" + id +
           "','2026-06-15T10:00:00.000000Z','GET','/a',200,'{\"tenant_id\":\"tenant-a\"}')";
  }
  store_->Exec(store_->StreamDdl("api_log") +
               "INSERT INTO api_log (request_id, timestamp, method, path, status, payload) VALUES "
               "('3a7b1c000001','2026-06-15T10:00:00.000000Z','GET','/a',200,"
               "'{\"tenant_id\":\"tenant-a\"}')," +
               api + ";");
  auto audit = OpenAudit();
  auto sys = OpenStream(StreamKind::kSys);
  auto apis = OpenStream(StreamKind::kApi);
  ASSERT_TRUE(audit && sys && apis);
  using Ids = std::vector<std::string>;
  auto ids = [](auto& reader, const TenantScope& scope, const std::string& prefix,
                size_t max = 50) {
    Ids out;
    Status st = reader->RequestIdsWithPrefix(scope, prefix, max, &out);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  };
  EXPECT_EQ(ids(audit, AllScope(), "3a7b1c"), (Ids{"3a7b1c000001", "3a7b1c5555", "3a7b1c9e4d20"}));
  EXPECT_EQ(ids(audit, Scope("tenant-a"), "3a7b1c"), (Ids{"3a7b1c000001", "3a7b1c9e4d20"}));
  EXPECT_EQ(ids(audit, Scope("tenant-b"), "3a7b1c"), (Ids{"3a7b1c5555"}));
  EXPECT_EQ(ids(audit, Scope("tenant-z"), "3a7b1c"), Ids{});
  EXPECT_EQ(ids(audit, AllScope(), "3a7b1c", 1), (Ids{"3a7b1c000001"}));
  EXPECT_EQ(ids(audit, AllScope(), "3a7b1c9e4d20"), (Ids{"3a7b1c9e4d20"}));
  EXPECT_EQ(ids(audit, AllScope(), "3a7b1c9e4d200"), Ids{});
  // The range is bytes, not a LIKE pattern: % and _ are plain characters.
  EXPECT_EQ(ids(sys, AllScope(), "3a7b1c%"), (Ids{"3a7b1c%_"}));
  EXPECT_EQ(ids(sys, AllScope(), "3a7b1c"),
            (Ids{"3a7b1c%_", "3a7b1caaaa", "3a7b1cbbbb", "3a7b1cffff01"}));
  // A payload that only nests a tenant_id belongs to no tenant.
  EXPECT_EQ(ids(sys, Scope("tenant-a"), "3a7b1c"), (Ids{"3a7b1cffff01"}));
  EXPECT_EQ(ids(sys, Scope("tenant-b"), "3a7b1c"), (Ids{"3a7b1cbbbb"}));
  EXPECT_EQ(ids(apis, Scope("tenant-a"), "bulkid-", 5),
            (Ids{"bulkid-00", "bulkid-01", "bulkid-02", "bulkid-03", "bulkid-04"}));
  EXPECT_EQ(ids(apis, Scope("tenant-b"), "bulkid-"), Ids{});

  // The resolution the tools and the CLI use, over the three streams.
  const StoreView view{audit.get(), sys.get(), apis.get(), {}, {}};
  auto resolve = [&](const TenantScope& scope, const std::string& arg) {
    RequestIdResolution r;
    Status st = ResolveRequestId(scope, view, arg, &r);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return r;
  };
  RequestIdResolution r = resolve(Scope("tenant-a"), "3a7b1c9e4d20");  // exact
  EXPECT_EQ(r.request_id, "3a7b1c9e4d20");
  EXPECT_FALSE(r.from_prefix || r.ambiguous);
  r = resolve(Scope("tenant-a"), "3a7b1c9e");  // one id begins with it
  EXPECT_EQ(r.request_id, "3a7b1c9e4d20");
  EXPECT_TRUE(r.from_prefix);
  EXPECT_FALSE(r.ambiguous);
  r = resolve(Scope("tenant-a"), "3a7b1cff");  // a sys id
  EXPECT_EQ(r.request_id, "3a7b1cffff01");
  EXPECT_TRUE(r.from_prefix);
  // Several: the candidates of this tenant only, sorted, each once.
  r = resolve(Scope("tenant-a"), "3a7b1c");
  EXPECT_TRUE(r.ambiguous);
  EXPECT_EQ(r.candidates, (Ids{"3a7b1c000001", "3a7b1c9e4d20", "3a7b1cffff01"}));
  EXPECT_EQ(r.candidate_count, 3u);
  EXPECT_FALSE(r.count_is_lower_bound);
  const std::string msg = AmbiguousRequestIdError("request_id", "3a7b1c", r).message();
  EXPECT_NE(msg.find("is a prefix of 3 request ids: 3a7b1c000001, 3a7b1c9e4d20, 3a7b1cffff01"),
            std::string::npos)
      << msg;
  EXPECT_EQ(msg.find("3a7b1c5555"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("3a7b1cbbbb"), std::string::npos) << msg;
  r = resolve(Scope("tenant-b"), "3a7b1c");
  EXPECT_EQ(r.candidates, (Ids{"3a7b1c5555", "3a7b1cbbbb"}));
  // Another tenant's id is not a candidate: its prefix resolves to nothing.
  for (const char* other : {"3a7b1c55", "3a7b1cbb", "3a7b1caa"}) {
    r = resolve(Scope("tenant-a"), other);
    EXPECT_EQ(r.request_id, other);
    EXPECT_FALSE(r.from_prefix || r.ambiguous) << other;
  }
  r = resolve(AllScope(), "3a7b1c55");
  EXPECT_EQ(r.request_id, "3a7b1c5555");
  // Below six characters only an exact id counts: no resolution, no candidates.
  for (const char* shorter : {"3a7b1", "3a7b"}) {
    r = resolve(AllScope(), shorter);
    EXPECT_EQ(r.request_id, shorter);
    EXPECT_FALSE(r.from_prefix || r.ambiguous) << shorter;
  }
  // More candidates than are listed: the first 20, the count.
  r = resolve(Scope("tenant-a"), "bulkid");
  EXPECT_TRUE(r.ambiguous);
  ASSERT_EQ(r.candidates.size(), kMaxRequestIdCandidates);
  EXPECT_EQ(r.candidates.front(), "bulkid-00");
  EXPECT_EQ(r.candidates.back(), "bulkid-19");
  EXPECT_EQ(r.candidate_count, 22u);
  EXPECT_NE(AmbiguousRequestIdError("request_id", "bulkid", r)
                .message()
                .find("22 request ids (the first 20)"),
            std::string::npos);
}

// A list filter on a lifted column the stream table lacks is refused naming it, not answered
// with "no rows"; the other filters still work.
TEST_P(ReaderContract, AStreamFilterOnAnAbsentColumnIsRefused) {
  store_->Exec(store_->StreamDdl("api_log") + "ALTER TABLE api_log DROP COLUMN service_id;" +
               "INSERT INTO api_log (request_id, timestamp, method, path, status, payload) VALUES "
               "('r1','2026-06-15T10:00:00.000000Z','GET','/a',200,'{\"service_id\":\"s\"}');");
  auto reader = OpenStream(StreamKind::kApi);
  ASSERT_TRUE(reader);
  StreamQuery q;
  q.service_id = "s";
  StreamPage page;
  Status st = reader->Query(AllScope(), q, &page);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("has no column service_id"), std::string::npos) << st.message();
  q = StreamQuery();
  q.method = "GET";
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
  EXPECT_EQ(page.rows.size(), 1u);
}

TEST(PrefixSuccessor, IsTheLeastTextAboveEveryExtensionInWholeCharacters) {
  EXPECT_EQ(PrefixSuccessor("3a7b1c"), "3a7b1d");
  EXPECT_EQ(PrefixSuccessor("ab\x7f"), "ab\xc2\x80");          // U+007F -> U+0080
  EXPECT_EQ(PrefixSuccessor("caf\xc3\xa9"), "caf\xc3\xaa");    // é -> ê
  EXPECT_EQ(PrefixSuccessor("\xed\x9f\xbf"), "\xee\x80\x80");  // U+D7FF -> U+E000
  EXPECT_EQ(PrefixSuccessor("a\xf4\x8f\xbf\xbf"), "b");        // U+10FFFF is dropped
  EXPECT_EQ(PrefixSuccessor("\xf4\x8f\xbf\xbf"), std::nullopt);
  EXPECT_EQ(PrefixSuccessor(""), std::nullopt);
  EXPECT_EQ(PrefixSuccessor("a\xff"), "b");  // not UTF-8: bytes
  EXPECT_EQ(PrefixSuccessor("a\xc3"), "a\xc4");
  EXPECT_EQ(PrefixSuccessor("\xff\xff"), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReaderContract,
                         ::testing::Values(BackendParam{false, false}, BackendParam{true, false},
                                           BackendParam{true, true}),
                         [](const ::testing::TestParamInfo<BackendParam>& info) {
                           return info.param.Name();
                         });

}  // namespace
}  // namespace fasten

namespace fasten {
namespace {

// THE visibility-rule table (tests/support/visibility_cases.h) on this backend's reader: every
// call that returns rows to show returns exactly the rows the table says the scope sees, and the
// all-tenants scope sees them all (the C++ column: tests/store/tenant_scope_test.cc).
TEST_P(ReaderContract, VisibilityRuleTable) {
  const TenantScope scope = Scope(test_support::kVisibilityTenant);
  const TenantScope all = AllScope();
  // Audit rows: one per case, on one node.
  const std::vector<test_support::AuditVisibilityCase> audit_cases =
      test_support::AuditVisibilityCases();
  store_->Exec(store_->SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", static_cast<int>(audit_cases.size()));
  for (size_t i = 0; i < rows.size(); ++i) {
    if (audit_cases[i].tenant_id) {
      rows[i].tenant_id.Set(*audit_cases[i].tenant_id);
    } else {
      rows[i].tenant_id.SetNull();
    }
    Seal(&rows[i], i == 0 ? std::string("genesis") : rows[i - 1].hash);
  }
  store_->Insert("audit_log", rows);
  auto audit = OpenAudit();
  ASSERT_TRUE(audit);
  AuditQuery q;
  q.limit = 100;
  AuditPage page, every;
  ASSERT_TRUE(audit->Query(scope, q, &page).ok());
  ASSERT_TRUE(audit->Query(all, q, &every).ok());
  EXPECT_EQ(every.rows.size(), rows.size());
  std::set<int64_t> listed;
  for (const AuditRow& r : page.rows) listed.insert(r.monotonic_seq);
  std::vector<std::pair<int64_t, std::string>> pairs;
  for (const AuditRow& r : rows) pairs.emplace_back(r.monotonic_seq, r.hash);
  std::vector<AuditRow> batch, links;
  ASSERT_TRUE(audit->FindBySeqHashBatch(scope, pairs, &batch).ok());
  std::set<int64_t> batched;
  for (const AuditRow& r : batch) batched.insert(r.monotonic_seq);
  ASSERT_TRUE(audit->FindBySeqHashBatchWithLinks(scope, pairs, &batch, &links).ok());
  std::set<int64_t> with_links;
  for (const AuditRow& r : batch) with_links.insert(r.monotonic_seq);
  // The links are every tenant's: each row but the last is the link of the row above it.
  std::set<int64_t> linked;
  for (const AuditRow& r : links) linked.insert(r.monotonic_seq);
  for (size_t i = 0; i + 1 < rows.size(); ++i) EXPECT_EQ(linked.count(rows[i].monotonic_seq), 1u);
  int64_t seen = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& c = audit_cases[i];
    SCOPED_TRACE(std::string("audit: ") + c.name);
    const int64_t seq = rows[i].monotonic_seq;
    seen += c.seen;
    EXPECT_EQ(listed.count(seq) == 1, c.seen);
    EXPECT_EQ(batched.count(seq) == 1, c.seen);
    EXPECT_EQ(with_links.count(seq) == 1, c.seen);
    std::vector<AuditRow> one;
    ASSERT_TRUE(audit->FindBySeqHash(scope, seq, rows[i].hash, &one).ok());
    EXPECT_EQ(one.size(), c.seen ? 1u : 0u);
    ASSERT_TRUE(audit->FindBySeqHash(all, seq, rows[i].hash, &one).ok());
    EXPECT_EQ(one.size(), 1u);
    // Chain linkage serves every tenant's rows whatever the scope.
    std::optional<AuditRow> prev, next;
    ASSERT_TRUE(audit->FindNeighbours(scope, "n", seq + 1, &prev, &next).ok());
    ASSERT_TRUE(prev.has_value());
    EXPECT_EQ(prev->monotonic_seq, seq);
  }
  EXPECT_EQ(page.total_matched, seen);
  std::vector<AuditReader::TopologyEntry> topology;
  ASSERT_TRUE(audit->Topology(scope, &topology).ok());
  int64_t topology_rows = 0;
  for (const auto& e : topology) topology_rows += e.rows;
  EXPECT_EQ(topology_rows, seen);
  std::vector<std::string> tenants;
  ASSERT_TRUE(audit->Tenants(scope, 10, &tenants).ok());
  EXPECT_EQ(tenants, std::vector<std::string>{std::string(test_support::kVisibilityTenant)});
  std::vector<NodeSeqSpan> spans;
  ASSERT_TRUE(audit->SeqSpans(scope, SeqSpanQuery(), &spans).ok());
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].rows, seen);

  // Stream payloads: one sys row per case.
  const std::vector<test_support::PayloadVisibilityCase> payload_cases =
      test_support::PayloadVisibilityCases();
  std::string sql = store_->StreamDdl("syslog") +
                    "INSERT INTO syslog (request_id, timestamp, level, event, payload) VALUES ";
  for (size_t i = 0; i < payload_cases.size(); ++i) {
    std::string literal;
    for (char ch : payload_cases[i].payload) {
      literal += ch;
      if (ch == '\'') literal += '\'';
    }
    sql += std::string(i ? "," : "") + "('r1','2026-06-15T10:00:0" + std::to_string(i % 10) +
           ".000000Z','info','e" + std::to_string(i) + "','" + literal + "')";
  }
  store_->Exec(sql + ";");
  auto sys = OpenStream(StreamKind::kSys);
  ASSERT_TRUE(sys);
  StreamQuery sq;
  sq.limit = 100;
  StreamPage sp, sp_all;
  ASSERT_TRUE(sys->Query(scope, sq, &sp).ok());
  ASSERT_TRUE(sys->Query(all, sq, &sp_all).ok());
  EXPECT_EQ(sp_all.rows.size(), payload_cases.size());
  std::set<std::string> stream_listed, scanned;
  for (const StreamRow& r : sp.rows) stream_listed.insert(r.payload);
  bool complete = false;
  ASSERT_TRUE(sys->Scan(
                     scope, StreamQuery(), 1000,
                     [&](const StreamRow& r) { scanned.insert(r.payload); }, &complete)
                  .ok());
  EXPECT_TRUE(complete);
  int64_t stream_seen = 0;
  for (const StreamRow& r : sp_all.rows) {
    const auto it = std::find_if(payload_cases.begin(), payload_cases.end(),
                                 [&](const auto& c) { return c.payload == r.payload; });
    ASSERT_NE(it, payload_cases.end()) << r.payload;
    SCOPED_TRACE(std::string("payload: ") + it->name);
    stream_seen += it->seen;
    EXPECT_EQ(stream_listed.count(r.payload) == 1, it->seen);
    EXPECT_EQ(scanned.count(r.payload) == 1, it->seen);
    std::optional<StreamRow> found;
    ASSERT_TRUE(sys->FindBySeq(scope, r.seq, &found).ok());
    EXPECT_EQ(found.has_value(), it->seen);
    ASSERT_TRUE(sys->FindBySeq(all, r.seq, &found).ok());
    EXPECT_TRUE(found.has_value());
  }
  EXPECT_EQ(sp.total_matched, stream_seen);
}

}  // namespace
}  // namespace fasten
