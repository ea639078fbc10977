#include "llm/spend_ledger.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "llm/config_json.h"
#include "util/sqlite.h"
#include "util/state_db.h"

namespace fasten::llm {
namespace {

using nlohmann::json;

constexpr int kSchemaVersion = 1;

// ---------------------------------------------------------------------------------------------
// Small helpers.

// "$5.00" for whole cents, "$0.0125" otherwise.
std::string Usd(double v) {
  char buf[64];
  double cents = v * 100;
  if (std::fabs(cents - std::round(cents)) < 1e-6) {
    std::snprintf(buf, sizeof buf, "$%.2f", v);
  } else {
    std::snprintf(buf, sizeof buf, "$%.4f", v);
  }
  return buf;
}

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

// ---------------------------------------------------------------------------------------------
// The ledger.
//
// Schema (table names are prefixed: the state database is shared with other state):
//   spend_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)   -- ('schema_version', '1')
//   spend_calls: one row per model call, with its normalised usage, the pricing_version used and
//   its cost (NULL: unknown), so costs can be recomputed when prices change (docs/providers.md §6).

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS spend_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spend_calls (
  id                    INTEGER PRIMARY KEY,
  recorded_at           TEXT    NOT NULL,  -- UTC, "YYYY-MM-DDTHH:MM:SSZ"
  tenant                TEXT    NOT NULL,
  day                   TEXT    NOT NULL,  -- UTC "YYYY-MM-DD" the call is charged to
  provider              TEXT    NOT NULL,  -- "anthropic", "openai", "vllm", "ollama", ...
  model                 TEXT    NOT NULL,
  pricing_version       TEXT    NOT NULL,  -- of the price table the cost was computed with
  usage_known           INTEGER NOT NULL,  -- 0: the provider omitted usage
  input_tokens          INTEGER NOT NULL,  -- uncached prompt tokens
  output_tokens         INTEGER NOT NULL,
  cache_read_tokens     INTEGER NOT NULL,
  cache_write_5m_tokens INTEGER NOT NULL,
  cache_write_1h_tokens INTEGER NOT NULL,
  reasoning_tokens      INTEGER NOT NULL,  -- informational: inside output_tokens
  cost_usd              REAL               -- NULL: unknown (never 0 for "unknown")
);
CREATE INDEX IF NOT EXISTS spend_calls_tenant_day ON spend_calls (tenant, day);
CREATE INDEX IF NOT EXISTS spend_calls_day ON spend_calls (day);
)sql";

std::string NowIsoSeconds() {
  std::time_t secs = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class SqliteSpendLedger : public SpendLedger {
 public:
  SqliteSpendLedger(std::string path, SqliteHandle db, bool read_only, bool has_tables)
      : path_(std::move(path)),
        db_(std::move(db)),
        read_only_(read_only),
        has_tables_(has_tables) {}

  Status Record(const SpendRecord& r) override {
    if (read_only_) {
      return FailedPreconditionError("spend state database " + path_ + " is open read-only");
    }
    if (!IsValidDay(r.day)) {
      return InvalidArgumentError("spend record: day '" + r.day + "' is not YYYY-MM-DD");
    }
    if (r.cost_usd && (!std::isfinite(*r.cost_usd) || *r.cost_usd < 0)) {
      return InvalidArgumentError("spend record: cost must be a finite number >= 0");
    }
    std::lock_guard<std::mutex> lock(mu_);
    static constexpr char kSql[] =
        "INSERT INTO spend_calls (recorded_at, tenant, day, provider, model, pricing_version, "
        "usage_known, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, "
        "cache_write_1h_tokens, reasoning_tokens, cost_usd) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    Result<SqliteStatement> stmt = Prepare(kSql);
    if (!stmt.ok()) return stmt.status();
    const std::string now = NowIsoSeconds();
    int i = 1;
    stmt->BindText(i++, now);
    stmt->BindText(i++, r.tenant);
    stmt->BindText(i++, r.day);
    stmt->BindText(i++, r.provider);
    stmt->BindText(i++, r.model);
    stmt->BindText(i++, r.pricing_version);
    stmt->BindInt64(i++, r.usage.known ? 1 : 0);
    for (int64_t n : {r.usage.input, r.usage.output, r.usage.cache_read, r.usage.cache_write_5m,
                      r.usage.cache_write_1h, r.usage.reasoning}) {
      stmt->BindInt64(i++, n);
    }
    if (r.cost_usd) {
      stmt->BindDouble(i++, *r.cost_usd);
    } else {
      stmt->BindNull(i++);
    }
    // Autocommit: the row is durable (synchronous=FULL) when the step returns DONE.
    int rc = stmt->Step();
    if (rc != SQLITE_DONE) {
      return UnavailableError("cannot record spend in " + path_ + ": " + SqliteMessage(db_.get()));
    }
    return Status::Ok();
  }

  Result<double> DaySpend(const std::string& tenant, const std::string& day) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!has_tables_ && !RefreshHasTables()) return 0.0;
    Result<SqliteStatement> stmt = Prepare(
        "SELECT COALESCE(SUM(cost_usd), 0) FROM spend_calls "
        "WHERE tenant = ? AND day = ? AND cost_usd IS NOT NULL");
    if (!stmt.ok()) return stmt.status();
    stmt->BindText(1, tenant);
    stmt->BindText(2, day);
    int rc = stmt->Step();
    if (rc != SQLITE_ROW) {
      return UnavailableError("cannot read spend from " + path_ + ": " + SqliteMessage(db_.get()));
    }
    return stmt->ColumnDouble(0);
  }

