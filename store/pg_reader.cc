// Postgres backend of AuditReader and StreamReader (see pg_reader.h).
#include "store/pg_reader.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "store/payload_tenant.h"
#include "store/pg_conn.h"
#include "store/query_plan.h"
#include "store/reader_common.h"
#include "store/seq_reorder.h"
#include "util/json_text.h"

namespace fasten {
namespace {

constexpr int kFetchBatch = 10000;
// to_char() format of the canonical wire spelling YYYY-MM-DDTHH:MM:SS.ffffffZ.
constexpr char kTsFormat[] = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";

// Appends a parameter and returns its placeholder ($n).
std::string Bind(std::vector<PgParam>* params, std::string value) {
  params->push_back(std::move(value));
  return "$" + std::to_string(params->size());
}

// Column names are quoted (a quoted lower-case name is the name the writer's unquoted DDL
// created); table names are not (docs/format.md §1.3).
std::string Col(const char* name) {
  return std::string("\"") + name + "\"";
}

bool ParseInt(std::string_view text, int64_t* out) {
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && !text.empty();
}

// A timestamp column (audit timestamp / shipped_at, stream timestamp) by its declared type.
struct TsColumn {
  enum Kind { kText, kTz, kNaive, kOther };
  Kind kind = kText;
  std::string col;  // quoted name

  static Kind KindOf(const std::string& data_type) {
    if (data_type == "timestamp with time zone") return kTz;
    if (data_type == "timestamp without time zone") return kNaive;
    if (data_type == "text" || data_type == "character varying" || data_type == "character") {
      return kText;
    }
    return kOther;
  }

  // The value as read: TEXT as stored, timestamps in the canonical wire spelling (UTC).
  std::string Select() const {
    switch (kind) {
      case kTz:
        return "to_char(" + col + " AT TIME ZONE 'UTC', " + kTsFormat + ")";
      case kNaive:
        return "to_char(" + col + ", " + kTsFormat + ")";
      case kOther:
        return col + "::text";
      case kText:
        break;
    }
    return col;
  }
  // The expression to compare and order by: instants, or text in byte order.
  std::string Order() const {
    switch (kind) {
      case kTz:
      case kNaive:
        return col;
      case kOther:
        return "(" + col + "::text) COLLATE \"C\"";
      case kText:
        break;
    }
    return col + " COLLATE \"C\"";
  }
  // Instant columns filter exactly; text columns at whole-second resolution (§3.1 rule 5).
  bool exact() const { return kind == kTz || kind == kNaive; }
  const char* cast() const { return kind == kTz ? "::timestamptz" : "::timestamp"; }

  // An aggregate (min/max) as text in the same spelling as Select().
  std::string Aggregate(const char* fn) const {
    switch (kind) {
      case kTz:
        return "to_char(" + std::string(fn) + "(" + col + ") AT TIME ZONE 'UTC', " + kTsFormat +
               ")";
      case kNaive:
        return "to_char(" + std::string(fn) + "(" + col + "), " + kTsFormat + ")";
      default:
        break;
    }
    return std::string(fn) + "(" + Order() + ")";
  }

  void Window(std::optional<Micros> since, std::optional<Micros> until, std::string* where,
              std::vector<PgParam>* params) const {
    if (exact()) {
      if (since)
        *where += " AND " + col + " >= " + Bind(params, CanonicalTimestamp(*since)) + cast();
      if (until)
        *where += " AND " + col + " <= " + Bind(params, CanonicalTimestamp(*until)) + cast();
      return;
    }
    if (since) *where += " AND " + Order() + " >= " + Bind(params, SecondPrefix(*since));
    if (until) *where += " AND " + Order() + " < " + Bind(params, SecondPrefix(NextSecond(*until)));
  }

