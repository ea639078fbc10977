#include "store/index_advice.h"

#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>

#include "store/payload_tenant.h"
#include "store/pg_session.h"
#include "store/sqlite_open.h"
#include "util/handles.h"
#include "util/sqlite.h"

namespace fasten {
namespace {

struct Recipe {
  const char* suffix;
  std::vector<const char*> columns;
  const char* why;
  // A partial index's predicate over the recipe's own columns' table (SQLite spelling; the
  // Postgres one quotes the column). Such an index counts as present only under its own name.
  const char* where = nullptr;
  const char* pg_where = nullptr;
};

// A recipe column that stands for the payload's tenant (store/payload_tenant.h): the SQLite
// prefilter expression, or the Postgres function over `payload`.
constexpr char kTenantExpr[] = "@tenant";

const std::vector<Recipe>& AuditRecipes() {
  // Every filter audit_query, search, request_trace and red_metrics offer has an index led by
  // tenant_id, so a tenant-bound query reads only that tenant's entries (docs/security.md).
  static const std::vector<Recipe> kRecipes = {
      {"seq", {"monotonic_seq"}, "citation lookups by (seq, hash); seq-order verify scans"},
      {"node_seq",
       {"source_node_id", "monotonic_seq"},
       "chain tips, predecessors and neighbours of one node; per-node verify"},
      {"node_seq_sealed",
       {"source_node_id", "monotonic_seq"},
       "sealed tips and sealed-row counts of one node, for checkpoints (a node whose rows are "
       "all unsealed is one lookup, not a walk of its rows)",
       "hash <> ''",
       "\"hash\" <> ''"},
      {"tenant_code_ts",
       {"tenant_id", "code", "timestamp"},
       "code + time window pages of one tenant (docs/benchmarks.md)"},
      {"tenant_ts", {"tenant_id", "timestamp"}, "newest-first pages and text search of one tenant"},
      {"tenant_req", {"tenant_id", "request_id"}, "request traces of one tenant"},
      {"tenant_domain_ts", {"tenant_id", "domain", "timestamp"}, "domain filter of one tenant"},
      {"tenant_actor_ts", {"tenant_id", "actor", "timestamp"}, "actor filter of one tenant"},
      {"tenant_target_ts", {"tenant_id", "target", "timestamp"}, "target filter of one tenant"},
      {"tenant_node_ts",
       {"tenant_id", "source_node_id", "timestamp"},
       "source_node_id filter of one tenant"},
      {"tenant_svc_ts",
       {"tenant_id", "service_id", "timestamp"},
       "service_id filter of one tenant"},
      {"tenant_sev_ts",
       {"tenant_id", "severity", "timestamp"},
       "severity filter (and red_metrics' error counts) of one tenant"},
      {"code_ts", {"code", "timestamp"}, "code + time window pages (all-tenants mode)"},
  };
  return kRecipes;
}

const std::vector<Recipe>& StreamRecipes(bool api) {
  // The tenant lives in the payload: each filter sys_query/api_query offer gets an index led by
  // the payload's tenant, ordered by seq as the queries are.
  static const std::vector<Recipe> kSys = {
      {"req_seq", {"request_id", "seq"}, "request traces, newest first"},
      {"ts", {"timestamp"}, "time windows"},
      {"lvl_seq", {"level", "seq"}, "level filters, newest first"},
      {"tenant_seq", {kTenantExpr, "seq"}, "newest-first pages and text search of one tenant"},
      {"tenant_req_seq", {kTenantExpr, "request_id", "seq"}, "request traces of one tenant"},
      {"tenant_lvl_seq", {kTenantExpr, "level", "seq"}, "level filter of one tenant"},
      {"tenant_evt_seq", {kTenantExpr, "event", "seq"}, "event filter of one tenant"},
      {"tenant_svc_seq", {kTenantExpr, "service_id", "seq"}, "service_id filter of one tenant"},
  };
  static const std::vector<Recipe> kApi = {
      {"req_seq", {"request_id", "seq"}, "request traces, newest first"},
      {"ts", {"timestamp"}, "time windows"},
      {"sts_seq", {"status", "seq"}, "status filters (e.g. 5xx), newest first"},
      {"tenant_seq",
       {kTenantExpr, "seq"},
       "newest-first pages, text search and red_metrics of one tenant"},
      {"tenant_req_seq", {kTenantExpr, "request_id", "seq"}, "request traces of one tenant"},
      {"tenant_mth_seq", {kTenantExpr, "method", "seq"}, "method filter of one tenant"},
      {"tenant_pth_seq", {kTenantExpr, "path", "seq"}, "path filter of one tenant"},
      {"tenant_sts_seq", {kTenantExpr, "status", "seq"}, "status filter of one tenant"},
      {"tenant_svc_seq", {kTenantExpr, "service_id", "seq"}, "service_id filter of one tenant"},
  };
  return api ? kApi : kSys;
}

// "\"Timestamp\" COLLATE \"C\"" -> "timestamp collate c".
std::string Normalize(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

// Lower case without quotes or whitespace, to find an expression in an index's statement.
std::string Squeeze(const std::string& s) {
  std::string out;
  for (char c : Normalize(s)) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') out.push_back(c);
  }
  return out;
}

// What the catalog says about one table.
struct TableInfo {
  std::string table;                                         // as configured
  std::string bare;                                          // after the schema prefix
  std::vector<std::pair<std::string, std::string>> columns;  // name -> declared type
  // Non-partial, valid indexes: name -> normalized key column definitions.
  std::vector<std::pair<std::string, std::vector<std::string>>> indexes;
  std::set<std::string> all_index_names;  // partial ones included
  bool text_ts_needs_c = false;           // Postgres: text timestamps are compared COLLATE "C"
  // Postgres: the payload-tenant function as an index expression ("schema".fasten_payload_tenant
  // ("payload")), and the statement creating it when it does not exist yet. Empty when the
  // database cannot hold it (not UTF-8): no payload-tenant index is advised.
  std::string tenant_function, tenant_function_ddl;

