#include "test_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/crypto.h"
#include "validator/canonical.h"

namespace fasten::testing {

TempDir::TempDir() {
  char tmpl[] = "/tmp/fasten-test-XXXXXX";
  char* p = mkdtemp(tmpl);
  if (!p) std::abort();
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

AuditRow MakeRow(const std::string& node, int64_t seq, const std::string& form) {
  AuditRow r;
  r.id = "evt-" + node + "-" + std::to_string(seq);
  r.origin_id = r.id;
  r.monotonic_seq = seq;
  Micros base = 0;
  ParseTimestamp("2026-06-15T10:00:00Z", &base);
  r.timestamp_us = base + seq * 1000000 + (seq % 3) * 250000;
  r.timestamp = CanonicalTimestamp(r.timestamp_us);
  r.timestamp_ok = true;
  r.code = seq % 2 ? "ORDER_PLACED" : "USER_LOGIN";
  r.action = "create";
  r.severity = "info";
  r.service_id = "svc-a";
  r.source_node_id = node;
  r.tenant_id.Set("tenant-a");
  r.actor = "alice";
  r.actor_kind = "user";
  r.target = "order/" + std::to_string(seq);
  r.category = "order";
  r.domain = "sales";
  r.method = "http";
  r.request_id = "req-" + std::to_string(seq);
  r.detail.Set("{\"qty\": " + std::to_string(seq) + ", \"price\": 75.0, \"note\": \"Jos\\u00e9\"}");
  r.canonical_form_id = form;
  return r;
}

void Seal(AuditRow* r, const std::string& prev_hash) {
  Canonicalizer canon;
  Sha256 sha;
  std::string bytes, error;
  r->prev_hash = prev_hash;
  if (r->canonical_form_id == "2") {
    r->detail_salt.Set(std::string(63, 'a') + static_cast<char>('0' + r->monotonic_seq % 10));
    EXPECT_TRUE(canon.DetailBytes(*r, EscapeStyle::kPython, &bytes, &error)) << error;
    r->detail_commitment.Set(sha.Hex(r->detail_salt.value, bytes));
  }
  EXPECT_TRUE(canon.RowBytes(*r, RowHashOptions(), &bytes, &error)) << error;
  r->hash = sha.Hex(bytes);
}

std::vector<AuditRow> Chain(const std::string& node, int n, bool mixed) {
  std::vector<AuditRow> rows;
  std::string prev = "genesis";
  for (int i = 1; i <= n; ++i) {
    AuditRow r = MakeRow(node, i, mixed && i % 2 == 0 ? "2" : "1");
    Seal(&r, prev);
    prev = r.hash;
    rows.push_back(r);
  }
  return rows;
}

void ExecSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg << "\nSQL: " << sql;
}

// The 18 columns every sealed-chain writer creates, in the SDK DDL's order (docs/format.md §2.1).
const char* const kBaseColumns =
    " (id TEXT PRIMARY KEY, origin_id TEXT NOT NULL, monotonic_seq INTEGER NOT NULL, "
    "timestamp TEXT NOT NULL, code TEXT NOT NULL, action TEXT NOT NULL, severity TEXT NOT NULL, "
    "service_id TEXT NOT NULL, source_node_id TEXT NOT NULL, tenant_id TEXT, actor TEXT NOT "
    "NULL, actor_kind TEXT NOT NULL, target TEXT NOT NULL, category TEXT NOT NULL, domain TEXT "
    "NOT NULL, method TEXT NOT NULL, request_id TEXT NOT NULL, detail TEXT NOT NULL, ";

std::string Bare(const std::string& t) {
  size_t dot = t.find('.');
  return dot == std::string::npos ? t : t.substr(dot + 1);
}

// Rewrites SQLite DDL into the Postgres types of docs/format.md §2.1.
std::string ForDialect(std::string ddl, Dialect d) {
  if (!d.postgres) return ddl;
  auto replace = [&](const std::string& from, const std::string& to) {
    for (size_t pos = ddl.find(from); pos != std::string::npos;
         pos = ddl.find(from, pos + to.size()))
      ddl.replace(pos, from.size(), to);
  };
  replace("monotonic_seq INTEGER", "monotonic_seq BIGINT");
  replace("pii_in_detail INTEGER", "pii_in_detail SMALLINT");
  if (d.timestamptz) {
    replace("timestamp TEXT NOT NULL DEFAULT ''", "timestamp TIMESTAMPTZ NOT NULL");
    replace("timestamp TEXT", "timestamp TIMESTAMPTZ");
    replace("shipped_at TEXT", "shipped_at TIMESTAMPTZ");
  }
  size_t dot = ddl.find("CREATE TABLE ");
  std::string head = ddl.substr(dot + 13, ddl.find(' ', dot + 13) - dot - 13);
  if (head.find('.') != std::string::npos) {
    ddl = "CREATE SCHEMA IF NOT EXISTS " + head.substr(0, head.find('.')) + "; " + ddl;
  }
  return ddl;
}

std::string SpecDdl(const std::string& t, Dialect d) {
  return ForDialect(
      "CREATE TABLE " + t + kBaseColumns +
          "pii_in_detail INTEGER NOT NULL DEFAULT 0, shipped_at TEXT, wire_version TEXT NOT "
          "NULL DEFAULT '1', hash TEXT NOT NULL DEFAULT '', prev_hash TEXT NOT NULL DEFAULT "
          "'genesis', canonical_form_id TEXT NOT NULL DEFAULT '1', detail_salt TEXT, "
          "detail_commitment TEXT); CREATE INDEX idx_" +
          Bare(t) + "_seq ON " + t + "(monotonic_seq);",
      d);
}

std::string PythonNewestDdl(const std::string& t, Dialect d) {
  return ForDialect(
      "CREATE TABLE " + t + kBaseColumns +
          "shipped_at TEXT, prev_hash TEXT NOT NULL DEFAULT 'genesis', hash TEXT NOT NULL "
          "DEFAULT '', canonical_form_id TEXT NOT NULL DEFAULT '1', detail_salt TEXT, "
          "detail_commitment TEXT);",
      d);
}

std::string CppHeaderDdl(const std::string& t, Dialect d) {
  // The Postgres header sink keeps TEXT timestamps (docs/format.md §2.2).
  d.timestamptz = false;
  return ForDialect(
      "CREATE TABLE " + t +
          " (id TEXT PRIMARY KEY, origin_id TEXT NOT NULL DEFAULT '', monotonic_seq INTEGER NOT "
          "NULL DEFAULT 0, timestamp TEXT NOT NULL DEFAULT '', code TEXT NOT NULL DEFAULT '', "
          "action TEXT NOT NULL DEFAULT '', severity TEXT NOT NULL DEFAULT '', service_id TEXT "
          "NOT NULL DEFAULT '', source_node_id TEXT NOT NULL DEFAULT '', tenant_id TEXT, actor "
          "TEXT NOT NULL DEFAULT '', actor_kind TEXT NOT NULL DEFAULT '', target TEXT NOT NULL "
          "DEFAULT '', category TEXT NOT NULL DEFAULT '', domain TEXT NOT NULL DEFAULT '', method "
          "TEXT NOT NULL DEFAULT '', request_id TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL "
          "DEFAULT '{}', pii_in_detail INTEGER NOT NULL DEFAULT 0, shipped_at TEXT);",
      d);
}

std::string OlderGoDdl(const std::string& t, Dialect d) {
  return ForDialect(
      "CREATE TABLE " + t + kBaseColumns +
          "pii_in_detail INTEGER NOT NULL DEFAULT 0, shipped_at TEXT, wire_version TEXT NOT "
          "NULL DEFAULT '1', hash TEXT NOT NULL DEFAULT '', prev_hash TEXT NOT NULL DEFAULT '');",
      d);
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "''";
    else
      out += c;
  }
  return out + "'";
}

