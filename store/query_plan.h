// The one plan of the audit and stream list queries (AuditReader::Query, StreamReader::Query,
// their ExplainQuery and StreamReader::Scan), shared by the SQLite and Postgres backends: the
// WHERE clause and its parameters, the order, the cursor, the limit+1 page with the rest of its
// last second (audit) or its keyset batches (streams), has_more and the next cursor, the count up
// to count_cap with its lower-bound flag, and the checks SQL cannot do exactly (the edges of a
// time window on a text column, the payload tenant rule of store/payload_tenant.h).
//
// A backend supplies what differs: a SqlDialect (placeholders, quoting, boolean literals, the
// case-insensitive match, the payload-tenant prefilter, whether statements are bounded and
// fetched in batches), a description of its table (the select list, the timestamp column), and
// callbacks that run one statement and decode its rows. INTERNAL to store/. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/reader.h"
#include "store/row.h"
#include "util/status.h"

namespace fasten {

// A bound parameter: an integer or a text (Postgres receives both as text).
struct SqlParam {
  bool is_int = false;
  int64_t i = 0;
  std::string s;
  static SqlParam Int(int64_t v) { return SqlParam{true, v, {}}; }
  static SqlParam Text(std::string v) { return SqlParam{false, 0, std::move(v)}; }
  std::string ToText() const { return is_int ? std::to_string(i) : s; }
};

struct SqlStatement {
  std::string sql;
  std::vector<SqlParam> params;
};

class SqlWhere;

// How one SQL backend spells what the plan asks for.
class SqlDialect {
 public:
  virtual ~SqlDialect() = default;
  // The placeholder of the n-th parameter (from 1): "?" or "$n".
  virtual std::string Placeholder(size_t n) const = 0;
  // A column name as statements spell it.
  virtual std::string Column(const char* name) const = 0;
  // The conditions that always and never hold.
  virtual const char* True() const = 0;
  virtual const char* False() const = 0;
  // `column` matches the LIKE pattern `placeholder` case-insensitively, '\' escaping.
  virtual std::string ILike(const std::string& column, const std::string& placeholder) const = 0;
  // Adds to `where` a prefilter for stream rows of `tenant`: a superset of the payload tenant rule
  // (store/payload_tenant.h), which the plan applies to each row.
  virtual void PayloadTenantPrefilter(const std::string& tenant, SqlWhere* where) const = 0;
  // `column` in byte order, for comparisons and ORDER BY that must follow the bytes of a text
  // (prefix ranges): SQLite's default BINARY collation already does; Postgres COLLATE "C".
  virtual std::string Bytewise(const std::string& column) const { return column; }
  // True when the client takes a statement's whole result at once (Postgres): each statement is
  // bounded by a LIMIT and the plan fetches in growing batches. False when rows are stepped one
  // at a time (SQLite): a statement is unbounded and the plan stops reading when it has enough.
  virtual bool Batched() const = 0;
};

// " WHERE <true> AND ..." and its parameters.
class SqlWhere {
 public:
  explicit SqlWhere(const SqlDialect& dialect)
      : dialect_(&dialect), sql_(std::string(" WHERE ") + dialect.True()) {}
  // Appends a parameter; returns its placeholder.
  std::string Bind(SqlParam p) {
    params_.push_back(std::move(p));
    return dialect_->Placeholder(params_.size());
  }
  void And(const std::string& condition) { sql_ += " AND " + condition; }
  void AndFalse() { And(dialect_->False()); }
  const SqlDialect& dialect() const { return *dialect_; }
  const std::string& sql() const { return sql_; }
  const std::vector<SqlParam>& params() const { return params_; }

 private:
  const SqlDialect* dialect_;
  std::string sql_;
  std::vector<SqlParam> params_;
};

// A timestamp column.
struct SqlTimestamp {
  std::string select;  // its value as text, in a spelling ParseTimestamp reads
  std::string order;   // the expression compared and ordered by
  // Empty for a text column, which a window bounds at whole seconds (the plan re-checks the edge
  // seconds on parsed instants); else the column holds instants, compared exactly with a
  // parameter cast by this ("::timestamptz").
  std::string cast;
  bool exact() const { return !cast.empty(); }
};

// Adds the bounds of the inclusive window [since, until] on `ts` (unset bounds do not filter).
void AddTimeWindow(const SqlTimestamp& ts, std::optional<Micros> since, std::optional<Micros> until,
                   SqlWhere* where);

// Runs one statement and passes each row, decoded, to `on_row` until it returns false.
template <typename Row>
using SqlFetch =
    std::function<Status(const SqlStatement& statement, const std::function<bool(Row&)>& on_row)>;
// ... each row's first column as text.
using SqlFetchText = SqlFetch<std::string_view>;

// A plan refers to the dialect, the table and the query it is made with: make one per call.

// What the audit plan needs to know of an audit table.
struct AuditListTable {
  std::string table;        // as it follows FROM
  std::string select_list;  // the columns the backend decodes an AuditRow from
  SqlTimestamp ts;          // the timestamp column
  bool has_tenant = false;  // the table has a tenant_id column
};

// AuditReader::Query: rows in list order (see AuditKey). `tenant`, given apart from the query,
// keeps only that tenant's rows (nullopt: every tenant's).
class AuditListPlan {
 public:
  AuditListPlan(const SqlDialect& dialect, const AuditListTable& table, const AuditQuery& query,
                const std::optional<std::string>& tenant);

