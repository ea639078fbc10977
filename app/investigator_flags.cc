#include "app/investigator_flags.h"

#include <stdexcept>

namespace fasten {

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

Status ResolveInvestigatorConfig(const Args& args, const Env& env, llm::InvestigatorConfig* out) {
  auto pick = [&](const char* flag, const char* var) -> std::string {
    if (auto v = args.Get(flag)) return *v;
    if (auto v = env.Get(var)) return *v;
    return "";
  };
  llm::InvestigatorConfig c;
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

}  // namespace fasten
