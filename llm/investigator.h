// What `investigate` and `serve --http` (POST /api/v1/investigate, GET /api/v1/spend) share: the
// provider, price table, caps and spend ledger, configured once (app/investigator_flags.h reads
// the flags and the environment into an InvestigatorConfig) and used for many investigations.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llm/investigate.h"
#include "llm/prices.h"
#include "llm/provider.h"
#include "llm/spend_ledger.h"
#include "record/record_log.h"

namespace fasten::llm {

struct InvestigatorConfig {
  llm::ProviderConfig provider;
  std::string key_file;
  std::string prices_path;  // empty: the shipped table
  std::string caps_path;    // empty: no daily caps
  std::string state_path;   // the state database: spend ledger and investigation records
  llm::InvestigateOptions options;
  bool configured = false;  // a provider was named (flag or FASTEN_LLM_PROVIDER)
};

class Investigator {
 public:
  // Loads the price table and caps, opens the state database, resolves the API key.
  static Result<std::unique_ptr<Investigator>> Make(const InvestigatorConfig& config);

  // Where an investigation's record went: its id, or why it is not in the log.
  struct Recorded {
    std::string id;  // empty when not recorded
    Status status;
  };

  // One investigation for env.scope, with env's stores, asked by `credential` (the token's
  // label over HTTP, "cli:USER" from the command line), appended to the investigation record
  // log when it ends (*recorded says how; may be null). Thread-safe: each call makes its own
  // provider (providers are cheap), the ledger and the log are shared.
  llm::InvestigateResult Run(
      const std::string& question, ToolEnv& env, const std::string& credential,
      const std::function<void(const std::string&, const nlohmann::json&)>& progress,
      Recorded* recorded = nullptr) const;

  // Spend rows (GET /api/v1/spend, doctor output) for one tenant (empty: all), with its cap.
  Result<nlohmann::json> SpendJson(const std::string& tenant, const std::string& from_day,
                                   const std::string& to_day) const;

  const InvestigatorConfig& config() const { return config_; }
  // The investigation record log in the state database (never null after Make).
  record::RecordLog* records() const { return records_.get(); }

 private:
  InvestigatorConfig config_;
  llm::PriceTable prices_;
  llm::CostCaps caps_;
  std::unique_ptr<llm::SpendLedger> spend_;
  std::unique_ptr<record::RecordLog> records_;
  ToolRegistry registry_ = ToolRegistry::Default();
};

// The record-log entry of one investigation (docs/investigations.md): who asked (tenant,
// credential), the question, provider and model, each tool call with its arguments, the rows
// shown as (stream, seq, hash), every submitted answer and rejection, the verdict, outcome,
// tokens and cost.
record::NewRecord InvestigationRecord(const std::string& tenant, const std::string& credential,
                                      const std::string& question, const std::string& provider,
                                      const std::string& model,
                                      const llm::InvestigateResult& result);

}  // namespace fasten::llm
