#include "app/investigator.h"

#include <map>

namespace fasten {

using nlohmann::json;

const std::vector<FlagSpec> kInvestigatorFlags = {{"provider", true},
                                                  {"model", true},
                                                  {"base-url", true},
                                                  {"api-key-file", true},
                                                  {"max-tokens-field", true},
                                                  {"prices", true},
                                                  {"caps", true},
                                                  {"state", true},
                                                  {"max-calls", true},
                                                  {"max-usd", true},
                                                  {"allow-unpriced", false},
                                                  {"deadline", true},
                                                  {"request-timeout", true},
                                                  {"retries", true},
                                                  {"integrity-margin", true}};

const char kInvestigatorFlagsHelp[] =
    R"(Model (bring your own; nothing is sent anywhere unless you configure it):
  --provider P        anthropic | openai | vllm | ollama | llamacpp | openai-compatible
                      (default: $FASTEN_LLM_PROVIDER)
  --model M           model id (default: $FASTEN_LLM_MODEL; anthropic: claude-sonnet-4-6,
                      openai: gpt-4.1-mini; the others must name it)
  --base-url URL      server root (default: the provider's: https://api.anthropic.com,
                      https://api.openai.com, http://localhost:8000 (vllm),
                      http://localhost:11434 (ollama), http://localhost:8080 (llamacpp))
  --api-key-file F    first line of F is the key (default: $FASTEN_LLM_API_KEY_FILE, else
                      $ANTHROPIC_API_KEY / $OPENAI_API_KEY / $FASTEN_LLM_API_KEY); never logged
  --max-tokens-field  max_completion_tokens (openai) or max_tokens (compatible servers)
  --request-timeout S one model request, seconds (default 120)
  --retries N         retries of a failed model call (default 2)
Budgets and cost:
  --max-calls N       model calls per investigation (default 12; the last offers only
                      submit_answer)
  --deadline S        wall clock per investigation, seconds (default 300)
  --max-usd X         dollars per investigation (default: none)
  --prices FILE       price table (default: $FASTEN_PRICES, else the shipped data/prices.json)
  --caps FILE         per-tenant daily caps {"default_usd": 5, "tenants": {"acme": 20}}
                      (default: $FASTEN_COST_CAPS; none: uncapped)
  --allow-unpriced    run a model missing from the price table under a dollar cap (its cost
                      is reported as unknown; token caps still apply)
  --integrity-margin D  how far the integrity verdict's window reaches beyond the cited
                      rows' time span, each side: 30m (default), 1h, 90s, 0
  --state PATH        state database: spend and the investigation record log (default:
                      $FASTEN_STATE_DIR/state.db, else $XDG_STATE_HOME/fasten-mcp/state.db,
                      else ~/.local/state/fasten-mcp/state.db)
)";

namespace {

Status ParseDouble(const std::string& flag, const std::string& text, double* out) {
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used != text.size() || !(v >= 0)) throw std::invalid_argument(text);
    *out = v;
    return Status::Ok();
  } catch (const std::exception&) {
    return InvalidArgumentError("--" + flag + " wants a non-negative number; got \"" + text + "\"");
  }
}

}  // namespace

Status ResolveInvestigatorConfig(const Args& args, const Env& env, InvestigatorConfig* out) {
  auto pick = [&](const char* flag, const char* var) -> std::string {
    if (auto v = args.Get(flag)) return *v;
    if (auto v = env.Get(var)) return *v;
    return "";
  };
  InvestigatorConfig c;
  c.provider.kind = pick("provider", "FASTEN_LLM_PROVIDER");
  c.configured = !c.provider.kind.empty();
  c.provider.model = pick("model", "FASTEN_LLM_MODEL");
  if (c.provider.model.empty()) {
    if (c.provider.kind == "anthropic") c.provider.model = "claude-sonnet-4-6";
    if (c.provider.kind == "openai") c.provider.model = "gpt-4.1-mini";
  }
  c.provider.base_url = pick("base-url", "FASTEN_LLM_BASE_URL");
  c.key_file = pick("api-key-file", "FASTEN_LLM_API_KEY_FILE");
  if (auto v = args.Get("max-tokens-field")) {
    if (*v != "max_tokens" && *v != "max_completion_tokens") {
      return InvalidArgumentError("--max-tokens-field is max_tokens or max_completion_tokens");
    }
    c.provider.max_tokens_field = *v;
  }
  c.prices_path = pick("prices", "FASTEN_PRICES");
  c.caps_path = pick("caps", "FASTEN_COST_CAPS");
  c.state_path = args.Get("state").value_or("");
  if (c.state_path.empty()) {
    c.state_path = llm::DefaultStatePath([&](const std::string& name) { return env.Get(name); });
  }
  std::optional<int64_t> n;
  FASTEN_RETURN_IF_ERROR(args.GetInt("max-calls", 1, 100, &n));
  if (n) c.options.max_llm_calls = static_cast<int>(*n);
  FASTEN_RETURN_IF_ERROR(args.GetInt("deadline", 1, 86400, &n));
  if (n) c.options.deadline_ms = *n * 1000;
  FASTEN_RETURN_IF_ERROR(args.GetInt("request-timeout", 1, 3600, &n));
  if (n) c.provider.request_timeout_ms = *n * 1000;
  FASTEN_RETURN_IF_ERROR(args.GetInt("retries", 0, 10, &n));
  if (n) c.provider.max_retries = static_cast<int>(*n);
  if (auto v = args.Get("max-usd")) {
    double d = 0;
    FASTEN_RETURN_IF_ERROR(ParseDouble("max-usd", *v, &d));
    c.options.max_usd = d;
  }
  c.options.allow_unpriced = args.Has("allow-unpriced");
  FASTEN_RETURN_IF_ERROR(IntegrityMarginFlag(args, &c.options.integrity_margin));
  *out = std::move(c);
  return Status::Ok();
}

