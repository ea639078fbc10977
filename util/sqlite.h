// The one small SQLite wrapper every SQLite user goes through: opening a connection with flags,
// running SQL, and a prepared statement (RAII) with bind, step and column helpers. Errors come
// back as a Status carrying SQLite's own message; callers add what they were doing with
// Status::WithContext. The owning handle types are util/handles.h's SqliteHandle and SqliteStmt.
// Stateless functions; a statement is used by one thread at a time, like its connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/handles.h"
#include "util/status.h"

namespace fasten {

// SQLite's message for the last error on `db` ("out of memory" without a connection).
std::string SqliteMessage(sqlite3* db);

// Opens `name` (a path, or a file: URI with SQLITE_OPEN_URI in `flags`) with `flags`
// (SQLITE_OPEN_*) into *out, which holds the connection even when the open fails. Unavailable
// with SQLite's message on failure; *rc (may be null) gets SQLite's result code.
Status SqliteOpen(const std::string& name, int flags, SqliteHandle* out, int* rc = nullptr);

// Runs `sql` (one or more statements). Unavailable with SQLite's message on failure; *rc (may be
// null) gets SQLite's result code.
Status SqliteExec(sqlite3* db, const char* sql, int* rc = nullptr);

class SqliteStatement {
 public:
  // Compiles `sql` on `db`: Unavailable with SQLite's message when it does not.
  static Result<SqliteStatement> Prepare(sqlite3* db, std::string_view sql);

  // Parameters are numbered from 1; text is copied (SQLITE_TRANSIENT).
  void BindText(int i, std::string_view v);
  void BindInt64(int i, int64_t v);
  void BindDouble(int i, double v);
  void BindNull(int i);

  // SQLITE_ROW, SQLITE_DONE or an error code (its message: SqliteMessage of the connection).
  int Step();
  // Ready to step again from the start, bindings kept.
  void Reset();
  // Finalizes the statement now (before a COMMIT, say); nothing may be called on it afterwards.
  void Finalize() { stmt_.reset(); }

  // Columns are numbered from 0; NULL reads as "" and 0.
  int ColumnCount() const;
  std::string ColumnText(int i) const;
  int64_t ColumnInt64(int i) const;
  double ColumnDouble(int i) const;
  bool ColumnIsNull(int i) const;

  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  explicit SqliteStatement(SqliteStmt stmt) : stmt_(std::move(stmt)) {}
  SqliteStmt stmt_;
};

}  // namespace fasten
