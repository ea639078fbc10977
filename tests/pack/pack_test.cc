// Evidence packs on the demo store (issue 14 item 4): round trip, byte flips in the row data, a
// deleted row (with the old manifest, and with a rewritten but unsigned one), a swapped manifest,
// no byte of another tenant's rows, garbage and truncated files; --streams (only the tenant's
// sys/api rows, an edited payload fails) and --investigation (packed, must be the tenant's); the
// two scan plans write the same pack, and the automatic choice and its fallback.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "anchor/checkpoint.h"
#include "anchor/keys.h"
#include "demo/demo_store.h"
#include "pack/pack_archive.h"
#include "pack/pack_format.h"
#include "pack/pack_verify.h"
#include "pack/pack_writer.h"
#include "record/record_log.h"
#include "store/reader.h"
#include "store/timestamp.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "util/crypto.h"

namespace fasten::pack {
namespace {

[[maybe_unused]] TenantScope AllScope() {
  return test_support::TestScopes::AllTenants();
}
[[maybe_unused]] TenantScope Scope(const std::string& t) {
  return test_support::TestScopes::Tenant(t);
}

using testing::TempDir;

bool HasKind(const PackReport& r, const std::string& kind) {
  return std::any_of(r.findings.begin(), r.findings.end(),
                     [&](const PackFinding& f) { return f.kind == kind; });
}

std::string Kinds(const PackReport& r) {
  std::string s;
  for (const PackFinding& f : r.findings) s += f.kind + ": " + f.reason + "\n";
  return s;
}

// The offset and length of a member's data in a ustar/pax archive, found by its header.
std::pair<size_t, size_t> DataRegion(const std::string& tar, const std::string& name) {
  size_t off = 0;
  while (off + 512 <= tar.size() && tar[off] != '\0') {
    std::string hname(tar.data() + off, strnlen(tar.data() + off, 100));
    size_t size = std::stoul(std::string(tar.data() + off + 124, 11), nullptr, 8);
    if (hname == name) return {off + 512, size};
    off += 512 + (size + 511) / 512 * 512;
  }
  return {0, 0};
}

// What a pack holds besides the audit rows, links and checkpoints (PackTest::Write).
struct Extras {
  bool streams = false;  // sys.ndjson and api.ndjson (--streams)
  std::string investigation_json, investigation_id;
};

class PackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    DemoOptions o;
    o.path = dir_->File("demo.db");
    DemoSummary s;
    ASSERT_TRUE(WriteDemoStore(o, &s).ok());
    Result<anchor::PrivateKey> key = anchor::PrivateKey::Generate("pack-test");
    ASSERT_TRUE(key.ok());
    key_ = new anchor::PrivateKey(*key);
    Result<anchor::PrivateKey> other = anchor::PrivateKey::Generate("someone-else");
    ASSERT_TRUE(other.ok());
    other_ = new anchor::PrivateKey(*other);
    // One checkpoint of every tip.
    std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(o.path);
    anchor::AppendOptions ao;
    ao.store = "demo";
    ao.key = key_;
    ao.now_unix = 1790000000;
    anchor::CheckpointBody body;
    std::vector<std::string> warnings;
    Status st = anchor::AppendCheckpoint(AllScope(), reader.get(), dir_->File("log.ndjson"), ao,
                                         &body, &warnings);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  static void TearDownTestSuite() {
    delete key_;
    delete other_;
    delete dir_;
  }

  // Writes a pack of `tenant` over the whole demo window.
  std::string Write(const std::string& tenant, const std::string& name, bool checkpoints = true,
                    PackSummary* summary = nullptr, const Extras& extras = Extras()) {
    std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(dir_->File("demo.db"));
    PackOptions o;
    o.reader = reader.get();
    std::unique_ptr<StreamReader> sys, api;
    if (extras.streams) {
      Result<Dsn> dsn = ParseDsn("sqlite:///" + dir_->File("demo.db"));
      EXPECT_TRUE(dsn.ok());
      EXPECT_TRUE(StreamReader::Open(*dsn, StreamKind::kSys, &sys).ok());
      EXPECT_TRUE(StreamReader::Open(*dsn, StreamKind::kApi, &api).ok());
      o.sys = sys.get();
      o.api = api.get();
    }
    o.investigation_json = extras.investigation_json;
    o.investigation_id = extras.investigation_id;
    o.store_identity = "demo";
    o.scope = Scope(tenant);
    ParseTimestamp("2000-01-01T00:00:00Z", &o.since);
    ParseTimestamp("2100-01-01T00:00:00Z", &o.until);
    o.name = name;
    o.key = key_;
    if (checkpoints) o.checkpoints_path = dir_->File("log.ndjson");
    o.out_path = tmp_.File(name + ".pack");
    o.now_unix = 1790000100;
    PackSummary s;
    Status st = WritePack(o, &s);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (summary) *summary = s;
    return o.out_path;
  }