Result<std::string> StatePathFromArgs(const Args& args, const Env& env) {
  std::string state = args.Get("state").value_or("");
  if (args.Has("state") && state.empty()) return InvalidArgumentError("--state is empty");
  if (!state.empty()) return state;
  state = llm::DefaultStatePath([&](const std::string& name) { return env.Get(name); });
  if (state.empty()) {
    return InvalidArgumentError(
        "no state database: give --state PATH, or set FASTEN_STATE_DIR, XDG_STATE_HOME or HOME");
  }
  return state;
}

Status IntegrityMarginFlag(const Args& args, Micros* margin) {
  auto v = args.Get("integrity-margin");
  if (!v) return Status::Ok();
  std::optional<Micros> m = ParseIntegrityMargin(*v);
  if (!m) {
    return InvalidArgumentError(
        "--integrity-margin wants a duration such as 30m, 1h, 90s or 0 (at most 24h); got \"" + *v +
        "\"");
  }
  *margin = *m;
  return Status::Ok();
}

Result<std::unique_ptr<Investigator>> Investigator::Make(const InvestigatorConfig& config) {
  auto inv = std::unique_ptr<Investigator>(new Investigator());
  inv->config_ = config;
  if (config.provider.kind.empty()) {
    return InvalidArgumentError(
        "no model provider is configured: pass --provider (anthropic, openai, vllm, ollama, "
        "llamacpp, openai-compatible) or set FASTEN_LLM_PROVIDER; see fasten-mcp investigate "
        "--help");
  }
  if (config.provider.model.empty()) {
    return InvalidArgumentError("--model is required for provider " + config.provider.kind +
                                " (the model id the server serves, e.g. qwen3)");
  }
  Result<std::string> key = llm::ResolveApiKey(config.provider.kind, config.key_file);
  if (!key.ok()) return key.status();
  inv->config_.provider.api_key = *key;
  // Fail now on a bad kind or URL rather than at the first question.
  Result<std::unique_ptr<llm::Provider>> probe = llm::MakeProvider(inv->config_.provider);
  if (!probe.ok()) return probe.status();
  Result<llm::PriceTable> prices = config.prices_path.empty()
                                       ? llm::PriceTable::Default()
                                       : llm::PriceTable::Load(config.prices_path);
  if (!prices.ok()) return prices.status();
  inv->prices_ = std::move(prices).value();
  if (!config.caps_path.empty()) {
    Result<llm::CostCaps> caps = llm::CostCaps::Load(config.caps_path);
    if (!caps.ok()) return caps.status();
    inv->caps_ = std::move(caps).value();
  }
  if (config.state_path.empty()) {
    return InvalidArgumentError(
        "no place for the spend state database: pass --state PATH or set FASTEN_STATE_DIR "
        "(or HOME)");
  }
  Result<std::unique_ptr<llm::SpendLedger>> spend = llm::SpendLedger::Open(config.state_path);
  if (!spend.ok()) return spend.status();
  inv->spend_ = std::move(spend).value();
  Result<std::unique_ptr<record::RecordLog>> records = record::RecordLog::Open(config.state_path);
  if (!records.ok()) return records.status();
  inv->records_ = std::move(records).value();
  return inv;
}

