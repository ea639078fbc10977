// `fasten-mcp spend`: what the investigate loop spent, per tenant, UTC day and model, read from
// the spend state database (llm/spend_ledger.h). Read-only: it never creates or changes the
// database.
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "app/commands.h"
#include "app/investigator_flags.h"
#include "llm/prices.h"
#include "llm/spend_ledger.h"

namespace fasten {

const char kSpendHelp[] =
    R"(Usage: fasten-mcp spend [--state PATH] [--tenant T] [--from DAY] [--to DAY] [--caps FILE]
                      [--json]

Shows what `investigate` (and the investigate tool of `serve`) spent on model calls, per tenant,
UTC day, provider and model: calls, tokens (input = uncached prompt, output, cache reads, cache
writes) and cost in USD under the price table in force when each call was made. A call whose
model has no price, or whose provider reported no usage, has cost "unknown": it is counted, never
added as $0. Reads the state database only; it never changes it.

Options:
  --state PATH   the state database (default: $FASTEN_STATE_DIR/state.db, else
                 $XDG_STATE_HOME/fasten-mcp/state.db, else ~/.local/state/fasten-mcp/state.db)
  --tenant T     only tenant T
  --from DAY     only days >= DAY (YYYY-MM-DD, UTC)
  --to DAY       only days <= DAY (YYYY-MM-DD, UTC)
  --caps FILE    also show each tenant's daily cap for today (UTC), what it spent today and what
                 remains; FILE is the caps file given to investigate/serve:
                 {"default_usd": 5.0, "tenants": {"acme": 20.0}}
  --json         the same as JSON on stdout

Exit status: 0 success (also when nothing was recorded yet), 2 usage or I/O error.
)";

namespace {

using nlohmann::json;

int Fail(CommandIo& io, const Status& st) {
  io.err << "fasten-mcp spend: " << st.message() << "\n";
  return kExitUsage;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The cost cell: known USD, "unknown" when no call's cost is known, or both.
std::string CostCell(double known, int64_t calls, int64_t unknown) {
  if (calls > 0 && unknown == calls) return "unknown";
  std::string s = Fixed(known, 4);
  if (unknown > 0) s += " + " + std::to_string(unknown) + " unknown";
  return s;
}

json CostJson(double known, int64_t calls, int64_t unknown) {
  // cost_usd is the total only when every call's cost is known; known_cost_usd always sums the
  // known ones.
  return json{{"cost_usd", unknown == 0 ? json(known) : json(nullptr)},
              {"known_cost_usd", known},
              {"unknown_cost_calls", unknown},
              {"calls", calls}};
}

struct CapRow {
  std::string tenant;
  std::optional<double> cap;
  bool from_default = false;
  double spent = 0;
  int64_t unknown_today = 0;
};

void PrintTable(const std::vector<std::vector<std::string>>& rows, size_t left_columns,
                std::ostream& out) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      if (i > 0) line += "  ";
      std::string pad(width[i] - r[i].size(), ' ');
      line += i < left_columns ? r[i] + (i + 1 < r.size() ? pad : "") : pad + r[i];
    }
    out << line << "\n";
  }
}

}  // namespace