  PackReport Verify(const std::string& path, const anchor::PrivateKey* key = nullptr) {
    VerifyPackOptions options;
    options.keys.push_back((key ? key : key_)->Public());
    return VerifyPack(path, options);
  }

  static TempDir* dir_;
  static anchor::PrivateKey* key_;
  static anchor::PrivateKey* other_;
  TempDir tmp_;
};

TempDir* PackTest::dir_ = nullptr;
anchor::PrivateKey* PackTest::key_ = nullptr;
anchor::PrivateKey* PackTest::other_ = nullptr;

TEST_F(PackTest, RoundTripVerifiesAndIsAnchored) {
  PackSummary s;
  std::string path = Write("acme", "soc2-2026Q1", true, &s);
  EXPECT_TRUE(s.chain_ok);
  EXPECT_GT(s.audit_rows, 100);
  EXPECT_GT(s.links, 0);
  EXPECT_EQ(s.checkpoints, 1);
  PackReport r = Verify(path);
  EXPECT_TRUE(r.ok()) << Kinds(r);
  EXPECT_EQ(r.audit_rows, s.audit_rows);
  EXPECT_EQ(r.links, s.links);
  EXPECT_EQ(r.rows_verified + r.unsealed, r.audit_rows);
  EXPECT_EQ(r.checkpoints_verified, 1);
  ASSERT_FALSE(r.nodes.empty());
  for (const PackNodeReport& n : r.nodes) {
    // The drainer node's rows are unsealed: no checkpoint has a tip for it.
    EXPECT_EQ(n.anchored, n.node != "mqtt-bridge-1") << n.node;
    EXPECT_EQ(n.anchor_verified, n.anchored) << n.node;
  }
  EXPECT_EQ(r.signed_by.size(), 1u);
  nlohmann::json j = PackReportJson(r);
  EXPECT_TRUE(j["ok"].get<bool>());
}

TEST_F(PackTest, WithoutCheckpointsNodesAreNotAnchoredButVerify) {
  std::string path = Write("globex", "globex", false);
  PackReport r = Verify(path);
  EXPECT_TRUE(r.ok()) << Kinds(r);
  for (const PackNodeReport& n : r.nodes) EXPECT_FALSE(n.anchored);
}

TEST_F(PackTest, WrongKeyIsASignatureFinding) {
  std::string path = Write("acme", "acme");
  PackReport r = Verify(path, other_);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(HasKind(r, kSignature)) << Kinds(r);
  EXPECT_TRUE(HasKind(r, kCheckpointInvalid)) << Kinds(r);
}

TEST_F(PackTest, TwentyByteFlipsInTheRowDataEachFail) {
  std::string path = Write("acme", "acme");
  const std::string tar = fasten::testing::ReadFileBytes(path);
  auto [off, len] = DataRegion(tar, kAudit);
  ASSERT_GT(len, 1000u);
  std::mt19937_64 rng(14);
  for (int i = 0; i < 20; ++i) {
    size_t pos = off + rng() % len;
    std::string bad = tar;
    bad[pos] = static_cast<char>(bad[pos] ^ (1 + rng() % 255));
    std::string p = tmp_.File("flip.pack");
    fasten::testing::WriteFileBytes(p, bad);
    PackReport r = Verify(p);
    EXPECT_FALSE(r.ok()) << "flip at " << pos;
    EXPECT_TRUE(HasKind(r, kMemberDigest)) << Kinds(r);
  }
}

TEST_F(PackTest, DeletedRowFailsWithTheOldManifestAndWithARewrittenUnsignedOne) {
  std::string path = Write("acme", "acme");
  Result<std::vector<ArchiveMember>> members = ReadArchive(path);
  ASSERT_TRUE(members.ok());
  for (ArchiveMember& m : *members) {
    if (m.name != kAudit) continue;
    size_t a = m.data.find('\n', m.data.size() / 2) + 1;
    size_t b = m.data.find('\n', a) + 1;
    m.data.erase(a, b - a);
  }
  std::string p = tmp_.File("deleted.pack");
  ASSERT_TRUE(WriteArchive(p, *members).ok());
  PackReport r = Verify(p);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(HasKind(r, kMemberDigest)) << Kinds(r);
  EXPECT_TRUE(HasKind(r, kLinkBroken)) << Kinds(r);

  // The attacker rewrites the manifest's digest, size and counts but cannot sign it.
  std::string audit;
  for (const ArchiveMember& m : *members) {
    if (m.name == kAudit) audit = m.data;
  }
  for (ArchiveMember& m : *members) {
    if (m.name != kManifest) continue;
    nlohmann::json j = nlohmann::json::parse(m.data);
    for (auto& e : j["members"]) {
      if (e["name"] == kAudit) {
        e["size"] = audit.size();
        e["sha256"] = Sha256().Hex(audit);
      }
    }
    j["counts"]["audit_rows"] = j["counts"]["audit_rows"].get<int64_t>() - 1;
    m.data = j.dump(2) + "\n";
  }
  ASSERT_TRUE(WriteArchive(p, *members).ok());
  r = Verify(p);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(HasKind(r, kSignature)) << Kinds(r);
  EXPECT_FALSE(HasKind(r, kMemberDigest)) << Kinds(r);
}

TEST_F(PackTest, SwappedManifestFails) {
  std::string a = Write("acme", "acme");
  std::string b = Write("globex", "globex");
  Result<std::vector<ArchiveMember>> ma = ReadArchive(a), mb = ReadArchive(b);
  ASSERT_TRUE(ma.ok() && mb.ok());
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ((*ma)[i].name, (*mb)[i].name);
    (*ma)[i] = (*mb)[i];  // manifest.json and manifest.sig
  }
  std::string p = tmp_.File("swapped.pack");
  ASSERT_TRUE(WriteArchive(p, *ma).ok());
  PackReport r = Verify(p);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(HasKind(r, kMemberDigest)) << Kinds(r);
  // Only manifest.json swapped: the signature names the other manifest.
  ma = ReadArchive(a);
  (*ma)[0] = (*mb)[0];
  ASSERT_TRUE(WriteArchive(p, *ma).ok());
  r = Verify(p);
  EXPECT_TRUE(HasKind(r, kSignature)) << Kinds(r);
}