  // The column as the list plan sees it (store/query_plan.h).
  SqlTimestamp Sql() const { return SqlTimestamp{Select(), Order(), exact() ? cast() : ""}; }
};

std::string DisplayType(const std::string& data_type) {
  if (data_type == "timestamp with time zone") return "TIMESTAMPTZ";
  if (data_type == "timestamp without time zone") return "TIMESTAMP";
  if (data_type == "character varying") return "VARCHAR";
  std::string s = data_type;
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

// The schema and name of the relation an unquoted table name resolves to (search_path applies
// to a bare name), or nullopt.
Status ResolveTable(PgConn& conn, const std::string& table,
                    std::optional<std::pair<std::string, std::string>>* out) {
  out->reset();
  PgResult r;
  FASTEN_RETURN_IF_ERROR(conn.Query(
      "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
      "ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1::text) "
      "AND c.relkind IN ('r', 'v', 'm', 'p', 'f')",
      {table}, &r));
  if (PQntuples(r.get()) == 1) {
    *out = std::make_pair(std::string(PgText(r.get(), 0, 0)), std::string(PgText(r.get(), 0, 1)));
  }
  return Status::Ok();
}

// EXPLAIN of `sql` with its parameters: one plan line per line.
Status Explain(PgConn& conn, const std::string& sql, const std::vector<PgParam>& params,
               std::string* plan) {
  plan->clear();
  PgResult r;
  FASTEN_RETURN_IF_ERROR(conn.QueryUnprepared("EXPLAIN " + sql, params, &r));
  for (int i = 0; i < PQntuples(r.get()); ++i) *plan += std::string(PgText(r.get(), i, 0)) + "\n";
  return Status::Ok();
}

std::vector<std::string> ListTables(PgConn& conn) {
  std::vector<std::string> out;
  PgResult r;
  if (!conn.Query("SELECT CASE WHEN table_schema = 'public' THEN table_name::text ELSE "
                  "table_schema || '.' || table_name END FROM information_schema.tables WHERE "
                  "table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
                  {}, &r)
           .ok()) {
    return out;
  }
  for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(PgText(r.get(), i, 0));
  return out;
}

// Column name -> information_schema data_type, in table order.
Status Columns(PgConn& conn, const std::pair<std::string, std::string>& rel,
               std::vector<std::pair<std::string, std::string>>* out) {
  PgResult r;
  FASTEN_RETURN_IF_ERROR(
      conn.Query("SELECT column_name::text, data_type::text FROM information_schema.columns "
                 "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                 {rel.first, rel.second}, &r));
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out->emplace_back(PgText(r.get(), i, 0), PgText(r.get(), i, 1));
  }
  return Status::Ok();
}

std::optional<std::string> PlainTenantPattern(const std::string& tenant);

// Postgres' spelling of the list queries (store/query_plan.h).
class PgDialect final : public SqlDialect {
 public:
  // `tenant_function`: "schema.fasten_payload_tenant(\"payload\")" when the stream table has the
  // function beside it, else empty.
  explicit PgDialect(std::string tenant_function = "")
      : tenant_function_(std::move(tenant_function)) {}
  std::string Placeholder(size_t n) const override { return "$" + std::to_string(n); }
  std::string Column(const char* name) const override { return Col(name); }
  const char* True() const override { return "true"; }
  const char* False() const override { return "false"; }
  // docs/format.md §4.3: ILIKE ... ESCAPE '\'.
  std::string ILike(const std::string& column, const std::string& placeholder) const override {
    return column + " ILIKE " + placeholder + " ESCAPE E'\\\\'";
  }
  void PayloadTenantPrefilter(const std::string& tenant, SqlWhere* where) const override {
    if (!tenant_function_.empty()) {
      where->And(tenant_function_ + " = " + where->Bind(SqlParam::Text(tenant)));
      return;
    }
    where->And("strpos(\"payload\", '\"tenant_id\"') > 0");
    if (std::optional<std::string> re = PlainTenantPattern(tenant)) {
      where->And("\"payload\" ~ " + where->Bind(SqlParam::Text(*re)));
    }
  }
  std::string Bytewise(const std::string& column) const override {
    return column + " COLLATE \"C\"";
  }
  bool Batched() const override { return true; }

 private:
  std::string tenant_function_;
};

const PgDialect kAuditDialect;

std::vector<PgParam> ToPg(const std::vector<SqlParam>& params) {
  std::vector<PgParam> out;
  out.reserve(params.size());
  for (const SqlParam& p : params) out.emplace_back(p.ToText());
  return out;
}

// Runs a list plan's statement and passes each row as `read` decodes it.
template <typename Row, typename Read>
SqlFetch<Row> FetchRows(PgConn& conn, Read read) {
  return [&conn, read](const SqlStatement& st, const std::function<bool(Row&)>& on_row) {
    PgResult r;
    FASTEN_RETURN_IF_ERROR(conn.Query(st.sql, ToPg(st.params), &r));
    Row row;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      read(r.get(), i, &row);
      if (!on_row(row)) break;
    }
    return Status::Ok();
  };
}

// ... each row's first column as text.
SqlFetchText FetchText(PgConn& conn) {
  return FetchRows<std::string_view>(
      conn, [](const PGresult* r, int i, std::string_view* text) { *text = PgText(r, i, 0); });
}

// Ends the read-only transaction of a cursor scan, however the scan ends.
class TxnGuard {
 public:
  explicit TxnGuard(PgConn* conn) : conn_(conn) {}
  TxnGuard(const TxnGuard&) = delete;
  TxnGuard& operator=(const TxnGuard&) = delete;
  ~TxnGuard() { conn_->Rollback(); }

 private:
  PgConn* conn_;
};

// ---------------------------------------------------------------------------------------------
// Audit.

class PgAuditReader final : public AuditReader {
 public:
  Status Init(const Dsn& dsn) {
    dsn_ = dsn;
    FASTEN_RETURN_IF_ERROR(conn_.Open(dsn.conninfo, dsn.Display(), PgSessionOptionsFor(dsn)));
    std::optional<std::pair<std::string, std::string>> rel;
    if (dsn.table) {
      table_ = *dsn.table;
      FASTEN_RETURN_IF_ERROR(ResolveTable(conn_, table_, &rel));
      if (!rel) {
        return NotFoundError("audit table '" + table_ + "' not found in " + dsn.Display() +
                             " (tables present: " + JoinNames(ListTables(conn_)) + ")");
      }
    } else {
      for (const char* name : {"audit_log", "fasten_audit"}) {
        FASTEN_RETURN_IF_ERROR(ResolveTable(conn_, name, &rel));
        if (rel) {
          table_ = name;
          profile_.table_fallback = table_ == "fasten_audit";
          break;
        }
      }
      if (!rel) {
        return NotFoundError("no audit table in " + dsn.Display() +
                             ": neither 'audit_log' nor 'fasten_audit' exists (tables present: " +
                             JoinNames(ListTables(conn_)) +
                             "); name it with ?table=NAME in the DSN");
      }
    }
    profile_.table = table_;
    std::vector<std::pair<std::string, std::string>> cols;
    FASTEN_RETURN_IF_ERROR(Columns(conn_, *rel, &cols));
    bool present[kNumAuditCols] = {};
    for (const auto& [name, type] : cols) {
      for (int c = 0; c < kNumAuditCols; ++c) {
        if (name != kAuditColNames[c]) continue;
        present[c] = true;
        if (c == kTimestamp) {
          profile_.timestamp_type = DisplayType(type);
          ts_ = TsColumn{TsColumn::KindOf(type), Col("timestamp")};
        } else if (c == kShippedAt) {
          shipped_ = TsColumn{TsColumn::KindOf(type), Col("shipped_at")};
        }
      }
    }
    for (int c = 0; c < kNumAuditCols; ++c) {
      if (!present[c]) continue;
      select_.push_back(c);
      std::string expr = c == kTimestamp   ? ts_.Select()
                         : c == kShippedAt ? shipped_.Select()
                                           : Col(kAuditColNames[c]);
      select_list_ += (select_list_.empty() ? "" : ", ") + expr;
    }
    std::string missing_required = DescribeAuditColumns(present, &profile_);
    if (!missing_required.empty()) {
      return FailedPreconditionError("table '" + table_ + "' in " + dsn.Display() +
                                     " is not a fasten audit table: missing column(s) " +
                                     missing_required);
    }
    has_hash_ = present[kHash];
    has_tenant_ = present[kTenant];
    list_ = AuditListTable{table_, select_list_, ts_.Sql(), has_tenant_};
    return Status::Ok();
  }

  const Dsn& dsn() const override { return dsn_; }
  const WriterProfile& profile() const override { return profile_; }

  Status Scan(const TenantScope& /*chain linkage: every tenant*/, const ScanRange& range,
              const std::function<bool(AuditRow&)>& on_row) override {
    std::string where = " WHERE true";
    std::vector<PgParam> params;
    if (range.source_node_id) {
      where += " AND \"source_node_id\" = " + Bind(&params, *range.source_node_id);
    }
    if (range.from_seq) {
      where += " AND \"monotonic_seq\" >= " + Bind(&params, std::to_string(*range.from_seq));
    }
    if (range.to_seq) {
      where += " AND \"monotonic_seq\" <= " + Bind(&params, std::to_string(*range.to_seq));
    }
    const bool physical = range.order == ScanRange::Order::kPhysical;
    // Physical: heap order (synchronize_seqscans is off, so a sequential scan starts at the
    // first page); seq: sorted by the server.
    std::string sql = "SELECT " + select_list_ + " FROM " + table_ + where +
                      (physical ? ""
                                : " ORDER BY \"monotonic_seq\", \"source_node_id\" COLLATE \"C\", "
                                  "\"id\" COLLATE \"C\"");
    FASTEN_RETURN_IF_ERROR(conn_.Begin());
    TxnGuard txn(&conn_);
    const std::string cursor = conn_.NextCursorName();
    FASTEN_RETURN_IF_ERROR(conn_.QueryUnprepared(
        "DECLARE " + cursor + " NO SCROLL CURSOR FOR " + sql, params, nullptr));
    const std::string fetch = "FETCH " + std::to_string(kFetchBatch) + " FROM " + cursor;
    bool stopped = false;
    SeqReorder reorder(kReorderWindow, range.from_seq.value_or(1), [&](AuditRow& r) {
      if (!stopped && !on_row(r)) stopped = true;
    });
    AuditRow row;
    while (!stopped) {
      PgResult r;
      FASTEN_RETURN_IF_ERROR(conn_.QueryUnprepared(fetch, {}, &r));
      const int n = PQntuples(r.get());
      for (int i = 0; i < n && !stopped; ++i) {
        ReadRow(r.get(), i, &row);
        if (!physical) {
          if (!on_row(row)) stopped = true;
        } else if (!reorder.Push(row)) {
          return AbortedError("rows of node '" + row.source_node_id +
                              "' are stored out of seq order (seq " +
                              std::to_string(row.monotonic_seq) + " arrives late)");
        }
      }
      if (n < kFetchBatch) break;
    }
    if (!stopped) reorder.Flush();
    return Status::Ok();
  }

  Status ExplainQuery(const TenantScope& scope, const AuditQuery& q, std::string* plan) override {
    const SqlStatement st = AuditListPlan(kAuditDialect, list_, q, scope.tenant()).FirstStatement();
    return Explain(conn_, st.sql, ToPg(st.params), plan);
  }

  Status Query(const TenantScope& scope, const AuditQuery& q, AuditPage* page) override {
    return AuditListPlan(kAuditDialect, list_, q, scope.tenant())
        .Run(Rows(), FetchText(conn_), page);
  }

  Status RequestIdsWithPrefix(const TenantScope& scope, const std::string& prefix, size_t max,
                              std::vector<std::string>* out) override {
    return AuditRequestIdsWithPrefix(kAuditDialect, list_, scope.tenant(), prefix, max,
                                     FetchText(conn_), out);
  }

  Status FindPredecessor(const TenantScope& /*chain linkage: every tenant*/,
                         const std::string& node, int64_t seq,
                         std::optional<Predecessor>* out) override {
    out->reset();
    if (!has_hash_) return Status::Ok();
    PgResult r;
    FASTEN_RETURN_IF_ERROR(conn_.Query(
        "SELECT \"id\", \"monotonic_seq\", \"hash\" FROM " + table_ +
            " WHERE \"source_node_id\" = $1 AND \"monotonic_seq\" < $2 AND \"hash\" <> '' "
            "ORDER BY \"monotonic_seq\" DESC, \"id\" COLLATE \"C\" DESC LIMIT 1",
        {node, std::to_string(seq)}, &r));
    ReadPredecessor(r.get(), out);
    return Status::Ok();
  }

  Status FindBySeqHash(const TenantScope& scope, int64_t seq, const std::string& hash,
                       std::vector<AuditRow>* out) override {
    out->clear();
    if (!has_hash_) return Status::Ok();
    FASTEN_RETURN_IF_ERROR(
        Collect("SELECT " + select_list_ + " FROM " + table_ +
                    " WHERE \"monotonic_seq\" = $1 AND \"hash\" = $2 ORDER BY "
                    "\"source_node_id\" COLLATE \"C\", \"id\" COLLATE \"C\" LIMIT 16",
                {std::to_string(seq), hash}, out));
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
    std::vector<AuditRow> rows;
    FASTEN_RETURN_IF_ERROR(Collect(
        "SELECT " + select_list_ + " FROM " + table_ +
            " WHERE \"monotonic_seq\" = ANY($1::bigint[]) AND \"hash\" = ANY($2::text[]) ORDER BY "
            "\"monotonic_seq\", \"source_node_id\" COLLATE \"C\", \"id\" COLLATE \"C\" LIMIT $3",
        {PgBigintArray(batch.seqs), PgTextArray({batch.hashes.begin(), batch.hashes.end()}),
         std::to_string(16 * batch.wanted.size())},
        &rows));
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
    // One statement: the wanted rows, UNION ALL the rows one seq below them whose hash is one of
    // their prev_hashes.
    const std::string wanted =
        " WHERE \"monotonic_seq\" = ANY($1::bigint[]) AND \"hash\" = ANY($2::text[])";
    std::vector<AuditRow> rows;
    FASTEN_RETURN_IF_ERROR(
        Collect("(SELECT " + select_list_ + " FROM " + table_ + wanted + ") UNION ALL (SELECT " +
                    select_list_ + " FROM " + table_ +
                    " WHERE \"monotonic_seq\" = ANY($3::bigint[]) AND \"hash\" IN (SELECT "
                    "\"prev_hash\" FROM " +
                    table_ + wanted + ")) LIMIT $4",
                {PgBigintArray(batch.seqs), PgTextArray({batch.hashes.begin(), batch.hashes.end()}),
                 PgBigintArray(batch.PredecessorSeqs()), std::to_string(32 * batch.wanted.size())},
                &rows));
    batch.SplitWithLinks(rows, out, links);
    KeepVisible(scope, out);  // `links` keep every tenant: they only confirm links
    return Status::Ok();
  }

  Status FindNeighbours(const TenantScope& /*chain linkage: every tenant*/, const std::string& node,
                        int64_t seq, std::optional<AuditRow>* prev,
                        std::optional<AuditRow>* next) override {
    prev->reset();
    next->reset();
    // Both neighbours in one round trip.
    std::vector<AuditRow> rows;
    FASTEN_RETURN_IF_ERROR(Collect(
        "(SELECT " + select_list_ + " FROM " + table_ +
            " WHERE \"source_node_id\" = $1 AND \"monotonic_seq\" < $2 ORDER BY "
            "\"monotonic_seq\" DESC, \"id\" COLLATE \"C\" DESC LIMIT 1) UNION ALL (SELECT " +
            select_list_ + " FROM " + table_ +
            " WHERE \"source_node_id\" = $1 AND \"monotonic_seq\" > $2 ORDER BY "
            "\"monotonic_seq\", \"id\" COLLATE \"C\" LIMIT 1)",
        {node, std::to_string(seq)}, &rows));
    for (AuditRow& r : rows) {
      if (r.monotonic_seq < seq)
        *prev = std::move(r);
      else
        *next = std::move(r);
    }
    return Status::Ok();
  }

  Status Topology(const TenantScope& scope, std::vector<TopologyEntry>* entries) override {
    const std::optional<std::string>& tenant = scope.tenant();
    entries->clear();
    std::vector<PgParam> params;
    std::string where;
    if (tenant) {
      if (!has_tenant_) return Status::Ok();
      where = " WHERE \"tenant_id\" = " + Bind(&params, *tenant);
    }
    PgResult r;
    FASTEN_RETURN_IF_ERROR(conn_.Query(
        "SELECT \"source_node_id\", \"service_id\", count(*), " + ts_.Aggregate("min") + ", " +
            ts_.Aggregate("max") + " FROM " + table_ + where +
            " GROUP BY \"source_node_id\", \"service_id\" ORDER BY \"source_node_id\" COLLATE "
            "\"C\", \"service_id\" COLLATE \"C\"",
        params, &r));
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      TopologyEntry e;
      e.source_node_id = PgText(r.get(), i, 0);
      e.service_id = PgText(r.get(), i, 1);
      ParseInt(PgText(r.get(), i, 2), &e.rows);
      e.first_seen = PgText(r.get(), i, 3);
      e.last_seen = PgText(r.get(), i, 4);
      entries->push_back(std::move(e));
    }
    return Status::Ok();
  }

  Status Tenants(const TenantScope& scope, size_t max, std::vector<std::string>* out) override {
    out->clear();
    if (!has_tenant_) return Status::Ok();
    if (!scope.all_tenants()) {
      // A one-tenant scope sees its own tenant only, when it has a row.
      if (max == 0) return Status::Ok();
      PgResult one;
      FASTEN_RETURN_IF_ERROR(
          conn_.Query("SELECT 1 FROM " + table_ + " WHERE \"tenant_id\" = $1 LIMIT 1",
                      {*scope.tenant()}, &one));
      if (PQntuples(one.get()) >= 1) out->push_back(*scope.tenant());
      return Status::Ok();
    }
    PgResult r;
    FASTEN_RETURN_IF_ERROR(conn_.Query("SELECT DISTINCT \"tenant_id\" FROM " + table_ +
                                           " WHERE \"tenant_id\" IS NOT NULL LIMIT $1",
                                       {std::to_string(max)}, &r));
    for (int i = 0; i < PQntuples(r.get()); ++i) out->emplace_back(PgText(r.get(), i, 0));
    return Status::Ok();
  }

  Status Tip(const TenantScope& scope, const std::string& node,
             std::optional<Predecessor>* out) override {
    const std::optional<std::string>& tenant = scope.tenant();
    out->reset();
    if (!has_hash_ || (tenant && !has_tenant_)) return Status::Ok();
    std::vector<PgParam> params;
    std::string sql = "SELECT \"id\", \"monotonic_seq\", \"hash\" FROM " + table_ +
                      " WHERE \"source_node_id\" = " + Bind(&params, node) + " AND \"hash\" <> ''";
    if (tenant) sql += " AND \"tenant_id\" = " + Bind(&params, *tenant);
    sql += " ORDER BY \"monotonic_seq\" DESC, \"id\" COLLATE \"C\" DESC LIMIT 1";
    PgResult r;
    FASTEN_RETURN_IF_ERROR(conn_.Query(sql, params, &r));
    ReadPredecessor(r.get(), out);
    return Status::Ok();
  }

  Status Nodes(const TenantScope& /*chain linkage: every tenant*/, size_t max,
               std::vector<std::string>* out) override {
    out->clear();
    // One index probe per node with an index led by source_node_id (COLLATE "C" for byte order).
    std::vector<PgParam> params;
    std::string limit = Bind(&params, std::to_string(max));
    PgResult r;
    FASTEN_RETURN_IF_ERROR(conn_.Query(
        "WITH RECURSIVE n(x) AS (SELECT min(\"source_node_id\" COLLATE \"C\") FROM " + table_ +
            " UNION ALL SELECT (SELECT min(\"source_node_id\" COLLATE \"C\") FROM " + table_ +
            " WHERE \"source_node_id\" COLLATE \"C\" > n.x) FROM n WHERE n.x IS NOT NULL) "
            "SELECT x FROM n WHERE x IS NOT NULL LIMIT " +
            limit + "::bigint",
        params, &r));
    for (int i = 0; i < PQntuples(r.get()); ++i) out->emplace_back(PgText(r.get(), i, 0));
    return Status::Ok();
  }

  Status CountSealed(const TenantScope& /*chain linkage: every tenant*/, const std::string& node,
                     int64_t after_seq, int64_t to_seq, int64_t* out) override {
    *out = 0;
    if (!has_hash_) return Status::Ok();
    std::vector<PgParam> params;
    std::string sql = "SELECT count(*) FROM " + table_ +
                      " WHERE \"source_node_id\" = " + Bind(&params, node) +
                      " AND \"monotonic_seq\" > " + Bind(&params, std::to_string(after_seq)) +
                      "::bigint AND \"monotonic_seq\" <= " + Bind(&params, std::to_string(to_seq)) +
                      "::bigint AND \"hash\" <> ''";
    PgResult r;
    FASTEN_RETURN_IF_ERROR(conn_.Query(sql, params, &r));
    if (PQntuples(r.get()) == 1) ParseInt(PgText(r.get(), 0, 0), out);
    return Status::Ok();
  }

  Status CountRows(const TenantScope& /*chain linkage: every tenant*/, int64_t* out) override {
    PgResult r;
    FASTEN_RETURN_IF_ERROR(conn_.Query("SELECT count(*) FROM " + table_, {}, &r));
    *out = 0;
    if (PQntuples(r.get()) == 1) ParseInt(PgText(r.get(), 0, 0), out);
    return Status::Ok();
  }

  Status TimeBounds(const TenantScope& /*chain linkage: every tenant*/,
                    std::optional<Micros>* oldest, std::optional<Micros>* newest) override {
    oldest->reset();
    newest->reset();
    PgResult r;
    FASTEN_RETURN_IF_ERROR(conn_.Query("SELECT (SELECT " + ts_.Aggregate("min") + " FROM " +
                                           table_ + "), (SELECT " + ts_.Aggregate("max") +
                                           " FROM " + table_ + ")",
                                       {}, &r));
    if (PQntuples(r.get()) != 1) return Status::Ok();
    for (auto [col, out] : {std::pair{0, oldest}, std::pair{1, newest}}) {
      Micros t = 0;
      if (!PQgetisnull(r.get(), 0, col) && ParseTimestamp(PgText(r.get(), 0, col), &t)) *out = t;
    }
    return Status::Ok();
  }

  Status SeqSpans(const TenantScope& scope, const SeqSpanQuery& q,
                  std::vector<NodeSeqSpan>* out) override {
    const std::optional<std::string>& tenant = scope.tenant();
    out->clear();
    std::string where = " WHERE true";
    std::vector<PgParam> params;
    if (q.source_node_id) {
      where += " AND \"source_node_id\" = " + Bind(&params, *q.source_node_id);
    }
    if (tenant) {
      if (!has_tenant_) return Status::Ok();  // no row belongs to any tenant
      where += " AND \"tenant_id\" = " + Bind(&params, *tenant);
    }
    ts_.Window(q.since, q.until, &where, &params);
    if (ts_.exact()) {
      // An instant column filters exactly: the database aggregates.
      PgResult r;
      FASTEN_RETURN_IF_ERROR(conn_.Query(
          "SELECT \"source_node_id\", min(\"monotonic_seq\"), max(\"monotonic_seq\"), count(*) "
          "FROM " +
              table_ + where +
              " GROUP BY \"source_node_id\" ORDER BY \"source_node_id\" COLLATE \"C\"",
          params, &r));
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        NodeSeqSpan span;
        span.source_node_id = PgText(r.get(), i, 0);
        ParseInt(PgText(r.get(), i, 1), &span.first_seq);
        ParseInt(PgText(r.get(), i, 2), &span.last_seq);
        ParseInt(PgText(r.get(), i, 3), &span.rows);
        out->push_back(std::move(span));
      }
      return Status::Ok();
    }
    // A text column is bounded at whole seconds: each row's instant is checked here, read
    // through a cursor so that a wide window stays in bounded memory.
    FASTEN_RETURN_IF_ERROR(conn_.Begin());
    TxnGuard txn(&conn_);
    const std::string cursor = conn_.NextCursorName();
    FASTEN_RETURN_IF_ERROR(conn_.QueryUnprepared(
        "DECLARE " + cursor +
            " NO SCROLL CURSOR FOR SELECT \"source_node_id\", \"monotonic_seq\", " + ts_.Select() +
            " FROM " + table_ + where,
        params, nullptr));
    const std::string fetch = "FETCH " + std::to_string(kFetchBatch) + " FROM " + cursor;
    SeqSpanBuilder spans;
    while (true) {
      PgResult r;
      FASTEN_RETURN_IF_ERROR(conn_.QueryUnprepared(fetch, {}, &r));
      const int n = PQntuples(r.get());
      for (int i = 0; i < n; ++i) {
        Micros t = 0;
        int64_t seq = 0;
        const bool ok = ParseTimestamp(PgText(r.get(), i, 2), &t);
        if (!InWindow(ok, t, q.since, q.until) || !ParseInt(PgText(r.get(), i, 1), &seq)) continue;
        spans.Add(PgText(r.get(), i, 0), seq);
      }
      if (n < kFetchBatch) break;
    }
    spans.Finish(out);
    return Status::Ok();
  }

