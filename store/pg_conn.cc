#include "store/pg_conn.h"

#include <poll.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "util/calls_running.h"

namespace fasten {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool StartsWith(const char* s, const char* prefix) {
  return s && std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// Connections waiting for an answer right now, process-wide (see busy_poll_us in pg_conn.h).
std::atomic<int> g_waiting{0};

}  // namespace

PgSessionOptions PgSessionOptionsFor(const Dsn& dsn) {
  PgSessionOptions o;
  o.read_only = true;
  if (dsn.statement_timeout_ms) o.statement_timeout_ms = *dsn.statement_timeout_ms;
  if (dsn.busy_poll_us) o.busy_poll_us = *dsn.busy_poll_us;
  return o;
}

std::string PgBigintArray(const std::set<int64_t>& values) {
  std::string out = "{";
  for (int64_t v : values) out += (out.size() > 1 ? "," : "") + std::to_string(v);
  return out + "}";
}

std::string PgTextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out.push_back(',');
    out.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  return out + "}";
}

void PgSplitTable(const std::string& table, std::string* schema, std::string* name) {
  auto lower = [](std::string s) {
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
  };
  size_t dot = table.find('.');
  if (dot == std::string::npos) {
    schema->clear();
    *name = lower(table);
  } else {
    *schema = lower(table.substr(0, dot));
    *name = lower(table.substr(dot + 1));
  }
}

Status PgConn::Open(const std::string& conninfo, const std::string& display,
                    const PgSessionOptions& options) {
  conninfo_ = conninfo;
  display_ = display;
  options_ = options;
  FASTEN_RETURN_IF_ERROR(Connect());
  PgResult r;
  // Byte order or a linguistic collation? ('a' < 'B' only under a linguistic one.)
  FASTEN_RETURN_IF_ERROR(Query("SELECT 'a' < 'B'", {}, &r));
  c_collation_ = PQntuples(r.get()) == 1 && PgText(r.get(), 0, 0) == "f";
  return Status::Ok();
}

Status PgConn::Connect() {
  // Entries before the expanded dbname are defaults the caller's DSN may override.
  const char* keywords[] = {"fallback_application_name", "connect_timeout", "dbname", nullptr};
  const char* values[] = {"fasten-mcp", "10", conninfo_.c_str(), nullptr};
  conn_.reset(PQconnectdbParams(keywords, values, 1));
  if (!conn_) return UnavailableError("postgres: out of memory connecting to " + display_);
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string msg = Trim(PQerrorMessage(conn_.get()));
    needs_reset_ = true;
    return UnavailableError("postgres: cannot connect to " + display_ + ": " + msg);
  }
  needs_reset_ = false;
  return ApplySettings();
}

Status PgConn::ApplySettings() {
  prepared_.clear();
  std::string sql =
      "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET client_encoding = 'UTF8'; "
      "SET synchronize_seqscans = off; SET statement_timeout = " +
      std::to_string(options_.statement_timeout_ms) + ";";
  if (options_.read_only) sql += " SET default_transaction_read_only = on;";
  // Sent unconditionally (the interrupt flag must not leave a session half set up).
  if (!PQsendQuery(conn_.get(), sql.c_str())) return SendFailed("session setup");
  const std::atomic<bool>* saved = interrupt_;
  interrupt_ = nullptr;
  PgResult r;
  Status st = Finish("session setup", &r);
  interrupt_ = saved;
  return st;
}

Status PgConn::EnsureConnected() {
  if (!conn_) return Connect();
  if (!needs_reset_ && PQstatus(conn_.get()) == CONNECTION_OK) {
    if (!in_txn_ && PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) Rollback();
    return Status::Ok();
  }
  PQreset(conn_.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    needs_reset_ = true;
    return UnavailableError("postgres: cannot reconnect to " + display_ + ": " +
                            Trim(PQerrorMessage(conn_.get())));
  }
  needs_reset_ = false;
  in_txn_ = false;
  return ApplySettings();
}

Status PgConn::ErrorStatus(const std::string& message, const char* sqlstate, bool cancelled) {
  std::string msg = "postgres (" + display_ + "): " + message;
  if (PQstatus(conn_.get()) == CONNECTION_BAD || StartsWith(sqlstate, "08") ||
      StartsWith(sqlstate, "57P")) {
    needs_reset_ = true;
    in_txn_ = false;
    return UnavailableError("postgres: connection lost: " + message + " (" + display_ +
                            "; will reconnect on the next call)");
  }
  if (StartsWith(sqlstate, "57014")) {
    if (cancelled) return CancelledError("postgres: query cancelled");
    return Status(StatusCode::kDeadlineExceeded,
                  msg + " (statement_timeout " + std::to_string(options_.statement_timeout_ms) +
                      " ms; raise it with ?statement_timeout= in the DSN)");
  }
  if (StartsWith(sqlstate, "42P01")) return NotFoundError(msg);
  if (StartsWith(sqlstate, "42501") || StartsWith(sqlstate, "25006")) {
    return Status(StatusCode::kPermissionDenied, msg);
  }
  if (StartsWith(sqlstate, "28")) return Status(StatusCode::kUnauthenticated, msg);
  if (StartsWith(sqlstate, "53")) return ResourceExhaustedError(msg);
  if (StartsWith(sqlstate, "42")) return FailedPreconditionError(msg);
  return InternalError(msg);
}

Status PgConn::SendFailed(const char* what) {
  std::string msg = std::string(what) + ": " + Trim(PQerrorMessage(conn_.get()));
  return ErrorStatus(msg, nullptr, false);
}

