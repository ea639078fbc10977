// The SQLite reader against each writer's table layout, bad stores and bad input.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "store/reader.h"
#include "test_store.h"
#include "validator/chain.h"

namespace fasten {
namespace {

using testing::Chain;
using testing::ExecSql;
using testing::InsertRows;
using testing::MakeRow;
using testing::Seal;
using testing::TempDir;

std::unique_ptr<AuditReader> OpenAudit(const std::string& dsn_text) {
  Result<Dsn> dsn = ParseDsn(dsn_text);
  EXPECT_TRUE(dsn.ok()) << dsn.status().ToString();
  std::unique_ptr<AuditReader> reader;
  Status st = AuditReader::Open(*dsn, &reader);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return reader;
}

Status OpenStatus(const std::string& dsn_text) {
  Result<Dsn> dsn = ParseDsn(dsn_text);
  if (!dsn.ok()) return dsn.status();
  std::unique_ptr<AuditReader> reader;
  return AuditReader::Open(*dsn, &reader);
}

VerifyReport VerifyAll(AuditReader* reader) {
  ChainVerifier v;
  Status st = reader->Scan(ScanRange(), [&](const AuditRow& r) {
    v.Add(r);
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return v.Finish();
}

std::string Sqlite(const std::string& path) {
  return "sqlite:///" + path;
}

TEST(Dsn, ParsesTheSdkSpellings) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  Result<Dsn> rel = ParseDsn("sqlite:///./audit.db?table=fasten_audit&wal=false");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->path, std::string(cwd) + "/audit.db");
  EXPECT_EQ(*rel->table, "fasten_audit");
  EXPECT_FALSE(rel->wal);
  Result<Dsn> abs = ParseDsn("sqlite:////var/lib/x.db");
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->path, "/var/lib/x.db");
  Result<Dsn> pg = ParseDsn("postgres://u:secret@db/fleet?table=audit.events&sslmode=disable");
  ASSERT_TRUE(pg.ok());
  EXPECT_EQ(pg->kind, Dsn::Kind::kPostgres);
  EXPECT_EQ(*pg->table, "audit.events");
  EXPECT_EQ(pg->Display().find("secret"), std::string::npos);
}

TEST(Dsn, RefusesBadTableNamesAndSchemes) {
  for (const char* bad : {"sqlite:///x.db?table=audit;DROP TABLE x", "sqlite:///x.db?table=1abc",
                          "sqlite:///x.db?table=a.b", "postgres://h/db?table=a.b.c", "mysql://h/db",
                          "sqlite://x.db", ""}) {
    Result<Dsn> d = ParseDsn(bad);
    EXPECT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(SqliteReader, MissingFileNamesTheAbsolutePath) {
  Status st = OpenStatus("sqlite:////nonexistent/dir/audit.db");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("/nonexistent/dir/audit.db"), std::string::npos);
}

TEST(SqliteReader, NotADatabaseIsAClearError) {
  TempDir dir;
  std::ofstream(dir.File("junk.db")) << "this is not sqlite";
  Status st = OpenStatus(Sqlite(dir.File("junk.db")));
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a"), std::string::npos) << st.ToString();
}

TEST(SqliteReader, MissingTableListsWhatIsThere) {
  TempDir dir;
  ExecSql(dir.File("a.db"), "CREATE TABLE something_else (x INTEGER);");
  Status st = OpenStatus(Sqlite(dir.File("a.db")));
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("audit_log"), std::string::npos);
  EXPECT_NE(st.message().find("fasten_audit"), std::string::npos);
  EXPECT_NE(st.message().find("something_else"), std::string::npos);
  st = OpenStatus(Sqlite(dir.File("a.db")) + "?table=nope");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
}

TEST(SqliteReader, NotAnAuditTableIsRefused) {
  TempDir dir;
  ExecSql(dir.File("a.db"), "CREATE TABLE audit_log (id TEXT, x INTEGER);");
  Status st = OpenStatus(Sqlite(dir.File("a.db")));
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("monotonic_seq"), std::string::npos);
}

