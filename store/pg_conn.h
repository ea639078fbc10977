// A libpq connection as the store backends use it. INTERNAL to store/: only store/*.cc include
// this header; nothing outside store/ sees a libpq type.
//
// One PgConn is one persistent session:
//  - Session settings are applied at connect and again after every reconnect: TimeZone UTC,
//    DateStyle ISO, client_encoding UTF8, synchronize_seqscans off (a physical scan starts at
//    the first page), statement_timeout, and, for read-only sessions,
//    default_transaction_read_only on, so every statement runs in a read-only transaction.
//  - Statements are prepared once per session and cached by their SQL text.
//  - Every round trip waits in a poll loop that watches the interrupt flag: when the flag is set
//    the running statement is cancelled (PQcancel) and the call returns kCancelled.
//  - Before sleeping in that loop, a round trip first busy-polls the socket for up to
//    busy_poll_us: an indexed lookup is usually answered within that time, and waking a thread
//    that sleeps in poll() costs tens of microseconds on a VM. Only a connection that is the
//    only one in the process waiting for an answer busy-polls (it stops when another starts
//    waiting), and only while the process runs at most one call (util/calls_running.h): with
//    several calls in flight the cores are better spent on them and on the database.
//  - A call that finds the connection dead returns kUnavailable ("postgres: connection lost: ...
//    (will reconnect)"); the next call reconnects (PQreset), re-applies the settings and prepares
//    statements again. Nothing is retried silently: a streamed scan may have delivered rows.
// Not thread-safe: one PgConn per thread.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/dsn.h"
#include "util/status.h"

namespace fasten {

struct PgResultClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultClear>;

struct PgConnFinish {
  void operator()(PGconn* c) const { PQfinish(c); }
};

// A text parameter, or SQL NULL.
using PgParam = std::optional<std::string>;

struct PgSessionOptions {
  bool read_only = true;
  // statement_timeout in milliseconds; 0 disables it. Default: 30 s.
  int64_t statement_timeout_ms = 30000;
  // Busy-poll budget per round trip in microseconds; 0 sleeps in poll() at once. Default 150.
  int64_t busy_poll_us = 150;
};

// A read-only session as `dsn` asks for it: its ?statement_timeout= and ?busy_poll_us=, or the
// defaults above.
PgSessionOptions PgSessionOptionsFor(const Dsn& dsn);

class PgConn {
 public:
  PgConn() = default;
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Connects to `conninfo` (a postgres:// URL or key=value string). `display` names the server
  // in messages (no password).
  Status Open(const std::string& conninfo, const std::string& display,
              const PgSessionOptions& options);

  // Runs `sql` (one or more statements, no parameters) and discards any rows.
  Status Exec(const std::string& sql);

  // Runs a prepared statement for `sql` with text parameters; *out holds the tuples.
  Status Query(const std::string& sql, const std::vector<PgParam>& params, PgResult* out);

  // Runs `sql` unprepared with parameters (for utility statements such as DECLARE).
  Status QueryUnprepared(const std::string& sql, const std::vector<PgParam>& params, PgResult* out);

  // Starts a read-only transaction when none is open; Rollback() ends it (errors ignored).
  Status Begin();
  void Rollback();

  // A fresh name for a server-side cursor.
  std::string NextCursorName();

  void SetInterrupt(const std::atomic<bool>* flag) { interrupt_ = flag; }
  const std::string& display() const { return display_; }
  // The database's default collation is byte order ("C" or "POSIX").
  bool c_collation() const { return c_collation_; }

 private:
  Status Connect();
  Status ApplySettings();
  Status EnsureConnected();
  // Waits for the results of the statement just sent; keeps the last tuples result.
  Status Finish(const char* what, PgResult* out);
  Status SendFailed(const char* what);
  Status ErrorStatus(const std::string& message, const char* sqlstate, bool cancelled);

  std::string conninfo_;
  std::string display_;
  PgSessionOptions options_;
  std::unique_ptr<PGconn, PgConnFinish> conn_;
  bool needs_reset_ = false;
  bool in_txn_ = false;  // inside Begin() .. Rollback()
  bool c_collation_ = true;
  const std::atomic<bool>* interrupt_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
  uint64_t next_name_ = 0;
};

// A value of a result cell: text, or NULL (empty view with `null` set).
inline std::string_view PgText(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}
inline bool PgIsNull(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) != 0;
}

// A Postgres array literal of text values: {"a","b\"c"}.
std::string PgTextArray(const std::vector<std::string>& values);
// A Postgres array literal of integers: {1,2,3}.
std::string PgBigintArray(const std::set<int64_t>& values);

// Splits "schema.name" (or "name") for catalog lookups; names fold to lower case as unquoted
// identifiers do.
void PgSplitTable(const std::string& table, std::string* schema, std::string* name);

}  // namespace fasten