  void SetInterrupt(const std::atomic<bool>* flag) override { conn_.SetInterrupt(flag); }

 private:
  SqlFetch<AuditRow> Rows() {
    return FetchRows<AuditRow>(
        conn_, [this](const PGresult* r, int i, AuditRow* row) { ReadRow(r, i, row); });
  }

  // Drops the rows the scope does not see (the row-returning lookups filter here, not in SQL).
  static void KeepVisible(const TenantScope& scope, std::vector<AuditRow>* rows) {
    std::erase_if(*rows, [&](const AuditRow& r) { return !scope.Sees(r); });
  }

  Status Collect(const std::string& sql, const std::vector<PgParam>& params,
                 std::vector<AuditRow>* out) {
    PgResult r;
    FASTEN_RETURN_IF_ERROR(conn_.Query(sql, params, &r));
    const int n = PQntuples(r.get());
    for (int i = 0; i < n; ++i) {
      out->emplace_back();
      ReadRow(r.get(), i, &out->back());
    }
    return Status::Ok();
  }

  static void ReadPredecessor(const PGresult* r, std::optional<Predecessor>* out) {
    if (PQntuples(r) != 1) return;
    Predecessor p;
    ParseInt(PgText(r, 0, 1), &p.seq);
    p.id = PgText(r, 0, 0);
    p.hash = PgText(r, 0, 2);
    *out = std::move(p);
  }