TEST(SqliteReader, FallsBackToTheGoDefaultTable) {
  TempDir dir;
  ExecSql(dir.File("go.db"), testing::SpecDdl("fasten_audit"));
  InsertRows(dir.File("go.db"), "fasten_audit", Chain("n", 3));
  auto reader = OpenAudit(Sqlite(dir.File("go.db")));
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->profile().table, "fasten_audit");
  EXPECT_TRUE(reader->profile().table_fallback);
  EXPECT_TRUE(VerifyAll(reader.get()).ok);
}

TEST(SqliteReader, ReadsEveryWritersColumnSet) {
  TempDir dir;
  const std::string db = dir.File("w.db");
  ExecSql(db, testing::SpecDdl("spec") + testing::PythonNewestDdl("py") +
                  testing::CppHeaderDdl("cpp") + testing::OlderGoDdl("oldgo"));
  InsertRows(db, "spec", Chain("n", 6, true));
  InsertRows(db, "py", Chain("n", 6, true));
  std::vector<AuditRow> unsealed;
  for (int i = 1; i <= 4; ++i) unsealed.push_back(MakeRow("cpp-node", i));
  InsertRows(db, "cpp", unsealed);
  InsertRows(db, "oldgo", Chain("n", 5));  // form 1: the missing form id defaults to "1"

  auto spec = OpenAudit(Sqlite(db) + "?table=spec");
  EXPECT_TRUE(spec->profile().missing.empty());
  VerifyReport r = VerifyAll(spec.get());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.valid, 6);

  auto py = OpenAudit(Sqlite(db) + "?table=py");
  std::set<std::string> missing(py->profile().missing.begin(), py->profile().missing.end());
  EXPECT_EQ(missing, (std::set<std::string>{"pii_in_detail", "wire_version"}));
  r = VerifyAll(py.get());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.valid, 6);

  auto cpp = OpenAudit(Sqlite(db) + "?table=cpp");
  r = VerifyAll(cpp.get());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.unsealed, 4);
  EXPECT_EQ(r.valid, 0);

  auto go = OpenAudit(Sqlite(db) + "?table=oldgo");
  EXPECT_NE(
      std::find(go->profile().missing.begin(), go->profile().missing.end(), "canonical_form_id"),
      go->profile().missing.end());
  r = VerifyAll(go.get());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.valid, 5);
}

TEST(SqliteReader, MixedTimestampSpellingsVerifyAndSortByInstant) {
  TempDir dir;
  const std::string db = dir.File("m.db");
  ExecSql(db, testing::SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 5);
  // Re-spell the stored timestamps as different writers do; the hash is over the instant.
  rows[0].timestamp = "2026-06-15T10:00:01.250000+00:00";
  rows[1].timestamp = "2026-06-15T10:00:02.500000123Z";
  rows[2].timestamp = "2026-06-15T10:00:03";
  rows[3].timestamp = "2026-06-15T10:00:04.250Z";
  InsertRows(db, "audit_log", rows);
  auto reader = OpenAudit(Sqlite(db));
  EXPECT_TRUE(VerifyAll(reader.get()).ok);
  AuditQuery q;
  q.limit = 10;
  AuditPage page;
  ASSERT_TRUE(reader->Query(q, &page).ok());
  ASSERT_EQ(page.rows.size(), 5u);
  for (size_t i = 1; i < page.rows.size(); ++i) {
    EXPECT_GT(page.rows[i - 1].timestamp_us, page.rows[i].timestamp_us);
  }
  // A window on instants, exact despite the spellings.
  q.since = rows[1].timestamp_us;
  q.until = rows[3].timestamp_us;
  ASSERT_TRUE(reader->Query(q, &page).ok());
  ASSERT_EQ(page.rows.size(), 3u);
  EXPECT_EQ(page.total_matched, 3);
}

