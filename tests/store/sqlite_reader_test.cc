// SQLite-only reader behaviour: DSN spellings, files that are missing, not databases, corrupt,
// truncated or written concurrently. The behaviour shared with Postgres (writer layouts, paging,
// filters, lookups, streams) is the contract suite in reader_contract_test.cc.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "store/reader.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "validator/chain.h"

namespace fasten {
namespace {

[[maybe_unused]] TenantScope AllScope() {
  return test_support::TestScopes::AllTenants();
}
[[maybe_unused]] TenantScope Scope(const std::string& t) {
  return test_support::TestScopes::Tenant(t);
}

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
  Status st = reader->Scan(AllScope(), ScanRange(), [&](const AuditRow& r) {
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

// Found by tests/fuzz/fuzz_dsn (crashes/dsn/password_parameter): a password given as a libpq
// parameter was shown by Display(), which goes into logs and error messages.
TEST(Dsn, DisplayNeverShowsAPassword) {
  for (const char* text :
       {"postgres://h/db?password=s3cret&sslmode=require",
        "postgresql://u@h/db?sslmode=require&password=s3cret",
        "postgres://u:s3cret@h/db?password=s3cret&table=t", "postgres://h/db?sslpassword=s3cret",
        "postgres://h/db?application_name=a@b&password=s3cret",
        // Found by fuzz_dsn (crashes/dsn/password_in_garbled_parameter): a second copy of the
        // password behind a parameter name libpq would refuse was still shown.
        "postgres://h/db?password=s3cret&x?password=s3cret", "postgres://h/db?PASSWORD=s3cret",
        // libpq reads the user info up to the first '@' before any '/', across a '?'.
        "postgres://u:s3cret?x@h/db", "postgres://u:s3cret?x@h/db?password=s3cret"}) {
    Result<Dsn> d = ParseDsn(text);
    ASSERT_TRUE(d.ok()) << text;
    EXPECT_EQ(d->Display().find("s3cret"), std::string::npos) << d->Display();
    EXPECT_NE(d->conninfo.find("s3cret"), std::string::npos) << "libpq still gets it";
  }
  EXPECT_EQ(ParseDsn("postgres://h/db?sslmode=require&password=x&table=t")->Display(),
            "postgres://h/db?sslmode=require&table=t");
  EXPECT_EQ(ParseDsn("postgres://u:x@h:5432/db?password=x")->Display(), "postgres://u@h:5432/db");
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
  ASSERT_TRUE(reader->Query(AllScope(), q, &page).ok());
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
    ASSERT_TRUE(reader->Query(AllScope(), AuditQuery(), &page).ok());
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

// Regression: the opener read the schema before the busy timeout was set, so a reader that
// opened while a writer held its lock (or while another connection recovered a WAL index, as
// the stdio workers of one server do at start) failed at once with "database is locked", and that
// worker answered "the store is not available" for the rest of the session (seen in CI).
TEST(SqliteReader, OpensWhileAWriterHoldsTheLockBriefly) {
  TempDir dir;
  const std::string db = dir.File("locked.db");
  ExecSql(db, testing::SpecDdl("audit_log"));
  InsertRows(db, "audit_log", Chain("n", 3));
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::thread release([writer] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sqlite3_exec(writer, "COMMIT", nullptr, nullptr, nullptr);
  });
  Status st = OpenStatus(Sqlite(db));
  release.join();
  sqlite3_close(writer);
  EXPECT_TRUE(st.ok()) << st.ToString();
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
  Status st = reader->Scan(AllScope(), ScanRange(), [&](const AuditRow&) {
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

}  // namespace
}  // namespace fasten