  void ReadRow(const PGresult* r, int i, AuditRow* row) const {
    BeginAuditRow(row);
    for (size_t k = 0; k < select_.size(); ++k) {
      const int idx = static_cast<int>(k);
      SetAuditColumn(select_[k], PgText(r, i, idx), PgIsNull(r, i, idx), row);
    }
    FinishAuditRow(row);
    row->from_timestamptz = ts_.kind == TsColumn::kTz;
  }

  PgConn conn_;
  Dsn dsn_;
  std::string table_;
  WriterProfile profile_;
  std::vector<int> select_;
  std::string select_list_;
  TsColumn ts_{TsColumn::kText, Col("timestamp")};
  TsColumn shipped_{TsColumn::kText, Col("shipped_at")};
  AuditListTable list_;
  bool has_hash_ = false;
  bool has_tenant_ = false;
};

// ---------------------------------------------------------------------------------------------
// Streams.

// A POSIX regular expression (Postgres ARE) matching the text of a plainly spelled "tenant_id"
// member whose value is `tenant`, in every spelling JSON allows for it: each character of the
// value as itself or as a \u00XX escape (either hex case; '/' also as \/). nullopt for tenants
// of other characters (the prefilter is then the strpos alone). A superset of the tenant rule:
// an attributed payload has one plainly spelled "tenant_id" key (store/payload_tenant.h).
std::optional<std::string> PlainTenantPattern(const std::string& tenant) {
  if (tenant.empty() || tenant.size() > 200) return std::nullopt;
  static const char kHex[] = "0123456789abcdef";
  std::string re = "\"tenant_id\"[[:space:]]*:[[:space:]]*\"";
  for (char c : tenant) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("_-.:@/+=,~ ").find(c) == std::string_view::npos) {
      return std::nullopt;
    }
    std::string escape = "\\\\u00";  // a literal backslash, then u00
    for (unsigned nibble : {static_cast<unsigned>(c) >> 4, static_cast<unsigned>(c) & 0xF}) {
      const char h = kHex[nibble];
      if (h >= 'a')
        escape += std::string("[") + h + static_cast<char>(h - 'a' + 'A') + "]";
      else
        escape += h;
    }
    re += "(?:";
    if (!alnum) re += "\\";  // the character itself, taken literally
    re += c;
    if (c == '/') re += "|\\\\/";
    re += "|" + escape + ")";
  }
  return re + "\"";
}