TEST_F(PackTest, AcmePackHoldsNoByteOfAGlobexRow) {
  std::string path = Write("acme", "acme");
  const std::string bytes = fasten::testing::ReadFileBytes(path);
  std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(dir_->File("demo.db"));
  std::set<std::string> acme_values;
  std::vector<AuditRow> globex;
  ASSERT_TRUE(reader
                  ->Scan(AllScope(), ScanRange(),
                         [&](AuditRow& row) {
                           if (row.tenant_id.value == "globex") {
                             globex.push_back(row);
                           } else {
                             for (const std::string* v :
                                  {&row.detail.value, &row.actor, &row.target, &row.request_id}) {
                               acme_values.insert(*v);
                             }
                           }
                           return true;
                         })
                  .ok());
  ASSERT_GT(globex.size(), 100u);
  int64_t checked = 0;
  for (const AuditRow& row : globex) {
    EXPECT_EQ(bytes.find(row.id), std::string::npos) << "globex row id " << row.id;
    for (const std::string* v : {&row.detail.value, &row.actor, &row.target, &row.request_id}) {
      if (v->size() < 8 || acme_values.count(*v)) continue;  // shared or too short to tell
      std::boyer_moore_horspool_searcher search(v->begin(), v->end());
      EXPECT_EQ(std::search(bytes.begin(), bytes.end(), search), bytes.end())
          << "globex value " << *v << " of row " << row.id;
      ++checked;
    }
    // The link entries do carry its hash.
  }
  EXPECT_GT(checked, 100);
  EXPECT_NE(bytes.find(globex.front().hash), std::string::npos);
}

