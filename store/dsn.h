// Store locations as the fasten SDK spells them (docs/format.md §1.2-§1.3).
//
//   sqlite:///relative/path.db?table=NAME&wal=true   relative to the working directory
//   sqlite:////archive/copy.db?immutable=1           a copy nothing writes: no -wal/-shm
//   sqlite:////absolute/path.db                      four slashes: absolute
//   postgres://user@host/db?table=schema.name        (also postgresql://; other parameters are
//                                                    libpq's, plus statement_timeout=30s and
//                                                    busy_poll_us=150)
// A bare path with no scheme is accepted as a SQLite file. Table names are validated with the
// SDK's identifier rules before they ever reach SQL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace fasten {

struct Dsn {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::string raw;                   // as given
  std::string path;                  // SQLite: absolute path, resolved against the cwd
  std::string conninfo;              // Postgres: the URL without fasten's own parameters
  std::optional<std::string> table;  // ?table=
  bool wal = true;                   // ?wal= (informational: fasten-mcp never changes it)
  // ?immutable=1 (SQLite): open a copy that nothing writes any more in SQLite's immutable mode,
  // creating no -wal/-shm file (store/sqlite_open.h). Default: false (also chosen automatically
  // for a WAL copy in a directory this process cannot write).
  bool immutable = false;
  // ?statement_timeout= (Postgres): 30s, 500ms, 2m or plain milliseconds; 0 disables.
  // Default (unset): 30 s.
  std::optional<int64_t> statement_timeout_ms;
  // ?busy_poll_us= (Postgres): how long a call busy-polls the socket for its answer before it
  // sleeps in poll(), 0..10000 microseconds; 0 disables. Default (unset): 150.
  std::optional<int64_t> busy_poll_us;

  // "sqlite:////abs/path.db" or the Postgres URL without credentials.
  std::string Display() const;
};

// Parses and validates a DSN. Errors say what was expected.
Result<Dsn> ParseDsn(std::string_view text);

// ^[A-Za-z_][A-Za-z0-9_]*$
bool IsValidSqliteTableName(std::string_view name);
// ^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$
bool IsValidPostgresTableName(std::string_view name);

}  // namespace fasten
