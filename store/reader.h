// Read-only access to a fasten store: the audit table and the sys/api stream tables.
//
// AuditReader and StreamReader are abstract; Open() picks the backend from the DSN's scheme
// (sqlite_reader.cc, pg_reader.cc). No caller ever sees a sqlite3 or libpq type.
// Readers never write: SQLite is opened with SQLITE_OPEN_READONLY and `PRAGMA query_only`, so
// they are safe while the application keeps writing in WAL mode; a Postgres session runs with
// default_transaction_read_only on (pg_conn.h). A Postgres reader keeps one connection; a call
// that finds it dead fails with kUnavailable and the next call reconnects.
//
// Every filter value is a bound parameter; table names are validated identifiers (dsn.h).
// A reader is not thread-safe: use one per thread.
//
// Tenant scope. Every call takes the caller's TenantScope (store/tenant_scope.h) as its FIRST
// parameter; no query struct carries a tenant. Two kinds of call:
//   - calls that return rows to SHOW (Query, ExplainQuery, SeqSpans, FindBySeqHash,
//     FindBySeqHashBatch, the `out` rows of FindBySeqHashBatchWithLinks, Topology, Tip, Tenants,
//     and StreamReader's Query, Scan, FindBySeq) return only rows the scope sees: the reader
//     filters, so a row of another tenant is indistinguishable from a row that does not exist;
//   - calls that serve CHAIN LINKAGE (AuditReader::Scan, FindPredecessor, FindNeighbours, the
//     `links` of FindBySeqHashBatchWithLinks, CountRows, TimeBounds, Nodes, CountSealed) return
//     rows and counts of EVERY tenant, because a chain links through them. Their callers report,
//     name or show only rows for which scope.Sees(row) holds.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/dsn.h"
#include "store/row.h"
#include "store/tenant_scope.h"
#include "util/status.h"

namespace fasten {

// What introspection found: which writer variant made the table (docs/format.md §2.1-§2.2).
struct WriterProfile {
  std::string table;
  bool table_fallback = false;       // the default was absent; fasten_audit was used
  std::vector<std::string> missing;  // columns absent and defaulted
  std::string timestamp_type;        // declared type of `timestamp` (TEXT, TIMESTAMPTZ)
  std::string guess;                 // e.g. "python-newest", "spec-ddl", "cpp-header"
};

// The position of a row in list order: newest first. The order is (19-character second prefix of
// the stored timestamp DESC, parsed instant DESC, monotonic_seq DESC, source_node_id ASC, id ASC).
// For UTC spellings the prefix order equals instant order, so this is instant order; keeping the
// prefix first lets SQL use the timestamp index and stays a total order for any stored text.
struct AuditKey {
  std::string ts_prefix;
  Micros ts_us = 0;
  int64_t seq = 0;
  std::string node;
  std::string id;

  static AuditKey Of(const AuditRow& row);
  // True when `a` comes before `b` in list order.
  static bool Before(const AuditKey& a, const AuditKey& b);
  // Compact text form, and its parser (for cursors).
  std::string Encode() const;
  static std::optional<AuditKey> Decode(std::string_view text);
};

// Filters for audit list queries. Unset optionals do not filter. Time bounds are inclusive.
struct AuditQuery {
  std::optional<std::string> request_id, code, domain, actor, target, source_node_id, service_id,
      severity, method, actor_kind, category;
  std::optional<Micros> since, until;
  // Case-insensitive substring of the detail JSON text (as typed and as a Python writer escapes
  // it) or of one of the anchor columns code, actor, target, request_id, domain, category.
  std::optional<std::string> text;
  std::optional<AuditKey> after;  // cursor: rows strictly after this key
  int64_t offset = 0;             // matching rows skipped before the page (after `after`)
  int limit = 20;
  int count_cap = 10000;  // count matches up to this many; 0 skips counting
};

struct AuditPage {
  std::vector<AuditRow> rows;
  bool has_more = false;
  std::optional<AuditKey> next;  // key of the last row when has_more
  int64_t total_matched = -1;    // -1 when not counted
  bool total_is_lower_bound = false;
};

// A seq range of one node or of all nodes, for verification scans.
struct ScanRange {
  std::optional<std::string> source_node_id;
  std::optional<int64_t> from_seq, to_seq;  // inclusive
  // kPhysical reads in storage order (about twice as fast: seq order interleaves nodes and turns
  // page access random) and restores each node's seq order with a bounded buffer; when a node's
  // rows are stored further out of order than that, Scan fails with kAborted before passing on
  // anything out of order, and the caller scans again with kSeq. kSeq sorts in the database.
  enum class Order { kPhysical, kSeq };
  Order order = Order::kPhysical;
};

// A time window over the audit rows, for verifying it (validator/verify_store.h).
struct SeqSpanQuery {
  std::optional<Micros> since, until;         // inclusive, as in AuditQuery; unset does not bound
  std::optional<std::string> source_node_id;  // only this node
};

// One node's rows in a time window: the lowest and highest monotonic_seq among them, and how many
// there are (rows between the two whose timestamp lies outside the window are not counted).
struct NodeSeqSpan {
  std::string source_node_id;
  int64_t first_seq = 0, last_seq = 0;
  int64_t rows = 0;
};

class AuditReader {
 public:
  virtual ~AuditReader() = default;