TEST_F(PackTest, GarbageTruncatedAndEmptyFilesAreFindings) {
  std::string path = Write("acme", "acme");
  const std::string tar = fasten::testing::ReadFileBytes(path);
  std::string p = tmp_.File("bad.pack");
  const auto [off, len] = DataRegion(tar, kAudit);
  for (const std::string& bytes :
       {std::string(), std::string("this is not a tar file at all\n"), std::string(4096, '\0'),
        tar.substr(0, 700), tar.substr(0, tar.size() / 2), tar.substr(0, off + len - 10)}) {
    fasten::testing::WriteFileBytes(p, bytes);
    PackReport r = Verify(p);
    EXPECT_FALSE(r.ok()) << bytes.size();
    EXPECT_FALSE(r.findings.empty());
  }
  fasten::testing::WriteFileBytes(p, "garbage");
  PackReport r = Verify(p);
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings[0].kind, kNotAPack);
  EXPECT_NE(r.findings[0].reason.find("not a readable pack"), std::string::npos);
}

TEST_F(PackTest, StreamsHoldOnlyTheTenantsRowsWithDigestsThatVerify) {
  PackSummary s;
  Extras extras;
  extras.streams = true;
  const std::string path = Write("acme", "acme-streams", true, &s, extras);
  EXPECT_GT(s.sys_rows, 0);
  EXPECT_GT(s.api_rows, 0);
  PackReport r = Verify(path);
  EXPECT_TRUE(r.ok()) << Kinds(r);
  EXPECT_EQ(r.sys_rows, s.sys_rows);
  EXPECT_EQ(r.api_rows, s.api_rows);
  const std::string tar = fasten::testing::ReadFileBytes(path);
  for (const char* member : {kSys, kApi}) {
    auto [off, len] = DataRegion(tar, member);
    ASSERT_GT(len, 0u) << member;
    std::istringstream lines(tar.substr(off, len));
    std::string line;
    int64_t n = 0;
    while (std::getline(lines, line)) {
      ++n;
      const nlohmann::json j = nlohmann::json::parse(line);
      const nlohmann::json payload = nlohmann::json::parse(j["payload"].get<std::string>());
      EXPECT_EQ(payload["tenant_id"], "acme") << member << " line " << n;
    }
    EXPECT_EQ(n, std::string(member) == kSys ? s.sys_rows : s.api_rows);
  }
  // Without --streams there is no stream member.
  PackReport plain = Verify(Write("acme", "acme-plain"));
  EXPECT_TRUE(plain.ok()) << Kinds(plain);
  EXPECT_EQ(plain.sys_rows + plain.api_rows, 0);
  for (const auto& m : plain.members) EXPECT_TRUE(m.name != kSys && m.name != kApi) << m.name;
}

TEST_F(PackTest, AnEditedStreamPayloadFails) {
  Extras extras;
  extras.streams = true;
  const std::string path = Write("acme", "acme-streams", true, nullptr, extras);
  const std::string tar = fasten::testing::ReadFileBytes(path);
  auto [off, len] = DataRegion(tar, kApi);
  ASSERT_GT(len, 0u);
  // Change a digit inside the first payload: the row's digest no longer matches, nor the member's.
  const std::string data = tar.substr(off, len);
  const size_t payload = data.find("\"payload\"");
  ASSERT_NE(payload, std::string::npos);
  size_t digit = data.find_first_of("0123456789", payload);
  ASSERT_NE(digit, std::string::npos);
  std::string bad = tar;
  bad[off + digit] = bad[off + digit] == '1' ? '2' : '1';
  const std::string p = tmp_.File("stream-edit.pack");
  fasten::testing::WriteFileBytes(p, bad);
  PackReport r = Verify(p);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(HasKind(r, kMemberDigest)) << Kinds(r);
  EXPECT_TRUE(HasKind(r, kStreamDigest)) << Kinds(r);
}

// A real investigation record of `tenant` from a fresh record log, as `pack --investigation`
// packs it (record::RecordJson); its id in *id.
std::string InvestigationJson(const TempDir& dir, const std::string& tenant, std::string* id) {
  Result<std::unique_ptr<record::RecordLog>> log = record::RecordLog::Open(dir.File("state.db"));
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return "";
  record::NewRecord rec;
  rec.kind = record::kKindInvestigation;
  rec.tenant = tenant;
  rec.content = {{"question", "why was the refund rolled back? \u00e9"},
                 {"answer", "the webhook returned 502"},
                 {"cost_usd", 0.0123},
                 {"verdict", {{"ok", true}, {"rows", 3}}}};
  Result<std::string> appended = (*log)->Append(rec);
  EXPECT_TRUE(appended.ok());
  *id = appended.ok() ? *appended : "";
  Result<record::StoredRecord> stored = (*log)->Get(*id, tenant);
  EXPECT_TRUE(stored.ok());
  return stored.ok() ? record::RecordJson(*stored).dump(2) : "";
}

