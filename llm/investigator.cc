#include "llm/investigator.h"

#include <map>

namespace fasten::llm {

using nlohmann::json;

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

}  // namespace fasten::llm