  Result<std::vector<SpendTotals>> Totals(const std::string& tenant, const std::string& from_day,
                                          const std::string& to_day) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SpendTotals> rows;
    if (!has_tables_ && !RefreshHasTables()) return rows;
    std::string sql =
        "SELECT tenant, day, provider, model, COUNT(*), SUM(input_tokens), SUM(output_tokens), "
        "SUM(cache_read_tokens), SUM(cache_write_5m_tokens + cache_write_1h_tokens), "
        "COALESCE(SUM(cost_usd), 0), SUM(cost_usd IS NULL) FROM spend_calls WHERE 1";
    std::vector<std::string> binds;
    if (!tenant.empty()) {
      sql += " AND tenant = ?";
      binds.push_back(tenant);
    }
    if (!from_day.empty()) {
      sql += " AND day >= ?";
      binds.push_back(from_day);
    }
    if (!to_day.empty()) {
      sql += " AND day <= ?";
      binds.push_back(to_day);
    }
    sql += " GROUP BY tenant, day, provider, model ORDER BY tenant, day, provider, model";
    Result<SqliteStatement> stmt = Prepare(sql.c_str());
    if (!stmt.ok()) return stmt.status();
    SqliteStatement& s = *stmt;
    for (size_t i = 0; i < binds.size(); ++i) s.BindText(static_cast<int>(i + 1), binds[i]);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      SpendTotals t;
      t.tenant = s.ColumnText(0);
      t.day = s.ColumnText(1);
      t.provider = s.ColumnText(2);
      t.model = s.ColumnText(3);
      t.calls = s.ColumnInt64(4);
      t.input = s.ColumnInt64(5);
      t.output = s.ColumnInt64(6);
      t.cache_read = s.ColumnInt64(7);
      t.cache_write = s.ColumnInt64(8);
      t.cost_usd = s.ColumnDouble(9);
      t.unknown_cost_calls = s.ColumnInt64(10);
      rows.push_back(std::move(t));
    }
    if (rc != SQLITE_DONE) {
      return UnavailableError("cannot read spend from " + path_ + ": " + SqliteMessage(db_.get()));
    }
    return rows;
  }

 private:
  Result<SqliteStatement> Prepare(const char* sql) {
    Result<SqliteStatement> stmt = SqliteStatement::Prepare(db_.get(), sql);
    if (!stmt.ok()) return stmt.status().WithContext("spend state database " + path_);
    return stmt;
  }

  // Read-only opens: the tables may appear later (another process's first Record).
  bool RefreshHasTables() {
    Result<SqliteStatement> stmt = SqliteStatement::Prepare(
        db_.get(), "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spend_calls'");
    if (!stmt.ok()) return false;
    has_tables_ = stmt->Step() == SQLITE_ROW;
    return has_tables_;
  }

  const std::string path_;
  std::mutex mu_;
  SqliteHandle db_;  // guarded by mu_
  const bool read_only_;
  bool has_tables_;  // guarded by mu_
};

constexpr char kWhat[] = "spend state database";

