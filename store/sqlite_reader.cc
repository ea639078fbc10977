// SQLite backend of AuditReader and StreamReader.
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <set>
#include <unordered_map>

#include "store/payload_tenant.h"
#include "store/pg_reader.h"
#include "store/query_plan.h"
#include "store/reader.h"
#include "store/reader_common.h"
#include "store/seq_reorder.h"
#include "store/sqlite_open.h"
#include "util/handles.h"
#include "util/json_text.h"

namespace fasten {
namespace {

// ---------------------------------------------------------------------------------------------
// Connection and statements.

Status SqliteStatus(sqlite3* db, int rc, const std::string& context) {
  std::string msg = context + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xFF) {
    case SQLITE_CORRUPT:
      return DataLossError(msg + " (the database file is corrupt)");
    case SQLITE_NOTADB:
      return FailedPreconditionError(msg + " (the file is not a SQLite database)");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
      return UnavailableError(msg);
    case SQLITE_INTERRUPT:
      return CancelledError(msg);
    default:
      return InternalError(msg);
  }
}

using Param = SqlParam;

std::string_view ColumnText(sqlite3_stmt* stmt, int i);

Param MakeParam(int64_t v) {
  return Param::Int(v);
}
Param MakeParam(const std::string& v) {
  return Param::Text(v);
}

// Appends "?,?,..." for `values` to *sql and their params to *params, in the same order.
template <typename Values>
void AppendInList(const Values& values, std::string* sql, std::vector<Param>* params) {
  bool first = true;
  for (const auto& v : values) {
    *sql += first ? "?" : ",?";
    first = false;
    params->push_back(MakeParam(v));
  }
}

// A checked-out prepared statement. The cache shares ownership, so evicting the cache never
// finalizes a statement that is still in use; the statement is reset when the StmtRef goes away.
// (A statement left mid-iteration would keep its read transaction open and pin an old WAL
// snapshot: new rows would never become visible.)
class StmtRef {
 public:
  StmtRef() = default;
  StmtRef(const StmtRef&) = delete;
  StmtRef& operator=(const StmtRef&) = delete;
  ~StmtRef() { Release(); }
  void Reset(std::shared_ptr<sqlite3_stmt> stmt) {
    Release();
    stmt_ = std::move(stmt);
  }
  sqlite3_stmt* get() const { return stmt_.get(); }
  operator sqlite3_stmt*() const { return stmt_.get(); }  // NOLINT: used as a C handle

 private:
  void Release() {
    if (stmt_) sqlite3_reset(stmt_.get());
    stmt_.reset();
  }
  std::shared_ptr<sqlite3_stmt> stmt_;
};

class Connection {
 public:
  Status Open(const Dsn& dsn) {
    dsn_ = dsn;
    struct stat st;
    if (stat(dsn.path.c_str(), &st) != 0) {
      return NotFoundError("store file " + dsn.path + " does not exist (from DSN '" + dsn.raw +
                           "'; relative paths resolve against the working directory, use "
                           "sqlite:////absolute/path for an absolute path)");
    }
    if (!S_ISREG(st.st_mode)) return FailedPreconditionError(dsn.path + " is not a regular file");
    FASTEN_RETURN_IF_ERROR(OpenSqliteReadOnly(dsn, SQLITE_OPEN_NOMUTEX, &db_, nullptr));
    sqlite3_extended_result_codes(db_.get(), 1);
    // query_only refuses any write; the page cache is bounded so scans run in constant memory.
    FASTEN_RETURN_IF_ERROR(Exec("PRAGMA query_only=1"));
    FASTEN_RETURN_IF_ERROR(Exec("PRAGMA cache_size=-32768"));
    return Status::Ok();
  }

  Status Exec(const char* sql) {
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteStatus(db_.get(), rc, dsn_.path);
    return Status::Ok();
  }

