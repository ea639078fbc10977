#include "llm/spend.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/handles.h"
#include "util/json_parse.h"
#include "util/state_db.h"

namespace fasten::llm {
namespace {

using nlohmann::json;

constexpr size_t kMaxConfigBytes = 4 << 20;
constexpr int kSchemaVersion = 1;

// ---------------------------------------------------------------------------------------------
// Small helpers.

// Reads a whole (small) configuration file; `what` names it in errors.
Status ReadSmallFile(const std::string& path, const std::string& what, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!StatePathExists(path)) return NotFoundError("no " + what + " at " + path);
    return UnavailableError("cannot read " + what + " " + path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return UnavailableError("cannot read " + what + " " + path);
  *out = ss.str();
  if (out->size() > kMaxConfigBytes) {
    return InvalidArgumentError(what + " " + path + " is larger than 4 MiB");
  }
  return Status::Ok();
}

Result<json> ParseJsonObject(const std::string& text, const std::string& origin) {
  json doc;
  FASTEN_RETURN_IF_ERROR(
      ParseJsonStatus(text, JsonLimits{text.size(), kMaxJsonDepth}, origin, &doc));
  if (!doc.is_object()) return InvalidArgumentError(origin + ": the top level must be an object");
  return doc;
}

// Keys a human may add for documentation: "comment", or anything starting with '_'.
bool IsCommentKey(const std::string& key) {
  return key == "comment" || (!key.empty() && key[0] == '_');
}

// A price or cap: a finite number >= 0.
Status NonNegative(const json& v, const std::string& where, double* out) {
  if (!v.is_number()) return InvalidArgumentError(where + " must be a number");
  double d = v.get<double>();
  if (!std::isfinite(d) || d < 0) {
    return InvalidArgumentError(where + " must be a finite number >= 0, got " + v.dump());
  }
  *out = d;
  return Status::Ok();
}

// The rate fields of a model entry (or of its long_context block) into *price. Fields absent from
// `entry` keep the value *price already has. *saw_cache_read says whether a cache-read rate was
// given.
Status ParseRates(const json& entry, const std::string& where, bool is_long_context,
                  ModelPrice* price, bool* saw_input, bool* saw_output, bool* saw_cache_read,
                  bool* saw_cw5m, bool* saw_cw1h, int64_t* threshold) {
  std::optional<double> cache_read, cached_input;
  for (const auto& [key, v] : entry.items()) {
    const std::string field = where + "." + key;
    if (key == "input_per_mtok") {
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &price->input));
      *saw_input = true;
    } else if (key == "output_per_mtok") {
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &price->output));
      *saw_output = true;
    } else if (key == "cache_read_per_mtok") {
      double d = 0;
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &d));
      cache_read = d;
    } else if (key == "cached_input_per_mtok") {  // OpenAI's name for the same thing
      double d = 0;
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &d));
      cached_input = d;
    } else if (key == "cache_write_5m_per_mtok") {
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &price->cache_write_5m));
      *saw_cw5m = true;
    } else if (key == "cache_write_1h_per_mtok") {
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &price->cache_write_1h));
      *saw_cw1h = true;
    } else if (key == "threshold_tokens" && is_long_context) {
      if (!v.is_number_integer() || v.get<int64_t>() <= 0) {
        return InvalidArgumentError(field + " must be a positive integer, got " + v.dump());
      }
      *threshold = v.get<int64_t>();
    } else if (key == "long_context" && !is_long_context) {
      continue;  // parsed by the caller
    } else if (!IsCommentKey(key)) {
      return InvalidArgumentError(
          "unknown field " + field +
          " (known: input_per_mtok, output_per_mtok, cache_read_per_mtok or "
          "cached_input_per_mtok, cache_write_5m_per_mtok, cache_write_1h_per_mtok" +
          (is_long_context ? ", threshold_tokens" : ", long_context") + ")");
    }
  }
  if (cache_read && cached_input && *cache_read != *cached_input) {
    return InvalidArgumentError(where +
                                " gives both cache_read_per_mtok and cached_input_per_mtok "
                                "with different values: keep one");
  }
  if (cache_read || cached_input) {
    price->cache_read = cache_read ? *cache_read : *cached_input;
    *saw_cache_read = true;
  }
  return Status::Ok();
}