class PgStreamReader final : public StreamReader {
 public:
  Status Init(const Dsn& dsn, StreamKind kind) {
    dsn_ = dsn;
    kind_ = kind;
    FASTEN_RETURN_IF_ERROR(conn_.Open(dsn.conninfo, dsn.Display(), PgSessionOptionsFor(dsn)));
    table_ = dsn.table ? *dsn.table : (kind == StreamKind::kApi ? "api_log" : "syslog");
    std::optional<std::pair<std::string, std::string>> rel;
    FASTEN_RETURN_IF_ERROR(ResolveTable(conn_, table_, &rel));
    if (!rel) {
      return NotFoundError(std::string(StreamName(kind)) + " stream table '" + table_ +
                           "' not found in " + dsn.Display() +
                           " (tables present: " + JoinNames(ListTables(conn_)) + ")");
    }
    std::vector<std::pair<std::string, std::string>> cols;
    FASTEN_RETURN_IF_ERROR(Columns(conn_, *rel, &cols));
    for (const auto& [name, type] : cols) {
      types_.emplace_back(name, type);
      list_.columns.push_back(name);
    }
    if (!list_.Has("seq") || !list_.Has("payload")) {
      return FailedPreconditionError("table '" + table_ + "' in " + dsn.Display() +
                                     " is not a fasten stream table (needs seq and payload)");
    }
    std::optional<TsColumn> ts;
    if (list_.Has("timestamp")) {
      ts = TsColumn{TsColumn::KindOf(Type("timestamp")), Col("timestamp")};
      list_.ts = ts->Sql();
    }
    // The payload-tenant function `fasten-mcp index --apply` creates beside the table, if there.
    PgResult fn;
    FASTEN_RETURN_IF_ERROR(conn_.Query(
        "SELECT quote_ident(n.nspname) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = $2 AND p.proargtypes = "
        "'25'::pg_catalog.oidvector AND p.prorettype = 25",
        {rel->first, kPgPayloadTenantFunction}, &fn));
    if (PQntuples(fn.get()) == 1) {
      dialect_ = PgDialect(std::string(PgText(fn.get(), 0, 0)) + "." + kPgPayloadTenantFunction +
                           "(\"payload\")");
    }
    list_.table = table_;
    list_.select = "SELECT \"seq\", \"payload\"";
    for (const char* c :
         {"request_id", "timestamp", "level", "service_id", "event", "method", "path", "status"}) {
      if (!list_.Has(c))
        list_.select += ", NULL";
      else if (std::string_view(c) == "timestamp")
        list_.select += ", " + ts->Select();
      else
        list_.select += ", " + Col(c) + "::text";
    }
    list_.select += " FROM " + table_;
    const std::string status = Type("status");
    if (status == "integer" || status == "bigint" || status == "smallint") {
      list_.status = "\"status\"::bigint";
    } else if (!status.empty()) {
      // A text status compares as a number (so 0502 matches 502).
      list_.status =
          "(CASE WHEN \"status\"::text ~ '^\\s*[+-]?[0-9]{1,18}\\s*$' THEN "
          "btrim(\"status\"::text)::bigint END)";
    }
    list_.status_cast = "::bigint";
    return Status::Ok();
  }