  // Checks out a reset statement for `sql`, prepared once per connection.
  Status Prepare(const std::string& sql, StmtRef* out) {
    if (interrupt_ && interrupt_->load(std::memory_order_relaxed)) {
      return CancelledError("query interrupted");
    }
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      if (cache_.size() >= 64) cache_.clear();  // statements in use live on in their StmtRef
      sqlite3_stmt* raw = nullptr;
      int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_finalize(raw);
        return SqliteStatus(db_.get(), rc, "query on " + dsn_.path + " failed");
      }
      it = cache_.emplace(sql, std::shared_ptr<sqlite3_stmt>(raw, sqlite3_finalize)).first;
    }
    sqlite3_reset(it->second.get());
    sqlite3_clear_bindings(it->second.get());
    out->Reset(it->second);
    return Status::Ok();
  }

  Status Bind(sqlite3_stmt* stmt, const std::vector<Param>& params) {
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      int rc = params[i].is_int
                   ? sqlite3_bind_int64(stmt, idx, params[i].i)
                   : sqlite3_bind_text(stmt, idx, params[i].s.data(),
                                       static_cast<int>(params[i].s.size()), SQLITE_TRANSIENT);
      if (rc != SQLITE_OK) return SqliteStatus(db_.get(), rc, "bind");
    }
    return Status::Ok();
  }

  // Steps; *row is true while a row is available.
  Status Step(sqlite3_stmt* stmt, bool* row) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      *row = true;
      return Status::Ok();
    }
    *row = false;
    if (rc == SQLITE_DONE) return Status::Ok();
    Status st = SqliteStatus(db_.get(), rc, "reading " + dsn_.path);
    sqlite3_reset(stmt);
    return st;
  }

  // EXPLAIN QUERY PLAN of `sql`: the detail column of each plan row, one per line.
  Status Explain(const std::string& sql, const std::vector<Param>& params, std::string* plan) {
    plan->clear();
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(Prepare("EXPLAIN QUERY PLAN " + sql, &stmt));
    FASTEN_RETURN_IF_ERROR(Bind(stmt, params));
    bool row = false;
    while (true) {
      FASTEN_RETURN_IF_ERROR(Step(stmt, &row));
      if (!row) break;
      *plan += std::string(ColumnText(stmt, 3)) + "\n";
    }
    return Status::Ok();
  }

  // Runs `statement`, passing each row to `on_row` until it returns false.
  Status Each(const SqlStatement& statement, const std::function<bool(sqlite3_stmt*)>& on_row) {
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(Prepare(statement.sql, &stmt));
    FASTEN_RETURN_IF_ERROR(Bind(stmt, statement.params));
    bool row = false;
    while (true) {
      FASTEN_RETURN_IF_ERROR(Step(stmt, &row));
      if (!row || !on_row(stmt)) return Status::Ok();
    }
  }

  bool TableExists(const std::string& name) {
    StmtRef stmt;
    if (!Prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?", &stmt)
             .ok()) {
      return false;
    }
    if (!Bind(stmt, {Param::Text(name)}).ok()) return false;
    bool row = false;
    return Step(stmt, &row).ok() && row;
  }

  std::vector<std::string> Tables() {
    std::vector<std::string> out;
    StmtRef stmt;
    if (!Prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", &stmt).ok())
      return out;
    bool row = false;
    while (Step(stmt, &row).ok() && row) {
      out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    }
    return out;
  }

  // Column name -> declared type, in table order.
  Status Columns(const std::string& table, std::vector<std::pair<std::string, std::string>>* out) {
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(Prepare("PRAGMA table_info(" + table + ")", &stmt));
    bool row = false;
    while (true) {
      FASTEN_RETURN_IF_ERROR(Step(stmt, &row));
      if (!row) break;
      auto text = [&](int i) {
        const unsigned char* t = sqlite3_column_text(stmt, i);
        return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
      };
      out->emplace_back(text(1), text(2));
    }
    return Status::Ok();
  }

  const Dsn& dsn() const { return dsn_; }

  void SetInterrupt(const std::atomic<bool>* flag) {
    interrupt_ = flag;
    if (flag) {
      sqlite3_progress_handler(
          db_.get(), 1000,
          [](void* self) -> int {
            const std::atomic<bool>* f = static_cast<Connection*>(self)->interrupt_;
            return f && f->load(std::memory_order_relaxed) ? 1 : 0;
          },
          this);
    } else {
      sqlite3_progress_handler(db_.get(), 0, nullptr, nullptr);
    }
  }

 private:
  Dsn dsn_;
  SqliteHandle db_;
  const std::atomic<bool>* interrupt_ = nullptr;
  std::unordered_map<std::string, std::shared_ptr<sqlite3_stmt>> cache_;
};

