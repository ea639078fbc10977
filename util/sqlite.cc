#include "util/sqlite.h"

#include <sqlite3.h>

namespace fasten {

std::string SqliteMessage(sqlite3* db) {
  return db ? sqlite3_errmsg(db) : "out of memory";
}

Status SqliteOpen(const std::string& name, int flags, SqliteHandle* out, int* rc) {
  sqlite3* raw = nullptr;
  const int code = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  out->reset(raw);
  if (rc != nullptr) *rc = code;
  if (code != SQLITE_OK) {
    return UnavailableError(raw ? sqlite3_errmsg(raw) : sqlite3_errstr(code));
  }
  return Status::Ok();
}

Status SqliteExec(sqlite3* db, const char* sql, int* rc) {
  char* err = nullptr;
  const int code = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != nullptr) *rc = code;
  if (code != SQLITE_OK) {
    std::string msg = err ? err : SqliteMessage(db);
    sqlite3_free(err);
    return UnavailableError(msg);
  }
  return Status::Ok();
}

Result<SqliteStatement> SqliteStatement::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  SqliteStmt stmt(raw);
  if (rc != SQLITE_OK) return UnavailableError(SqliteMessage(db));
  return SqliteStatement(std::move(stmt));
}

void SqliteStatement::BindText(int i, std::string_view v) {
  sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void SqliteStatement::BindInt64(int i, int64_t v) {
  sqlite3_bind_int64(stmt_.get(), i, v);
}
void SqliteStatement::BindDouble(int i, double v) {
  sqlite3_bind_double(stmt_.get(), i, v);
}
void SqliteStatement::BindNull(int i) {
  sqlite3_bind_null(stmt_.get(), i);
}

int SqliteStatement::Step() {
  return sqlite3_step(stmt_.get());
}
void SqliteStatement::Reset() {
  sqlite3_reset(stmt_.get());
}

std::string SqliteStatement::ColumnText(int i) const {
  const unsigned char* p = sqlite3_column_text(stmt_.get(), i);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), i)))
           : std::string();
}
int SqliteStatement::ColumnCount() const {
  return sqlite3_column_count(stmt_.get());
}
int64_t SqliteStatement::ColumnInt64(int i) const {
  return sqlite3_column_int64(stmt_.get(), i);
}
double SqliteStatement::ColumnDouble(int i) const {
  return sqlite3_column_double(stmt_.get(), i);
}
bool SqliteStatement::ColumnIsNull(int i) const {
  return sqlite3_column_type(stmt_.get(), i) == SQLITE_NULL;
}

}  // namespace fasten
