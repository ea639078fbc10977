// A plain Postgres session for operator commands (`fasten-mcp index --apply`) and tests: run
// statements and read rows as text, without exposing libpq. The readers do not use this; they
// keep their own read-only connections (pg_reader.h).
//
// A read-only session refuses every write (default_transaction_read_only); a writable one is
// opened only by the explicit operator command that creates indexes.
// Not thread-safe: one session per thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/dsn.h"
#include "util/status.h"

namespace fasten {

class PgConn;

class PgSession {
 public:
  using Row = std::vector<std::optional<std::string>>;  // NULL -> nullopt

  // Connects to dsn.conninfo. statement_timeout comes from the DSN (default 30 s); pass
  // `no_timeout` for long-running maintenance such as index builds.
  static Status Open(const Dsn& dsn, bool read_only, bool no_timeout,
                     std::unique_ptr<PgSession>* out);
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;

  // Runs one or more statements without parameters, discarding rows.
  Status Exec(const std::string& sql);
  // Runs one statement with text parameters ($1, $2, ...) and returns its rows.
  Status Query(const std::string& sql, const std::vector<std::optional<std::string>>& params,
               std::vector<Row>* rows);
  // The database's default collation is byte order.
  bool c_collation() const;

 private:
  PgSession();
  std::unique_ptr<PgConn> conn_;
};

}  // namespace fasten