std::string_view ColumnText(sqlite3_stmt* stmt, int i) {
  const unsigned char* t = sqlite3_column_text(stmt, i);
  if (!t) return {};
  return std::string_view(reinterpret_cast<const char*>(t),
                          static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
}

// Time-window bounds pushed into SQL over a TEXT column at whole seconds (docs/format.md §3.3).
void AddWindow(const std::string& column, std::optional<Micros> since, std::optional<Micros> until,
               std::string* where, std::vector<Param>* params) {
  if (since) {
    *where += " AND " + column + " >= ?";
    params->push_back(Param::Text(SecondPrefix(*since)));
  }
  if (until) {
    Micros next = (*until / 1000000 + (*until % 1000000 < 0 ? 0 : 1)) * 1000000;
    *where += " AND " + column + " < ?";
    params->push_back(Param::Text(SecondPrefix(next)));
  }
}

// SQLite's spelling of the list queries (store/query_plan.h).
class SqliteDialect final : public SqlDialect {
 public:
  std::string Placeholder(size_t) const override { return "?"; }
  std::string Column(const char* name) const override { return name; }
  const char* True() const override { return "1=1"; }
  const char* False() const override { return "0"; }
  std::string ILike(const std::string& column, const std::string& placeholder) const override {
    return "lower(" + column + ") LIKE " + placeholder + " ESCAPE '\\'";
  }
  void PayloadTenantPrefilter(const std::string& tenant, SqlWhere* where) const override {
    // `fasten-mcp index` indexes exactly this expression.
    where->And(std::string(kSqlitePayloadTenant) + " = " + where->Bind(Param::Text(tenant)));
  }
  bool Batched() const override { return false; }
};

const SqliteDialect kDialect;

// A text timestamp column.
SqlTimestamp TextTimestamp(const char* column) {
  return SqlTimestamp{column, column, ""};
}

// Runs a list plan's statement and passes each row as `read` decodes it.
template <typename Row, typename Read>
SqlFetch<Row> FetchWith(Connection& conn, Read read) {
  return [&conn, read](const SqlStatement& st, const std::function<bool(Row&)>& on_row) {
    Row row;
    return conn.Each(st, [&](sqlite3_stmt* stmt) {
      read(stmt, &row);
      return on_row(row);
    });
  };
}

// ... each row's first column as text.
SqlFetchText FetchText(Connection& conn) {
  return FetchWith<std::string_view>(
      conn, [](sqlite3_stmt* stmt, std::string_view* text) { *text = ColumnText(stmt, 0); });
}

// ---------------------------------------------------------------------------------------------
// Audit.

class SqliteAuditReader final : public AuditReader {
 public:
  Status Init(const Dsn& dsn) {
    FASTEN_RETURN_IF_ERROR(conn_.Open(dsn));
    if (dsn.table) {
      table_ = *dsn.table;
      if (!conn_.TableExists(table_)) {
        return NotFoundError("audit table '" + table_ + "' not found in " + dsn.path +
                             " (tables present: " + JoinNames(conn_.Tables()) + ")");
      }
    } else if (conn_.TableExists("audit_log")) {
      table_ = "audit_log";
    } else if (conn_.TableExists("fasten_audit")) {
      table_ = "fasten_audit";
      profile_.table_fallback = true;
    } else {
      std::vector<std::string> tables = conn_.Tables();
      return NotFoundError("no audit table in " + dsn.path +
                           ": neither 'audit_log' nor 'fasten_audit' exists (tables present: " +
                           JoinNames(tables) + "); name it with ?table=NAME in the DSN");
    }
    profile_.table = table_;
    std::vector<std::pair<std::string, std::string>> cols;
    FASTEN_RETURN_IF_ERROR(conn_.Columns(table_, &cols));
    bool present[kNumAuditCols] = {};
    for (const auto& [name, type] : cols) {
      for (int c = 0; c < kNumAuditCols; ++c) {
        if (name == kAuditColNames[c]) {
          present[c] = true;
          if (c == kTimestamp) profile_.timestamp_type = type;
        }
      }
    }
    for (int c = 0; c < kNumAuditCols; ++c) {
      if (!present[c]) continue;
      select_.push_back(c);
      select_list_ += std::string(select_list_.empty() ? "" : ", ") + kAuditColNames[c];
      pred_select_list_ +=
          std::string(pred_select_list_.empty() ? "" : ", ") + "p." + kAuditColNames[c];
    }
    std::string missing_required = DescribeAuditColumns(present, &profile_);
    if (!missing_required.empty()) {
      return FailedPreconditionError("table '" + table_ + "' in " + dsn.path +
                                     " is not a fasten audit table: missing column(s) " +
                                     missing_required);
    }
    has_hash_ = present[kHash];
    has_tenant_ = present[kTenant];
    list_ = AuditListTable{table_, select_list_, TextTimestamp("timestamp"), has_tenant_};
    return Status::Ok();
  }

  const Dsn& dsn() const override { return conn_.dsn(); }
  const WriterProfile& profile() const override { return profile_; }

  Status Scan(const TenantScope& scope, const ScanRange& range,
              const std::function<bool(AuditRow&)>& on_row) override {
    std::string where = " WHERE 1=1";
    std::vector<Param> params;
    if (range.source_node_id) {
      where += " AND source_node_id = ?";
      params.push_back(Param::Text(*range.source_node_id));
    }
    if (range.from_seq) {
      where += " AND monotonic_seq >= ?";
      params.push_back(Param::Int(*range.from_seq));
    }
    if (range.to_seq) {
      where += " AND monotonic_seq <= ?";
      params.push_back(Param::Int(*range.to_seq));
    }
    const bool physical = range.order == ScanRange::Order::kPhysical;
    std::string sql =
        "SELECT " + select_list_ + " FROM " + table_ + where +
        (physical ? " ORDER BY rowid" : " ORDER BY monotonic_seq, source_node_id, id");
    StmtRef stmt;
    Status prepared = conn_.Prepare(sql, &stmt);
    if (!prepared.ok() && physical) {
      // A view or a WITHOUT ROWID table has no rowid: let the database sort.
      ScanRange sorted = range;
      sorted.order = ScanRange::Order::kSeq;
      return Scan(scope, sorted, on_row);
    }
    FASTEN_RETURN_IF_ERROR(prepared);
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, params));
    bool stopped = false;
    SeqReorder reorder(kReorderWindow, range.from_seq.value_or(1), [&](AuditRow& r) {
      if (!stopped && !on_row(r)) stopped = true;
    });
    AuditRow row;
    bool more = false;
    while (!stopped) {
      FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &more));
      if (!more) break;
      ReadRow(stmt, &row);
      if (!physical) {
        if (!on_row(row)) break;
      } else if (!reorder.Push(row)) {
        return AbortedError("rows of node '" + row.source_node_id +
                            "' are stored out of seq "
                            "order (seq " +
                            std::to_string(row.monotonic_seq) + " arrives late)");
      }
    }
    if (!stopped) reorder.Flush();
    return Status::Ok();
  }

  Status ExplainQuery(const TenantScope& scope, const AuditQuery& q, std::string* plan) override {
    const SqlStatement st = AuditListPlan(kDialect, list_, q, scope.tenant()).FirstStatement();
    return conn_.Explain(st.sql, st.params, plan);
  }

  Status Query(const TenantScope& scope, const AuditQuery& q, AuditPage* page) override {
    return AuditListPlan(kDialect, list_, q, scope.tenant())
        .Run(FetchRows(), FetchText(conn_), page);
  }

  Status RequestIdsWithPrefix(const TenantScope& scope, const std::string& prefix, size_t max,
                              std::vector<std::string>* out) override {
    return AuditRequestIdsWithPrefix(kDialect, list_, scope.tenant(), prefix, max, FetchText(conn_),
                                     out);
  }

  Status FindPredecessor(const TenantScope& /*chain linkage: every tenant*/,
                         const std::string& node, int64_t seq,
                         std::optional<Predecessor>* out) override {
    out->reset();
    if (!has_hash_) return Status::Ok();
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(
        conn_.Prepare("SELECT id, monotonic_seq, hash FROM " + table_ +
                          " WHERE source_node_id = ? AND monotonic_seq < ? AND hash != '' "
                          "ORDER BY monotonic_seq DESC, id DESC LIMIT 1",
                      &stmt));
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, {Param::Text(node), Param::Int(seq)}));
    bool row = false;
    FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &row));
    if (row) {
      *out = Predecessor{sqlite3_column_int64(stmt, 1), std::string(ColumnText(stmt, 0)),
                         std::string(ColumnText(stmt, 2))};
    }
    return Status::Ok();
  }

  Status FindBySeqHash(const TenantScope& scope, int64_t seq, const std::string& hash,
                       std::vector<AuditRow>* out) override {
    out->clear();
    if (!has_hash_) return Status::Ok();
    FASTEN_RETURN_IF_ERROR(
        Collect("SELECT " + select_list_ + " FROM " + table_ +
                    " WHERE monotonic_seq = ? AND hash = ? ORDER BY source_node_id, id",
                {Param::Int(seq), Param::Text(hash)}, 16, out));
    KeepVisible(scope, out);
    return Status::Ok();
  }

  Status FindBySeqHashBatch(const TenantScope& scope,
                            const std::vector<std::pair<int64_t, std::string>>& pairs,
                            std::vector<AuditRow>* out) override {
    out->clear();
    SeqHashBatch batch;
    FASTEN_RETURN_IF_ERROR(SeqHashBatch::Make(pairs, &batch));
    if (!has_hash_ || batch.wanted.empty()) return Status::Ok();
    // One statement: seqs IN (...) AND hashes IN (...), then the exact pairs.
    std::string sql = "SELECT " + select_list_ + " FROM " + table_ + " WHERE monotonic_seq IN (";
    std::vector<Param> params;
    AppendInList(batch.seqs, &sql, &params);
    sql += ") AND hash IN (";
    AppendInList(batch.hashes, &sql, &params);
    sql += ") ORDER BY monotonic_seq, source_node_id, id";
    std::vector<AuditRow> rows;
    FASTEN_RETURN_IF_ERROR(Collect(sql, params, 16 * batch.wanted.size(), &rows));
    batch.KeepWanted(rows, out);
    KeepVisible(scope, out);
    return Status::Ok();
  }

  Status FindBySeqHashBatchWithLinks(const TenantScope& scope,
                                     const std::vector<std::pair<int64_t, std::string>>& pairs,
                                     std::vector<AuditRow>* out,
                                     std::vector<AuditRow>* links) override {
    out->clear();
    links->clear();
    SeqHashBatch batch;
    FASTEN_RETURN_IF_ERROR(SeqHashBatch::Make(pairs, &batch));
    if (!has_hash_ || batch.wanted.empty()) return Status::Ok();
    // One statement: the wanted rows (read once, materialised as c), UNION ALL each wanted
    // row's predecessor (the row of its node one seq below whose hash is its prev_hash), joined.
    std::vector<Param> params;
    std::string sql = "WITH c AS MATERIALIZED (SELECT " + select_list_ + " FROM " + table_ +
                      " WHERE monotonic_seq IN (";
    AppendInList(batch.seqs, &sql, &params);
    sql += ") AND hash IN (";
    AppendInList(batch.hashes, &sql, &params);
    sql += ")) SELECT * FROM c UNION ALL SELECT " + pred_select_list_ + " FROM c JOIN " + table_ +
           " AS p ON p.source_node_id = c.source_node_id AND p.monotonic_seq = c.monotonic_seq - 1 "
           "AND p.hash = c.prev_hash";
    std::vector<AuditRow> rows;
    FASTEN_RETURN_IF_ERROR(Collect(sql, params, 32 * batch.wanted.size(), &rows));
    batch.SplitWithLinks(rows, out, links);
    KeepVisible(scope, out);  // `links` keep every tenant: they only confirm links
    return Status::Ok();
  }

  Status FindNeighbours(const TenantScope& /*chain linkage: every tenant*/, const std::string& node,
                        int64_t seq, std::optional<AuditRow>* prev,
                        std::optional<AuditRow>* next) override {
    prev->reset();
    next->reset();
    std::vector<AuditRow> rows;
    FASTEN_RETURN_IF_ERROR(Collect("SELECT " + select_list_ + " FROM " + table_ +
                                       " WHERE source_node_id = ? AND monotonic_seq < ? "
                                       "ORDER BY monotonic_seq DESC, id DESC LIMIT 1",
                                   {Param::Text(node), Param::Int(seq)}, 1, &rows));
    if (!rows.empty()) *prev = std::move(rows[0]);
    rows.clear();
    FASTEN_RETURN_IF_ERROR(Collect("SELECT " + select_list_ + " FROM " + table_ +
                                       " WHERE source_node_id = ? AND monotonic_seq > ? "
                                       "ORDER BY monotonic_seq, id LIMIT 1",
                                   {Param::Text(node), Param::Int(seq)}, 1, &rows));
    if (!rows.empty()) *next = std::move(rows[0]);
    return Status::Ok();
  }

  Status Topology(const TenantScope& scope, std::vector<TopologyEntry>* entries) override {
    const std::optional<std::string>& tenant = scope.tenant();
    entries->clear();
    std::vector<Param> params;
    std::string where;
    if (tenant) {
      if (!has_tenant_) return Status::Ok();
      where = " WHERE tenant_id = ?";
      params.push_back(Param::Text(*tenant));
    }
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(conn_.Prepare(
        "SELECT source_node_id, service_id, count(*), min(timestamp), max(timestamp) FROM " +
            table_ + where + " GROUP BY source_node_id, service_id ORDER BY 1, 2",
        &stmt));
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, params));
    bool more = false;
    while (true) {
      FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &more));
      if (!more) break;
      TopologyEntry e;
      e.source_node_id = ColumnText(stmt, 0);
      e.service_id = ColumnText(stmt, 1);
      e.rows = sqlite3_column_int64(stmt, 2);
      e.first_seen = ColumnText(stmt, 3);
      e.last_seen = ColumnText(stmt, 4);
      entries->push_back(std::move(e));
    }
    return Status::Ok();
  }

  Status Tenants(const TenantScope& scope, size_t max, std::vector<std::string>* out) override {
    out->clear();
    if (!has_tenant_) return Status::Ok();
    if (!scope.all_tenants()) return OneTenant(scope, max, out);
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(conn_.Prepare(
        "SELECT DISTINCT tenant_id FROM " + table_ + " WHERE tenant_id IS NOT NULL LIMIT ?",
        &stmt));
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, {Param::Int(static_cast<int64_t>(max))}));
    bool more = false;
    while (true) {
      FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &more));
      if (!more) break;
      out->emplace_back(ColumnText(stmt, 0));
    }
    return Status::Ok();
  }

  Status Tip(const TenantScope& scope, const std::string& node,
             std::optional<Predecessor>* out) override {
    const std::optional<std::string>& tenant = scope.tenant();
    out->reset();
    if (!has_hash_ || (tenant && !has_tenant_)) return Status::Ok();
    std::vector<Param> params = {Param::Text(node)};
    std::string sql = "SELECT id, monotonic_seq, hash FROM " + table_ +
                      " WHERE source_node_id = ? AND hash != ''";
    if (tenant) {
      sql += " AND tenant_id = ?";
      params.push_back(Param::Text(*tenant));
    }
    sql += " ORDER BY monotonic_seq DESC, id DESC LIMIT 1";
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(conn_.Prepare(sql, &stmt));
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, params));
    bool row = false;
    FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &row));
    if (row) {
      *out = Predecessor{sqlite3_column_int64(stmt, 1), std::string(ColumnText(stmt, 0)),
                         std::string(ColumnText(stmt, 2))};
    }
    return Status::Ok();
  }

  Status Nodes(const TenantScope& /*chain linkage: every tenant*/, size_t max,
               std::vector<std::string>* out) override {
    out->clear();
    bool indexed = false;
    FASTEN_RETURN_IF_ERROR(HasNodeIndex(&indexed));
    // With the index, a recursive step per node finds the next node name; without it one scan.
    std::string sql =
        indexed
            ? "WITH RECURSIVE n(x) AS (SELECT min(source_node_id) FROM " + table_ +
                  " UNION ALL SELECT (SELECT min(source_node_id) FROM " + table_ +
                  " WHERE source_node_id > n.x) FROM n WHERE n.x IS NOT NULL) "
                  "SELECT x FROM n WHERE x IS NOT NULL LIMIT ?"
            : "SELECT DISTINCT source_node_id FROM " + table_ + " ORDER BY source_node_id LIMIT ?";
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(conn_.Prepare(sql, &stmt));
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, {Param::Int(static_cast<int64_t>(max))}));
    bool more = false;
    while (true) {
      FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &more));
      if (!more) break;
      out->emplace_back(ColumnText(stmt, 0));
    }
    return Status::Ok();
  }

  Status CountSealed(const TenantScope& /*chain linkage: every tenant*/, const std::string& node,
                     int64_t after_seq, int64_t to_seq, int64_t* out) override {
    *out = 0;
    if (!has_hash_) return Status::Ok();
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(conn_.Prepare(
        "SELECT count(*) FROM " + table_ +
            " WHERE source_node_id = ? AND monotonic_seq > ? AND monotonic_seq <= ? AND hash != ''",
        &stmt));
    FASTEN_RETURN_IF_ERROR(
        conn_.Bind(stmt, {Param::Text(node), Param::Int(after_seq), Param::Int(to_seq)}));
    bool row = false;
    FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &row));
    if (row) *out = sqlite3_column_int64(stmt, 0);
    return Status::Ok();
  }

  void SetInterrupt(const std::atomic<bool>* flag) override { conn_.SetInterrupt(flag); }

  Status CountRows(const TenantScope& /*chain linkage: every tenant*/, int64_t* out) override {
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(conn_.Prepare("SELECT count(*) FROM " + table_, &stmt));
    bool row = false;
    FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &row));
    *out = row ? sqlite3_column_int64(stmt, 0) : 0;
    return Status::Ok();
  }

  Status TimeBounds(const TenantScope& /*chain linkage: every tenant*/,
                    std::optional<Micros>* oldest, std::optional<Micros>* newest) override {
    oldest->reset();
    newest->reset();
    StmtRef stmt;
    // Two subqueries: SQLite reads min() and max() off an index's ends only one per SELECT.
    FASTEN_RETURN_IF_ERROR(conn_.Prepare("SELECT (SELECT min(timestamp) FROM " + table_ +
                                             "), (SELECT max(timestamp) FROM " + table_ + ")",
                                         &stmt));
    bool row = false;
    FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &row));
    if (!row) return Status::Ok();
    for (auto [col, out] : {std::pair{0, oldest}, std::pair{1, newest}}) {
      Micros t = 0;
      if (sqlite3_column_type(stmt, col) != SQLITE_NULL &&
          ParseTimestamp(ColumnText(stmt, col), &t)) {
        *out = t;
      }
    }
    return Status::Ok();
  }

  Status SeqSpans(const TenantScope& scope, const SeqSpanQuery& q,
                  std::vector<NodeSeqSpan>* out) override {
    const std::optional<std::string>& tenant = scope.tenant();
    out->clear();
    std::string where = " WHERE 1=1";
    std::vector<Param> params;
    if (q.source_node_id) {
      where += " AND source_node_id = ?";
      params.push_back(Param::Text(*q.source_node_id));
    }
    if (tenant) {
      if (!has_tenant_) return Status::Ok();  // no row belongs to any tenant
      where += " AND tenant_id = ?";
      params.push_back(Param::Text(*tenant));
    }
    AddWindow("timestamp", q.since, q.until, &where, &params);
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(conn_.Prepare(
        "SELECT source_node_id, monotonic_seq, timestamp FROM " + table_ + where, &stmt));
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, params));
    SeqSpanBuilder spans;
    bool more = false;
    while (true) {
      FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &more));
      if (!more) break;
      Micros t = 0;
      const bool ok = ParseTimestamp(ColumnText(stmt, 2), &t);
      if (!InWindow(ok, t, q.since, q.until)) continue;  // the SQL bound is whole seconds
      spans.Add(ColumnText(stmt, 0), sqlite3_column_int64(stmt, 1));
    }
    spans.Finish(out);
    return Status::Ok();
  }

 private:
  SqlFetch<AuditRow> FetchRows() {
    return FetchWith<AuditRow>(conn_,
                               [this](sqlite3_stmt* stmt, AuditRow* row) { ReadRow(stmt, row); });
  }

  Status Collect(const std::string& sql, const std::vector<Param>& params, size_t max,
                 std::vector<AuditRow>* out) {
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(conn_.Prepare(sql, &stmt));
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, params));
    bool more = false;
    while (out->size() < max) {
      FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &more));
      if (!more) break;
      out->emplace_back();
      ReadRow(stmt, &out->back());
    }
    return Status::Ok();
  }

  void ReadRow(sqlite3_stmt* stmt, AuditRow* row) {
    BeginAuditRow(row);
    for (size_t i = 0; i < select_.size(); ++i) {
      const int idx = static_cast<int>(i);
      const int type = sqlite3_column_type(stmt, idx);
      if (select_[i] == kSeq && type == SQLITE_INTEGER) {
        row->monotonic_seq = sqlite3_column_int64(stmt, idx);
      } else if (select_[i] == kPii) {
        row->pii_in_detail = static_cast<int>(sqlite3_column_int64(stmt, idx));
      } else {
        SetAuditColumn(select_[i], ColumnText(stmt, idx), type == SQLITE_NULL, row);
      }
    }
    FinishAuditRow(row);
    row->from_timestamptz = false;
  }

  // Drops the rows the scope does not see (the row-returning lookups filter here, not in SQL).
  static void KeepVisible(const TenantScope& scope, std::vector<AuditRow>* rows) {
    std::erase_if(*rows, [&](const AuditRow& r) { return !scope.Sees(r); });
  }

  // Tenants() for a one-tenant scope: that tenant, when it has a row.
  Status OneTenant(const TenantScope& scope, size_t max, std::vector<std::string>* out) {
    if (max == 0) return Status::Ok();
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(
        conn_.Prepare("SELECT 1 FROM " + table_ + " WHERE tenant_id = ? LIMIT 1", &stmt));
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, {Param::Text(*scope.tenant())}));
    bool row = false;
    FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &row));
    if (row) out->push_back(*scope.tenant());
    return Status::Ok();
  }

  Connection conn_;
  std::string table_;
  WriterProfile profile_;
  std::vector<int> select_;
  std::string select_list_;
  std::string pred_select_list_;  // the same columns of the alias p (the predecessor join)
  AuditListTable list_;
  // True when an index of the table has source_node_id as its first column.
  Status HasNodeIndex(bool* out) {
    *out = false;
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(conn_.Prepare(
        "SELECT 1 FROM pragma_index_list(?) AS il, pragma_index_info(il.name) AS ii "
        "WHERE ii.seqno = 0 AND ii.name = 'source_node_id' AND il.partial = 0 LIMIT 1",
        &stmt));
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, {Param::Text(table_)}));
    return conn_.Step(stmt, out);
  }

  bool has_hash_ = false;
  bool has_tenant_ = false;
};