  // The first statement Run executes, without the cursor (for ExplainQuery).
  SqlStatement FirstStatement() const;
  Status Run(const SqlFetch<AuditRow>& fetch, const SqlFetchText& fetch_text,
             AuditPage* page) const;

 private:
  SqlStatement ListStatement(const SqlWhere& where, int64_t limit) const;

  const SqlDialect& dialect_;
  const AuditListTable& table_;
  const AuditQuery& q_;
  SqlWhere where_;  // the filters, without the cursor
};

// What the stream plan needs to know of a stream table.
struct StreamListTable {
  std::string table;   // as it follows FROM
  std::string select;  // "SELECT <the columns the backend decodes a StreamRow from> FROM table"
  std::optional<SqlTimestamp> ts;    // the timestamp column, when there is one
  std::vector<std::string> columns;  // the columns present
  std::string status;                // the status column as an integer; empty when absent
  std::string status_cast;           // appended to the status parameter
  bool Has(const char* column) const;
};

// StreamReader::Query and Scan: rows in seq DESC order. `tenant`, given apart from the query,
// keeps only the rows whose payload is attributed to it (nullopt: every row).
class StreamListPlan {
 public:
  StreamListPlan(const SqlDialect& dialect, const StreamListTable& table, const StreamQuery& query,
                 const std::optional<std::string>& tenant);

  // The first statement Run executes, with the cursor (for ExplainQuery).
  SqlStatement FirstStatement() const;
  // FailedPrecondition, naming them, when the query filters on columns the table lacks: a list
  // query says so rather than answer "no rows" (Scan keeps matching nothing).
  Status Run(const SqlFetch<StreamRow>& fetch, const SqlFetchText& fetch_text,
             StreamPage* page) const;
  // Every matching row up to `max_rows`; *complete is false when stopped there.
  Status Scan(const SqlFetch<StreamRow>& fetch, int64_t max_rows,
              const std::function<void(const StreamRow&)>& on_row, bool* complete) const;

 private:
  SqlStatement BatchStatement(std::optional<int64_t> before, size_t batch, bool ordered) const;
  bool Matches(const StreamRow& row) const;
  Status Batches(const SqlFetch<StreamRow>& fetch, std::optional<int64_t> before,
                 size_t first_batch, bool ordered, const std::function<bool(StreamRow&)>& accept,
                 bool* stopped) const;

  const SqlDialect& dialect_;
  const StreamListTable& table_;
  const StreamQuery& q_;
  std::optional<std::string> tenant_;
  SqlWhere where_;  // the filters, without the cursor
};

// The least text above every text that begins with `prefix` in byte (= code point) order, made of
// whole UTF-8 characters: the prefix with its last character incremented (characters at U+10FFFF
// dropped first); nullopt when there is none (an empty prefix, or only U+10FFFF). A prefix that
// is not valid UTF-8 is incremented byte-wise. For the range request_id >= p AND < successor.
std::optional<std::string> PrefixSuccessor(std::string_view prefix);

// AuditReader::RequestIdsWithPrefix on `table`: `tenant` (nullopt: every tenant's) as in
// AuditListPlan.
Status AuditRequestIdsWithPrefix(const SqlDialect& dialect, const AuditListTable& table,
                                 const std::optional<std::string>& tenant,
                                 const std::string& prefix, size_t max,
                                 const SqlFetchText& fetch_text, std::vector<std::string>* out);

// StreamReader::RequestIdsWithPrefix on `table`: with a `tenant`, an id counts only when one of
// its rows' payloads is attributed to that tenant (store/payload_tenant.h).
Status StreamRequestIdsWithPrefix(const SqlDialect& dialect, const StreamListTable& table,
                                  const std::optional<std::string>& tenant,
                                  const std::string& prefix, size_t max,
                                  const SqlFetchText& fetch_text, std::vector<std::string>* out);

}  // namespace fasten
