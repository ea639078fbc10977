// The cross-tenant timing probe of issue 12 item 3: can acme tell, from answer times alone,
// that another tenant uses a code, an event or a path?
//
// The store: globex writes `--rows` audit rows of code GX_BULK, sys rows of event gx_bulk and api
// rows of path /gx/bulk, and a quarter as many spread over 500 other values; acme writes
// `--acme-rows` rows over 20 values of its own. Tables and indexes are the SDK's (docs/format.md
// §2.4, §4.1); Postgres is analyzed (as autovacuum would), SQLite is not (as the SDKs leave it).
// Through the real tool path (Dispatcher, the stdio worker's HandleRequestText), bound to acme,
// each probe times
//   audit_query {"code": V}, sys_query {"event": V}, api_query {"path": V}
// for V = the globex-only value and V = a value nobody uses, interleaved, `--runs` times each,
// and reports the p50 of each and their ratio (the limit measured in the same run is the unused
// value's time). Then `fasten-mcp index --apply`'s indexes are created (ApplyIndexes, timed), the
// stores reopened, and the probes run again. Also timed: inserting `--insert-rows` more sys rows
// in one transaction without and with the advised indexes (what the indexes cost the writer).
// Goal (issue 12): ratio <= 2x with the advised indexes.
//
// Usage: tenant_timing_bench [--sqlite PATH] [--pg-dsn DSN] [--rows N] [--acme-rows N]
//                            [--runs N] [--insert-rows N] [--json FILE]
// A --sqlite file is created fresh (removed first). A --pg-dsn database gets the tables dropped
// and created.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/launch_scopes.h"
#include "mcp/dispatcher.h"
#include "store/dsn.h"
#include "store/index_advice.h"
#include "store/pg_session.h"
#include "store/store_set.h"
#include "tools/cursor.h"
#include "tools/registry.h"