TEST(SqliteReader, PagesThroughEveryRowWithoutGapsOrRepeats) {
  TempDir dir;
  const std::string db = dir.File("p.db");
  ExecSql(db, testing::SpecDdl("audit_log"));
  std::vector<AuditRow> all;
  for (const char* node : {"a", "b", "c"}) {
    std::vector<AuditRow> c = Chain(node, 40);
    for (auto& r : c) {
      // Many rows share a second and even an instant across nodes.
      r.timestamp = CanonicalTimestamp(r.timestamp_us - (r.timestamp_us % 3000000));
    }
    all.insert(all.end(), c.begin(), c.end());
  }
  InsertRows(db, "audit_log", all);
  auto reader = OpenAudit(Sqlite(db));
  std::set<std::string> seen;
  std::vector<AuditKey> keys;
  AuditQuery q;
  q.limit = 7;
  int pages = 0;
  while (true) {
    AuditPage page;
    ASSERT_TRUE(reader->Query(q, &page).ok());
    EXPECT_EQ(page.total_matched, 120);
    for (const AuditRow& r : page.rows) {
      EXPECT_TRUE(seen.insert(r.id).second) << "repeated " << r.id;
      keys.push_back(AuditKey::Of(r));
    }
    ++pages;
    if (!page.has_more) break;
    // The cursor survives its text form.
    q.after = AuditKey::Decode(page.next->Encode());
    ASSERT_TRUE(q.after.has_value());
  }
  EXPECT_EQ(seen.size(), 120u);
  EXPECT_EQ(pages, 18);
  for (size_t i = 1; i < keys.size(); ++i) EXPECT_TRUE(AuditKey::Before(keys[i - 1], keys[i]));
}

TEST(SqliteReader, FiltersAreBoundNeverInterpolated) {
  TempDir dir;
  const std::string db = dir.File("f.db");
  ExecSql(db, testing::SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 4);
  rows[2].tenant_id.Set("tenant-b");
  Seal(&rows[2], rows[1].hash);
  InsertRows(db, "audit_log", rows);
  auto reader = OpenAudit(Sqlite(db));
  AuditQuery q;
  q.actor = "alice' OR '1'='1";
  AuditPage page;
  ASSERT_TRUE(reader->Query(q, &page).ok());
  EXPECT_TRUE(page.rows.empty());
  q = AuditQuery();
  q.tenant_id = "tenant-b";
  ASSERT_TRUE(reader->Query(q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].id, rows[2].id);
  q.tenant_id = "";
  ASSERT_TRUE(reader->Query(q, &page).ok());
  EXPECT_TRUE(page.rows.empty());
  q = AuditQuery();
  q.request_id = "req-2";
  q.code = "USER_LOGIN";
  ASSERT_TRUE(reader->Query(q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].monotonic_seq, 2);
}

TEST(SqliteReader, CorruptRowsAreReadWithWarningsNotCrashes) {
  TempDir dir;
  const std::string db = dir.File("c.db");
  ExecSql(db, testing::SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 4);
  InsertRows(db, "audit_log", rows);
  ExecSql(db,
          "UPDATE audit_log SET detail = '{\"qty\": ' WHERE monotonic_seq = 2;"
          "UPDATE audit_log SET timestamp = 'not a time' WHERE monotonic_seq = 3;"
          "UPDATE audit_log SET target = CAST(X'6F72FF' AS TEXT) WHERE monotonic_seq = 4;");
  auto reader = OpenAudit(Sqlite(db));
  VerifyReport r = VerifyAll(reader.get());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.nodes[0].failures.at("hash"), 3);
  AuditQuery q;
  q.limit = 10;
  AuditPage page;
  ASSERT_TRUE(reader->Query(q, &page).ok());
  bool warned = false;
  for (const auto& row : page.rows) {
    for (const auto& w : row.warnings)
      warned |= w.find("unparseable timestamp") != std::string::npos;
  }
  EXPECT_TRUE(warned);
}