// A model key: "<provider>/<model>" or "<provider>/*".
Status CheckModelKey(const std::string& key) {
  size_t slash = key.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == key.size()) {
    return InvalidArgumentError("model key '" + key +
                                "' must be \"<provider>/<model>\" or \"<provider>/*\"");
  }
  std::string model = key.substr(slash + 1);
  if (model != "*" && model.find('*') != std::string::npos) {
    return InvalidArgumentError("model key '" + key +
                                "': '*' is only allowed as the whole model part (\"" +
                                key.substr(0, slash) + "/*\")");
  }
  return Status::Ok();
}

std::string SqliteError(sqlite3* db) {
  return db ? sqlite3_errmsg(db) : "out of memory";
}

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

// The executable's directory, from /proc/self/exe; empty when unknown.
std::string ExecutableDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  return StateParentDir(buf);
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
    Result<SqliteStmt> stmt = Prepare(kSql);
    if (!stmt.ok()) return stmt.status();
    sqlite3_stmt* s = stmt->get();
    const std::string now = NowIsoSeconds();
    int i = 1;
    BindText(s, i++, now);
    BindText(s, i++, r.tenant);
    BindText(s, i++, r.day);
    BindText(s, i++, r.provider);
    BindText(s, i++, r.model);
    BindText(s, i++, r.pricing_version);
    sqlite3_bind_int(s, i++, r.usage.known ? 1 : 0);
    for (int64_t n : {r.usage.input, r.usage.output, r.usage.cache_read, r.usage.cache_write_5m,
                      r.usage.cache_write_1h, r.usage.reasoning}) {
      sqlite3_bind_int64(s, i++, n);
    }
    if (r.cost_usd) {
      sqlite3_bind_double(s, i++, *r.cost_usd);
    } else {
      sqlite3_bind_null(s, i++);
    }
    // Autocommit: the row is durable (synchronous=FULL) when sqlite3_step returns DONE.
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
      return UnavailableError("cannot record spend in " + path_ + ": " + SqliteError(db_.get()));
    }
    return Status::Ok();
  }

  Result<double> DaySpend(const std::string& tenant, const std::string& day) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!has_tables_ && !RefreshHasTables()) return 0.0;
    Result<SqliteStmt> stmt = Prepare(
        "SELECT COALESCE(SUM(cost_usd), 0) FROM spend_calls "
        "WHERE tenant = ? AND day = ? AND cost_usd IS NOT NULL");
    if (!stmt.ok()) return stmt.status();
    BindText(stmt->get(), 1, tenant);
    BindText(stmt->get(), 2, day);
    int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_ROW) {
      return UnavailableError("cannot read spend from " + path_ + ": " + SqliteError(db_.get()));
    }
    return sqlite3_column_double(stmt->get(), 0);
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
    Result<SqliteStmt> stmt = Prepare(sql.c_str());
    if (!stmt.ok()) return stmt.status();
    sqlite3_stmt* s = stmt->get();
    for (size_t i = 0; i < binds.size(); ++i) BindText(s, static_cast<int>(i + 1), binds[i]);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      SpendTotals t;
      t.tenant = ColumnText(s, 0);
      t.day = ColumnText(s, 1);
      t.provider = ColumnText(s, 2);
      t.model = ColumnText(s, 3);
      t.calls = sqlite3_column_int64(s, 4);
      t.input = sqlite3_column_int64(s, 5);
      t.output = sqlite3_column_int64(s, 6);
      t.cache_read = sqlite3_column_int64(s, 7);
      t.cache_write = sqlite3_column_int64(s, 8);
      t.cost_usd = sqlite3_column_double(s, 9);
      t.unknown_cost_calls = sqlite3_column_int64(s, 10);
      rows.push_back(std::move(t));
    }
    if (rc != SQLITE_DONE) {
      return UnavailableError("cannot read spend from " + path_ + ": " + SqliteError(db_.get()));
    }
    return rows;
  }

 private:
  Result<SqliteStmt> Prepare(const char* sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr);
    SqliteStmt stmt(raw);
    if (rc != SQLITE_OK) {
      return UnavailableError("spend state database " + path_ + ": " + SqliteError(db_.get()));
    }
    return stmt;
  }

  static void BindText(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }

  static std::string ColumnText(sqlite3_stmt* s, int i) {
    const unsigned char* p = sqlite3_column_text(s, i);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(s, i)))
             : std::string();
  }

  // Read-only opens: the tables may appear later (another process's first Record).
  bool RefreshHasTables() {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(),
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                           "'spend_calls'",
                           -1, &raw, nullptr) != SQLITE_OK) {
      return false;
    }
    SqliteStmt stmt(raw);
    has_tables_ = sqlite3_step(raw) == SQLITE_ROW;
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
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT value FROM spend_meta WHERE key = 'schema_version'", -1, &raw,
                         nullptr) != SQLITE_OK) {
    return UnavailableError("spend state database " + path + ": " + SqliteError(db));
  }
  SqliteStmt stmt(raw);
  int rc = sqlite3_step(raw);
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) {
    return UnavailableError("spend state database " + path + ": " + SqliteError(db));
  }
  return std::atoi(reinterpret_cast<const char*>(sqlite3_column_text(raw, 0)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PriceTable.

Result<PriceTable> PriceTable::Parse(const std::string& text, const std::string& origin) {
  Result<json> parsed = ParseJsonObject(text, "price table " + origin);
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  const std::string where = "price table " + origin;
  PriceTable table;
  table.origin_ = origin;
  for (const auto& [key, v] : doc.items()) {
    if (key == "pricing_version") {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return InvalidArgumentError(where + ": pricing_version must be a non-empty string");
      }
      table.version_ = v.get<std::string>();
    } else if (key == "currency") {
      if (!v.is_string()) return InvalidArgumentError(where + ": currency must be a string");
      table.currency_ = v.get<std::string>();
    } else if (key == "effective_date") {
      if (!v.is_string()) return InvalidArgumentError(where + ": effective_date must be a string");
    } else if (key != "models" && !IsCommentKey(key)) {
      return InvalidArgumentError(where + ": unknown field '" + key +
                                  "' (known: pricing_version, effective_date, currency, models)");
    }
  }
  if (table.version_.empty()) {
    return InvalidArgumentError(where +
                                ": pricing_version is missing (every cost records the version "
                                "of the table it was computed with)");
  }
  if (table.currency_.empty()) return InvalidArgumentError(where + ": currency is missing");
  if (table.currency_ != "USD") {
    return InvalidArgumentError(where + ": currency '" + table.currency_ +
                                "' is not supported (costs and caps are in USD)");
  }
  auto models = doc.find("models");
  if (models == doc.end() || !models->is_object()) {
    return InvalidArgumentError(where +
                                ": models must be an object of \"<provider>/<model>\" "
                                "entries");
  }
  for (const auto& [key, entry] : models->items()) {
    if (IsCommentKey(key)) continue;
    Status st = CheckModelKey(key);
    if (!st.ok()) return st.WithContext(where);
    const std::string ew = "models[\"" + key + "\"]";
    if (!entry.is_object()) return InvalidArgumentError(where + ": " + ew + " must be an object");
    ModelPrice price;
    bool in = false, out = false, cr = false, cw5 = false, cw1 = false;
    int64_t unused = 0;
    st = ParseRates(entry, ew, false, &price, &in, &out, &cr, &cw5, &cw1, &unused);
    if (!st.ok()) return st.WithContext(where);
    if (!in || !out) {
      return InvalidArgumentError(where + ": " + ew +
                                  " needs input_per_mtok and output_per_mtok (0 for free models)");
    }
    // A cache rate the table does not give is charged at the input rate: never cheaper than
    // what the table says, never a silent $0.
    if (!cr) price.cache_read = price.input;
    if (!cw5) price.cache_write_5m = price.input;
    if (!cw1) price.cache_write_1h = price.input;
    auto lc = entry.find("long_context");
    if (lc != entry.end()) {
      const std::string lw = ew + ".long_context";
      if (!lc->is_object()) return InvalidArgumentError(where + ": " + lw + " must be an object");
      LongContext longc;
      longc.rates = price;  // rates it does not give are the base ones
      bool lin = false, lout = false, lcr = false, lcw5 = false, lcw1 = false;
      st = ParseRates(*lc, lw, true, &longc.rates, &lin, &lout, &lcr, &lcw5, &lcw1,
                      &longc.threshold_tokens);
      if (!st.ok()) return st.WithContext(where);
      if (longc.threshold_tokens <= 0) {
        return InvalidArgumentError(where + ": " + lw + " needs threshold_tokens");
      }
      table.long_context_[key] = longc;
    }
    table.models_[key] = price;
  }
  return table;
}

Result<PriceTable> PriceTable::Load(const std::string& path) {
  std::string text;
  FASTEN_RETURN_IF_ERROR(ReadSmallFile(path, "price table", &text));
  return Parse(text, path);
}

Result<PriceTable> PriceTable::Default() {
  std::vector<std::string> searched;
  if (std::optional<std::string> env = ProcessEnv("FASTEN_PRICES"); env && !env->empty()) {
    // An explicit choice: its errors are reported, never silently replaced by another table.
    Result<PriceTable> t = Load(*env);
    if (!t.ok()) return t.status().WithContext("FASTEN_PRICES");
    return t;
  }
  searched.push_back("$FASTEN_PRICES (unset)");
  std::vector<std::string> candidates;
  std::string exe = ExecutableDir();
  if (!exe.empty()) {
    candidates.push_back(exe + "/../share/fasten-mcp/prices.json");
    candidates.push_back(exe + "/data/prices.json");
  }
#ifdef FASTEN_DATA_DIR
  candidates.push_back(std::string(FASTEN_DATA_DIR) + "/prices.json");
#endif
  for (const std::string& c : candidates) {
    if (StatePathExists(c)) return Load(c);
    searched.push_back(c);
  }
  std::string list;
  for (const std::string& s : searched) list += (list.empty() ? "" : ", ") + s;
  return NotFoundError("no price table found (looked in: " + list +
                       "); set FASTEN_PRICES to a prices.json (format: data/prices.json in the "
                       "fasten-mcp sources)");
}

const std::string* PriceTable::FindKey(const std::string& provider,
                                       const std::string& model) const {
  auto it = models_.find(provider + "/" + model);
  if (it == models_.end()) it = models_.find(provider + "/*");
  return it == models_.end() ? nullptr : &it->first;
}

std::optional<ModelPrice> PriceTable::Find(const std::string& provider,
                                           const std::string& model) const {
  if (provider.empty() || model.empty()) return std::nullopt;
  const std::string* key = FindKey(provider, model);
  if (!key) return std::nullopt;
  return models_.at(*key);
}

std::optional<double> PriceTable::Cost(const std::string& provider, const std::string& model,
                                       const Usage& u) const {
  if (!u.known) return std::nullopt;
  if (u.input < 0 || u.output < 0 || u.cache_read < 0 || u.cache_write_5m < 0 ||
      u.cache_write_1h < 0) {
    return std::nullopt;
  }
  if (provider.empty() || model.empty()) return std::nullopt;
  const std::string* key = FindKey(provider, model);
  if (!key) return std::nullopt;
  ModelPrice p = models_.at(*key);
  auto lc = long_context_.find(*key);
  if (lc != long_context_.end()) {
    const int64_t prompt = u.input + u.cache_read + u.cache_write_5m + u.cache_write_1h;
    if (prompt > lc->second.threshold_tokens) p = lc->second.rates;
  }
  // Anthropic and OpenAI-style usage share one formula: `input` is the uncached prompt (OpenAI:
  // prompt_tokens - cached_tokens), cache_read the cached prompt (OpenAI: cached_tokens, priced
  // at cached_input), and OpenAI reports no cache writes.
  double micro = static_cast<double>(u.input) * p.input +
                 static_cast<double>(u.cache_write_5m) * p.cache_write_5m +
                 static_cast<double>(u.cache_write_1h) * p.cache_write_1h +
                 static_cast<double>(u.cache_read) * p.cache_read +
                 static_cast<double>(u.output) * p.output;
  return micro / 1e6;
}

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
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(
      h, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'spend_calls'", -1,
      &raw, nullptr);
  SqliteStmt stmt(raw);
  if (rc != SQLITE_OK || sqlite3_step(raw) != SQLITE_ROW) {
    return UnavailableError("cannot read spend state database " + path + ": " + SqliteError(h));
  }
  bool has_tables = sqlite3_column_int(raw, 0) > 0;
  stmt.reset();
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