TEST_F(PackTest, InvestigationRecordIsPackedAndMustBeTheTenants) {
  TempDir state;
  Extras extras;
  extras.investigation_json = InvestigationJson(state, "acme", &extras.investigation_id);
  PackReport r = Verify(Write("acme", "acme-investigation", true, nullptr, extras));
  EXPECT_TRUE(r.ok()) << Kinds(r);
  EXPECT_TRUE(r.investigation);
  EXPECT_TRUE(r.investigation_verified);
  EXPECT_TRUE(PackReportJson(r)["counts"]["investigation"].get<bool>());

  // An edited record (its answer changed, its hash kept) is packed and signed as given, but its
  // hash does not recompute offline.
  Extras edited = extras;
  const size_t at = edited.investigation_json.find("the webhook returned 502");
  ASSERT_NE(at, std::string::npos);
  edited.investigation_json.replace(at, 24, "the webhook returned 200");
  PackReport e = Verify(Write("acme", "acme-edited-investigation", true, nullptr, edited));
  EXPECT_FALSE(e.ok());
  EXPECT_FALSE(e.investigation_verified);
  EXPECT_TRUE(HasKind(e, kInvestigationInvalid)) << Kinds(e);

  // Another record than the manifest names.
  Extras renamed = extras;
  renamed.investigation_id = "inv-0000000000000000";
  PackReport n = Verify(Write("acme", "acme-renamed-investigation", true, nullptr, renamed));
  EXPECT_TRUE(HasKind(n, kInvestigationInvalid)) << Kinds(n);

  // Another tenant's record (the CLI refuses it; a forged pack is caught by the verifier).
  Extras globex;
  globex.investigation_json = InvestigationJson(state, "globex", &globex.investigation_id);
  PackReport other = Verify(Write("acme", "acme-globex-investigation", true, nullptr, globex));
  EXPECT_FALSE(other.ok());
  EXPECT_TRUE(HasKind(other, kRowOutside)) << Kinds(other);

  // Not a record at all.
  Extras junk;
  junk.investigation_id = "inv-0001";
  junk.investigation_json = R"({"id": "inv-0001", "tenant": "acme"})";
  PackReport j = Verify(Write("acme", "acme-junk-investigation", true, nullptr, junk));
  EXPECT_TRUE(HasKind(j, kInvestigationInvalid)) << Kinds(j);

  // Without one, the report says so.
  PackReport none = Verify(Write("acme", "acme-no-investigation"));
  EXPECT_TRUE(none.ok()) << Kinds(none);
  EXPECT_FALSE(none.investigation);
}

// ---------------------------------------------------------------------------------------------
// The two plans (pack_writer.h): a scan in storage order and one scan per node in seq order write
// the same pack, byte for byte, whatever the window: whole, in the middle (rows before it, other
// tenants' rows between and after its rows, a checkpoint beyond it), one node, with a changed row.

struct Window {
  std::string tenant = "acme";
  Micros since = 0, until = 0;
  std::optional<std::string> node;
  bool checkpoints = true;
};

class PackPlanTest : public PackTest {
 protected:
  // The pack of `w` from the store at `store`, with `plan`; its bytes.
  std::string Pack(const std::string& store, const Window& w, PackPlan plan, PackSummary* s) {
    std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(store);
    PackOptions o;
    o.reader = reader.get();
    o.store_identity = "demo";
    o.scope = Scope(w.tenant);
    o.since = w.since;
    o.until = w.until;
    o.node = w.node;
    o.name = "plans";
    o.key = key_;
    if (w.checkpoints) o.checkpoints_path = dir_->File("log.ndjson");
    o.out_path = tmp_.File(std::string("plan-") + PackPlanName(plan) + ".pack");
    o.now_unix = 1790000100;
    o.plan = plan;
    Status st = WritePack(o, s);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return fasten::testing::ReadFileBytes(o.out_path);
  }

