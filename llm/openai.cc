// The OpenAI Chat Completions adapter (docs/providers.md §4), shared by vLLM, Ollama /v1 and
// llama.cpp: their differences are the max-tokens field, `strict`, `parallel_tool_calls`, and the
// response quirks (docs/providers.md §4) that the parser tolerates.
#include <algorithm>
#include <atomic>

#include "llm/http_client.h"
#include "llm/wire.h"
#include "util/json_parse.h"

namespace fasten::llm {
namespace {

using nlohmann::json;

constexpr char kCutOffText[] = "(output cut off at the token limit)";

const json& Field(const json& obj, const char* key) {
  static const json kNull;
  if (obj.is_object()) {
    auto it = obj.find(key);
    if (it != obj.end()) return *it;
  }
  return kNull;
}

std::string StringField(const json& obj, const char* key) {
  const json& v = Field(obj, key);
  return v.is_string() ? v.get<std::string>() : "";
}

json AssistantMessage(const Turn& turn) {
  std::string text;
  for (const std::string& t : turn.texts) text += t;
  json msg = {{"role", "assistant"}};
  if (turn.tool_calls.empty()) {
    msg["content"] = text.empty() && turn.stop == Stop::kMaxTokens ? kCutOffText : text;
    return msg;
  }
  msg["content"] = text.empty() ? json() : json(text);
  json calls = json::array();
  for (const ToolCall& c : turn.tool_calls) {
    // Arguments as received; "{}" when they were not a JSON object (some servers re-parse them).
    std::string args = !c.args_error.empty() ? "{}"
                       : !c.raw_args.empty()
                           ? c.raw_args
                           : DumpJson(c.args.is_object() ? c.args : json::object());
    calls.push_back({{"id", c.id},
                     {"type", "function"},
                     {"function", {{"name", c.name}, {"arguments", args}}}});
  }
  msg["tool_calls"] = std::move(calls);
  return msg;
}

std::string ToolContent(const ToolResult& r) {
  if (!r.is_error) return r.content;
  json parsed;
  (void)ParseJson(r.content, JsonLimits{r.content.size(), kMaxJsonDepth}, &parsed);
  if (parsed.is_object() && parsed.contains("error")) return r.content;
  return DumpJson(json{{"error", r.content}});
}

json ToolChoiceJson(const ToolChoice& choice) {
  switch (choice.kind) {
    case ToolChoice::Kind::kNone:
      return "none";
    case ToolChoice::Kind::kRequired:
      return "required";
    case ToolChoice::Kind::kTool:
      return {{"type", "function"}, {"function", {{"name", choice.name}}}};
    case ToolChoice::Kind::kAuto:
      break;
  }
  return "auto";
}

Stop MapFinish(const std::string& s) {
  if (s == "stop") return Stop::kEndTurn;
  if (s == "tool_calls" || s == "function_call" || s == "tool") return Stop::kToolUse;
  if (s == "length") return Stop::kMaxTokens;
  if (s == "content_filter") return Stop::kRefusal;
  return Stop::kOther;
}

// `arguments` as a string (parsed) or an object; anything else is an args_error.
void ParseArguments(const json& a, ToolCall* call) {
  call->args = json::object();
  if (a.is_object()) {
    call->args = a;
    call->raw_args = DumpJson(a);
    return;
  }
  if (a.is_null()) return;
  if (!a.is_string()) {
    call->args_error = "arguments are neither a JSON string nor an object";
    return;
  }
  call->raw_args = a.get<std::string>();
  if (call->raw_args.find_first_not_of(" \t\r\n") == std::string::npos) return;  // "" = no args
  json parsed;
  JsonParseResult r =
      ParseJson(call->raw_args, JsonLimits{call->raw_args.size(), kMaxJsonDepth}, &parsed);
  if (r.error == JsonParseError::kTooDeep) {
    call->args_error = "arguments are " + r.message;
  } else if (!r.ok()) {
    call->args_error = "arguments are not valid JSON: " + BodyExcerpt(call->raw_args, 120);
  } else if (!parsed.is_object()) {
    call->args_error = "arguments are not a JSON object: " + BodyExcerpt(call->raw_args, 120);
  } else {
    call->args = std::move(parsed);
  }
}

class OpenAiProvider final : public Provider {
 public:
  OpenAiProvider(const ProviderConfig& config, const OpenAiWireOptions& options)
      : config_(config),
        options_(options),
        client_(config),
        url_(EndpointUrl(config.base_url, "/chat/completions")) {}

  Result<Turn> Complete(const Request& request, CallError* error) override {
    HttpRequest http;
    http.url = url_;
    http.headers = {"content-type: application/json", "accept: application/json"};
    if (!config_.api_key.empty())
      http.headers.push_back("authorization: Bearer " + config_.api_key);
    http.body = DumpJson(OpenAiRequestJson(request, config_.model, options_));
    return CallModel(
        client_, config_.kind, http,
        [this](const json& body) { return ParseOpenAiResponse(body, &next_id_); }, "x-request-id",
        error);
  }

  const std::string& kind() const override { return config_.kind; }
  const std::string& model() const override { return config_.model; }
  bool honours_tool_choice() const override { return config_.kind != "ollama"; }