Status PgConn::Finish(const char* what, PgResult* out) {
  PGconn* c = conn_.get();
  bool cancel_sent = false;
  bool broken = false;
  PgResult error, last;
  // Busy-poll (timeout 0) until the budget is spent, then sleep in poll(). Only while this is
  // the only connection in the process waiting for an answer and the process runs at most one
  // call: with several calls in flight the cores are better spent on them (and on the database,
  // which needs a core to produce the answer) than on spinning.
  using Clock = std::chrono::steady_clock;
  struct Waiting {
    Waiting() { alone = g_waiting.fetch_add(1, std::memory_order_acq_rel) == 0; }
    ~Waiting() { g_waiting.fetch_sub(1, std::memory_order_acq_rel); }
    bool alone;
  } waiting;
  auto quiet = [] { return CallsRunning() <= 1; };
  bool busy = waiting.alone && options_.busy_poll_us > 0 && quiet();
  const Clock::time_point busy_until =
      Clock::now() + std::chrono::microseconds(busy ? options_.busy_poll_us : 0);
  while (true) {
    while (!broken && PQisBusy(c)) {
      if (interrupt_ && interrupt_->load(std::memory_order_relaxed) && !cancel_sent) {
        cancel_sent = true;
        if (PGcancel* cancel = PQgetCancel(c)) {
          char buf[256];
          PQcancel(cancel, buf, sizeof buf);
          PQfreeCancel(cancel);
        }
      }
      pollfd pfd{PQsocket(c), POLLIN, 0};
      int rc = poll(&pfd, 1, busy ? 0 : 50);
      if (rc == 0 && busy) {
        busy =
            Clock::now() < busy_until && g_waiting.load(std::memory_order_acquire) == 1 && quiet();
      }
      if (rc < 0 && errno != EINTR) broken = true;
      if (rc > 0 && !PQconsumeInput(c)) broken = true;
    }
    if (broken && PQisBusy(c)) break;
    PGresult* r = PQgetResult(c);
    if (!r) break;
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_NONFATAL_ERROR) {
      if (!error)
        error.reset(r);
      else
        PQclear(r);
    } else {
      last.reset(r);
    }
  }
  if (error) {
    const char* primary = PQresultErrorField(error.get(), PG_DIAG_MESSAGE_PRIMARY);
    std::string msg = primary ? std::string(primary) : Trim(PQresultErrorMessage(error.get()));
    return ErrorStatus(std::string(what) + " failed: " + msg,
                       PQresultErrorField(error.get(), PG_DIAG_SQLSTATE), cancel_sent);
  }
  if (broken || PQstatus(c) == CONNECTION_BAD) {
    return ErrorStatus(std::string(what) + ": " + Trim(PQerrorMessage(c)), nullptr, false);
  }
  if (out) *out = std::move(last);
  return Status::Ok();
}

Status PgConn::Exec(const std::string& sql) {
  FASTEN_RETURN_IF_ERROR(EnsureConnected());
  if (interrupt_ && interrupt_->load(std::memory_order_relaxed)) {
    return CancelledError("postgres: query cancelled");
  }
  if (!PQsendQuery(conn_.get(), sql.c_str())) return SendFailed("statement");
  return Finish("statement", nullptr);
}

Status PgConn::Query(const std::string& sql, const std::vector<PgParam>& params, PgResult* out) {
  FASTEN_RETURN_IF_ERROR(EnsureConnected());
  if (interrupt_ && interrupt_->load(std::memory_order_relaxed)) {
    return CancelledError("postgres: query cancelled");
  }
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    if (prepared_.size() >= 256) {
      FASTEN_RETURN_IF_ERROR(Exec("DEALLOCATE ALL"));
      prepared_.clear();
    }
    std::string name = "fasten_" + std::to_string(next_name_++);
    if (!PQsendPrepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr)) {
      return SendFailed("prepare");
    }
    FASTEN_RETURN_IF_ERROR(Finish("query", nullptr));
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (!PQsendQueryPrepared(conn_.get(), it->second.c_str(), static_cast<int>(values.size()),
                           values.data(), nullptr, nullptr, 0)) {
    return SendFailed("query");
  }
  return Finish("query", out);
}

Status PgConn::QueryUnprepared(const std::string& sql, const std::vector<PgParam>& params,
                               PgResult* out) {
  FASTEN_RETURN_IF_ERROR(EnsureConnected());
  if (interrupt_ && interrupt_->load(std::memory_order_relaxed)) {
    return CancelledError("postgres: query cancelled");
  }
  std::vector<const char*> values;
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (!PQsendQueryParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, 0)) {
    return SendFailed("query");
  }
  return Finish("query", out);
}

Status PgConn::Begin() {
  FASTEN_RETURN_IF_ERROR(Exec(options_.read_only ? "BEGIN READ ONLY" : "BEGIN"));
  in_txn_ = true;
  return Status::Ok();
}

void PgConn::Rollback() {
  in_txn_ = false;
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) return;
  if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE) return;
  if (!PQsendQuery(conn_.get(), "ROLLBACK")) return;
  const std::atomic<bool>* saved = interrupt_;
  interrupt_ = nullptr;  // a cancelled scan still ends its transaction
  Status ignored = Finish("rollback", nullptr);
  (void)ignored;
  interrupt_ = saved;
}

std::string PgConn::NextCursorName() {
  return "fasten_cursor_" + std::to_string(next_name_++);
}

}  // namespace fasten