TEST(SqliteReader, NeverWritesToTheStore) {
  TempDir dir;
  const std::string db = dir.File("ro.db");
  ExecSql(db, testing::SpecDdl("audit_log"));
  InsertRows(db, "audit_log", Chain("n", 3));
  ExecSql(db, "PRAGMA journal_mode=WAL;");
  struct stat before, after;
  ASSERT_EQ(stat(db.c_str(), &before), 0);
  {
    auto reader = OpenAudit(Sqlite(db));
    EXPECT_TRUE(VerifyAll(reader.get()).ok);
    AuditPage page;
    ASSERT_TRUE(reader->Query(AuditQuery(), &page).ok());
  }
  ASSERT_EQ(stat(db.c_str(), &after), 0);
  EXPECT_EQ(before.st_size, after.st_size);
  EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

TEST(SqliteReader, ReadsWhileTheApplicationKeepsWriting) {
  TempDir dir;
  const std::string db = dir.File("wal.db");
  ExecSql(db, "PRAGMA journal_mode=WAL;" + testing::SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 6);
  InsertRows(db, "audit_log", {rows.begin(), rows.begin() + 3});
  auto reader = OpenAudit(Sqlite(db));
  EXPECT_EQ(VerifyAll(reader.get()).valid, 3);
  InsertRows(db, "audit_log", {rows.begin() + 3, rows.end()});
  EXPECT_EQ(VerifyAll(reader.get()).valid, 6);
}

TEST(SqliteReader, FindsThePredecessorOfAWindow) {
  TempDir dir;
  const std::string db = dir.File("w.db");
  ExecSql(db, testing::SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("n", 6);
  rows[3].hash = "";  // seq 4 unsealed: the predecessor of seq 5 is seq 3
  InsertRows(db, "audit_log", rows);
  auto reader = OpenAudit(Sqlite(db));
  std::optional<Predecessor> p;
  ASSERT_TRUE(reader->FindPredecessor("n", 5, &p).ok());
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->seq, 3);
  EXPECT_EQ(p->hash, rows[2].hash);
  ASSERT_TRUE(reader->FindPredecessor("n", 1, &p).ok());
  EXPECT_FALSE(p.has_value());
}

TEST(SqliteReader, ScanStopsAtTheRangeAndWhenAsked) {
  TempDir dir;
  const std::string db = dir.File("s.db");
  ExecSql(db, testing::SpecDdl("audit_log"));
  std::vector<AuditRow> rows = Chain("a", 10), b = Chain("b", 10);
  rows.insert(rows.end(), b.begin(), b.end());
  InsertRows(db, "audit_log", rows);
  auto reader = OpenAudit(Sqlite(db));
  ScanRange range;
  range.source_node_id = "b";
  range.from_seq = 3;
  range.to_seq = 7;
  std::vector<int64_t> seqs;
  ASSERT_TRUE(reader
                  ->Scan(range,
                         [&](const AuditRow& r) {
                           EXPECT_EQ(r.source_node_id, "b");
                           seqs.push_back(r.monotonic_seq);
                           return seqs.size() < 4;
                         })
                  .ok());
  EXPECT_EQ(seqs, (std::vector<int64_t>{3, 4, 5, 6}));
}

TEST(SqliteReader, AStoreThatGoesAwayMidScanIsAnErrorNotACrash) {
  TempDir dir;
  const std::string db = dir.File("gone.db");
  ExecSql(db, testing::SpecDdl("audit_log"));
  std::vector<AuditRow> rows;
  for (int n = 0; n < 20; ++n) {
    auto c = Chain("node" + std::to_string(n), 100);
    rows.insert(rows.end(), c.begin(), c.end());
  }
  InsertRows(db, "audit_log", rows);
  auto reader = OpenAudit(Sqlite(db) + "?table=audit_log");
  int count = 0;
  Status st = reader->Scan(ScanRange(), [&](const AuditRow&) {
    if (++count == 10) {
      // Truncate the file under the reader.
      std::ofstream(db, std::ios::trunc) << "";
    }
    return true;
  });
  // Either the pages were cached (the scan completes) or SQLite reports the damage: no crash.
  if (!st.ok()) {
    EXPECT_FALSE(st.message().empty());
  }
}

TEST(StreamReader, TenantFilterUsesThePayloadAndDropsRowsWithoutOne) {
  TempDir dir;
  const std::string db = dir.File("s.db");
  ExecSql(db,
          "CREATE TABLE syslog (seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT, "
          "timestamp TEXT, level TEXT, service_id TEXT, event TEXT, method TEXT, path TEXT, "
          "status INTEGER, payload TEXT NOT NULL);"
          "INSERT INTO syslog (request_id, timestamp, level, event, payload) VALUES "
          "('r1','2026-06-15T10:00:00.000000Z','info','a','{\"tenant_id\":\"A\",\"event\":\"a\"}'),"
          "('r1','2026-06-15T10:00:01.000000Z','info','b','{\"event\":\"b\"}'),"
          "('r1','2026-06-15T10:00:02.000000Z','warn','c','{\"tenant_id\":\"B\"}'),"
          "('r1','2026-06-15T10:00:03.000000Z','warn','d','not json at all');");
  Result<Dsn> dsn = ParseDsn(Sqlite(db));
  std::unique_ptr<StreamReader> reader;
  ASSERT_TRUE(StreamReader::Open(*dsn, StreamKind::kSys, &reader).ok());
  StreamQuery q;
  q.tenant_id = "A";
  StreamPage page;
  ASSERT_TRUE(reader->Query(q, &page).ok());
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].event, "a");
  EXPECT_EQ(page.total_matched, 1);
  q = StreamQuery();
  q.limit = 2;
  ASSERT_TRUE(reader->Query(q, &page).ok());
  EXPECT_EQ(page.rows.size(), 2u);
  EXPECT_TRUE(page.has_more);
  EXPECT_EQ(page.total_matched, 4);
  q.before_seq = page.next_before_seq;
  ASSERT_TRUE(reader->Query(q, &page).ok());
  ASSERT_EQ(page.rows.size(), 2u);
  EXPECT_EQ(page.rows[1].seq, 1);
  EXPECT_FALSE(page.has_more);
}