std::string InsertSql(const std::string& table, const std::vector<std::string>& cols,
                      const std::vector<AuditRow>& rows) {
  std::string sql = "BEGIN;";
  for (const AuditRow& r : rows) {
    std::string names, values;
    auto add = [&](const std::string& col, const std::string& v) {
      if (std::find(cols.begin(), cols.end(), col) == cols.end()) return;
      names += (names.empty() ? "" : ",") + col;
      values += (values.empty() ? "" : ",") + v;
    };
    auto nullable = [&](const NullableText& t) {
      return t.null ? std::string("NULL") : Quote(t.value);
    };
    add("id", Quote(r.id));
    add("origin_id", Quote(r.origin_id));
    add("monotonic_seq", std::to_string(r.monotonic_seq));
    add("timestamp", Quote(r.timestamp));
    add("code", Quote(r.code));
    add("action", Quote(r.action));
    add("severity", Quote(r.severity));
    add("service_id", Quote(r.service_id));
    add("source_node_id", Quote(r.source_node_id));
    add("tenant_id", nullable(r.tenant_id));
    add("actor", Quote(r.actor));
    add("actor_kind", Quote(r.actor_kind));
    add("target", Quote(r.target));
    add("category", Quote(r.category));
    add("domain", Quote(r.domain));
    add("method", Quote(r.method));
    add("request_id", Quote(r.request_id));
    add("detail", r.detail.null ? Quote("null") : Quote(r.detail.value));
    add("shipped_at", nullable(r.shipped_at));
    add("wire_version", Quote(r.wire_version));
    add("hash", Quote(r.hash));
    add("prev_hash", Quote(r.prev_hash));
    add("canonical_form_id", Quote(r.canonical_form_id));
    add("detail_salt", nullable(r.detail_salt));
    add("detail_commitment", nullable(r.detail_commitment));
    sql += "INSERT INTO " + table + " (" + names + ") VALUES (" + values + ");";
  }
  return sql + "COMMIT;";
}

void InsertRows(const std::string& path, const std::string& table,
                const std::vector<AuditRow>& rows) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::vector<std::string> cols;
  sqlite3_stmt* info = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(db, ("PRAGMA table_info(" + table + ")").c_str(), -1, &info, nullptr),
      SQLITE_OK);
  while (sqlite3_step(info) == SQLITE_ROW) {
    cols.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(info, 1)));
  }
  sqlite3_finalize(info);
  std::string sql = InsertSql(table, cols, rows);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::unique_ptr<AuditReader> OpenSqliteReader(const std::string& path) {
  Result<Dsn> dsn = ParseDsn("sqlite:///" + path);
  std::unique_ptr<AuditReader> reader;
  Status st = dsn.ok() ? AuditReader::Open(*dsn, &reader) : dsn.status();
  EXPECT_TRUE(st.ok()) << path << ": " << st.ToString();
  return reader;
}

StoreConfig SqliteStoreConfig(const std::string& path) {
  StoreConfig config;
  config.audit = ParseDsn("sqlite:///" + path).value();
  config.sys = config.api = config.audit;
  config.sys.table.reset();
  config.api.table.reset();
  return config;
}

}  // namespace fasten::testing