  bool Has(const std::string& c) const {
    return std::any_of(columns.begin(), columns.end(), [&](const auto& x) { return x.first == c; });
  }
  std::string Type(const std::string& c) const {
    for (const auto& [n, t] : columns) {
      if (n == c) return t;
    }
    return "";
  }
};

void Advise(const TableInfo& info, const std::vector<Recipe>& recipes, bool postgres,
            std::vector<IndexAdvice>* out) {
  for (const Recipe& r : recipes) {
    const bool tenant_expr = std::string(r.columns[0]) == kTenantExpr;
    if (tenant_expr && (!info.Has("payload") || (postgres && info.tenant_function.empty()))) {
      continue;
    }
    if (!std::all_of(r.columns.begin(), r.columns.end(),
                     [&](const char* c) { return std::string(c) == kTenantExpr || info.Has(c); })) {
      continue;
    }
    IndexAdvice a;
    a.table = info.table;
    a.name = "idx_" + info.bare + "_" + r.suffix;
    a.why = r.why;
    a.tenant_leading = tenant_expr || std::string(r.columns[0]) == "tenant_id";
    if (tenant_expr && postgres) a.setup_ddl = info.tenant_function_ddl;
    std::vector<std::string> defs;
    std::string list, shown;
    for (const char* c : r.columns) {
      if (std::string(c) == kTenantExpr) {
        defs.push_back(kTenantExpr);
        list += (list.empty() ? "" : ", ") +
                (postgres ? "(" + info.tenant_function + ")" : std::string(kSqlitePayloadTenant));
        shown += (shown.empty() ? "" : ", ") + std::string("payload.tenant_id");
        continue;
      }
      std::string def = postgres ? "\"" + std::string(c) + "\"" : std::string(c);
      const std::string type = info.Type(c);
      if (postgres && info.text_ts_needs_c && std::string(c) == "timestamp" &&
          (type == "text" || type == "character varying")) {
        def += " COLLATE \"C\"";
        a.name += "_c";  // not the upstream idx_{t}_ts, which has the database collation
      }
      defs.push_back(Normalize(def));
      list += (list.empty() ? "" : ", ") + def;
      shown += (shown.empty() ? "" : ", ") + Normalize(def);
    }
    a.columns = "(" + shown + ")";
    a.ddl = std::string("CREATE INDEX ") + (postgres ? "CONCURRENTLY " : "") + "IF NOT EXISTS " +
            a.name + " ON " + info.table + " (" + list + ")";
    if (r.where) {
      if (!info.Has("hash")) continue;
      a.ddl += std::string(" WHERE ") + (postgres ? r.pg_where : r.where);
      a.columns += std::string(" WHERE ") + r.where;
      a.exists = info.all_index_names.count(a.name) > 0;
      if (a.exists) a.existing = a.name;
      out->push_back(std::move(a));
      continue;
    }
    for (const auto& [name, cols] : info.indexes) {
      if (cols.size() >= defs.size() && std::equal(defs.begin(), defs.end(), cols.begin())) {
        a.exists = true;
        a.existing = name;
        break;
      }
    }
    out->push_back(std::move(a));
  }
}

std::string Bare(const std::string& table) {
  size_t dot = table.find('.');
  return dot == std::string::npos ? table : table.substr(dot + 1);
}

// ---------------------------------------------------------------------------------------------
// SQLite.

Status SqliteRows(sqlite3* db, const std::string& sql, const std::vector<std::string>& params,
                  std::vector<std::vector<std::string>>* rows) {
  rows->clear();
  Result<SqliteStatement> stmt = SqliteStatement::Prepare(db, sql);
  if (!stmt.ok()) return stmt.status().WithContext("catalog query failed");
  for (size_t i = 0; i < params.size(); ++i) stmt->BindText(static_cast<int>(i + 1), params[i]);
  int rc;
  while ((rc = stmt->Step()) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < stmt->ColumnCount(); ++c) row.push_back(stmt->ColumnText(c));
    rows->push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return UnavailableError("catalog query failed: " + SqliteMessage(db));
  return Status::Ok();
}

Status SqliteTableInfo(sqlite3* db, const std::string& table, std::optional<TableInfo>* out) {
  out->reset();
  std::vector<std::vector<std::string>> rows;
  FASTEN_RETURN_IF_ERROR(SqliteRows(
      db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", {table}, &rows));
  if (rows.empty()) return Status::Ok();
  TableInfo info;
  info.table = table;
  info.bare = table;
  FASTEN_RETURN_IF_ERROR(SqliteRows(db, "PRAGMA table_info(" + table + ")", {}, &rows));
  for (const auto& r : rows) info.columns.emplace_back(r[1], r[2]);
  std::vector<std::vector<std::string>> list;
  FASTEN_RETURN_IF_ERROR(SqliteRows(db, "PRAGMA index_list(" + table + ")", {}, &list));
  for (const auto& idx : list) {
    if (idx.size() >= 2) info.all_index_names.insert(idx[1]);
    if (idx.size() >= 5 && idx[4] == "1") continue;  // partial
    FASTEN_RETURN_IF_ERROR(SqliteRows(db, "PRAGMA index_info(\"" + idx[1] + "\")", {}, &rows));
    // An expression key is the payload tenant when the index's statement holds that expression
    // (SQLite keeps the statement as written).
    std::vector<std::vector<std::string>> sql;
    FASTEN_RETURN_IF_ERROR(SqliteRows(
        db, "SELECT coalesce(sql, '') FROM sqlite_master WHERE type = 'index' AND name = ?",
        {idx[1]}, &sql));
    const bool tenant_expr =
        !sql.empty() && Squeeze(sql[0][0]).find(Squeeze(kSqlitePayloadTenant)) != std::string::npos;
    std::vector<std::string> cols;
    for (const auto& r : rows) {
      cols.push_back(!r[2].empty() ? Normalize(r[2]) : tenant_expr ? kTenantExpr : "<expression>");
    }
    info.indexes.emplace_back(idx[1], std::move(cols));
  }
  *out = std::move(info);
  return Status::Ok();
}

Status AdviseSqlite(const Dsn& dsn, IndexReport* out) {
  SqliteHandle db;
  FASTEN_RETURN_IF_ERROR(OpenSqliteReadOnly(dsn, 0, &db, nullptr));
  std::optional<TableInfo> info;
  const std::vector<std::string> audit_names =
      dsn.table ? std::vector<std::string>{*dsn.table}
                : std::vector<std::string>{"audit_log", "fasten_audit"};
  for (const std::string& t : audit_names) {
    FASTEN_RETURN_IF_ERROR(SqliteTableInfo(db.get(), t, &info));
    if (info) break;
  }
  if (!info) return NotFoundError("no audit table in " + dsn.path);
  Advise(*info, AuditRecipes(), false, &out->advice);
  for (bool api : {false, true}) {
    const std::string t = api ? "api_log" : "syslog";
    FASTEN_RETURN_IF_ERROR(SqliteTableInfo(db.get(), t, &info));
    if (!info) {
      out->notes.push_back("stream table '" + t + "' not found: skipped");
      continue;
    }
    Advise(*info, StreamRecipes(api), false, &out->advice);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Postgres.

Status PgTableInfo(PgSession& s, const std::string& table, std::optional<TableInfo>* out) {
  out->reset();
  std::vector<PgSession::Row> rows;
  FASTEN_RETURN_IF_ERROR(
      s.Query("SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace "
              "n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1::text) AND c.relkind IN "
              "('r', 'p')",
              {table}, &rows));
  if (rows.empty()) return Status::Ok();
  const std::string schema = *rows[0][0], name = *rows[0][1];
  TableInfo info;
  info.table = table;
  info.bare = Bare(table);
  info.text_ts_needs_c = !s.c_collation();
  FASTEN_RETURN_IF_ERROR(s.Query(
      "SELECT quote_ident($1::text), current_setting('server_encoding'), EXISTS (SELECT 1 FROM "
      "pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE "
      "n.nspname = $1 AND p.proname = $2 AND p.proargtypes = '25'::pg_catalog.oidvector AND "
      "p.prorettype = 25)",
      {schema, std::string(kPgPayloadTenantFunction)}, &rows));
  if (rows.size() == 1 && rows[0][1] == std::string("UTF8")) {
    const std::string quoted = rows[0][0].value_or("");
    info.tenant_function = quoted + "." + kPgPayloadTenantFunction + "(\"payload\")";
    if (rows[0][2] != std::string("t"))
      info.tenant_function_ddl = PgPayloadTenantFunctionDdl(quoted);
  }
  FASTEN_RETURN_IF_ERROR(
      s.Query("SELECT column_name::text, data_type::text FROM information_schema.columns WHERE "
              "table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
              {schema, name}, &rows));
  for (const auto& r : rows) info.columns.emplace_back(*r[0], *r[1]);
  FASTEN_RETURN_IF_ERROR(s.Query(
      "SELECT i.relname::text, array_to_string(ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, "
      "true) || CASE WHEN (SELECT collname FROM pg_catalog.pg_collation WHERE oid = "
      "x.indcollation[k - 1]) IN ('C', 'POSIX') THEN ' COLLATE \"C\"' ELSE '' END FROM "
      "generate_series(1, x.indnkeyatts) k ORDER BY k), '|') FROM pg_catalog.pg_index "
      "x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = "
      "to_regclass($1::text) AND x.indisvalid AND x.indpred IS NULL ORDER BY 1",
      {table}, &rows));
  for (const auto& r : rows) {
    std::vector<std::string> cols;
    std::string defs = r[1].value_or("");
    size_t pos = 0;
    while (true) {
      size_t bar = defs.find('|', pos);
      std::string def = Normalize(defs.substr(pos, bar == std::string::npos ? bar : bar - pos));
      // Under a byte-order default collation an explicit COLLATE "C" changes nothing.
      const std::string c = " collate c";
      if (!info.text_ts_needs_c && def.size() > c.size() &&
          def.compare(def.size() - c.size(), c.size(), c) == 0) {
        def.resize(def.size() - c.size());
      }
      if (def.find(std::string(kPgPayloadTenantFunction) + "(payload)") != std::string::npos)
        def = kTenantExpr;
      cols.push_back(def);
      if (bar == std::string::npos) break;
      pos = bar + 1;
    }
    info.indexes.emplace_back(*r[0], std::move(cols));
  }
  FASTEN_RETURN_IF_ERROR(
      s.Query("SELECT i.relname::text FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON "
              "i.oid = x.indexrelid WHERE x.indrelid = to_regclass($1::text) AND x.indisvalid",
              {table}, &rows));
  for (const auto& r : rows) info.all_index_names.insert(r[0].value_or(""));
  *out = std::move(info);
  return Status::Ok();
}

Status AdvisePostgres(const Dsn& dsn, IndexReport* out) {
  std::unique_ptr<PgSession> s;
  FASTEN_RETURN_IF_ERROR(PgSession::Open(dsn, /*read_only=*/true, /*no_timeout=*/false, &s));
  std::optional<TableInfo> info;
  const std::vector<std::string> audit_names =
      dsn.table ? std::vector<std::string>{*dsn.table}
                : std::vector<std::string>{"audit_log", "fasten_audit"};
  for (const std::string& t : audit_names) {
    FASTEN_RETURN_IF_ERROR(PgTableInfo(*s, t, &info));
    if (info) break;
  }
  if (!info) return NotFoundError("no audit table in " + dsn.Display());
  Advise(*info, AuditRecipes(), true, &out->advice);
  for (bool api : {false, true}) {
    const std::string t = api ? "api_log" : "syslog";
    FASTEN_RETURN_IF_ERROR(PgTableInfo(*s, t, &info));
    if (!info) {
      out->notes.push_back("stream table '" + t + "' not found: skipped");
      continue;
    }
    if (info->tenant_function.empty()) {
      out->notes.push_back("stream table '" + t +
                           "': the database is not UTF-8, so no payload-tenant index is advised");
    }
    Advise(*info, StreamRecipes(api), true, &out->advice);
  }
  return Status::Ok();
}

}  // namespace

Status AdviseIndexes(const Dsn& dsn, IndexReport* out) {
  *out = IndexReport();
  if (dsn.kind == Dsn::Kind::kPostgres) {
    out->backend = "postgres";
    return AdvisePostgres(dsn, out);
  }
  out->backend = "sqlite";
  return AdviseSqlite(dsn, out);
}

Status ApplyIndexes(const Dsn& dsn, const std::vector<IndexAdvice>& missing,
                    const std::function<void(const IndexAdvice&, const Status&)>& on_done) {
  Status first;
  auto note = [&](const IndexAdvice& a, const Status& st) {
    if (!st.ok() && first.ok()) first = st;
    if (on_done) on_done(a, st);
  };
  if (dsn.kind == Dsn::Kind::kPostgres) {
    std::unique_ptr<PgSession> s;
    FASTEN_RETURN_IF_ERROR(PgSession::Open(dsn, /*read_only=*/false, /*no_timeout=*/true, &s));
    std::set<std::string> set_up;  // each prerequisite statement runs once
    for (const IndexAdvice& a : missing) {
      if (a.exists) continue;
      if (!a.setup_ddl.empty() && set_up.insert(a.setup_ddl).second) {
        Status st = s->Exec(a.setup_ddl);
        if (!st.ok()) {
          note(a, st);
          continue;
        }
      }
      note(a, s->Exec(a.ddl));
    }
    return first;
  }
  SqliteHandle db;
  Status opened = SqliteOpen(dsn.path, SQLITE_OPEN_READWRITE, &db);
  if (!opened.ok()) return opened.WithContext("cannot open " + dsn.path + " for writing");
  sqlite3_busy_timeout(db.get(), 30000);
  for (const IndexAdvice& a : missing) {
    if (a.exists) continue;
    note(a, SqliteExec(db.get(), a.ddl.c_str()).WithContext(a.name));
  }
  return first;
}

}  // namespace fasten
