// Test fixtures: sealed rows and throwaway SQLite stores in each writer's layout.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "store/reader.h"
#include "store/row.h"
#include "store/store_set.h"

namespace fasten::testing {

// A temporary directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A plausible unsealed row of `node` at `seq` (timestamp seq seconds after 2026-06-15T10:00Z).
AuditRow MakeRow(const std::string& node, int64_t seq, const std::string& form = "1");

// Seals `row` as the SDK would: prev_hash, then (form 2) salt and commitment, then hash.
void Seal(AuditRow* row, const std::string& prev_hash);

// A sealed chain of `n` rows on `node`, alternating forms when `mixed`.
std::vector<AuditRow> Chain(const std::string& node, int n, bool mixed = false);

// Runs SQL on a (created if missing) SQLite file; aborts the test on error.
void ExecSql(const std::string& path, const std::string& sql);

// The SQL dialect of a fixture's DDL: SQLite, or Postgres with its column types (BIGINT seq,
// SMALLINT pii_in_detail) and TIMESTAMPTZ or TEXT `timestamp`/`shipped_at` (docs/format.md §2.1).
struct Dialect {
  bool postgres = false;
  bool timestamptz = false;
};

// DDL of each writer variant (docs/format.md §2.2), for table `t` (Postgres: may be schema.name).
std::string SpecDdl(const std::string& t, Dialect d = {});          // 24 columns + salt/commitment
std::string PythonNewestDdl(const std::string& t, Dialect d = {});  // no pii, no wire_version
std::string CppHeaderDdl(const std::string& t, Dialect d = {});     // 20 columns, no hash columns
std::string OlderGoDdl(const std::string& t, Dialect d = {});  // no form id, prev_hash DEFAULT ''

// The INSERT statements (one transaction) for `rows`, writing only the columns in `columns`.
std::string InsertSql(const std::string& table, const std::vector<std::string>& columns,
                      const std::vector<AuditRow>& rows);

// Inserts rows into a table, writing only the columns the table has.
void InsertRows(const std::string& path, const std::string& table,
                const std::vector<AuditRow>& rows);

// SQL-quotes a value ('it''s').
std::string Quote(const std::string& s);

// A whole file's bytes ("" when it cannot be read), and a file written (truncated) with `bytes`.
std::string ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, const std::string& bytes);

// A reader of the SQLite store at `path`; fails the test (and returns null) when it cannot open.
std::unique_ptr<AuditReader> OpenSqliteReader(const std::string& path);

// The StoreConfig of the SQLite store at `path`: its audit table, and the stream tables with their
// default names (syslog, api_log) in the same file, as a demo store has them.
StoreConfig SqliteStoreConfig(const std::string& path);

}  // namespace fasten::testing