namespace {

using namespace fasten;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double Millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double P50(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// The SDK's tables and single-column indexes, in either dialect.
std::string Ddl(bool pg) {
  const std::string seq = pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
  const std::string seq_col = pg ? "BIGINT" : "INTEGER";
  std::string s =
      "DROP TABLE IF EXISTS audit_log; DROP TABLE IF EXISTS syslog; DROP TABLE IF EXISTS api_log;"
      "CREATE TABLE audit_log (id TEXT PRIMARY KEY, origin_id TEXT NOT NULL, monotonic_seq " +
      seq_col +
      " NOT NULL, timestamp TEXT NOT NULL, code TEXT NOT NULL, action TEXT NOT NULL, severity "
      "TEXT NOT NULL, service_id TEXT NOT NULL, source_node_id TEXT NOT NULL, tenant_id TEXT, "
      "actor TEXT NOT NULL, actor_kind TEXT NOT NULL, target TEXT NOT NULL, category TEXT NOT "
      "NULL, domain TEXT NOT NULL, method TEXT NOT NULL, request_id TEXT NOT NULL, detail TEXT NOT "
      "NULL, pii_in_detail INTEGER NOT NULL DEFAULT 0, shipped_at TEXT, wire_version TEXT NOT "
      "NULL DEFAULT '1', hash TEXT NOT NULL DEFAULT '', prev_hash TEXT NOT NULL DEFAULT "
      "'genesis', canonical_form_id TEXT NOT NULL DEFAULT '1');";
  for (const char* t : {"syslog", "api_log"}) {
    s += std::string("CREATE TABLE ") + t + " (seq " + seq +
         ", request_id TEXT, timestamp TEXT, level TEXT, service_id TEXT, event TEXT, method TEXT, "
         "path TEXT, status INTEGER, payload TEXT NOT NULL);";
  }
  for (const char* c : {"request_id", "code", "timestamp", "monotonic_seq", "service_id"}) {
    s += std::string("CREATE INDEX idx_audit_log_") + c + " ON audit_log (" + c + ");";
  }
  for (const char* t : {"syslog", "api_log"}) {
    for (const char* c :
         {"request_id", "timestamp", "level", "service_id", "event", "method", "path", "status"}) {
      s += std::string("CREATE INDEX idx_") + t + "_" + c + " ON " + t + " (" + c + ");";
    }
  }
  return s;
}

// Rows [from, from + n) of one tenant, generated in SQL: `code`, `event` and `path` are SQL
// expressions of the row number x.
std::string Load(bool pg, const std::string& tenant, const std::string& code,
                 const std::string& event, const std::string& path, int64_t from, int64_t n) {
  const std::string series = pg ? "generate_series(" + std::to_string(from) + ", " +
                                      std::to_string(from + n - 1) + ") AS g(x)"
                                : "(WITH RECURSIVE g(x) AS (SELECT " + std::to_string(from) +
                                      " UNION ALL SELECT x + 1 FROM g WHERE x < " +
                                      std::to_string(from + n - 1) + ") SELECT x FROM g) AS g";
  // 10 rows a second from 2026-06-15T00:00:00Z.
  const std::string ts =
      pg ? "to_char(timestamp '2026-06-15 00:00:00' + x * interval '100 milliseconds', "
           "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
         : "strftime('%Y-%m-%dT%H:%M:%S', 1781481600 + x / 10, 'unixepoch') || '.' || "
           "substr('00000' || ((x % 10) * 100000), -6) || 'Z'";
  const std::string q = "'" + tenant + "'";
  std::string s;
  s += "INSERT INTO audit_log (id, origin_id, monotonic_seq, timestamp, code, action, severity, "
       "service_id, source_node_id, tenant_id, actor, actor_kind, target, category, domain, "
       "method, request_id, detail) SELECT 'id-' || x, 'o', x, " +
       ts + ", " + code + ", 'act', 'info', 'svc', 'node-1', " + q +
       ", 'bot', 'service', 't', 'c', 'd', 'sdk', 'req-' || x, '{}' FROM " + series + ";";
  s += "INSERT INTO syslog (request_id, timestamp, level, service_id, event, payload) SELECT "
       "'req-' || x, " +
       ts + ", 'info', 'svc', " + event + ", '{\"tenant_id\":\"" + tenant +
       "\",\"level\":\"info\",\"event\":\"' || " + event + " || '\",\"i\":' || x || '}' FROM " +
       series + ";";
  s += "INSERT INTO api_log (request_id, timestamp, service_id, method, path, status, payload) "
       "SELECT 'req-' || x, " +
       ts + ", 'svc', 'GET', " + path + ", 200, '{\"tenant_id\":\"" + tenant +
       "\",\"method\":\"GET\",\"path\":\"' || " + path +
       " || '\",\"status\":200,\"duration_ms\":' || (x % 50) || '}' FROM " + series + ";";
  return s;
}

class Db {
 public:
  static std::unique_ptr<Db> Open(const Dsn& dsn) {
    auto db = std::unique_ptr<Db>(new Db());
    db->dsn_ = dsn;
    if (dsn.kind == Dsn::Kind::kPostgres) {
      Status st = PgSession::Open(dsn, /*read_only=*/false, /*no_timeout=*/true, &db->pg_);
      if (!st.ok()) {
        std::cerr << st.ToString() << "\n";
        return nullptr;
      }
    } else if (sqlite3_open(dsn.path.c_str(), &db->lite_) != SQLITE_OK) {
      return nullptr;
    }
    return db;
  }
  ~Db() {
    if (lite_) sqlite3_close(lite_);
  }
  bool Exec(const std::string& sql) {
    if (pg_) {
      Status st = pg_->Exec(sql);
      if (!st.ok()) std::cerr << st.ToString() << "\n";
      return st.ok();
    }
    char* err = nullptr;
    int rc = sqlite3_exec(lite_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) std::cerr << (err ? err : "sqlite error") << "\n";
    sqlite3_free(err);
    return rc == SQLITE_OK;
  }
  bool pg() const { return pg_ != nullptr; }

 private:
  Db() = default;
  Dsn dsn_;
  std::unique_ptr<PgSession> pg_;
  sqlite3* lite_ = nullptr;
};

struct Probe {
  const char* tool;
  const char* arg;
  const char* used;  // only globex uses it
};
const Probe kProbes[] = {{"audit_query", "code", "GX_BULK"},
                         {"sys_query", "event", "gx_bulk"},
                         {"api_query", "path", "/gx/bulk"}};

// p50 of acme's calls for the globex-only value and for an unused value, per probe.
json Measure(const Dsn& dsn, int runs) {
  StoreSet stores;
  Status st = OpenStoreSet(StoreConfig{dsn, dsn, dsn}, true, &stores);
  if (!st.ok()) {
    std::cerr << st.ToString() << "\n";
    std::exit(2);
  }
  const ToolRegistry registry = ToolRegistry::Default();
  const CursorSigner signer(std::string(32, 'k'));
  mcp::ServerInfo info;
  info.version = "bench";
  const mcp::Dispatcher dispatcher(&registry, &signer, info);
  mcp::Connection connection;
  mcp::CallContext ctx{app::LaunchScopes::Tenant("acme")};  // the bench is the operator
  ctx.connection = &connection;
  ctx.stores = &stores;
  dispatcher.HandleRequest({{"jsonrpc", "2.0"},
                            {"id", 0},
                            {"method", "initialize"},
                            {"params",
                             {{"protocolVersion", "2025-06-18"},
                              {"capabilities", json::object()},
                              {"clientInfo", {{"name", "bench"}, {"version", "1"}}}}}},
                           ctx);
  json out = json::object();
  int id = 1;
  for (const Probe& p : kProbes) {
    std::vector<double> used, unused;
    for (int i = 0; i < runs + 3; ++i) {
      for (bool is_used : {true, false}) {
        json request = {
            {"jsonrpc", "2.0"},
            {"id", id++},
            {"method", "tools/call"},
            {"params",
             {{"name", p.tool},
              {"arguments", {{p.arg, is_used ? p.used : "nobody-uses-this"}, {"limit", 20}}}}}};
        auto t0 = Clock::now();
        std::string line = dispatcher.HandleRequestText(request, ctx);
        const double ms = Millis(Clock::now() - t0);
        if (line.find("\"isError\":true") != std::string::npos ||
            line.find("\"rows\":[]") == std::string::npos) {
          std::cerr << p.tool << ": unexpected answer: " << line.substr(0, 300) << "\n";
          std::exit(2);
        }
        if (i < 3) continue;  // warm-up
        (is_used ? used : unused).push_back(ms);
      }
    }
    const double a = P50(used), b = P50(unused);
    out[p.tool] = {{"arg", p.arg},
                   {"globex_only_p50_ms", a},
                   {"unused_p50_ms", b},
                   {"ratio", a / b},
                   {"runs", runs}};
  }
  return out;
}

// Inserts `n` more globex sys rows in one transaction; milliseconds.
double TimeInsert(Db& db, int64_t from, int64_t n) {
  auto t0 = Clock::now();
  std::string load = Load(db.pg(), "globex", "'GX_BULK'", "'gx_bulk'", "'/gx/bulk'", from, n);
  // Only the syslog statement: the second of the three.
  size_t a = load.find("INSERT INTO syslog");
  size_t b = load.find("INSERT INTO api_log");
  if (!db.Exec("BEGIN;" + load.substr(a, b - a) + "COMMIT;")) std::exit(2);
  return Millis(Clock::now() - t0);
}

json RunBackend(const Dsn& dsn, int64_t rows, int64_t acme_rows, int runs, int64_t insert_rows) {
  std::unique_ptr<Db> db = Db::Open(dsn);
  if (!db) std::exit(2);
  json out = {{"backend", db->pg() ? "postgres" : "sqlite"},
              {"globex_rows", rows},
              {"acme_rows", acme_rows}};
  std::cerr << out["backend"].get<std::string>() << ": loading " << rows << " globex rows\n";
  if (!db->Exec(Ddl(db->pg()))) std::exit(2);
  // globex: `rows` rows of its bulk value and rows / 4 spread over 500 others; acme: its own
  // 20 values. So the bulk value is one of many, as codes, events and paths are.
  const int64_t spread = std::max<int64_t>(1, rows / 4);
  if (!db->Exec("BEGIN;" +
                Load(db->pg(), "globex", "'GX_BULK'", "'gx_bulk'", "'/gx/bulk'", 1, rows) +
                Load(db->pg(), "globex", "'GX_' || (x % 500)", "'gx_' || (x % 500)",
                     "'/gx/' || (x % 500)", rows + 1, spread) +
                Load(db->pg(), "acme", "'AC_' || (x % 20)", "'ac_' || (x % 20)",
                     "'/ac/' || (x % 20)", rows + spread + 1, acme_rows) +
                "COMMIT;"))
    std::exit(2);
  // Postgres' autovacuum analyzes a table this size soon after; SQLite has statistics only when
  // someone runs ANALYZE, which the SDKs do not.
  if (db->pg()) db->Exec("ANALYZE");
  int64_t next = rows + spread + acme_rows + 1;
  out["insert_ms_sdk_indexes"] = TimeInsert(*db, next, insert_rows);
  next += insert_rows;
  out["sdk_indexes"] = Measure(dsn, runs);
  IndexReport report;
  Status st = AdviseIndexes(dsn, &report);
  if (!st.ok()) {
    std::cerr << st.ToString() << "\n";
    std::exit(2);
  }
  auto t0 = Clock::now();
  int created = 0;
  st = ApplyIndexes(dsn, report.advice, [&](const IndexAdvice&, const Status& s) {
    if (s.ok()) ++created;
  });
  if (!st.ok()) {
    std::cerr << st.ToString() << "\n";
    std::exit(2);
  }
  out["apply"] = {{"indexes_created", created}, {"seconds", Millis(Clock::now() - t0) / 1000}};
  if (db->pg()) db->Exec("ANALYZE");
  out["insert_ms_advised_indexes"] = TimeInsert(*db, next, insert_rows);
  out["insert_rows"] = insert_rows;
  out["advised_indexes"] = Measure(dsn, runs);
  return out;
}

void Print(const json& r) {
  std::printf("%s: globex %lld rows per table, acme %lld; p50 over %d runs, acme-bound\n",
              r["backend"].get<std::string>().c_str(),
              static_cast<long long>(r["globex_rows"].get<int64_t>()),
              static_cast<long long>(r["acme_rows"].get<int64_t>()),
              r["sdk_indexes"]["audit_query"]["runs"].get<int>());
  std::printf("  %-28s %14s %14s %8s\n", "probe", "globex-only ms", "unused ms", "ratio");
  for (const char* phase : {"sdk_indexes", "advised_indexes"}) {
    for (const Probe& p : kProbes) {
      const json& m = r[phase][p.tool];
      std::printf("  %-28s %14.3f %14.3f %7.1fx   (%s)\n",
                  (std::string(p.tool) + " {" + p.arg + "}").c_str(),
                  m["globex_only_p50_ms"].get<double>(), m["unused_p50_ms"].get<double>(),
                  m["ratio"].get<double>(), phase);
    }
  }
  std::printf(
      "  index --apply: %d indexes in %.1f s; inserting %lld sys rows: %.0f ms with the "
      "SDK's indexes, %.0f ms with the advised ones\n",
      r["apply"]["indexes_created"].get<int>(), r["apply"]["seconds"].get<double>(),
      static_cast<long long>(r["insert_rows"].get<int64_t>()),
      r["insert_ms_sdk_indexes"].get<double>(), r["insert_ms_advised_indexes"].get<double>());
}

}  // namespace

int main(int argc, char** argv) {
  std::string sqlite_path, pg_dsn, json_path;
  int64_t rows = 300000, acme_rows = 2000, insert_rows = 20000;
  int runs = 200;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--sqlite") {
      sqlite_path = value();
    } else if (a == "--pg-dsn") {
      pg_dsn = value();
    } else if (a == "--rows") {
      rows = std::stoll(value());
    } else if (a == "--acme-rows") {
      acme_rows = std::stoll(value());
    } else if (a == "--runs") {
      runs = std::stoi(value());
    } else if (a == "--insert-rows") {
      insert_rows = std::stoll(value());
    } else if (a == "--json") {
      json_path = value();
    } else {
      std::cerr << "usage: tenant_timing_bench [--sqlite PATH] [--pg-dsn DSN] [--rows N] "
                   "[--acme-rows N] [--runs N] [--insert-rows N] [--json FILE]\n";
      return 2;
    }
  }
  if (sqlite_path.empty() && pg_dsn.empty()) sqlite_path = "out/bench/tenant-timing.db";
  if (rows < 1 || acme_rows < 1 || runs < 1 || insert_rows < 1) {
    std::cerr << "counts must be positive\n";
    return 2;
  }
  json all = json::array();
  if (!sqlite_path.empty()) {
    std::remove(sqlite_path.c_str());
    Result<Dsn> dsn = ParseDsn("sqlite:///" + sqlite_path);
    if (!dsn.ok()) {
      std::cerr << dsn.status().ToString() << "\n";
      return 2;
    }
    all.push_back(RunBackend(*dsn, rows, acme_rows, runs, insert_rows));
    Print(all.back());
  }
  if (!pg_dsn.empty()) {
    Result<Dsn> dsn = ParseDsn(pg_dsn);
    if (!dsn.ok()) {
      std::cerr << dsn.status().ToString() << "\n";
      return 2;
    }
    all.push_back(RunBackend(*dsn, rows, acme_rows, runs, insert_rows));
    Print(all.back());
  }
  if (!json_path.empty()) std::ofstream(json_path) << all.dump(2) << "\n";
  return 0;
}