// ---------------------------------------------------------------------------------------------
// Streams.

class SqliteStreamReader final : public StreamReader {
 public:
  Status Init(const Dsn& dsn, StreamKind kind) {
    kind_ = kind;
    FASTEN_RETURN_IF_ERROR(conn_.Open(dsn));
    table_ = dsn.table ? *dsn.table : (kind == StreamKind::kApi ? "api_log" : "syslog");
    if (!conn_.TableExists(table_)) {
      return NotFoundError(std::string(StreamName(kind)) + " stream table '" + table_ +
                           "' not found in " + dsn.path +
                           " (tables present: " + JoinNames(conn_.Tables()) + ")");
    }
    std::vector<std::pair<std::string, std::string>> cols;
    FASTEN_RETURN_IF_ERROR(conn_.Columns(table_, &cols));
    for (const auto& [name, type] : cols) list_.columns.push_back(name);
    if (!list_.Has("seq") || !list_.Has("payload")) {
      return FailedPreconditionError("table '" + table_ + "' in " + dsn.path +
                                     " is not a fasten stream table (needs seq and payload)");
    }
    list_.table = table_;
    list_.select = "SELECT seq, payload";
    for (const char* c :
         {"request_id", "timestamp", "level", "service_id", "event", "method", "path", "status"}) {
      list_.select += std::string(", ") + (list_.Has(c) ? c : "NULL");
    }
    list_.select += " FROM " + table_;
    if (list_.Has("timestamp")) list_.ts = TextTimestamp("timestamp");
    if (list_.Has("status")) list_.status = "CAST(status AS INTEGER)";
    return Status::Ok();
  }

