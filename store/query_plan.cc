#include "store/query_plan.h"

#include <algorithm>
#include <charconv>

#include "store/payload_tenant.h"
#include "store/reader_common.h"
#include "store/timestamp.h"

namespace fasten {
namespace {

// The batches of a bounded stream scan grow fourfold up to this many rows.
constexpr size_t kMaxBatch = 10000;

bool ParseInt(std::string_view text, int64_t* out) {
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && !text.empty();
}

// `column` = `value` when a value is given; no row when the table has no such column.
void AddEquals(const char* column, const std::optional<std::string>& value, bool present,
               SqlWhere* where) {
  if (!value) return;
  if (!present) return where->AndFalse();
  where->And(where->dialect().Column(column) + " = " + where->Bind(SqlParam::Text(*value)));
}

// A case-insensitive substring of a JSON text column (see TextSearchPatterns).
void AddTextMatch(const char* column, const std::string& term, SqlWhere* where) {
  auto [typed, escaped] = TextSearchPatterns(term);
  const SqlDialect& d = where->dialect();
  const std::string col = d.Column(column);
  const std::string a = where->Bind(SqlParam::Text(std::move(typed)));
  const std::string b = where->Bind(SqlParam::Text(std::move(escaped)));
  where->And("(" + d.ILike(col, a) + " OR " + d.ILike(col, b) + ")");
}

// Rows whose 19-character second prefix is <= `prefix` (the audit list cursor; the exact
// position within that second is checked on each row).
void AddAtOrBefore(const SqlTimestamp& ts, const std::string& prefix, SqlWhere* where) {
  if (ts.exact()) {
    Micros t = 0;
    if (prefix.size() != 19 || !ParseTimestamp(prefix, &t)) return;  // each row is checked
    where->And(ts.order + " < " + where->Bind(SqlParam::Text(CanonicalTimestamp(t + 1000000))) +
               ts.cast);
    return;
  }
  where->And(ts.order + " < " + where->Bind(SqlParam::Text(prefix + "\xF4\x8F\xBF\xBF")));
}

// Counts the rows of `table` `where` up to `cap` (*lower_bound says the count stopped there). On a
// text timestamp column a window's SQL bounds have whole-second resolution, so only the rows of
// the window's first and last second are re-checked on parsed instants. (A row whose timestamp
// text sorts inside the window but cannot be parsed is counted, although list queries leave it
// out.)
Status CountInWindow(const SqlFetchText& fetch_text, const std::string& table,
                     const SqlTimestamp* ts, const SqlWhere& where, int cap,
                     std::optional<Micros> since, std::optional<Micros> until, int64_t* count,
                     bool* lower_bound) {
  SqlWhere all = where;
  const std::string limit = all.Bind(SqlParam::Int(cap + 1));
  int64_t n = 0;
  FASTEN_RETURN_IF_ERROR(fetch_text(
      {"SELECT count(*) FROM (SELECT 1 FROM " + table + all.sql() + " LIMIT " + limit + ") s",
       all.params()},
      [&](std::string_view& text) {
        ParseInt(text, &n);
        return false;
      }));
  *lower_bound = n > cap;
  if (*lower_bound) n = cap;
  if (ts && !ts->exact() && !*lower_bound) {
    // Takes off the rows of the edge second beyond `op bound` that the exact window leaves out.
    auto exclude = [&](const char* op, const std::string& bound) {
      SqlWhere edge = where;
      edge.And(ts->order + op + edge.Bind(SqlParam::Text(bound)));
      return fetch_text({"SELECT " + ts->select + " FROM " + table + edge.sql(), edge.params()},
                        [&](std::string_view& text) {
                          Micros t = 0;
                          if (!ParseTimestamp(text, &t) || !InWindow(true, t, since, until)) --n;
                          return true;
                        });
    };
    if (since && until && SecondPrefix(*since) == SecondPrefix(*until)) {
      FASTEN_RETURN_IF_ERROR(exclude(" >= ", SecondPrefix(*since)));
    } else {
      if (since) FASTEN_RETURN_IF_ERROR(exclude(" < ", SecondPrefix(NextSecond(*since))));
      if (until) FASTEN_RETURN_IF_ERROR(exclude(" >= ", SecondPrefix(*until)));
    }
  }
  *count = n;
  return Status::Ok();
}

}  // namespace

void AddTimeWindow(const SqlTimestamp& ts, std::optional<Micros> since, std::optional<Micros> until,
                   SqlWhere* where) {
  auto bound = [&](const char* op, std::string value) {
    where->And(ts.order + op + where->Bind(SqlParam::Text(std::move(value))) + ts.cast);
  };
  if (ts.exact()) {
    if (since) bound(" >= ", CanonicalTimestamp(*since));
    if (until) bound(" <= ", CanonicalTimestamp(*until));
    return;
  }
  // A text column: whole seconds (docs/format.md §3.3); the rows re-check their instants.
  if (since) bound(" >= ", SecondPrefix(*since));
  if (until) bound(" < ", SecondPrefix(NextSecond(*until)));
}

// ---------------------------------------------------------------------------------------------
// Audit.

AuditListPlan::AuditListPlan(const SqlDialect& dialect, const AuditListTable& table,
                             const AuditQuery& query, const std::optional<std::string>& tenant)
    : dialect_(dialect), table_(table), q_(query), where_(dialect) {
  for (auto [col, value] : {std::pair{"request_id", &q_.request_id},
                            {"code", &q_.code},
                            {"domain", &q_.domain},
                            {"actor", &q_.actor},
                            {"target", &q_.target},
                            {"source_node_id", &q_.source_node_id},
                            {"service_id", &q_.service_id},
                            {"severity", &q_.severity}}) {
    AddEquals(col, *value, true, &where_);
  }
  // No tenant column: no row belongs to any tenant.
  AddEquals("tenant_id", tenant, table.has_tenant, &where_);
  AddTimeWindow(table.ts, q_.since, q_.until, &where_);
  if (q_.text) AddTextMatch("detail", *q_.text, &where_);
}

SqlStatement AuditListPlan::ListStatement(const SqlWhere& where, int64_t limit) const {
  SqlWhere w = where;
  std::string sql = "SELECT " + table_.select_list + " FROM " + table_.table + w.sql() +
                    " ORDER BY " + table_.ts.order + " DESC, " + dialect_.Column("monotonic_seq") +
                    " DESC";
  if (dialect_.Batched()) sql += " LIMIT " + w.Bind(SqlParam::Int(limit));
  return {std::move(sql), w.params()};
}

SqlStatement AuditListPlan::FirstStatement() const {
  return ListStatement(where_, std::max(1, q_.limit) + 33);
}

Status AuditListPlan::Run(const SqlFetch<AuditRow>& fetch, const SqlFetchText& fetch_text,
                          AuditPage* page) const {
  *page = AuditPage();
  SqlWhere where = where_;
  if (q_.after) AddAtOrBefore(table_.ts, q_.after->ts_prefix, &where);
  const size_t limit = static_cast<size_t>(std::max(1, q_.limit));
  std::vector<AuditRow> candidates;
  // The statement orders by second prefix only: read until the page and the rest of its last
  // second are in hand (a bounded statement again with a larger bound until then), then sort.
  for (int64_t bound = static_cast<int64_t>(limit) + 33;; bound *= 4) {
    candidates.clear();
    std::string boundary;  // second prefix of the (limit+1)-th candidate
    bool complete = false;
    int64_t n = 0;
    FASTEN_RETURN_IF_ERROR(fetch(ListStatement(where, bound), [&](AuditRow& row) {
      ++n;
      if (!InWindow(row.timestamp_ok, row.timestamp_us, q_.since, q_.until)) return true;
      if (candidates.size() > limit && row.timestamp.compare(0, 19, boundary) != 0) {
        complete = true;
        return false;
      }
      if (q_.after && !AuditKey::Before(*q_.after, AuditKey::Of(row))) return true;
      candidates.push_back(row);
      if (candidates.size() == limit + 1) boundary = row.timestamp.substr(0, 19);
      return true;
    }));
    if (complete || !dialect_.Batched() || n < bound) break;
  }
  std::sort(candidates.begin(), candidates.end(), [](const AuditRow& a, const AuditRow& b) {
    return AuditKey::Before(AuditKey::Of(a), AuditKey::Of(b));
  });
  page->has_more = candidates.size() > limit;
  if (page->has_more) candidates.resize(limit);
  page->rows = std::move(candidates);
  if (page->has_more) page->next = AuditKey::Of(page->rows.back());
  // A first page that holds every match is its own count: no second query.
  if (q_.count_cap > 0 && !page->has_more && !q_.after) {
    page->total_matched = static_cast<int64_t>(page->rows.size());
  } else if (q_.count_cap > 0) {
    FASTEN_RETURN_IF_ERROR(CountInWindow(fetch_text, table_.table, &table_.ts, where_, q_.count_cap,
                                         q_.since, q_.until, &page->total_matched,
                                         &page->total_is_lower_bound));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Streams.

bool StreamListTable::Has(const char* column) const {
  return std::find(columns.begin(), columns.end(), column) != columns.end();
}

StreamListPlan::StreamListPlan(const SqlDialect& dialect, const StreamListTable& table,
                               const StreamQuery& query, const std::optional<std::string>& tenant)
    : dialect_(dialect), table_(table), q_(query), tenant_(tenant), where_(dialect) {
  for (auto [col, value] : {std::pair{"request_id", &q_.request_id},
                            {"level", &q_.level},
                            {"event", &q_.event},
                            {"service_id", &q_.service_id},
                            {"method", &q_.method},
                            {"path", &q_.path}}) {
    AddEquals(col, *value, table.Has(col), &where_);
  }
  if (q_.status) {
    if (table.status.empty())
      where_.AndFalse();
    else
      where_.And(table.status + " = " + where_.Bind(SqlParam::Int(*q_.status)) + table.status_cast);
  }
  // A prefilter (an index can serve it: index_advice.h), a superset of the tenant rule, which
  // decides each row (Matches).
  if (tenant_) dialect.PayloadTenantPrefilter(*tenant_, &where_);
  if (table.ts) AddTimeWindow(*table.ts, q_.since, q_.until, &where_);
  if (q_.text) AddTextMatch("payload", *q_.text, &where_);
}

SqlStatement StreamListPlan::BatchStatement(std::optional<int64_t> before, size_t batch,
                                            bool ordered) const {
  SqlWhere w = where_;
  const std::string seq = dialect_.Column("seq");
  if (before) w.And(seq + " < " + w.Bind(SqlParam::Int(*before)));
  std::string sql = table_.select + w.sql();
  if (ordered) sql += " ORDER BY " + seq + " DESC";
  if (dialect_.Batched()) sql += " LIMIT " + w.Bind(SqlParam::Int(static_cast<int64_t>(batch)));
  return {std::move(sql), w.params()};
}

SqlStatement StreamListPlan::FirstStatement() const {
  const size_t limit = static_cast<size_t>(std::max(1, q_.limit));
  return BatchStatement(q_.before_seq, std::max<size_t>(limit + 1, 16), true);
}

// The checks SQL does not decide: the exact time window and the payload's tenant.
bool StreamListPlan::Matches(const StreamRow& row) const {
  if (!InWindow(row.timestamp_ok, row.timestamp_us, q_.since, q_.until)) return false;
  return !tenant_ || PayloadBelongsTo(row.payload, *tenant_);
}

// Streams the matching rows below `before` (seq DESC when `ordered`), as one statement or, when
// statements are bounded, in keyset batches of growing size. `accept` returns false to stop.
Status StreamListPlan::Batches(const SqlFetch<StreamRow>& fetch, std::optional<int64_t> before,
                               size_t first_batch, bool ordered,
                               const std::function<bool(StreamRow&)>& accept, bool* stopped) const {
  *stopped = false;
  size_t batch = std::max<size_t>(first_batch, 16);
  while (true) {
    size_t n = 0;
    FASTEN_RETURN_IF_ERROR(fetch(BatchStatement(before, batch, ordered), [&](StreamRow& row) {
      ++n;
      before = row.seq;
      if (!Matches(row)) return true;
      *stopped = !accept(row);
      return !*stopped;
    }));
    if (*stopped || !dialect_.Batched() || n < batch) return Status::Ok();
    batch = std::min(batch * 4, kMaxBatch);
  }
}

Status StreamListPlan::Run(const SqlFetch<StreamRow>& fetch, const SqlFetchText& fetch_text,
                           StreamPage* page) const {
  *page = StreamPage();
  const size_t limit = static_cast<size_t>(std::max(1, q_.limit));
  bool stopped = false;
  FASTEN_RETURN_IF_ERROR(Batches(
      fetch, q_.before_seq, limit + 1, true,
      [&](StreamRow& row) {
        if (page->rows.size() == limit) {
          page->has_more = true;
          return false;
        }
        page->rows.push_back(std::move(row));
        return true;
      },
      &stopped));
  if (page->has_more) page->next_before_seq = page->rows.back().seq;
  const int cap = q_.count_cap;
  // A first page that holds every match is its own count: no second query.
  if (cap > 0 && !page->has_more && !q_.before_seq) {
    page->total_matched = static_cast<int64_t>(page->rows.size());
  } else if (cap > 0 && tenant_) {
    // The tenant rule (store/payload_tenant.h) decides each counted row, as it decides each
    // listed one: SQL cannot, so count the prefiltered rows that pass it, up to the cap. (A
    // pattern count would also count rows that merely nest a "tenant_id", other tenants' too.)
    // Unbounded statements need no order here.
    int64_t n = 0;
    FASTEN_RETURN_IF_ERROR(Batches(
        fetch, std::nullopt, kMaxBatch, dialect_.Batched(),
        [&](StreamRow&) {
          if (n == cap) return false;
          ++n;
          return true;
        },
        &page->total_is_lower_bound));
    page->total_matched = n;
  } else if (cap > 0) {
    FASTEN_RETURN_IF_ERROR(
        CountInWindow(fetch_text, table_.table, table_.ts ? &*table_.ts : nullptr, where_, cap,
                      q_.since, q_.until, &page->total_matched, &page->total_is_lower_bound));
  }
  return Status::Ok();
}

Status StreamListPlan::Scan(const SqlFetch<StreamRow>& fetch, int64_t max_rows,
                            const std::function<void(const StreamRow&)>& on_row,
                            bool* complete) const {
  *complete = true;
  int64_t n = 0;
  bool stopped = false;
  return Batches(
      fetch, std::nullopt, static_cast<size_t>(std::min<int64_t>(max_rows + 1, kMaxBatch)), true,
      [&](StreamRow& row) {
        if (n++ == max_rows) {
          *complete = false;
          return false;
        }
        on_row(row);
        return true;
      },
      &stopped);
}

}  // namespace fasten