Status Exec(sqlite3* db, const char* sql, const std::string& path) {
  return ExecStateSql(db, sql, kWhat, path);
}

// The schema_version in spend_meta; 0 when absent.
Result<int> SchemaVersion(sqlite3* db, const std::string& path) {
  Result<SqliteStatement> stmt =
      SqliteStatement::Prepare(db, "SELECT value FROM spend_meta WHERE key = 'schema_version'");
  if (!stmt.ok()) return stmt.status().WithContext("spend state database " + path);
  int rc = stmt->Step();
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) {
    return UnavailableError("spend state database " + path + ": " + SqliteMessage(db));
  }
  return std::atoi(stmt->ColumnText(0).c_str());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SpendLedger.

Result<std::unique_ptr<SpendLedger>> SpendLedger::Open(const std::string& path) {
  if (path.empty()) return InvalidArgumentError("no spend state database path");
  Status st = MakeStateDirs(StateParentDir(path));
  if (!st.ok()) return st.WithContext("spend state database " + path);
  Result<SqliteHandle> db = OpenStateDb(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kWhat);
  if (!db.ok()) return db.status();
  sqlite3* h = db->get();
  // WAL lets `fasten-mcp spend` read while serve writes; FULL makes each committed Record
  // survive a crash as well as a restart.
  FASTEN_RETURN_IF_ERROR(Exec(h, "PRAGMA journal_mode=WAL", path));
  FASTEN_RETURN_IF_ERROR(Exec(h, "PRAGMA synchronous=FULL", path));
  FASTEN_RETURN_IF_ERROR(Exec(h, "BEGIN IMMEDIATE", path));
  Status schema = Exec(h, kSchema, path);
  Result<int> version = schema.ok() ? SchemaVersion(h, path) : Result<int>(schema);
  if (!version.ok()) {
    (void)Exec(h, "ROLLBACK", path);
    return version.status();
  }
  if (*version > kSchemaVersion) {
    (void)Exec(h, "ROLLBACK", path);
    return FailedPreconditionError("spend state database " + path + " has schema version " +
                                   std::to_string(*version) + ", newer than this fasten-mcp (" +
                                   std::to_string(kSchemaVersion) + "): upgrade fasten-mcp");
  }
  if (*version == 0) {
    Status ins =
        Exec(h, "INSERT INTO spend_meta (key, value) VALUES ('schema_version', '1')", path);
    if (!ins.ok()) {
      (void)Exec(h, "ROLLBACK", path);
      return ins;
    }
  }
  FASTEN_RETURN_IF_ERROR(Exec(h, "COMMIT", path));
  return std::unique_ptr<SpendLedger>(
      new SqliteSpendLedger(path, std::move(db).value(), /*read_only=*/false, true));
}