  const Dsn& dsn() const override { return conn_.dsn(); }
  StreamKind kind() const override { return kind_; }
  const std::string& table() const override { return table_; }

  Status Query(const TenantScope& scope, const StreamQuery& q, StreamPage* page) override {
    return StreamListPlan(kDialect, list_, q, scope.tenant())
        .Run(FetchRows(), FetchText(conn_), page);
  }

  Status RequestIdsWithPrefix(const TenantScope& scope, const std::string& prefix, size_t max,
                              std::vector<std::string>* out) override {
    return StreamRequestIdsWithPrefix(kDialect, list_, scope.tenant(), prefix, max,
                                      FetchText(conn_), out);
  }

  Status ExplainQuery(const TenantScope& scope, const StreamQuery& q, std::string* plan) override {
    const SqlStatement st = StreamListPlan(kDialect, list_, q, scope.tenant()).FirstStatement();
    return conn_.Explain(st.sql, st.params, plan);
  }

  Status Scan(const TenantScope& scope, const StreamQuery& q, int64_t max_rows,
              const std::function<void(const StreamRow&)>& on_row, bool* complete) override {
    return StreamListPlan(kDialect, list_, q, scope.tenant())
        .Scan(FetchRows(), max_rows, on_row, complete);
  }

  Status FindBySeq(const TenantScope& scope, int64_t seq, std::optional<StreamRow>* out) override {
    out->reset();
    StmtRef stmt;
    FASTEN_RETURN_IF_ERROR(conn_.Prepare(list_.select + " WHERE seq = ?", &stmt));
    FASTEN_RETURN_IF_ERROR(conn_.Bind(stmt, {Param::Int(seq)}));
    bool row = false;
    FASTEN_RETURN_IF_ERROR(conn_.Step(stmt, &row));
    if (row) {
      StreamRow r;
      ReadRow(stmt, &r);
      if (scope.SeesPayload(r.payload)) *out = std::move(r);
    }
    return Status::Ok();
  }

