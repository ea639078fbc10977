#include "store/index_advice.h"

#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "store/pg_session.h"
#include "store/sqlite_open.h"
#include "util/handles.h"

namespace fasten {
namespace {

struct Recipe {
  const char* suffix;
  std::vector<const char*> columns;
  const char* why;
};

const std::vector<Recipe>& AuditRecipes() {
  static const std::vector<Recipe> kRecipes = {
      {"seq", {"monotonic_seq"}, "citation lookups by (seq, hash); seq-order verify scans"},
      {"node_seq",
       {"source_node_id", "monotonic_seq"},
       "chain tips, predecessors and neighbours of one node; per-node verify"},
      {"tenant_code_ts",
       {"tenant_id", "code", "timestamp"},
       "code + time window pages of one tenant (performance.md 13.6)"},
      {"tenant_ts", {"tenant_id", "timestamp"}, "newest-first pages of one tenant"},
      {"tenant_req", {"tenant_id", "request_id"}, "request traces of one tenant"},
      {"code_ts", {"code", "timestamp"}, "code + time window pages (all-tenants mode)"},
  };
  return kRecipes;
}

const std::vector<Recipe>& StreamRecipes(bool api) {
  static const std::vector<Recipe> kSys = {
      {"req_seq", {"request_id", "seq"}, "request traces, newest first"},
      {"ts", {"timestamp"}, "time windows"},
      {"lvl_seq", {"level", "seq"}, "level filters, newest first"},
  };
  static const std::vector<Recipe> kApi = {
      {"req_seq", {"request_id", "seq"}, "request traces, newest first"},
      {"ts", {"timestamp"}, "time windows"},
      {"sts_seq", {"status", "seq"}, "status filters (e.g. 5xx), newest first"},
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

// What the catalog says about one table.
struct TableInfo {
  std::string table;                                         // as configured
  std::string bare;                                          // after the schema prefix
  std::vector<std::pair<std::string, std::string>> columns;  // name -> declared type
  // Non-partial, valid indexes: name -> normalized key column definitions.
  std::vector<std::pair<std::string, std::vector<std::string>>> indexes;
  bool text_ts_needs_c = false;  // Postgres: text timestamps are compared COLLATE "C"

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
    if (!std::all_of(r.columns.begin(), r.columns.end(),
                     [&](const char* c) { return info.Has(c); })) {
      continue;
    }
    IndexAdvice a;
    a.table = info.table;
    a.name = "idx_" + info.bare + "_" + r.suffix;
    a.why = r.why;
    std::vector<std::string> defs;
    std::string list;
    for (const char* c : r.columns) {
      std::string def = postgres ? "\"" + std::string(c) + "\"" : std::string(c);
      const std::string type = info.Type(c);
      if (postgres && info.text_ts_needs_c && std::string(c) == "timestamp" &&
          (type == "text" || type == "character varying")) {
        def += " COLLATE \"C\"";
        a.name += "_c";  // not the upstream idx_{t}_ts, which has the database collation
      }
      defs.push_back(Normalize(def));
      list += (list.empty() ? "" : ", ") + def;
    }
    a.columns = "(" + Normalize(list) + ")";
    a.ddl = std::string("CREATE INDEX ") + (postgres ? "CONCURRENTLY " : "") + "IF NOT EXISTS " +
            a.name + " ON " + info.table + " (" + list + ")";
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

Status SqliteError(sqlite3* db, const std::string& context) {
  return UnavailableError(context + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

Status SqliteRows(sqlite3* db, const std::string& sql, const std::vector<std::string>& params,
                  std::vector<std::vector<std::string>>* rows) {
  rows->clear();
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return SqliteError(db, "catalog query failed");
  }
  SqliteStmt stmt(raw);
  for (size_t i = 0; i < params.size(); ++i) {
    sqlite3_bind_text(raw, static_cast<int>(i + 1), params[i].c_str(), -1, SQLITE_TRANSIENT);
  }
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(raw); ++c) {
      const unsigned char* t = sqlite3_column_text(raw, c);
      row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    rows->push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return SqliteError(db, "catalog query failed");
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
    if (idx.size() >= 5 && idx[4] == "1") continue;  // partial
    FASTEN_RETURN_IF_ERROR(SqliteRows(db, "PRAGMA index_info(\"" + idx[1] + "\")", {}, &rows));
    std::vector<std::string> cols;
    for (const auto& r : rows) cols.push_back(r[2].empty() ? "<expression>" : Normalize(r[2]));
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
      cols.push_back(def);
      if (bar == std::string::npos) break;
      pos = bar + 1;
    }
    info.indexes.emplace_back(*r[0], std::move(cols));
  }
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
    for (const IndexAdvice& a : missing) {
      if (!a.exists) note(a, s->Exec(a.ddl));
    }
    return first;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(dsn.path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  SqliteHandle db(raw);
  if (rc != SQLITE_OK) return SqliteError(raw, "cannot open " + dsn.path + " for writing");
  sqlite3_busy_timeout(raw, 30000);
  for (const IndexAdvice& a : missing) {
    if (a.exists) continue;
    char* err = nullptr;
    rc = sqlite3_exec(raw, a.ddl.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    note(a, rc == SQLITE_OK ? Status::Ok() : UnavailableError(a.name + ": " + msg));
  }
  return first;
}

}  // namespace fasten