  const Dsn& dsn() const override { return dsn_; }
  StreamKind kind() const override { return kind_; }
  const std::string& table() const override { return table_; }

  Status Query(const TenantScope& scope, const StreamQuery& q, StreamPage* page) override {
    return StreamListPlan(dialect_, list_, q, scope.tenant()).Run(Rows(), FetchText(conn_), page);
  }

  Status RequestIdsWithPrefix(const TenantScope& scope, const std::string& prefix, size_t max,
                              std::vector<std::string>* out) override {
    return StreamRequestIdsWithPrefix(dialect_, list_, scope.tenant(), prefix, max,
                                      FetchText(conn_), out);
  }

  Status ExplainQuery(const TenantScope& scope, const StreamQuery& q, std::string* plan) override {
    const SqlStatement st = StreamListPlan(dialect_, list_, q, scope.tenant()).FirstStatement();
    return Explain(conn_, st.sql, ToPg(st.params), plan);
  }

  Status Scan(const TenantScope& scope, const StreamQuery& q, int64_t max_rows,
              const std::function<void(const StreamRow&)>& on_row, bool* complete) override {
    return StreamListPlan(dialect_, list_, q, scope.tenant())
        .Scan(Rows(), max_rows, on_row, complete);
  }

  Status FindBySeq(const TenantScope& scope, int64_t seq, std::optional<StreamRow>* out) override {
    out->reset();
    PgResult r;
    FASTEN_RETURN_IF_ERROR(
        conn_.Query(list_.select + " WHERE \"seq\" = $1", {std::to_string(seq)}, &r));
    if (PQntuples(r.get()) >= 1) {
      StreamRow row;
      ReadRow(r.get(), 0, &row);
      if (scope.SeesPayload(row.payload)) *out = std::move(row);
    }
    return Status::Ok();
  }