  void SetInterrupt(const std::atomic<bool>* flag) override { conn_.SetInterrupt(flag); }

 private:
  SqlFetch<StreamRow> FetchRows() {
    return FetchWith<StreamRow>(conn_,
                                [this](sqlite3_stmt* stmt, StreamRow* row) { ReadRow(stmt, row); });
  }

  void ReadRow(sqlite3_stmt* stmt, StreamRow* row) {
    row->kind = kind_;
    row->seq = sqlite3_column_int64(stmt, 0);
    row->payload.assign(ColumnText(stmt, 1));
    row->request_id.assign(ColumnText(stmt, 2));
    row->timestamp.assign(ColumnText(stmt, 3));
    row->timestamp_ok = ParseTimestamp(row->timestamp, &row->timestamp_us);
    row->level.assign(ColumnText(stmt, 4));
    row->service_id.assign(ColumnText(stmt, 5));
    row->event.assign(ColumnText(stmt, 6));
    row->method.assign(ColumnText(stmt, 7));
    row->path.assign(ColumnText(stmt, 8));
    row->has_status = sqlite3_column_type(stmt, 9) != SQLITE_NULL;
    row->status = row->has_status ? sqlite3_column_int64(stmt, 9) : 0;
  }

  Connection conn_;
  StreamKind kind_ = StreamKind::kSys;
  std::string table_;
  StreamListTable list_;
};

}  // namespace

Status AuditReader::Open(const Dsn& dsn, std::unique_ptr<AuditReader>* out) {
  if (dsn.kind == Dsn::Kind::kPostgres) return OpenPostgresAuditReader(dsn, out);
  auto reader = std::make_unique<SqliteAuditReader>();
  FASTEN_RETURN_IF_ERROR(reader->Init(dsn));
  *out = std::move(reader);
  return Status::Ok();
}

Status StreamReader::Open(const Dsn& dsn, StreamKind kind, std::unique_ptr<StreamReader>* out) {
  if (dsn.kind == Dsn::Kind::kPostgres) return OpenPostgresStreamReader(dsn, kind, out);
  auto reader = std::make_unique<SqliteStreamReader>();
  FASTEN_RETURN_IF_ERROR(reader->Init(dsn, kind));
  *out = std::move(reader);
  return Status::Ok();
}

}  // namespace fasten