TEST(StreamReader, MissingStreamTableIsNotFound) {
  TempDir dir;
  ExecSql(dir.File("a.db"), testing::SpecDdl("audit_log"));
  Result<Dsn> dsn = ParseDsn(Sqlite(dir.File("a.db")));
  std::unique_ptr<StreamReader> reader;
  Status st = StreamReader::Open(*dsn, StreamKind::kApi, &reader);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("api_log"), std::string::npos);
}

}  // namespace
}  // namespace fasten

namespace fasten {
namespace {

// Regression: more distinct queries than the statement cache holds used to evict (finalize) a
// statement that was still in use, then reset it: a use-after-free.
TEST(SqliteReader, ManyDistinctQueriesOutliveTheStatementCache) {
  testing::TempDir dir;
  const std::string db = dir.File("many.db");
  testing::ExecSql(db, testing::SpecDdl("audit_log"));
  testing::InsertRows(db, "audit_log", testing::Chain("n", 20));
  Result<Dsn> dsn = ParseDsn("sqlite:///" + db);
  std::unique_ptr<AuditReader> reader;
  ASSERT_TRUE(AuditReader::Open(*dsn, &reader).ok());
  for (int mask = 0; mask < 256; ++mask) {
    AuditQuery q;
    if (mask & 1) q.request_id = "req-3";
    if (mask & 2) q.code = "ORDER_PLACED";
    if (mask & 4) q.actor = "alice";
    if (mask & 8) q.target = "order/3";
    if (mask & 16) q.source_node_id = "n";
    if (mask & 32) q.service_id = "svc-a";
    if (mask & 64) q.severity = "info";
    if (mask & 128) q.domain = "sales";
    AuditPage page;
    ASSERT_TRUE(reader->Query(q, &page).ok()) << mask;
    EXPECT_EQ(page.total_matched, static_cast<int64_t>(page.rows.size()));
  }
}

}  // namespace
}  // namespace fasten
