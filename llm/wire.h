// Internal to llm/: the adapters' pure translations between the neutral model (llm/provider.h)
// and the wire JSON, kept free of I/O so they can be golden-tested.
//
// Cut-off tool calls: when the output hit the token limit (Anthropic `max_tokens`, OpenAI
// `length`) the turn comes back with stop kMaxTokens and *no* tool calls, so nothing half-written
// is ever executed; when such a turn is echoed back, its tool_use blocks / tool_calls are left out
// too (an unanswered call would be a 400), and an assistant message left empty becomes the text
// "(output cut off at the token limit)".
#pragma once

#include <functional>

#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "llm/http_client.h"
#include "llm/provider.h"
#include "util/status.h"

namespace fasten::llm {

// ---- Anthropic Messages (docs/providers.md §3) ----

// The POST /v1/messages body. Assistant messages echo Turn.raw's content blocks (except held
// back tool_use blocks); the results of one turn go in one user message of tool_result blocks.
nlohmann::json AnthropicRequestJson(const Request& request, const std::string& model);

// A 200 body → Turn (raw = the body, with any synthesised tool_use ids written in).
// DataLoss when it is not a message.
Result<Turn> ParseAnthropicResponse(const nlohmann::json& body);

// ---- OpenAI Chat Completions and compatible servers (docs/providers.md §4) ----

struct OpenAiWireOptions {
  std::string max_tokens_field = "max_tokens";  // or "max_completion_tokens"
  bool strict_tools = false;                    // "strict": true on every function (OpenAI, vLLM)
  bool parallel_tool_calls = false;             // send "parallel_tool_calls": true (llama.cpp)
};

// The POST /v1/chat/completions body: system message first, assistant messages with their
// tool_calls (arguments as received; "{}" when they were not a JSON object), one role:"tool"
// message per result (an error as {"error": "..."} text).
nlohmann::json OpenAiRequestJson(const Request& request, const std::string& model,
                                 const OpenAiWireOptions& options);

// A 200 body → Turn (raw = choices[0].message, with synthesised ids written in). Missing ids
// become "call_<n>", n from *next_id (incremented; a local counter from 0 when null).
// DataLoss when there is no choices[0].message.
Result<Turn> ParseOpenAiResponse(const nlohmann::json& body,
                                 std::atomic<int64_t>* next_id = nullptr);

// ---- Errors (every envelope of docs/providers.md §3, §4) ----

// A non-2xx response → Status + error type + whether to retry (docs/providers.md §5, without
// x-should-retry, which the HTTP client applies). The provider's message is quoted verbatim; a
// non-JSON body (an HTML 502 from a proxy) gives a short excerpt. `who` prefixes the message.
HttpFailure ParseErrorResponse(const std::string& who, int http_status,
                               const std::string& content_type, const std::string& body);

// The first `max` characters of `body` as one line of text (tags and control characters dropped).
std::string BodyExcerpt(const std::string& body, size_t max = 200);

// ---- Shared by the adapters ----

// A token count of a usage object: `obj[key]` when it is an integer >= 0 (*present = true);
// otherwise 0 and *present = false, so a negative or non-integer count makes the usage unknown
// (its cost "unknown", never negative).
int64_t TokenCount(const nlohmann::json& obj, const char* key, bool* present = nullptr);

// Compact JSON text; invalid UTF-8 (log text in a tool result) is replaced, never thrown on.
std::string DumpJson(const nlohmann::json& value);

// A 2xx body → JSON; DataLoss (with an excerpt, *error marked not retryable) when it is not.
Result<nlohmann::json> ParseBody(const std::string& who, const HttpResponse& response,
                                 CallError* error);

// One model call over the wire: POSTs `http` with the client's retries (errors classified by
// ParseErrorResponse), parses the JSON body with `parse`, and stamps the turn's request id from
// the `request_id_header` response header. Shared by both adapters.
Result<Turn> CallModel(HttpClient& client, const std::string& who, const HttpRequest& http,
                       const std::function<Result<Turn>(const nlohmann::json&)>& parse,
                       const char* request_id_header, CallError* error);

// `s` with "who: " in front unless the message already names `who` (transport failures).
Status WithWho(const std::string& who, const Status& s);

// base_url + "/v1" + path, without doubling a base that already ends in "/v1".
std::string EndpointUrl(const std::string& base_url, const std::string& path);

// ---- Providers (built by MakeProvider) ----

std::unique_ptr<Provider> NewAnthropicProvider(const ProviderConfig& config);
std::unique_ptr<Provider> NewOpenAiProvider(const ProviderConfig& config,
                                            const OpenAiWireOptions& options);

}  // namespace fasten::llm