  void SetInterrupt(const std::atomic<bool>* flag) override { conn_.SetInterrupt(flag); }

 private:
  std::string Type(const std::string& c) const {
    for (const auto& [name, type] : types_) {
      if (name == c) return type;
    }
    return "";
  }

  SqlFetch<StreamRow> Rows() {
    return FetchRows<StreamRow>(
        conn_, [this](const PGresult* r, int i, StreamRow* row) { ReadRow(r, i, row); });
  }

  void ReadRow(const PGresult* r, int i, StreamRow* row) const {
    row->kind = kind_;
    row->seq = 0;
    ParseInt(PgText(r, i, 0), &row->seq);
    row->payload.assign(PgText(r, i, 1));
    row->request_id.assign(PgText(r, i, 2));
    row->timestamp.assign(PgText(r, i, 3));
    row->timestamp_ok = ParseTimestamp(row->timestamp, &row->timestamp_us);
    row->level.assign(PgText(r, i, 4));
    row->service_id.assign(PgText(r, i, 5));
    row->event.assign(PgText(r, i, 6));
    row->method.assign(PgText(r, i, 7));
    row->path.assign(PgText(r, i, 8));
    row->status = 0;
    row->has_status = !PgIsNull(r, i, 9) && ParseInt(PgText(r, i, 9), &row->status);
  }

  PgConn conn_;
  Dsn dsn_;
  StreamKind kind_ = StreamKind::kSys;
  std::string table_;
  std::vector<std::pair<std::string, std::string>> types_;  // column -> data_type
  StreamListTable list_;
  PgDialect dialect_;
};

}  // namespace

Status OpenPostgresAuditReader(const Dsn& dsn, std::unique_ptr<AuditReader>* out) {
  auto reader = std::make_unique<PgAuditReader>();
  FASTEN_RETURN_IF_ERROR(reader->Init(dsn));
  *out = std::move(reader);
  return Status::Ok();
}

Status OpenPostgresStreamReader(const Dsn& dsn, StreamKind kind,
                                std::unique_ptr<StreamReader>* out) {
  auto reader = std::make_unique<PgStreamReader>();
  FASTEN_RETURN_IF_ERROR(reader->Init(dsn, kind));
  *out = std::move(reader);
  return Status::Ok();
}

}  // namespace fasten
