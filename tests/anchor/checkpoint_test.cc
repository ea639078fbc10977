// Signed checkpoints: the body and log formats, and the attacks they must catch, written by the
// test itself on copies of the demo store (a suffix re-sealed with the test's own sealer, the
// newest rows deleted, the log edited, truncated, reordered, or verified with the wrong key).
#include "anchor/checkpoint.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "anchor/tips_cache.h"
#include "app/commands.h"
#include "demo/demo_store.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "validator/integrity_verdict.h"

namespace fasten::anchor {
namespace {

[[maybe_unused]] TenantScope AllScope() {
  return test_support::TestScopes::AllTenants();
}
[[maybe_unused]] TenantScope Scope(const std::string& t) {
  return test_support::TestScopes::Tenant(t);
}

using fasten::testing::TempDir;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// The attacker's tool: rewrites rows of `node` from `seq` on, applying `change` to the first,
// and re-seals every later row of the node (tests/test_store.h Seal, the test's own sealer), so
// that the chain verifies again.
void ChangeAndReseal(const std::string& path, const std::string& node, int64_t seq,
                     const std::function<void(AuditRow*)>& change) {
  std::vector<AuditRow> rows;
  std::string prev;
  {
    std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(path);
    ScanRange range;
    range.source_node_id = node;
    range.from_seq = seq;
    range.order = ScanRange::Order::kSeq;
    ASSERT_TRUE(reader
                    ->Scan(AllScope(), range,
                           [&](AuditRow& r) {
                             rows.push_back(r);
                             return true;
                           })
                    .ok());
    ASSERT_FALSE(rows.empty());
    prev = rows.front().prev_hash;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "UPDATE audit_log SET detail = ?, detail_salt = ?, "
                               "detail_commitment = ?, prev_hash = ?, hash = ? WHERE id = ?",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  bool first = true;
  for (AuditRow& r : rows) {
    if (r.hash.empty()) continue;  // unsealed rows are not in the chain
    if (first) change(&r);
    first = false;
    fasten::testing::Seal(&r, prev);
    prev = r.hash;
    auto bind_text = [&](int i, const std::string& v) {
      sqlite3_bind_text(stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    };
    auto bind_nullable = [&](int i, const auto& v) {
      if (v.null) {
        sqlite3_bind_null(stmt, i);
      } else {
        bind_text(i, v.value);
      }
    };
    bind_nullable(1, r.detail);
    bind_nullable(2, r.detail_salt);
    bind_nullable(3, r.detail_commitment);
    bind_text(4, r.prev_hash);
    bind_text(5, r.hash);
    bind_text(6, r.id);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

class CheckpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    DemoOptions o;
    o.path = dir_->File("demo.db");
    DemoSummary s;
    ASSERT_TRUE(WriteDemoStore(o, &s).ok());
    Result<PrivateKey> key = PrivateKey::Generate("test-ckpt");
    ASSERT_TRUE(key.ok());
    key_ = new PrivateKey(key.value());
    Result<PrivateKey> other = PrivateKey::Generate("test-ckpt");
    ASSERT_TRUE(other.ok());
    other_key_ = new PrivateKey(other.value());
  }
  static void TearDownTestSuite() {
    delete key_;
    delete other_key_;
    delete dir_;
  }

  // A fresh copy of the demo store, and a log path beside it.
  std::string CopyStore() {
    std::string path = tmp_.File("store.db");
    std::filesystem::copy_file(dir_->File("demo.db"), path,
                               std::filesystem::copy_options::overwrite_existing);
    return path;
  }

  CheckpointBody Append(const std::string& store, const std::string& log, int64_t now,
                        const PrivateKey* key = nullptr) {
    std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(store);
    AppendOptions o;
    o.store = "demo";
    o.key = key ? key : key_;
    o.now_unix = now;
    CheckpointBody body;
    std::vector<std::string> warnings;
    Status st = AppendCheckpoint(AllScope(), reader.get(), log, o, &body, &warnings);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return body;
  }

  AnchorReport Check(const std::string& store, const std::string& log,
                     std::vector<PublicKey> keys = {}) {
    if (keys.empty()) keys.push_back(key_->Public());
    AnchorConfig config;
    config.log = log;
    config.check.keys = keys;
    config.scope = AllScope();
    std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(store);
    AnchorReport report;
    Status st = VerifyAnchors(reader.get(), config, nullptr, &report);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return report;
  }

  static std::string Kinds(const AnchorReport& r) {
    std::string out;
    for (const AnchorFinding& f : r.findings) out += f.kind + ": " + f.reason + "\n";
    return out;
  }

  static bool Has(const AnchorReport& r, const std::string& kind) {
    for (const AnchorFinding& f : r.findings) {
      if (f.kind == kind) return true;
    }
    return false;
  }

  // Runs a fasten-mcp command in-process; returns its exit status, output in *out.
  int Run(std::vector<std::string> argv, std::string* out = nullptr) {
    argv.insert(argv.begin(), "fasten-mcp");
    std::vector<char*> ptrs;
    for (std::string& a : argv) ptrs.push_back(a.data());
    ptrs.push_back(nullptr);
    std::ostringstream o, e;
    Env env;
    CommandIo io{o, e, env};
    int argc = static_cast<int>(argv.size());
    int rc = -1;
    const std::string cmd = argv[1];
    if (cmd == "verify") rc = RunVerify(argc, ptrs.data(), io);
    if (cmd == "checkpoint") rc = RunCheckpoint(argc, ptrs.data(), io);
    if (out) *out = o.str() + e.str();
    return rc;
  }

  TempDir tmp_;
  static TempDir* dir_;
  static PrivateKey* key_;
  static PrivateKey* other_key_;
};

TempDir* CheckpointTest::dir_ = nullptr;
PrivateKey* CheckpointTest::key_ = nullptr;
PrivateKey* CheckpointTest::other_key_ = nullptr;

TEST(CheckpointBody, TextRoundTripsAndEncodesOddNodeNames) {
  CheckpointBody b;
  b.store = "sqlite:////var/lib/app/audit.db";
  b.index = 2;
  b.time = "2026-12-05T22:40:23Z";
  b.prev = std::string(64, 'a');
  b.nodes = {{"edge us%1", 7, std::string(64, 'b'), 7}, {"node\n2", 3, "c", 2}};
  std::sort(b.nodes.begin(), b.nodes.end(),
            [](const NodeTip& x, const NodeTip& y) { return x.node < y.node; });
  const std::string text = b.Text();
  EXPECT_NE(text.find("node edge%20us%251 7 "), std::string::npos) << text;
  EXPECT_EQ(text.find("node\n2"), std::string::npos);
  Result<CheckpointBody> back = CheckpointBody::Parse(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->Text(), text);
  EXPECT_EQ(back->nodes[0].node, b.nodes[0].node);
  EXPECT_EQ(back->nodes[1].node, b.nodes[1].node);
}

TEST(CheckpointBody, ParseRejectsWhatItCannotRead) {
  const std::string good =
      "fasten-mcp checkpoint v1\nstore s\nindex 1\ntime 2026-12-05T22:40:23Z\nprev genesis\n"
      "node a 1 h 1\n";
  ASSERT_TRUE(CheckpointBody::Parse(good).ok());
  for (const std::string& bad : {
           std::string(""),
           good.substr(0, good.size() - 1),                                   // no newline
           "fasten-mcp checkpoint v2" + good.substr(24),                      // version
           std::string(good).replace(good.find("index 1"), 7, "index 0"),     // index
           std::string(good).replace(good.find("index 1"), 7, "index 2"),     // genesis at 2
           std::string(good).replace(good.find("22:40:23Z"), 9, "22:40:23"),  // no Z
           std::string(good).replace(good.find("node a 1 h 1"), 12, "node a 1 h"),
           std::string(good).replace(good.find("node a 1 h 1"), 12, "node a 0 h 1"),
           std::string(good).replace(good.find("node a 1 h 1"), 12, "node a%4 1 h 1"),
           good + "node a 2 h 2\n",  // repeated node
           // Only PercentEncode's spelling (found by fuzz_checkpoint_log): raw bytes outside
           // '!'..'~', lower-case hex, and escapes of bytes that need none.
           std::string(good).replace(good.find("store s"), 7, std::string("store s\0x", 9)),
           std::string(good).replace(good.find("store s"), 7, "store s%0a"),
           std::string(good).replace(good.find("store s"), 7, "store %41"),
       }) {
    EXPECT_FALSE(CheckpointBody::Parse(bad).ok()) << bad;
  }
}

TEST_F(CheckpointTest, AnIntactStoreMatchesEveryCheckpoint) {
  const std::string store = CopyStore(), log = tmp_.File("ckpt.log");
  CheckpointBody first = Append(store, log, 1800000000);
  EXPECT_EQ(first.index, 1);
  EXPECT_EQ(first.prev, "genesis");
  ASSERT_GE(first.nodes.size(), 3u);
  CheckpointBody second = Append(store, log, 1800000060);
  EXPECT_EQ(second.index, 2);
  EXPECT_EQ(second.prev, CheckpointDigest(first.Text()));
  // The incremental count equals a full count.
  for (size_t i = 0; i < first.nodes.size(); ++i) {
    EXPECT_EQ(second.nodes[i].sealed, first.nodes[i].sealed);
    EXPECT_GT(first.nodes[i].sealed, 0);
  }
  AnchorReport r = Check(store, log);
  EXPECT_TRUE(r.ok()) << Kinds(r);
  EXPECT_EQ(r.checkpoints, 2);
  EXPECT_EQ(r.signatures_verified, 2);
  for (const NodeAnchor& n : r.nodes) EXPECT_EQ(n.status, "anchored") << n.node;
  // The log's lines are C2SP signed notes.
  std::vector<std::string> lines = Lines(fasten::testing::ReadFileBytes(log));
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json j = nlohmann::json::parse(lines[0]);
  const std::string note = j["note"];
  EXPECT_NE(note.find("\n\n\xE2\x80\x94 test-ckpt "), std::string::npos) << note;
}

TEST_F(CheckpointTest, ResealedSuffixPassesPlainVerifyButNotTheCheckpoints) {
  const std::string store = CopyStore(), log = tmp_.File("ckpt.log");
  Append(store, log, 1800000000);
  ChangeAndReseal(store, "edge-us-1", 1239, [](AuditRow* r) {
    r->detail.Set(R"({"amount_cents":1,"note":"rewritten by the attacker"})");
  });
  const std::string pub = tmp_.File("k.pub");
  fasten::testing::WriteFileBytes(pub, key_->Public().Text() + "\n");
  std::string out;
  EXPECT_EQ(Run({"verify", "--store", "sqlite:///" + store, "--no-progress", "--no-streams"}, &out),
            0)
      << out;
  EXPECT_EQ(Run({"verify", "--store", "sqlite:///" + store, "--no-progress", "--no-streams",
                 "--checkpoints", log, "--pubkey", pub},
                &out),
            1)
      << out;
  EXPECT_NE(out.find("checkpoint_mismatch"), std::string::npos) << out;
  AnchorReport r = Check(store, log);
  ASSERT_TRUE(Has(r, kCheckpointMismatch)) << Kinds(r);
  for (const AnchorFinding& f : r.findings) EXPECT_EQ(f.node, "edge-us-1") << f.reason;
  // --json carries the finding and ok=false.
  EXPECT_EQ(Run({"verify", "--store", "sqlite:///" + store, "--no-progress", "--no-streams",
                 "--json", "--checkpoints", log, "--pubkey", pub},
                &out),
            1);
  nlohmann::json j = nlohmann::json::parse(out.substr(0, out.rfind('}') + 1));
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_EQ(j["anchors"]["findings"][0]["kind"], kCheckpointMismatch);
}

TEST_F(CheckpointTest, DeletingTheNewestRowsIsTruncationAfterTheCheckpoint) {
  const std::string store = CopyStore(), log = tmp_.File("ckpt.log");
  Append(store, log, 1800000000);
  fasten::testing::ExecSql(
      store,
      "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE source_node_id = "
      "'core-1' ORDER BY monotonic_seq DESC LIMIT 5)");
  std::string out;
  EXPECT_EQ(Run({"verify", "--store", "sqlite:///" + store, "--no-progress", "--no-streams"}, &out),
            0)
      << out;
  AnchorReport r = Check(store, log);
  ASSERT_TRUE(Has(r, kTruncatedAfterCheckpoint)) << Kinds(r);
  EXPECT_NE(r.findings[0].reason.find("core-1"), std::string::npos);
  EXPECT_NE(r.findings[0].reason.find("5 checkpointed row(s) are gone"), std::string::npos)
      << r.findings[0].reason;
}

TEST_F(CheckpointTest, ARemovedNodeIsMissing) {
  const std::string store = CopyStore(), log = tmp_.File("ckpt.log");
  Append(store, log, 1800000000);
  fasten::testing::ExecSql(store, "DELETE FROM audit_log WHERE source_node_id = 'edge-eu-1'");
  AnchorReport r = Check(store, log);
  ASSERT_TRUE(Has(r, kNodeMissing)) << Kinds(r);
}

TEST_F(CheckpointTest, NewerRowsAreNotYetAnchoredNeverAFailure) {
  const std::string store = CopyStore(), log = tmp_.File("ckpt.log");
  Append(store, log, 1800000000);
  // The application goes on writing: seal one more row on core-1 after the checkpoint.
  std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(store);
  std::optional<Predecessor> tip;
  ASSERT_TRUE(reader->Tip(AllScope(), "core-1", &tip).ok());
  ASSERT_TRUE(tip);
  reader.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(store.c_str(), &db), SQLITE_OK);
    std::string sql =
        "INSERT INTO audit_log (id, origin_id, monotonic_seq, timestamp, code, action, "
        "severity, service_id, source_node_id, tenant_id, actor, actor_kind, target, category, "
        "domain, method, request_id, detail, hash, prev_hash, canonical_form_id) SELECT ?, "
        "origin_id, ?, ?, code, action, severity, service_id, source_node_id, tenant_id, actor, "
        "actor_kind, target, category, domain, method, request_id, detail, '', ?, '1' FROM "
        "audit_log WHERE id = ?";
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
    sqlite3_bind_text(st, 1, "after-checkpoint-1", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, tip->seq + 1);
    sqlite3_bind_text(st, 3, "2026-11-30T00:00:00.000000Z", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, tip->hash.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, tip->id.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  // Seal the new row with the test's sealer over what the reader renders.
  reader = fasten::testing::OpenSqliteReader(store);
  std::optional<AuditRow> prev_row, next_row;
  ASSERT_TRUE(reader->FindNeighbours(AllScope(), "core-1", tip->seq, &prev_row, &next_row).ok());
  ASSERT_TRUE(next_row);
  AuditRow added = *next_row;
  reader.reset();
  fasten::testing::Seal(&added, tip->hash);
  fasten::testing::ExecSql(
      store, "UPDATE audit_log SET hash = '" + added.hash + "' WHERE id = 'after-checkpoint-1'");
  std::string out;
  EXPECT_EQ(Run({"verify", "--store", "sqlite:///" + store, "--no-progress", "--no-streams"}, &out),
            0)
      << out;
  const std::string pub = tmp_.File("k.pub");
  fasten::testing::WriteFileBytes(pub, key_->Public().Text() + "\n");
  EXPECT_EQ(Run({"verify", "--store", "sqlite:///" + store, "--no-progress", "--no-streams",
                 "--checkpoints", log, "--pubkey", pub},
                &out),
            0)
      << out;
  EXPECT_NE(out.find("1 newer seq(s) not yet anchored"), std::string::npos) << out;
}

TEST_F(CheckpointTest, EditingRemovingOrReorderingCheckpointsBreaksTheLog) {
  const std::string store = CopyStore(), log = tmp_.File("ckpt.log");
  for (int i = 0; i < 3; ++i) Append(store, log, 1800000000 + 60 * i);
  ASSERT_TRUE(Check(store, log).ok());
  const std::vector<std::string> lines = Lines(fasten::testing::ReadFileBytes(log));
  ASSERT_EQ(lines.size(), 3u);
  const std::string edited_log = tmp_.File("edited.log");

  // Edit: a checkpointed seq changed in the note's text (the signature no longer covers it).
  {
    std::vector<std::string> l = lines;
    nlohmann::json j = nlohmann::json::parse(l[1]);
    std::string note = j["note"];
    size_t at = note.find("\nnode core-1 ");
    ASSERT_NE(at, std::string::npos);
    size_t digit = note.find(' ', at + 13) - 1;
    note[digit] = note[digit] == '1' ? '2' : '1';
    j["note"] = note;
    l[1] = j.dump();
    fasten::testing::WriteFileBytes(edited_log, Join(l));
    AnchorReport r = Check(store, edited_log);
    EXPECT_TRUE(Has(r, kCheckpointLogBroken)) << Kinds(r);
    EXPECT_FALSE(r.ok());
  }
  // Remove the middle checkpoint.
  {
    fasten::testing::WriteFileBytes(edited_log, Join({lines[0], lines[2]}));
    AnchorReport r = Check(store, edited_log);
    ASSERT_TRUE(Has(r, kCheckpointLogBroken)) << Kinds(r);
    EXPECT_NE(Kinds(r).find("removed"), std::string::npos) << Kinds(r);
  }
  // Reorder.
  {
    fasten::testing::WriteFileBytes(edited_log, Join({lines[0], lines[2], lines[1]}));
    AnchorReport r = Check(store, edited_log);
    EXPECT_TRUE(Has(r, kCheckpointLogBroken)) << Kinds(r);
  }
  // Remove the first.
  {
    fasten::testing::WriteFileBytes(edited_log, Join({lines[1], lines[2]}));
    AnchorReport r = Check(store, edited_log);
    EXPECT_TRUE(Has(r, kCheckpointLogBroken)) << Kinds(r);
  }
  // A garbage line.
  {
    fasten::testing::WriteFileBytes(edited_log,
                                    Join({lines[0], "{\"note\": 3}", lines[1], lines[2]}));
    AnchorReport r = Check(store, edited_log);
    EXPECT_TRUE(Has(r, kCheckpointLogBroken)) << Kinds(r);
  }
  // The wrong key: same name, different key.
  {
    AnchorReport r = Check(store, log, {other_key_->Public()});
    EXPECT_TRUE(Has(r, kCheckpointLogBroken)) << Kinds(r);
    EXPECT_EQ(r.signatures_verified, 0);
  }
  // A checkpoint signed by an untrusted key appended by someone else.
  {
    const std::string forged = tmp_.File("forged.log");
    std::filesystem::copy_file(log, forged);
    Append(store, forged, 1800000600, other_key_);
    AnchorReport r = Check(store, forged);
    EXPECT_TRUE(Has(r, kCheckpointLogBroken)) << Kinds(r);
    EXPECT_EQ(r.signatures_verified, 3);
  }
  // Rotation: both keys trusted, both verify.
  {
    const std::string rotated = tmp_.File("rotated.log");
    std::filesystem::copy_file(log, rotated);
    Append(store, rotated, 1800000600, other_key_);
    AnchorReport r = Check(store, rotated, {key_->Public(), other_key_->Public()});
    EXPECT_TRUE(r.ok()) << Kinds(r);
    EXPECT_EQ(r.signatures_verified, 4);
  }
}

TEST_F(CheckpointTest, TheIntegrityVerdictIsAnchoredOnlyByCheckpointsThatMatch) {
  const std::string store = CopyStore(), log = tmp_.File("ckpt.log");
  Append(store, log, 1800000000);
  AnchorConfig config;
  config.log = log;
  config.check.keys = {key_->Public()};
  AnchorTipsCache cache(config);
  Result<std::shared_ptr<const AnchorTips>> tips = cache.Get();
  ASSERT_TRUE(tips.ok()) << tips.status().ToString();
  ASSERT_GE((*tips)->size(), 3u);
  IntegrityScope all;  // every row of the demo store
  ASSERT_TRUE(ParseTimestamp("2026-01-01T00:00:00Z", &all.since));
  ASSERT_TRUE(ParseTimestamp("2027-01-01T00:00:00Z", &all.until));
  {
    std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(store);
    IntegrityVerdict plain, anchored;
    ASSERT_TRUE(ComputeIntegrityVerdict(reader.get(), Scope("acme"), all, &plain).ok());
    ASSERT_TRUE(ComputeIntegrityVerdict(reader.get(), Scope("acme"), all, &anchored,
                                        kMaxVerdictSeqs, tips->get())
                    .ok());
    EXPECT_TRUE(plain.ok);
    EXPECT_EQ(plain.line.find("anchored"), std::string::npos) << plain.line;
    EXPECT_TRUE(anchored.ok) << anchored.line;
    EXPECT_NE(anchored.line.find(" · anchored (checkpoint #1, 2027-01-15T08:00:00Z)"),
              std::string::npos)
        << anchored.line;
  }
  // The suffix of edge-us-1 re-sealed after the checkpoint: the chain verifies, the checkpoint
  // inside the window does not match: a BREAK, never "anchored".
  ChangeAndReseal(store, "edge-us-1", 1239,
                  [](AuditRow* r) { r->detail.Set(R"({"note":"rewritten"})"); });
  std::unique_ptr<AuditReader> reader = fasten::testing::OpenSqliteReader(store);
  IntegrityVerdict v;
  ASSERT_TRUE(
      ComputeIntegrityVerdict(reader.get(), AllScope(), all, &v, kMaxVerdictSeqs, tips->get())
          .ok());
  EXPECT_FALSE(v.ok);
  const NodeIntegrity* broken = v.FirstBreak();
  ASSERT_NE(broken, nullptr) << v.line;
  EXPECT_EQ(broken->source_node_id, "edge-us-1");
  ASSERT_TRUE(broken->first_break);
  EXPECT_EQ(broken->first_break->category, "checkpoint");
  EXPECT_NE(v.line.find("BREAK on edge-us-1"), std::string::npos) << v.line;
  EXPECT_NE(v.line.find("(checkpoint mismatch)"), std::string::npos) << v.line;
}

TEST_F(CheckpointTest, CommandLineErrorsSayWhatToFix) {
  const std::string store = CopyStore(), log = tmp_.File("ckpt.log");
  std::string out;
  EXPECT_EQ(Run({"checkpoint", "--store", "sqlite:///" + store, "--log", log}, &out), 2);
  EXPECT_NE(out.find("--key KEY is required"), std::string::npos) << out;
  EXPECT_EQ(Run({"verify", "--store", "sqlite:///" + store, "--checkpoints", log}, &out), 2);
  EXPECT_NE(out.find("--pubkey"), std::string::npos) << out;
  const std::string keyfile = tmp_.File("k");
  fasten::testing::WriteFileBytes(keyfile, key_->Text() + "\n");
  chmod(keyfile.c_str(), 0600);
  EXPECT_EQ(
      Run({"checkpoint", "--store", "sqlite:///" + store, "--log", log, "--key", keyfile}, &out), 0)
      << out;
  EXPECT_NE(out.find("checkpoint #1 appended"), std::string::npos) << out;
  // A log whose last line was cut short is refused, and nothing is appended.
  std::string text = fasten::testing::ReadFileBytes(log);
  fasten::testing::WriteFileBytes(log, text + "{\"note\":");
  EXPECT_EQ(
      Run({"checkpoint", "--store", "sqlite:///" + store, "--log", log, "--key", keyfile}, &out),
      2);
  EXPECT_NE(out.find("partial line"), std::string::npos) << out;
  EXPECT_EQ(fasten::testing::ReadFileBytes(log), text + "{\"note\":");
}

}  // namespace
}  // namespace fasten::anchor
