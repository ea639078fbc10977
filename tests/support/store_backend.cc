#include "support/store_backend.h"

#include <gtest/gtest.h>

#include <atomic>

#include "store/dsn.h"
#include "store/pg_session.h"
#include "support/pg_cluster.h"

namespace fasten::testing {
namespace {

class SqliteBackend final : public StoreBackend {
 public:
  explicit SqliteBackend(const BackendParam& p) { param_ = p; }
  std::string Dsn(const std::string& query) const override {
    return "sqlite:///" + dir_.File("store.db") + query;
  }
  void Exec(const std::string& sql) override { ExecSql(dir_.File("store.db"), sql); }
  void Insert(const std::string& table, const std::vector<AuditRow>& rows) override {
    InsertRows(dir_.File("store.db"), table, rows);
  }

 private:
  TempDir dir_;
};

std::unique_ptr<PgSession> Connect(const std::string& dsn_text) {
  Result<fasten::Dsn> dsn = ParseDsn(dsn_text);
  EXPECT_TRUE(dsn.ok()) << dsn.status().ToString();
  if (!dsn.ok()) return nullptr;
  std::unique_ptr<PgSession> s;
  Status st = PgSession::Open(*dsn, /*read_only=*/false, /*no_timeout=*/true, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

class PostgresBackend final : public StoreBackend {
 public:
  explicit PostgresBackend(const BackendParam& p) {
    param_ = p;
    static std::atomic<int> counter{0};
    PgCluster* cluster = SharedPgCluster();
    if (!cluster) return;
    db_ = "t" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    admin_dsn_ = cluster->DsnFor("postgres");  // not connected to the template
    dsn_ = cluster->DsnFor(db_);
    auto admin = Connect(admin_dsn_);
    if (!admin) return;
    // The cluster's `fasten` database has a linguistic (ICU) collation; copy it.
    Status st = admin->Exec("CREATE DATABASE " + db_ + " TEMPLATE fasten");
    EXPECT_TRUE(st.ok()) << st.ToString();
    session_ = Connect(dsn_);
  }
  ~PostgresBackend() override {
    session_.reset();
    if (auto admin = Connect(admin_dsn_)) {
      Status st = admin->Exec("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
  }
  std::string Dsn(const std::string& query) const override { return dsn_ + query; }
  void Exec(const std::string& sql) override {
    ASSERT_TRUE(session_);
    Status st = session_->Exec(sql);
    ASSERT_TRUE(st.ok()) << st.ToString() << "\nSQL: " << sql;
  }
  void Insert(const std::string& table, const std::vector<AuditRow>& rows) override {
    ASSERT_TRUE(session_);
    std::vector<PgSession::Row> found;
    Status st = session_->Query(
        "SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = to_regclass($1::text) "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        {table}, &found);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::vector<std::string> cols;
    for (const auto& r : found) cols.push_back(*r[0]);
    Exec(InsertSql(table, cols, rows));
  }

 private:
  std::string db_, admin_dsn_, dsn_;
  std::unique_ptr<PgSession> session_;
};

}  // namespace

std::unique_ptr<StoreBackend> StoreBackend::Create(const BackendParam& param) {
  if (param.postgres) return std::make_unique<PostgresBackend>(param);
  return std::make_unique<SqliteBackend>(param);
}

std::string StoreBackend::StreamDdl(const std::string& t) const {
  return std::string("CREATE TABLE ") + t + " (seq " +
         (param_.postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT") +
         ", request_id TEXT, timestamp TEXT, level TEXT, service_id TEXT, event TEXT, method "
         "TEXT, path TEXT, status INTEGER, payload TEXT NOT NULL);";
}

}  // namespace fasten::testing