int RunSpend(int argc, char** argv, CommandIo io) {
  const std::vector<FlagSpec> specs = {{"state", true}, {"tenant", true}, {"from", true},
                                       {"to", true},    {"caps", true},   {"json", false}};
  Result<Args> args = Args::Parse("spend", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, args.status());
  if (args->Has("help")) {
    io.out << kSpendHelp;
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return Fail(io, InvalidArgumentError("unexpected argument '" + args->positionals()[0] +
                                         "' (see fasten-mcp spend --help)"));
  }
  const std::string tenant = args->Get("tenant").value_or("");
  if (args->Has("tenant") && tenant.empty()) {
    return Fail(io, InvalidArgumentError("--tenant is empty"));
  }
  const std::string from = args->Get("from").value_or("");
  const std::string to = args->Get("to").value_or("");
  for (const auto& [flag, day] : {std::pair{"from", from}, std::pair{"to", to}}) {
    if (args->Has(flag) && !llm::IsValidDay(day)) {
      return Fail(io, InvalidArgumentError(std::string("--") + flag + " must be a day written " +
                                           "YYYY-MM-DD (UTC), got '" + day + "'"));
    }
  }
  if (!from.empty() && !to.empty() && from > to) {
    return Fail(io, InvalidArgumentError("--from " + from + " is after --to " + to));
  }
  Result<std::string> state_path = StatePathFromArgs(*args, io.env);
  if (!state_path.ok()) return Fail(io, state_path.status());
  const std::string state = *state_path;
  std::optional<llm::CostCaps> caps;
  if (std::optional<std::string> caps_path = args->Get("caps")) {
    if (caps_path->empty()) return Fail(io, InvalidArgumentError("--caps is empty"));
    Result<llm::CostCaps> loaded = llm::CostCaps::Load(*caps_path);
    if (!loaded.ok()) return Fail(io, loaded.status());
    caps = std::move(loaded).value();
  }
  const bool as_json = args->Has("json");

  std::unique_ptr<llm::SpendLedger> ledger;
  {
    Result<std::unique_ptr<llm::SpendLedger>> opened = llm::SpendLedger::OpenReadOnly(state);
    if (!opened.ok() && opened.status().code() != StatusCode::kNotFound) {
      return Fail(io, opened.status());
    }
    if (opened.ok()) ledger = std::move(opened).value();
  }

  std::vector<llm::SpendTotals> rows;
  if (ledger) {
    Result<std::vector<llm::SpendTotals>> got = ledger->Totals(tenant, from, to);
    if (!got.ok()) return Fail(io, got.status());
    rows = std::move(got).value();
  }

  // Caps: today (UTC) for the tenants shown, those the caps file names, or --tenant.
  const std::string today = llm::UtcToday();
  std::vector<CapRow> cap_rows;
  if (caps) {
    std::set<std::string> tenants;
    if (!tenant.empty()) {
      tenants.insert(tenant);
    } else {
      for (const auto& r : rows) tenants.insert(r.tenant);
      for (const auto& [t, cap] : caps->tenants) tenants.insert(t);
      if (ledger) {
        Result<std::vector<llm::SpendTotals>> got = ledger->Totals("", today, today);
        if (!got.ok()) return Fail(io, got.status());
        for (const auto& r : *got) tenants.insert(r.tenant);
      }
    }
    for (const std::string& t : tenants) {
      CapRow c;
      c.tenant = t;
      c.cap = caps->For(t);
      c.from_default = c.cap && caps->tenants.count(t) == 0;
      if (ledger) {
        Result<double> spent = ledger->DaySpend(t, today);
        if (!spent.ok()) return Fail(io, spent.status());
        c.spent = *spent;
        Result<std::vector<llm::SpendTotals>> got = ledger->Totals(t, today, today);
        if (!got.ok()) return Fail(io, got.status());
        for (const auto& r : *got) c.unknown_today += r.unknown_cost_calls;
      }
      cap_rows.push_back(std::move(c));
    }
  }

  llm::SpendTotals total;
  for (const auto& r : rows) {
    total.calls += r.calls;
    total.input += r.input;
    total.output += r.output;
    total.cache_read += r.cache_read;
    total.cache_write += r.cache_write;
    total.cost_usd += r.cost_usd;
    total.unknown_cost_calls += r.unknown_cost_calls;
  }

  if (as_json) {
    json out = {{"state", state}, {"state_exists", ledger != nullptr}, {"rows", json::array()}};
    if (!tenant.empty()) out["tenant"] = tenant;
    if (!from.empty()) out["from"] = from;
    if (!to.empty()) out["to"] = to;
    for (const auto& r : rows) {
      json j = {{"tenant", r.tenant},
                {"day", r.day},
                {"provider", r.provider},
                {"model", r.model},
                {"input_tokens", r.input},
                {"output_tokens", r.output},
                {"cache_read_tokens", r.cache_read},
                {"cache_write_tokens", r.cache_write}};
      j.update(CostJson(r.cost_usd, r.calls, r.unknown_cost_calls));
      out["rows"].push_back(std::move(j));
    }
    json t = {{"input_tokens", total.input},
              {"output_tokens", total.output},
              {"cache_read_tokens", total.cache_read},
              {"cache_write_tokens", total.cache_write}};
    t.update(CostJson(total.cost_usd, total.calls, total.unknown_cost_calls));
    out["totals"] = std::move(t);
    if (caps) {
      json c = {{"day", today}, {"file", caps->origin}, {"tenants", json::array()}};
      c["default_usd"] = caps->default_usd ? json(*caps->default_usd) : json(nullptr);
      for (const CapRow& r : cap_rows) {
        c["tenants"].push_back(
            {{"tenant", r.tenant},
             {"cap_usd", r.cap ? json(*r.cap) : json(nullptr)},
             {"cap_from_default", r.from_default},
             {"spent_usd", r.spent},
             {"unknown_cost_calls", r.unknown_today},
             {"remaining_usd", r.cap ? json(std::max(0.0, *r.cap - r.spent)) : json(nullptr)}});
      }
      out["caps"] = std::move(c);
    }
    io.out << out.dump(2) << "\n";
    return kExitOk;
  }

  if (!ledger) {
    io.out << "no spend recorded yet (state " << state << ")\n";
  } else if (rows.empty()) {
    io.out << "no spend recorded" << (tenant.empty() ? "" : " for tenant " + tenant)
           << (from.empty() && to.empty() ? "" : " in the days asked for") << " (state " << state
           << ")\n";
  } else {
    io.out << "spend (state " << state << "; days are UTC; tokens: input = uncached prompt)\n\n";
    std::vector<std::vector<std::string>> table = {{"TENANT", "DAY", "PROVIDER", "MODEL", "CALLS",
                                                    "INPUT", "OUTPUT", "CACHE_READ", "CACHE_WRITE",
                                                    "COST_USD"}};
    for (const auto& r : rows) {
      table.push_back({r.tenant, r.day, r.provider, r.model, std::to_string(r.calls),
                       std::to_string(r.input), std::to_string(r.output),
                       std::to_string(r.cache_read), std::to_string(r.cache_write),
                       CostCell(r.cost_usd, r.calls, r.unknown_cost_calls)});
    }
    table.push_back({"TOTAL", "", "", "", std::to_string(total.calls), std::to_string(total.input),
                     std::to_string(total.output), std::to_string(total.cache_read),
                     std::to_string(total.cache_write),
                     CostCell(total.cost_usd, total.calls, total.unknown_cost_calls)});
    PrintTable(table, 4, io.out);
    if (total.unknown_cost_calls > 0) {
      io.out << "\n"
             << total.unknown_cost_calls
             << " call(s) have unknown cost (model not in the price table, or no usage reported): "
                "they are not included in COST_USD\n";
    }
  }
  if (caps) {
    io.out << "\ndaily caps for " << today << " (UTC), from " << caps->origin << ":\n";
    if (cap_rows.empty()) {
      io.out << "  no tenants to show; default cap: "
             << (caps->default_usd ? Fixed(*caps->default_usd, 2) + " USD" : "none") << "\n";
    } else {
      std::vector<std::vector<std::string>> table = {
          {"TENANT", "CAP_USD", "SPENT_TODAY_USD", "REMAINING_USD"}};
      for (const CapRow& r : cap_rows) {
        std::string spent = Fixed(r.spent, 4);
        if (r.unknown_today > 0) spent += " + " + std::to_string(r.unknown_today) + " unknown";
        table.push_back({r.tenant,
                         r.cap ? Fixed(*r.cap, 2) + (r.from_default ? " (default)" : "") : "none",
                         spent, r.cap ? Fixed(std::max(0.0, *r.cap - r.spent), 4) : "-"});
      }
      PrintTable(table, 1, io.out);
    }
  }
  return kExitOk;
}

}  // namespace fasten
