// The flags and environment of `investigate` and `serve` that configure the investigator
// (llm/investigator.h), and the other flags those commands share with `validate`, `spend`,
// `investigations` and `pack`.
#pragma once

#include <string>
#include <vector>

#include "app/cli.h"
#include "llm/investigator.h"

namespace fasten {

// Flags read by ResolveInvestigatorConfig (also accepted by `serve`).
extern const std::vector<FlagSpec> kInvestigatorFlags;
// Help text for those flags (shared by `investigate --help` and `serve --help`).
extern const char kInvestigatorFlagsHelp[];

// --integrity-margin (investigate, serve, validate): sets *margin when the flag is given,
// InvalidArgument naming the accepted forms when it does not parse; leaves *margin otherwise.
Status IntegrityMarginFlag(const Args& args, Micros* margin);

// Flags first, then FASTEN_LLM_PROVIDER, FASTEN_LLM_MODEL, FASTEN_LLM_BASE_URL,
// FASTEN_LLM_API_KEY_FILE, FASTEN_PRICES, FASTEN_COST_CAPS, FASTEN_STATE_DIR.
Status ResolveInvestigatorConfig(const Args& args, const Env& env, llm::InvestigatorConfig* out);

// The state database a reading command (spend, investigations) opens: --state PATH, else
// llm::DefaultStatePath from `env`. InvalidArgument when --state is empty or nothing is set.
Result<std::string> StatePathFromArgs(const Args& args, const Env& env);

}  // namespace fasten
