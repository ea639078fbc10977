#include "store/query_plan.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>

#include "store/payload_tenant.h"
#include "store/reader_common.h"
#include "store/timestamp.h"
#include "util/json_text.h"

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

// A case-insensitive substring of a JSON text column (see TextSearchPatterns), or, as typed, of
// one of the plain text columns `also`.
void AddTextMatch(const char* column, const std::string& term,
                  std::initializer_list<const char*> also, SqlWhere* where) {
  auto [typed, escaped] = TextSearchPatterns(term);
  const SqlDialect& d = where->dialect();
  const std::string col = d.Column(column);
  const std::string a = where->Bind(SqlParam::Text(typed));
  const std::string b = where->Bind(SqlParam::Text(std::move(escaped)));
  std::string any = "(" + d.ILike(col, a) + " OR " + d.ILike(col, b);
  // Each column binds its own parameter: SQLite's "?" are positional.
  for (const char* other : also) {
    any += " OR " + d.ILike(d.Column(other), where->Bind(SqlParam::Text(typed)));
  }
  where->And(any + ")");
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
  // Every filtered column is an anchor every audit table has (docs/format.md §2.1).
  for (auto [col, value] : {std::pair{"request_id", &q_.request_id},
                            {"code", &q_.code},
                            {"domain", &q_.domain},
                            {"actor", &q_.actor},
                            {"target", &q_.target},
                            {"source_node_id", &q_.source_node_id},
                            {"service_id", &q_.service_id},
                            {"severity", &q_.severity},
                            {"method", &q_.method},
                            {"actor_kind", &q_.actor_kind},
                            {"category", &q_.category}}) {
    AddEquals(col, *value, true, &where_);
  }
  // No tenant column: no row belongs to any tenant.
  AddEquals("tenant_id", tenant, table.has_tenant, &where_);
  AddTimeWindow(table.ts, q_.since, q_.until, &where_);
  if (q_.text) {
    AddTextMatch("detail", *q_.text,
                 {"code", "actor", "target", "request_id", "domain", "category"}, &where_);
  }
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
  // The page is the `limit` rows after the first `offset` matches: read offset + limit of them.
  const size_t offset = static_cast<size_t>(std::max<int64_t>(0, q_.offset));
  const size_t limit = static_cast<size_t>(std::max(1, q_.limit)) + offset;
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
  // Every match up to the page's end was read: with no cursor and no more, that is the count.
  const int64_t read = static_cast<int64_t>(candidates.size());
  candidates.erase(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                offset, candidates.size())));
  page->rows = std::move(candidates);
  if (page->has_more) page->next = AuditKey::Of(page->rows.back());
  // A first page that holds every match is its own count: no second query.
  if (q_.count_cap > 0 && !page->has_more && !q_.after) {
    page->total_matched = read;
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
  if (q_.text) AddTextMatch("payload", *q_.text, {}, &where_);
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
  // The lifted columns are optional (docs/format.md §4.1): a filter on an absent one is refused.
  std::string absent;
  for (auto [col, set] : {std::pair{"request_id", q_.request_id.has_value()},
                          {"level", q_.level.has_value()},
                          {"event", q_.event.has_value()},
                          {"service_id", q_.service_id.has_value()},
                          {"method", q_.method.has_value()},
                          {"path", q_.path.has_value()},
                          {"status", q_.status.has_value()}}) {
    const bool present =
        std::string_view(col) == "status" ? !table_.status.empty() : table_.Has(col);
    if (set && !present) absent += std::string(absent.empty() ? "" : ", ") + col;
  }
  if (!absent.empty()) {
    return FailedPreconditionError("the stream table " + table_.table + " has no column " + absent +
                                   " to filter on; leave that filter out");
  }
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

// ---------------------------------------------------------------------------------------------
// Request id prefixes.

namespace {

// Decodes one UTF-8 character at `text[*i]` (advancing *i); false when it is not one.
bool NextCodePoint(std::string_view text, size_t* i, uint32_t* cp) {
  const auto b = static_cast<unsigned char>(text[*i]);
  size_t n = b < 0x80             ? 1
             : (b & 0xE0) == 0xC0 ? 2
             : (b & 0xF0) == 0xE0 ? 3
             : (b & 0xF8) == 0xF0 ? 4
                                  : 0;
  if (n == 0 || *i + n > text.size()) return false;
  uint32_t v = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(text[*i + k]);
    if ((c & 0xC0) != 0x80) return false;
    v = (v << 6) | (c & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
  *i += n;
  *cp = v;
  return true;
}

// The distinct request ids in [prefix, successor) `where` selects, ascending in byte order, that
// follow `after` (exclusive), at most `max`.
SqlStatement PrefixStatement(const SqlWhere& base, const std::string& table,
                             const std::string& prefix, const std::optional<std::string>& after,
                             size_t max) {
  SqlWhere w = base;
  const SqlDialect& d = w.dialect();
  const std::string col = d.Bytewise(d.Column("request_id"));
  if (after) {
    w.And(col + " > " + w.Bind(SqlParam::Text(*after)));
  } else {
    w.And(col + " >= " + w.Bind(SqlParam::Text(prefix)));
  }
  if (std::optional<std::string> end = PrefixSuccessor(prefix)) {
    w.And(col + " < " + w.Bind(SqlParam::Text(*end)));
  }
  // The output column carries the byte-order collation, so ORDER BY 1 sorts by bytes.
  std::string sql = "SELECT DISTINCT " + col + " FROM " + table + w.sql() + " ORDER BY 1 LIMIT " +
                    w.Bind(SqlParam::Int(static_cast<int64_t>(max)));
  return {std::move(sql), w.params()};
}

// Reads the ids of PrefixStatement, keeping those that begin with `prefix` (the SQL range is
// re-checked byte for byte).
Status FetchPrefixIds(const SqlFetchText& fetch_text, const SqlStatement& st,
                      const std::string& prefix, std::vector<std::string>* ids, size_t* read) {
  *read = 0;
  return fetch_text(st, [&](std::string_view& text) {
    ++*read;
    if (text.substr(0, prefix.size()) == prefix) ids->emplace_back(text);
    return true;
  });
}

}  // namespace

std::optional<std::string> PrefixSuccessor(std::string_view prefix) {
  std::vector<uint32_t> cps;
  bool utf8 = true;
  for (size_t i = 0; i < prefix.size() && utf8;) {
    uint32_t cp = 0;
    utf8 = NextCodePoint(prefix, &i, &cp);
    if (utf8) cps.push_back(cp);
  }
  if (utf8) {
    while (!cps.empty() && cps.back() == 0x10FFFF) cps.pop_back();
    if (cps.empty()) return std::nullopt;
    uint32_t& last = cps.back();
    last = last == 0xD7FF ? 0xE000 : last + 1;
    std::string out;
    for (uint32_t cp : cps) json_text::AppendCodePoint(static_cast<char32_t>(cp), &out);
    return out;
  }
  std::string out(prefix);
  while (!out.empty() && static_cast<unsigned char>(out.back()) == 0xFF) out.pop_back();
  if (out.empty()) return std::nullopt;
  out.back() = static_cast<char>(static_cast<unsigned char>(out.back()) + 1);
  return out;
}

Status AuditRequestIdsWithPrefix(const SqlDialect& dialect, const AuditListTable& table,
                                 const std::optional<std::string>& tenant,
                                 const std::string& prefix, size_t max,
                                 const SqlFetchText& fetch_text, std::vector<std::string>* out) {
  out->clear();
  if (max == 0) return Status::Ok();
  SqlWhere where(dialect);
  AddEquals("tenant_id", tenant, table.has_tenant, &where);
  size_t read = 0;
  return FetchPrefixIds(fetch_text, PrefixStatement(where, table.table, prefix, std::nullopt, max),
                        prefix, out, &read);
}

Status StreamRequestIdsWithPrefix(const SqlDialect& dialect, const StreamListTable& table,
                                  const std::optional<std::string>& tenant,
                                  const std::string& prefix, size_t max,
                                  const SqlFetchText& fetch_text, std::vector<std::string>* out) {
  out->clear();
  if (max == 0 || !table.Has("request_id")) return Status::Ok();
  SqlWhere where(dialect);
  if (!tenant) {
    size_t read = 0;
    return FetchPrefixIds(fetch_text,
                          PrefixStatement(where, table.table, prefix, std::nullopt, max), prefix,
                          out, &read);
  }
  // The prefilter is a superset of the payload tenant rule: each candidate id is kept only when
  // one of its rows passes the rule. Candidates come in batches until `max` ids pass or the
  // range ends; at most kMaxChecked candidates are checked.
  constexpr size_t kMaxChecked = 256;
  dialect.PayloadTenantPrefilter(*tenant, &where);
  std::optional<std::string> after;
  size_t checked = 0;
  while (out->size() < max && checked < kMaxChecked) {
    std::vector<std::string> batch;
    size_t read = 0;
    FASTEN_RETURN_IF_ERROR(FetchPrefixIds(fetch_text,
                                          PrefixStatement(where, table.table, prefix, after, max),
                                          prefix, &batch, &read));
    for (const std::string& id : batch) {
      if (out->size() == max || checked == kMaxChecked) break;
      ++checked;
      SqlWhere one = where;
      one.And(dialect.Column("request_id") + " = " + one.Bind(SqlParam::Text(id)));
      bool seen = false;
      FASTEN_RETURN_IF_ERROR(
          fetch_text({"SELECT " + dialect.Column("payload") + " FROM " + table.table + one.sql(),
                      one.params()},
                     [&](std::string_view& payload) {
                       seen = PayloadBelongsTo(payload, *tenant);
                       return !seen;
                     }));
      if (seen) out->push_back(id);
    }
    if (read < max) break;
    // The last id read (byte order): the next batch starts after it.
    if (batch.empty()) break;
    after = batch.back();
  }
  return Status::Ok();
}

}  // namespace fasten