 private:
  ProviderConfig config_;
  OpenAiWireOptions options_;
  HttpClient client_;
  std::string url_;
  std::atomic<int64_t> next_id_{0};
};

}  // namespace

json OpenAiRequestJson(const Request& request, const std::string& model,
                       const OpenAiWireOptions& options) {
  json out = json::object();
  out["model"] = model;
  json messages = json::array();
  if (!request.system.empty()) {
    messages.push_back({{"role", "system"}, {"content", request.system}});
  }
  for (const Message& m : request.messages) {
    switch (m.role) {
      case Message::Role::kUser:
        messages.push_back({{"role", "user"}, {"content", m.text}});
        break;
      case Message::Role::kAssistant:
        messages.push_back(AssistantMessage(m.turn));
        break;
      case Message::Role::kToolResults:
        for (const ToolResult& r : m.results) {
          messages.push_back(
              {{"role", "tool"}, {"tool_call_id", r.call_id}, {"content", ToolContent(r)}});
        }
        break;
    }
  }
  out["messages"] = std::move(messages);
  out[options.max_tokens_field.empty() ? "max_tokens" : options.max_tokens_field] =
      request.max_tokens;
  if (request.temperature) out["temperature"] = *request.temperature;
  if (!request.tools.empty()) {
    json tools = json::array();
    for (const ToolSpec& t : request.tools) {
      json fn = {{"name", t.name},
                 {"description", t.description},
                 {"parameters", t.parameters.is_object()
                                    ? t.parameters
                                    : json{{"type", "object"}, {"properties", json::object()}}}};
      if (options.strict_tools) fn["strict"] = true;
      tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
    }
    out["tools"] = std::move(tools);
    out["tool_choice"] = ToolChoiceJson(request.tool_choice);
    if (options.parallel_tool_calls) out["parallel_tool_calls"] = true;
  }
  return out;
}

Result<Turn> ParseOpenAiResponse(const json& body, std::atomic<int64_t>* next_id) {
  std::atomic<int64_t> local{0};
  std::atomic<int64_t>& counter = next_id != nullptr ? *next_id : local;
  const json& choices = Field(body, "choices");
  if (!choices.is_array() || choices.empty() || !Field(choices[0], "message").is_object()) {
    return DataLossError("the response has no choices[0].message");
  }
  const json& choice = choices[0];
  Turn turn;
  turn.raw = choice["message"];
  json& msg = turn.raw;
  const json& content = Field(msg, "content");
  if (content.is_string()) {
    if (!content.get<std::string>().empty()) turn.texts.push_back(content.get<std::string>());
  } else if (content.is_array()) {  // content parts
    for (const json& part : content) {
      std::string t = StringField(part, "text");
      if (!t.empty()) turn.texts.push_back(t);
    }
  }
  turn.refusal = StringField(msg, "refusal");
  // Legacy single `function_call` → one tool call.
  if (Field(msg, "function_call").is_object() && !Field(msg, "tool_calls").is_array()) {
    msg["tool_calls"] = json::array({{{"type", "function"}, {"function", msg["function_call"]}}});
  }
  if (msg.contains("tool_calls") && msg["tool_calls"].is_array()) {
    for (json& tc : msg["tool_calls"]) {
      if (!tc.is_object()) continue;
      ToolCall call;
      call.id = StringField(tc, "id");
      if (call.id.empty()) {
        call.id = "call_" + std::to_string(counter.fetch_add(1));
        tc["id"] = call.id;  // the id that is sent back
      }
      const json& fn = Field(tc, "function");
      call.name = StringField(fn, "name");
      ParseArguments(Field(fn, "arguments"), &call);
      if (call.name.empty() && call.args_error.empty()) {
        call.args_error = "tool call has no function name";
      }
      turn.tool_calls.push_back(std::move(call));
    }
  }
  turn.stop_raw = StringField(choice, "finish_reason");
  turn.stop = MapFinish(turn.stop_raw);
  if (!turn.tool_calls.empty()) {
    if (turn.stop == Stop::kMaxTokens) {
      turn.tool_calls.clear();  // cut off: never run
    } else if (turn.stop == Stop::kEndTurn || turn.stop == Stop::kOther) {
      turn.stop = Stop::kToolUse;  // "stop" with tool calls (providers.md §4 item 4)
    }
  } else if (!turn.refusal.empty() && turn.stop == Stop::kEndTurn) {
    turn.stop = Stop::kRefusal;
  }
  const json& usage = Field(body, "usage");
  bool has_prompt = false, has_completion = false;
  int64_t prompt = TokenCount(usage, "prompt_tokens", &has_prompt);
  int64_t cached = TokenCount(Field(usage, "prompt_tokens_details"), "cached_tokens");
  turn.usage.cache_read = std::min(cached, prompt);
  turn.usage.input = prompt - turn.usage.cache_read;
  turn.usage.output = TokenCount(usage, "completion_tokens", &has_completion);
  turn.usage.reasoning = TokenCount(Field(usage, "completion_tokens_details"), "reasoning_tokens");
  turn.usage.known = has_prompt && has_completion;
  turn.model = StringField(body, "model");
  return turn;
}

std::unique_ptr<Provider> NewOpenAiProvider(const ProviderConfig& config,
                                            const OpenAiWireOptions& options) {
  return std::make_unique<OpenAiProvider>(config, options);
}

}  // namespace fasten::llm
