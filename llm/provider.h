// The provider-neutral conversation model (docs/providers.md §1) and the Provider interface.
//
// One neutral model, one adapter per wire format: `anthropic` (Messages API) and `openai`
// (Chat Completions: OpenAI, vLLM, Ollama /v1, llama.cpp). The investigate loop (llm/investigate.h)
// speaks only this model; the adapters (llm/anthropic.cc, llm/openai.cc) translate it to and from
// the wire, and the HTTP client (llm/http_client.h, the only libcurl user) carries it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace fasten::llm {

struct ToolCall {
  std::string id;  // as the server sent it; synthesised ("call_<n>") when it sent none
  std::string name;
  nlohmann::json args;     // always an object when args_error is empty
  std::string args_error;  // non-empty: the arguments were not a JSON object (why); args is {}
  std::string raw_args;    // OpenAI-style wires: the `arguments` string exactly as received
};

enum class Stop { kEndTurn, kToolUse, kMaxTokens, kRefusal, kContextExceeded, kOther };
const char* StopName(Stop stop);  // "end_turn", "tool_use", "max_tokens", ...

struct Usage {
  int64_t input = 0;  // uncached prompt tokens
  int64_t output = 0;
  int64_t cache_read = 0;
  int64_t cache_write_5m = 0;
  int64_t cache_write_1h = 0;
  int64_t reasoning = 0;  // informational: already inside `output`
  bool known = false;     // false when the provider omitted what is needed: "unknown", never 0
};

// One model answer.
struct Turn {
  std::vector<std::string> texts;
  std::vector<ToolCall> tool_calls;  // decide "tool use" by their presence, not by `stop`
  Stop stop = Stop::kOther;
  std::string stop_raw;  // the wire value (stop_reason / finish_reason / done_reason)
  std::string refusal;   // refusal text when the provider gave one
  Usage usage;
  std::string model;       // as echoed by the provider
  std::string request_id;  // `request-id` / `x-request-id` header, for logs
  nlohmann::json raw;      // the provider's message, echoed back verbatim by the adapter
};

struct ToolResult {
  std::string call_id;  // the ToolCall id it answers
  std::string name;     // the tool's name
  std::string content;  // text (usually JSON) handed to the model
  bool is_error = false;
};

struct Message {
  enum class Role { kUser, kAssistant, kToolResults };
  Role role = Role::kUser;
  std::string text;                 // kUser
  Turn turn;                        // kAssistant: the turn exactly as received
  std::vector<ToolResult> results;  // kToolResults: one per tool call of the preceding turn
};

// An LLM-facing tool: `parameters` is already in the portable strict form (providers.md §2: every
// property required, optional ones nullable, additionalProperties false).
struct ToolSpec {
  std::string name;
  std::string description;
  nlohmann::json parameters;
};

struct ToolChoice {
  enum class Kind { kAuto, kNone, kRequired, kTool };
  Kind kind = Kind::kAuto;
  std::string name;  // kTool
};

struct Request {
  std::string system;
  std::vector<Message> messages;
  std::vector<ToolSpec> tools;
  ToolChoice tool_choice;
  int max_tokens = 2048;
  std::optional<double> temperature = 0.0;
};

// Why a model call failed, beyond the Status code (which is kUnavailable for transient failures,
// kDeadlineExceeded for timeouts, kResourceExhausted for quota/rate limits, kUnauthenticated for
// 401/403, kInvalidArgument for other 4xx and configuration errors, kDataLoss for malformed
// bodies). The message is what to fix, quoting the provider's own message verbatim.
struct CallError {
  int http_status = 0;     // 0: no HTTP response (connection refused, timeout, ...)
  std::string error_type;  // provider error type/code when it gave one
  bool retryable = false;  // after the retries were spent
  int attempts = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;
  // One model call (with the configured retries). On failure, *error (when given) says more.
  virtual Result<Turn> Complete(const Request& request, CallError* error = nullptr) = 0;
  virtual const std::string& kind() const = 0;   // "anthropic", "openai", "vllm", "ollama", ...
  virtual const std::string& model() const = 0;  // the configured model
  // Does the server honour tool_choice? (Ollama ignores it; the loop then relies on the prompt.)
  virtual bool honours_tool_choice() const { return true; }
};

using Clock = std::function<int64_t()>;               // microseconds, monotonic
using Sleeper = std::function<void(int64_t micros)>;  // injectable so backoff tests do not sleep

struct ProviderConfig {
  // "anthropic", "openai", or an OpenAI-compatible server: "vllm", "ollama", "llamacpp",
  // "openai-compatible". Sets the wire format, the default base URL and the max-tokens field.
  std::string kind = "anthropic";
  std::string model;
  std::string base_url;  // empty: the kind's default (https://api.anthropic.com, ...)
  std::string api_key;   // resolved secret; never logged; may be empty for local servers
  // OpenAI-style wires: "max_completion_tokens" (openai) or "max_tokens" (compatible servers).
  std::string max_tokens_field;
  int64_t connect_timeout_ms = 5000;
  int64_t request_timeout_ms = 120000;
  int max_retries = 2;
  int64_t max_server_wait_ms = 60000;  // a longer retry-after fails the call instead of sleeping
  // A response body (decoded) larger than this fails the call with DataLoss, not retried: a
  // model turn is kilobytes, and every turn is echoed back in the next request.
  size_t max_response_bytes = 1 << 20;
  int64_t deadline_us = 0;         // absolute, on `clock`; 0: none. Retries never pass it.
  Clock clock;                     // default: steady_clock
  Sleeper sleeper;                 // default: this_thread::sleep_for
  std::function<double()> jitter;  // in [0.75, 1.0]; default: random
};

// Builds the provider for config.kind. InvalidArgument for an unknown kind or a missing model.
Result<std::unique_ptr<Provider>> MakeProvider(const ProviderConfig& config);

// The API key for `kind`: `key_file` when non-empty (first line, trimmed), else the environment
// (ANTHROPIC_API_KEY, OPENAI_API_KEY, FASTEN_LLM_API_KEY for compatible servers). Empty is an
// error only for anthropic and openai.
Result<std::string> ResolveApiKey(const std::string& kind, const std::string& key_file);

}  // namespace fasten::llm
