// The investigate loop (docs/investigate.md): a question in, a model calls the read tools (the same
// handlers as the MCP server, in process, with the investigation's tenant injected), and the answer
// comes back through the submit_answer tool as claims citing rows. The post-loop citation
// validator (validator/citations.h) checks it with this run's ledger; a rejected answer gets the
// exact rejections and at most `repair_turns` repair turns, then the result is "insufficient
// evidence" listing what was rejected. An unvalidated answer is never returned as accepted.
//
// Budgets (all checked before each model call): model calls, cumulative input/output tokens,
// dollars per investigation, the tenant's daily cap (llm/spend_ledger.h), a wall-clock deadline.
// The last allowed call offers only submit_answer. Budget exhaustion ends the run with a partial,
// clearly marked result, never an exception.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "llm/provider.h"
#include "tools/registry.h"
#include "util/status.h"
#include "validator/citations.h"

namespace fasten::llm {

class PriceTable;
class SpendLedger;
struct CostCaps;

struct InvestigateOptions {
  int max_llm_calls = 12;
  int max_tool_calls_per_turn = 8;
  int repair_turns = 2;
  int64_t max_input_tokens = 200000;  // cumulative, over the run
  int64_t max_output_tokens = 20000;
  std::optional<double> max_usd;  // per investigation
  int max_tokens_per_call = 2048;
  size_t result_byte_cap = 16384;  // one tool result handed to the model
  size_t field_byte_cap = 512;     // one free-text value inside it
  int64_t deadline_ms = 300000;    // wall clock for the whole run
  bool allow_unpriced = false;     // under a dollar cap, refuse an unpriced model unless set
  // The validator's integrity margin (validator/integrity_verdict.h).
  Micros integrity_margin = kDefaultIntegrityMargin;
};

// Everything the loop needs from its caller. Pointers are borrowed for the run.
struct InvestigateDeps {
  Provider* provider = nullptr;
  const ToolRegistry* registry = nullptr;
  ToolEnv* env = nullptr;  // tenant, stores, cursor signer: exactly what an MCP call gets
  const PriceTable* prices = nullptr;
  SpendLedger* spend = nullptr;    // optional: where spend is recorded
  const CostCaps* caps = nullptr;  // optional: the per-tenant daily caps
  // Progress lines for a person ("step 2: audit_query {...}"); optional.
  std::function<void(const std::string& event, const nlohmann::json& detail)> progress;
  std::function<int64_t()> unix_now_us;  // for the spend day; default: system clock
  std::string marker;                    // the data fence; empty: random per run
};

enum class Outcome {
  kAccepted,              // every claim validated
  kInsufficientEvidence,  // rejected after the repair turns, or no usable answer
  kBudgetExhausted,       // a budget ended the run before an accepted answer
  kRefused,               // nothing was asked of the model: cap reached, unpriced model
  kProviderError,         // the model call failed (after retries)
};
const char* OutcomeName(Outcome outcome);  // "accepted", "insufficient_evidence", ...

struct InvestigateResult {
  Outcome outcome = Outcome::kInsufficientEvidence;
  std::string message;                  // why, for refusals, errors and budget stops
  nlohmann::json answer;                // the last submitted answer (null if none)
  Verdict verdict;                      // of the last submitted answer
  std::vector<std::string> rejections;  // every rejection over all attempts, for the report
  std::vector<std::string> findings;    // e.g. rows whose text reads like instructions to an AI
  int llm_calls = 0, tool_calls = 0, repairs = 0;
  Usage usage;                     // summed; known only if every call's usage was known
  std::optional<double> cost_usd;  // nullopt: unknown
  std::string pricing_version;
  size_t ledger_rows = 0;
  std::vector<nlohmann::json> answers;  // every submitted answer, in order (the record log's)
  std::vector<Citation> rows_shown;     // rows returned to the model, first showing order, once
  nlohmann::json transcript = nlohmann::json::array();  // requests/turns/tool I/O, no secrets
};

// Runs one investigation of `question`. Never throws; every failure is in the result.
InvestigateResult Investigate(const std::string& question, const InvestigateDeps& deps,
                              const InvestigateOptions& options);

// The result as JSON (the `--json` output and the HTTP API body).
nlohmann::json InvestigateResultJson(const InvestigateResult& result);

// Internal pieces, exposed for tests.
// The LLM-facing copy of an MCP input schema (providers.md §2): every property required, optional
// ones nullable, additionalProperties false.
nlohmann::json StrictSchema(const nlohmann::json& mcp_schema);
// The submit_answer tool.
ToolSpec SubmitAnswerTool();
// Adds every row in a tool result (audit: monotonic_seq+hash; sys/api: stream+seq+digest) to the
// ledger. Row fields are not searched: an object planted inside a row's data is not a row.
void RecordRows(const nlohmann::json& result, CitationLedger* ledger, size_t* added);

}  // namespace fasten::llm
