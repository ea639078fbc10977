// Spend: the ledger, a small SQLite state database of our own (never the fasten store, which
// stays read-only) recording every model call's usage and cost per tenant and UTC day, and the
// per-tenant daily caps checked against it. The price table that costs come from is llm/prices.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "llm/provider.h"
#include "util/status.h"

namespace fasten::llm {

// One model call as recorded.
struct SpendRecord {
  std::string tenant;
  std::string day;  // UTC YYYY-MM-DD
  std::string provider, model, pricing_version;
  Usage usage;
  std::optional<double> cost_usd;  // nullopt: unknown
};

struct SpendTotals {
  std::string tenant, day, provider, model;
  int64_t calls = 0, input = 0, output = 0, cache_read = 0, cache_write = 0;
  double cost_usd = 0;  // of the calls whose cost is known
  int64_t unknown_cost_calls = 0;
};

// The state database: spend per tenant, per UTC day, per model. Thread-safe (one connection,
// serialised). Survives restarts: every Record is committed before it returns.
class SpendLedger {
 public:
  // Opens (creating the file and its directory if needed) the state database at `path`.
  static Result<std::unique_ptr<SpendLedger>> Open(const std::string& path);
  // Opens an existing state database read-only (never creates or migrates it): NotFound when
  // there is no file at `path`. A database without spend tables reads as empty. Record fails.
  static Result<std::unique_ptr<SpendLedger>> OpenReadOnly(const std::string& path);
  virtual ~SpendLedger() = default;

  virtual Status Record(const SpendRecord& record) = 0;
  // Known USD spent by `tenant` on `day` (all models).
  virtual Result<double> DaySpend(const std::string& tenant, const std::string& day) = 0;
  // Rows for a tenant (empty: all tenants) between two days inclusive (empty: unbounded).
  virtual Result<std::vector<SpendTotals>> Totals(const std::string& tenant,
                                                  const std::string& from_day,
                                                  const std::string& to_day) = 0;
};

// Per-tenant daily caps: {"default_usd": 5.0, "tenants": {"acme": 20.0}}; a tenant without an
// entry gets default_usd; no default: uncapped.
struct CostCaps {
  std::optional<double> default_usd;
  std::map<std::string, double> tenants;
  std::optional<double> For(const std::string& tenant) const;
  static Result<CostCaps> Parse(const std::string& text, const std::string& origin);
  static Result<CostCaps> Load(const std::string& path);
  std::string origin;  // the file the caps came from (named in CheckCap's message); set by Parse
};

// Before a model call: ResourceExhausted ("tenant T reached its daily cap of $X (spent $Y on
// DAY); no model call was made; the cap resets at 00:00 UTC or raise it in FILE") when
// spent + estimate would pass the cap. `estimate_usd` may be 0.
Status CheckCap(SpendLedger& ledger, const CostCaps& caps, const std::string& tenant,
                const std::string& day, double estimate_usd);

// UTC day of a Unix time in microseconds: "YYYY-MM-DD".
std::string UtcDay(int64_t unix_micros);
// Today (UTC, from the system clock): UtcDay(now).
std::string UtcToday();
// Is `day` a real calendar day written "YYYY-MM-DD"?
bool IsValidDay(const std::string& day);

// The state database path shared by investigate, serve and spend: $FASTEN_STATE_DIR/state.db,
// else $XDG_STATE_HOME/fasten-mcp/state.db, else $HOME/.local/state/fasten-mcp/state.db (empty
// variables count as unset). Empty when none of the three is set.
std::string DefaultStatePath();
// The same, reading variables through `getenv` (tests, app::Env).
std::string DefaultStatePath(
    const std::function<std::optional<std::string>(const std::string&)>& getenv);

}  // namespace fasten::llm