  // Both plans' packs of `w`: equal, and each plan the one asked for.
  void ExpectSamePack(const std::string& store, const Window& w, PackSummary* out = nullptr) {
    PackSummary a, b;
    const std::string storage = Pack(store, w, PackPlan::kStorageOrder, &a);
    const std::string per_node = Pack(store, w, PackPlan::kPerNode, &b);
    EXPECT_EQ(a.plan, PackPlan::kStorageOrder);
    EXPECT_EQ(b.plan, PackPlan::kPerNode);
    ASSERT_FALSE(storage.empty());
    EXPECT_TRUE(storage == per_node) << "the plans wrote different packs";
    for (const char* member : {kManifest, kAudit, kLinks, kVerify, kCheckpoints}) {
      auto [off_a, len_a] = DataRegion(storage, member);
      auto [off_b, len_b] = DataRegion(per_node, member);
      EXPECT_EQ(storage.substr(off_a, len_a), per_node.substr(off_b, len_b)) << member;
    }
    EXPECT_EQ(a.audit_rows, b.audit_rows);
    EXPECT_EQ(a.links, b.links);
    EXPECT_EQ(a.chain_ok, b.chain_ok);
    if (out) *out = a;
  }

  // The demo store's oldest and newest row times.
  static std::pair<Micros, Micros> Bounds(const std::string& store) {
    std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(store);
    std::optional<Micros> oldest, newest;
    EXPECT_TRUE(reader->TimeBounds(AllScope(), &oldest, &newest).ok());
    EXPECT_TRUE(oldest && newest);
    return {oldest.value_or(0), newest.value_or(0)};
  }
  // The window from `from` to `to` (fractions of the store's time span).
  static Window Middle(const std::string& store, double from, double to) {
    auto [oldest, newest] = Bounds(store);
    Window w;
    w.since = oldest + static_cast<Micros>((newest - oldest) * from);
    w.until = oldest + static_cast<Micros>((newest - oldest) * to);
    return w;
  }
};

TEST_F(PackPlanTest, WholeWindowIsTheSamePackEitherWay) {
  Window w;
  ParseTimestamp("2000-01-01T00:00:00Z", &w.since);
  ParseTimestamp("2100-01-01T00:00:00Z", &w.until);
  PackSummary s;
  ExpectSamePack(dir_->File("demo.db"), w, &s);
  EXPECT_TRUE(s.chain_ok);
  EXPECT_GT(s.audit_rows, 100);
  // Storage order reads every row of the store once (some precede the tenant's first rows).
  int64_t rows = 0;
  ASSERT_TRUE(
      fasten::testing::OpenSqliteReader(dir_->File("demo.db"))->CountRows(AllScope(), &rows).ok());
  EXPECT_EQ(s.rows_scanned, rows);
  EXPECT_LE(s.audit_rows + s.links, rows);
}

TEST_F(PackPlanTest, MiddleWindowIsTheSamePackEitherWayAndVerifies) {
  const std::string store = dir_->File("demo.db");
  for (const std::string tenant : {"acme", "globex"}) {
    for (bool checkpoints : {true, false}) {
      SCOPED_TRACE(tenant + (checkpoints ? " anchored" : " not anchored"));
      Window w = Middle(store, 0.4, 0.6);
      w.tenant = tenant;
      w.checkpoints = checkpoints;
      PackSummary s;
      ExpectSamePack(store, w, &s);
      ASSERT_FALSE(s.nodes.empty());
      for (const PackNodeSummary& n : s.nodes) {
        EXPECT_GT(n.first_seq, 1) << n.node;  // rows before the window were read and left out
        EXPECT_EQ(n.from_seq, n.first_seq - 1) << n.node;
        // Anchored: the links run on to the checkpoint; else the pack ends at the last row.
        EXPECT_EQ(n.to_seq, n.anchored ? n.anchor_seq : n.last_seq) << n.node;
        EXPECT_EQ(n.anchored, checkpoints && n.node != "mqtt-bridge-1") << n.node;
      }
      PackReport r = Verify(tmp_.File("plan-storage order.pack"));
      EXPECT_TRUE(r.ok()) << Kinds(r);
    }
  }
}

TEST_F(PackPlanTest, OneNodeIsTheSamePackEitherWay) {
  Window w = Middle(dir_->File("demo.db"), 0.1, 0.3);
  w.node = "edge-us-1";
  PackSummary s;
  ExpectSamePack(dir_->File("demo.db"), w, &s);
  ASSERT_EQ(s.nodes.size(), 1u);
  EXPECT_EQ(s.nodes[0].node, "edge-us-1");
}