Result<std::unique_ptr<SpendLedger>> SpendLedger::OpenReadOnly(const std::string& path) {
  if (path.empty()) return InvalidArgumentError("no spend state database path");
  if (!StatePathExists(path)) return NotFoundError("no spend state database at " + path);
  Result<SqliteHandle> db = OpenStateDb(path, SQLITE_OPEN_READONLY, kWhat);
  if (!db.ok()) return db.status();
  sqlite3* h = db->get();
  // Fails here (not on the first query) when the file is not a database.
  bool has_tables = false;
  {
    Result<SqliteStatement> stmt = SqliteStatement::Prepare(
        h, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'spend_calls'");
    if (!stmt.ok() || stmt->Step() != SQLITE_ROW) {
      return UnavailableError("cannot read spend state database " + path + ": " + SqliteMessage(h));
    }
    has_tables = stmt->ColumnInt64(0) > 0;
  }
  if (has_tables) {
    Result<int> version = SchemaVersion(h, path);
    if (version.ok() && *version > kSchemaVersion) {
      return FailedPreconditionError("spend state database " + path + " has schema version " +
                                     std::to_string(*version) +
                                     ", newer than this fasten-mcp: upgrade fasten-mcp");
    }
  }
  return std::unique_ptr<SpendLedger>(
      new SqliteSpendLedger(path, std::move(db).value(), /*read_only=*/true, has_tables));
}

// ---------------------------------------------------------------------------------------------
// Caps.

std::optional<double> CostCaps::For(const std::string& tenant) const {
  auto it = tenants.find(tenant);
  if (it != tenants.end()) return it->second;
  return default_usd;
}

Result<CostCaps> CostCaps::Parse(const std::string& text, const std::string& origin) {
  const std::string where = "cost caps " + origin;
  Result<json> parsed = ParseJsonObject(text, where);
  if (!parsed.ok()) return parsed.status();
  CostCaps caps;
  caps.origin = origin;
  for (const auto& [key, v] : parsed->items()) {
    if (key == "default_usd") {
      if (v.is_null()) continue;  // explicitly uncapped
      double d = 0;
      FASTEN_RETURN_IF_ERROR(NonNegative(v, where + ": default_usd", &d));
      caps.default_usd = d;
    } else if (key == "tenants") {
      if (!v.is_object()) {
        return InvalidArgumentError(where + ": tenants must be an object {\"TENANT\": USD}");
      }
      for (const auto& [tenant, cap] : v.items()) {
        if (tenant.empty()) return InvalidArgumentError(where + ": empty tenant name");
        double d = 0;
        FASTEN_RETURN_IF_ERROR(NonNegative(cap, where + ": tenants[\"" + tenant + "\"]", &d));
        caps.tenants[tenant] = d;
      }
    } else if (!IsCommentKey(key)) {
      return InvalidArgumentError(where + ": unknown field '" + key +
                                  "' (known: default_usd, tenants)");
    }
  }
  return caps;
}

Result<CostCaps> CostCaps::Load(const std::string& path) {
  std::string text;
  FASTEN_RETURN_IF_ERROR(ReadSmallFile(path, "cost caps file", &text));
  return Parse(text, path);
}

Status CheckCap(SpendLedger& ledger, const CostCaps& caps, const std::string& tenant,
                const std::string& day, double estimate_usd) {
  std::optional<double> cap = caps.For(tenant);
  if (!cap) return Status::Ok();
  Result<double> spent = ledger.DaySpend(tenant, day);
  if (!spent.ok()) {
    // Fail closed: a cap that cannot be checked is not enforced by guessing.
    return spent.status().WithContext("cannot check the daily cost cap of tenant " + tenant +
                                      " (no model call was made)");
  }
  const double estimate = std::isfinite(estimate_usd) && estimate_usd > 0 ? estimate_usd : 0;
  const std::string fix = "; no model call was made; the cap resets at 00:00 UTC or raise it in " +
                          (caps.origin.empty() ? std::string("the cost caps file") : caps.origin);
  if (*spent >= *cap) {
    return ResourceExhaustedError("tenant " + tenant + " reached its daily cap of " + Usd(*cap) +
                                  " (spent " + Usd(*spent) + " on " + day + ")" + fix);
  }
  if (*spent + estimate > *cap) {
    return ResourceExhaustedError("tenant " + tenant + " would pass its daily cap of " + Usd(*cap) +
                                  " (spent " + Usd(*spent) + " on " + day +
                                  ", the next call is estimated at " + Usd(estimate) + ")" + fix);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Days and paths.

std::string UtcToday() {
  return UtcDay(std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count());
}

std::string UtcDay(int64_t unix_micros) {
  int64_t secs = unix_micros / 1000000;
  if (unix_micros % 1000000 < 0) --secs;  // floor for times before 1970
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

bool IsValidDay(const std::string& day) {
  if (day.size() != 10 || day[4] != '-' || day[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (day[i] < '0' || day[i] > '9') return false;
  }
  const int y = std::stoi(day.substr(0, 4)), m = std::stoi(day.substr(5, 2)),
            d = std::stoi(day.substr(8, 2));
  if (m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

std::string DefaultStatePath(
    const std::function<std::optional<std::string>(const std::string&)>& getenv) {
  auto get = [&](const char* name) -> std::string {
    std::optional<std::string> v = getenv(name);
    return v ? *v : std::string();
  };
  if (std::string dir = get("FASTEN_STATE_DIR"); !dir.empty()) return dir + "/state.db";
  if (std::string dir = get("XDG_STATE_HOME"); !dir.empty()) {
    return dir + "/fasten-mcp/state.db";
  }
  if (std::string home = get("HOME"); !home.empty()) {
    return home + "/.local/state/fasten-mcp/state.db";
  }
  return "";
}

std::string DefaultStatePath() {
  return DefaultStatePath(ProcessEnv);
}

}  // namespace fasten::llm