  // Opens the audit table named by the DSN (default audit_log, then fasten_audit).
  static Status Open(const Dsn& dsn, std::unique_ptr<AuditReader>* out);

  virtual const Dsn& dsn() const = 0;
  virtual const WriterProfile& profile() const = 0;

  // Streams rows; within each source_node_id in ascending (monotonic_seq, id) order (nodes may
  // interleave). `on_row` returns false to stop. The row is only valid during the call; the
  // callee may take its contents (swap them out) instead of copying.
  // kAborted: see ScanRange::Order.
  virtual Status Scan(const TenantScope& scope, const ScanRange& range,
                      const std::function<bool(AuditRow&)>& on_row) = 0;

  // One page of rows in list order (see AuditKey).
  virtual Status Query(const TenantScope& scope, const AuditQuery& query, AuditPage* page) = 0;

  // The database's plan for the statement Query(query) runs first (SQLite EXPLAIN QUERY PLAN,
  // Postgres EXPLAIN), one line per plan node: which indexes a query uses (docs/security.md).
  virtual Status ExplainQuery(const TenantScope& scope, const AuditQuery& query,
                              std::string* plan) {
    (void)scope, (void)query;
    plan->clear();
    return FailedPreconditionError("this reader has no query plan");
  }

  // The highest sealed row of `node` with seq < `seq`, or nullopt.
  virtual Status FindPredecessor(const TenantScope& scope, const std::string& node, int64_t seq,
                                 std::optional<Predecessor>* out) = 0;

  // The number of rows in the table (for progress reports).
  virtual Status CountRows(const TenantScope& scope, int64_t* out) = 0;

  // The oldest and newest row timestamps (each nullopt when there is no row or it does not parse),
  // from the timestamp index's two ends: a cheap estimate of what share of the store a time window
  // covers (pack/pack_writer.cc picks its scan with it). Text columns order as text.
  virtual Status TimeBounds(const TenantScope& scope, std::optional<Micros>* oldest,
                            std::optional<Micros>* newest) {
    (void)scope;
    oldest->reset();
    newest->reset();
    return FailedPreconditionError("this reader cannot bound its timestamps");
  }

  // Per node, the seq span of the rows (sealed or not) whose parsed timestamp lies in the window,
  // in ascending source_node_id (byte order); a node without such a row is absent, and a row whose
  // timestamp cannot be parsed is in no bounded window. Reads only the rows of the window: the
  // bounds are pushed into SQL (whole seconds on a TEXT column, re-checked exactly here), so the
  // timestamp index serves it.
  virtual Status SeqSpans(const TenantScope& scope, const SeqSpanQuery& query,
                          std::vector<NodeSeqSpan>* out) = 0;

  // Rows with this monotonic_seq and hash (normally one; several only in a broken store).
  virtual Status FindBySeqHash(const TenantScope& scope, int64_t seq, const std::string& hash,
                               std::vector<AuditRow>* out) = 0;

  // The rows matching any of the (monotonic_seq, hash) pairs, in one round trip, ordered by
  // (monotonic_seq, source_node_id, id); duplicate pairs count once, and at most 16 rows are
  // returned per pair. For checking an answer's citations together (docs/benchmarks.md,
  // batched citation lookups).
  // InvalidArgument above kMaxBatchPairs pairs.
  static constexpr size_t kMaxBatchPairs = 10000;
  virtual Status FindBySeqHashBatch(const TenantScope& scope,
                                    const std::vector<std::pair<int64_t, std::string>>& pairs,
                                    std::vector<AuditRow>* out) = 0;

  // FindBySeqHashBatch and, in the SAME round trip (one statement), the rows that may link
  // those rows into their chains: rows at monotonic_seq - 1 whose hash is the prev_hash of a
  // matching row (a superset: the caller matches node, seq - 1 and prev_hash exactly). `links`
  // holds rows of any tenant: use them only to confirm links, never show them. A row that is
  // both is in both. For the citation validator (docs/benchmarks.md).
  virtual Status FindBySeqHashBatchWithLinks(
      const TenantScope& scope, const std::vector<std::pair<int64_t, std::string>>& pairs,
      std::vector<AuditRow>* out, std::vector<AuditRow>* links) = 0;

  // The rows just below and just above `seq` on `node` (nullopt at either end).
  virtual Status FindNeighbours(const TenantScope& scope, const std::string& node, int64_t seq,
                                std::optional<AuditRow>* prev, std::optional<AuditRow>* next) = 0;