TEST_F(PackPlanTest, ChangedRowIsTheSameBrokenPackEitherWay) {
  TempDir dir;
  DemoOptions o;
  o.path = dir.File("tampered.db");
  o.tamper = true;
  DemoSummary d;
  ASSERT_TRUE(WriteDemoStore(o, &d).ok());
  Window w;
  ParseTimestamp("2000-01-01T00:00:00Z", &w.since);
  ParseTimestamp("2100-01-01T00:00:00Z", &w.until);
  w.checkpoints = false;
  for (const std::string tenant : {"acme", "globex"}) {
    w.tenant = tenant;
    PackSummary s;
    ExpectSamePack(o.path, w, &s);
  }
}

TEST_F(PackPlanTest, AutoReadsInStorageOrderUnlessTheWindowIsNarrow) {
  const std::string store = dir_->File("demo.db");
  Window whole = Middle(store, -0.1, 1.1), half = Middle(store, 0.2, 0.7),
         narrow = Middle(store, 0.45, 0.55);
  PackSummary s;
  Pack(store, whole, PackPlan::kAuto, &s);
  EXPECT_EQ(s.plan, PackPlan::kStorageOrder);
  Pack(store, half, PackPlan::kAuto, &s);
  EXPECT_EQ(s.plan, PackPlan::kStorageOrder);
  Pack(store, narrow, PackPlan::kAuto, &s);
  EXPECT_EQ(s.plan, PackPlan::kPerNode);
  EXPECT_LT(s.rows_scanned, s.audit_rows + s.links + 10);  // only the window's seqs were read
}

TEST_F(PackPlanTest, RowsStoredOutOfOrderFallBackToOneScanPerNode) {
  // Every row stored in descending seq order: a storage-order scan cannot restore seq order.
  TempDir dir;
  DemoOptions o;
  o.path = dir.File("reversed.db");
  o.audit_rows = 12000;
  DemoSummary d;
  ASSERT_TRUE(WriteDemoStore(o, &d).ok());
  fasten::testing::ExecSql(o.path,
                           "CREATE TEMP TABLE x AS SELECT * FROM audit_log; DELETE FROM audit_log; "
                           "INSERT INTO audit_log SELECT * FROM x ORDER BY monotonic_seq DESC;");
  Window w = Middle(o.path, -0.1, 1.1);
  PackSummary forced, auto_plan;
  const std::string per_node = Pack(o.path, w, PackPlan::kPerNode, &forced);
  const std::string fell_back = Pack(o.path, w, PackPlan::kStorageOrder, &auto_plan);
  EXPECT_EQ(auto_plan.plan, PackPlan::kPerNode);
  EXPECT_TRUE(per_node == fell_back);
  PackReport r = Verify(tmp_.File("plan-storage order.pack"));
  EXPECT_TRUE(r.ok()) << Kinds(r);
}

TEST(PackFormat, RowLineRoundTripsOddDetails) {
  AuditRow row;
  row.id = "r1";
  row.monotonic_seq = 7;
  row.timestamp = "2026-01-01T00:00:00Z";
  row.source_node_id = "n\"1";
  for (std::string detail : {"{\"a\": 1.50}", " {\"a\":1}", "{\n\"a\":1}", "null", "not json"}) {
    row.detail.Set(detail);
    std::string line;
    AppendPackRowLine(row, &line);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    AuditRow back;
    ASSERT_TRUE(PackRowFromLine(line, &back).ok()) << line;
    EXPECT_EQ(back.detail.value, detail);
    EXPECT_FALSE(back.detail.null);
    EXPECT_EQ(back.source_node_id, row.source_node_id);
  }
  row.detail.SetNull();
  std::string line;
  AppendPackRowLine(row, &line);
  AuditRow back;
  ASSERT_TRUE(PackRowFromLine(line, &back).ok());
  EXPECT_TRUE(back.detail.null);
  LinkRecord link;
  line.clear();
  AppendLinkLine("n", 3, "h", "p", &line);
  ASSERT_TRUE(ParseLinkLine(line, &link).ok());
  EXPECT_EQ(link.seq, 3);
  EXPECT_FALSE(ParseLinkLine("{\"node\":\"n\",\"seq\":1,\"hash\":\"h\",\"prev_hash\":\"p\","
                             "\"detail\":\"x\"}",
                             &link)
                   .ok());
}

}  // namespace
}  // namespace fasten::pack