llm::InvestigateResult Investigator::Run(
    const std::string& question, ToolEnv& env, const std::string& credential,
    const std::function<void(const std::string&, const json&)>& progress,
    Recorded* recorded) const {
  llm::InvestigateResult r;
  Result<std::unique_ptr<llm::Provider>> provider = llm::MakeProvider(config_.provider);
  if (!provider.ok()) {
    r.outcome = llm::Outcome::kRefused;
    r.message = provider.status().message();
  } else {
    llm::InvestigateDeps deps;
    deps.provider = provider->get();
    deps.registry = &registry_;
    deps.env = &env;
    deps.prices = &prices_;
    deps.spend = spend_.get();
    deps.caps = &caps_;
    deps.progress = progress;
    r = llm::Investigate(question, deps, config_.options);
  }
  // Every investigation is recorded, refusals included.
  Result<std::string> id =
      records_->Append(InvestigationRecord(env.scope.RecordTenant(), credential, question,
                                           config_.provider.kind, config_.provider.model, r));
  if (!id.ok() && progress) {
    progress("warning", {{"message", "investigation not recorded: " + id.status().message()}});
  }
  if (recorded) *recorded = id.ok() ? Recorded{*id, Status::Ok()} : Recorded{"", id.status()};
  return r;
}

record::NewRecord InvestigationRecord(const std::string& tenant, const std::string& credential,
                                      const std::string& question, const std::string& provider,
                                      const std::string& model,
                                      const llm::InvestigateResult& result) {
  const json summary = llm::InvestigateResultJson(result);
  // Each tool the model called, with its arguments and how it went: the transcript pairs a
  // model turn's calls (id, name, args) with the tool results that follow it.
  json tool_calls = json::array();
  std::map<std::string, json> args_by_id;
  for (const json& entry : result.transcript) {
    const std::string kind = entry.value("kind", "");
    if (kind == "model_turn" && entry.contains("tool_calls")) {
      args_by_id.clear();
      for (const json& c : entry["tool_calls"]) {
        args_by_id[c.value("id", "")] = c.contains("args") ? c["args"] : json(nullptr);
      }
    } else if (kind == "tool_result") {
      auto args = args_by_id.find(entry.value("id", ""));
      tool_calls.push_back({{"name", entry.value("name", "")},
                            {"arguments", args == args_by_id.end() ? json(nullptr) : args->second},
                            {"is_error", entry.value("is_error", false)},
                            {"rows", entry.value("rows", 0)}});
    }
  }
  json rows = json::array();
  for (const Citation& c : result.rows_shown) {
    rows.push_back({{"stream", CitationStreamName(c.stream)}, {"seq", c.seq}, {"hash", c.hash}});
  }
  record::NewRecord rec;
  rec.kind = record::kKindInvestigation;
  rec.tenant = tenant;
  rec.content = {
      {"credential", credential},
      {"question", question},
      {"provider", provider},
      {"model", model},
      {"outcome", summary["outcome"]},
      {"accepted", summary["accepted"]},
      {"message", summary["message"]},
      {"tool_calls", std::move(tool_calls)},
      {"rows_shown", std::move(rows)},
      {"answers", result.answers},
      {"rejections", summary["rejections"]},
      {"findings", summary["findings"]},
      {"verdict", summary.contains("validation") ? summary["validation"] : json(nullptr)},
      {"counts",
       {{"llm_calls", result.llm_calls},
        {"tool_calls", result.tool_calls},
        {"repairs", result.repairs}}},
      {"usage", summary["usage"]},
      {"cost_usd", summary["cost_usd"]},
      {"cost_known", summary["cost_known"]},
      {"pricing_version", summary["pricing_version"]}};
  return rec;
}

Result<json> Investigator::SpendJson(const std::string& tenant, const std::string& from_day,
                                     const std::string& to_day) const {
  Result<std::vector<llm::SpendTotals>> rows = spend_->Totals(tenant, from_day, to_day);
  if (!rows.ok()) return rows.status();
  json out = {{"pricing_version", prices_.version()},
              {"currency", prices_.currency()},
              {"rows", json::array()}};
  for (const llm::SpendTotals& t : *rows) {
    out["rows"].push_back({{"tenant", t.tenant},
                           {"day", t.day},
                           {"provider", t.provider},
                           {"model", t.model},
                           {"calls", t.calls},
                           {"input_tokens", t.input},
                           {"output_tokens", t.output},
                           {"cache_read_tokens", t.cache_read},
                           {"cache_write_tokens", t.cache_write},
                           {"cost_usd", t.cost_usd},
                           {"unknown_cost_calls", t.unknown_cost_calls}});
  }
  if (!tenant.empty()) {
    const std::string today = llm::UtcToday();
    Result<double> spent = spend_->DaySpend(tenant, today);
    if (!spent.ok()) return spent.status();
    std::optional<double> cap = caps_.For(tenant);
    out["today"] = {{"day", today},
                    {"spent_usd", *spent},
                    {"cap_usd", cap ? json(*cap) : json(nullptr)},
                    {"remaining_usd", cap ? json(std::max(0.0, *cap - *spent)) : json(nullptr)}};
  }
  return out;
}

}  // namespace fasten