  // Per (node, service): row counts, first and last timestamps; per node the last sealed row.
  // Only rows the scope sees count.
  struct TopologyEntry {
    std::string source_node_id, service_id;
    int64_t rows = 0;
    std::string first_seen, last_seen;  // as stored
  };
  virtual Status Topology(const TenantScope& scope, std::vector<TopologyEntry>* entries) = 0;
  // Up to `max` distinct non-null tenant_id values the scope sees (one at most for a tenant).
  virtual Status Tenants(const TenantScope& scope, size_t max, std::vector<std::string>* out) = 0;

  // The last sealed row of `node` that the scope sees.
  virtual Status Tip(const TenantScope& scope, const std::string& node,
                     std::optional<Predecessor>* out) = 0;

  // Every source_node_id with at least one row, ascending (byte order), at most `max`. SQLite
  // skips through an index led by source_node_id when there is one (`fasten-mcp index --apply`
  // creates (source_node_id, monotonic_seq)), one lookup per node; else it scans once.
  virtual Status Nodes(const TenantScope& scope, size_t max, std::vector<std::string>* out) {
    (void)scope, (void)max;
    out->clear();
    return FailedPreconditionError("this reader cannot list nodes");
  }

  // The number of sealed rows of `node` with after_seq < monotonic_seq <= to_seq (an index
  // range with the (source_node_id, monotonic_seq) index).
  virtual Status CountSealed(const TenantScope& scope, const std::string& node, int64_t after_seq,
                             int64_t to_seq, int64_t* out) {
    (void)scope, (void)node, (void)after_seq, (void)to_seq;
    *out = 0;
    return FailedPreconditionError("this reader cannot count rows");
  }

  // Up to `max` distinct request_id values that begin with `prefix` (byte for byte) on rows the
  // scope sees, ascending (byte order). An index range (request_id >= prefix AND < its
  // successor), bounded by `max`.
  virtual Status RequestIdsWithPrefix(const TenantScope& scope, const std::string& prefix,
                                      size_t max, std::vector<std::string>* out) {
    (void)scope, (void)prefix, (void)max;
    out->clear();
    return FailedPreconditionError("this reader cannot look up request id prefixes");
  }

  // While *flag is true, running queries stop with kCancelled. Null disables.
  virtual void SetInterrupt(const std::atomic<bool>* flag) = 0;
};

struct StreamQuery {
  std::optional<std::string> request_id, level, event, service_id, method, path;
  std::optional<int64_t> status;
  std::optional<Micros> since, until;
  std::optional<std::string> text;    // case-insensitive substring of the payload text
  std::optional<int64_t> before_seq;  // cursor: rows with seq < before_seq
  int limit = 20;
  int count_cap = 10000;
};

struct StreamPage {
  std::vector<StreamRow> rows;  // seq DESC
  bool has_more = false;
  std::optional<int64_t> next_before_seq;
  int64_t total_matched = -1;
  bool total_is_lower_bound = false;
};

class StreamReader {
 public:
  virtual ~StreamReader() = default;

  // Opens the stream table named by the DSN (default api_log / syslog). NotFound when the
  // table does not exist.
  static Status Open(const Dsn& dsn, StreamKind kind, std::unique_ptr<StreamReader>* out);

  virtual const Dsn& dsn() const = 0;
  virtual StreamKind kind() const = 0;
  virtual const std::string& table() const = 0;
  // Rows in seq DESC order. Under a tenant scope, only rows whose payload is attributed to that
  // tenant (TenantScope::SeesPayload); rows without one never match it.
  virtual Status Query(const TenantScope& scope, const StreamQuery& query, StreamPage* page) = 0;

  // The database's plan for the statement Query(query) runs first; see AuditReader.
  virtual Status ExplainQuery(const TenantScope& scope, const StreamQuery& query,
                              std::string* plan) = 0;

  // Every matching row (seq DESC) up to `max_rows`; *complete is false when stopped there.
  // query.limit, before_seq and count_cap are ignored.
  virtual Status Scan(const TenantScope& scope, const StreamQuery& query, int64_t max_rows,
                      const std::function<void(const StreamRow&)>& on_row, bool* complete) = 0;

  // The row with this seq, or nullopt (also when the scope does not see it).
  virtual Status FindBySeq(const TenantScope& scope, int64_t seq,
                           std::optional<StreamRow>* out) = 0;

  // As AuditReader::RequestIdsWithPrefix: ids of rows the scope sees (the payload tenant rule
  // decides each id). None when the table has no request_id column.
  virtual Status RequestIdsWithPrefix(const TenantScope& scope, const std::string& prefix,
                                      size_t max, std::vector<std::string>* out) = 0;

  // While *flag is true, running queries stop with kCancelled. Null disables.
  virtual void SetInterrupt(const std::atomic<bool>* flag) = 0;
};

}  // namespace fasten
