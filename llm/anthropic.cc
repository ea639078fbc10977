// The Anthropic Messages adapter (docs/providers.md §3).
#include <set>

#include "llm/http_client.h"
#include "llm/wire.h"

namespace fasten::llm {
namespace {

using nlohmann::json;

constexpr char kCutOffText[] = "(output cut off at the token limit)";

std::string StringField(const json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_string()) {
    return obj[key].get<std::string>();
  }
  return "";
}

// Content blocks of `content` (a string becomes one text block).
json AsBlocks(const json& content) {
  if (content.is_array()) return content;
  return json::array({{{"type", "text"}, {"text", content}}});
}

// Appends a user message, merging with a preceding user message so roles keep alternating
// (tool_result blocks stay first).
void AppendUser(json& messages, json content) {
  if (!messages.empty() && messages.back()["role"] == "user") {
    json merged = AsBlocks(messages.back()["content"]);
    for (auto& block : AsBlocks(content)) merged.push_back(std::move(block));
    messages.back()["content"] = std::move(merged);
    return;
  }
  messages.push_back({{"role", "user"}, {"content", std::move(content)}});
}

// The assistant turn as sent back: Turn.raw's blocks verbatim, minus tool_use blocks that were
// held back (not in tool_calls); built from texts and tool_calls when there is no raw message.
json AssistantContent(const Turn& turn) {
  std::set<std::string> kept;
  for (const ToolCall& c : turn.tool_calls) kept.insert(c.id);
  json blocks = json::array();
  if (turn.raw.is_object() && turn.raw.contains("content") && turn.raw["content"].is_array()) {
    for (const json& block : turn.raw["content"]) {
      std::string type = StringField(block, "type");
      if (type == "tool_use" && kept.count(StringField(block, "id")) == 0) continue;
      if (type == "text" && StringField(block, "text").empty()) continue;  // the API rejects them
      blocks.push_back(block);
    }
  } else {
    for (const std::string& t : turn.texts) {
      if (!t.empty()) blocks.push_back({{"type", "text"}, {"text", t}});
    }
    for (const ToolCall& c : turn.tool_calls) {
      blocks.push_back(
          {{"type", "tool_use"},
           {"id", c.id},
           {"name", c.name},
           {"input", c.args_error.empty() && c.args.is_object() ? c.args : json::object()}});
    }
  }
  if (blocks.empty()) {
    blocks.push_back(
        {{"type", "text"}, {"text", turn.stop == Stop::kMaxTokens ? kCutOffText : "(no output)"}});
  }
  return blocks;
}

json ToolChoiceJson(const ToolChoice& choice) {
  switch (choice.kind) {
    case ToolChoice::Kind::kNone:
      return {{"type", "none"}};
    case ToolChoice::Kind::kRequired:
      return {{"type", "any"}};
    case ToolChoice::Kind::kTool:
      return {{"type", "tool"}, {"name", choice.name}};
    case ToolChoice::Kind::kAuto:
      break;
  }
  return {{"type", "auto"}};
}

Stop MapStop(const std::string& s) {
  if (s == "end_turn" || s == "stop_sequence") return Stop::kEndTurn;
  if (s == "tool_use") return Stop::kToolUse;
  if (s == "max_tokens") return Stop::kMaxTokens;
  if (s == "refusal") return Stop::kRefusal;
  if (s == "model_context_window_exceeded") return Stop::kContextExceeded;
  return Stop::kOther;  // pause_turn, unknown values
}

class AnthropicProvider final : public Provider {
 public:
  explicit AnthropicProvider(const ProviderConfig& config)
      : config_(config), client_(config), url_(EndpointUrl(config.base_url, "/messages")) {}

  Result<Turn> Complete(const Request& request, CallError* error) override {
    HttpRequest http;
    http.url = url_;
    http.headers = {"content-type: application/json", "accept: application/json",
                    "anthropic-version: 2023-06-01"};
    if (!config_.api_key.empty()) http.headers.push_back("x-api-key: " + config_.api_key);
    http.body = DumpJson(AnthropicRequestJson(request, config_.model));
    return CallModel(
        client_, config_.kind, http, [](const json& body) { return ParseAnthropicResponse(body); },
        "request-id", error);
  }

  const std::string& kind() const override { return config_.kind; }
  const std::string& model() const override { return config_.model; }

 private:
  ProviderConfig config_;
  HttpClient client_;
  std::string url_;
};

}  // namespace

json AnthropicRequestJson(const Request& request, const std::string& model) {
  json out = json::object();
  out["model"] = model;
  out["max_tokens"] = request.max_tokens;
  if (request.temperature) out["temperature"] = *request.temperature;
  if (!request.system.empty()) out["system"] = request.system;
  if (!request.tools.empty()) {
    json tools = json::array();
    for (const ToolSpec& t : request.tools) {
      json schema = t.parameters.is_object()
                        ? t.parameters
                        : json{{"type", "object"}, {"properties", json::object()}};
      tools.push_back({{"name", t.name}, {"description", t.description}, {"input_schema", schema}});
    }
    out["tools"] = std::move(tools);
    out["tool_choice"] = ToolChoiceJson(request.tool_choice);
  }
  json messages = json::array();
  for (const Message& m : request.messages) {
    switch (m.role) {
      case Message::Role::kUser:
        AppendUser(messages, m.text);
        break;
      case Message::Role::kAssistant:
        messages.push_back({{"role", "assistant"}, {"content", AssistantContent(m.turn)}});
        break;
      case Message::Role::kToolResults: {
        json blocks = json::array();
        for (const ToolResult& r : m.results) {
          json block = {
              {"type", "tool_result"}, {"tool_use_id", r.call_id}, {"content", r.content}};
          if (r.is_error) block["is_error"] = true;
          blocks.push_back(std::move(block));
        }
        AppendUser(messages, std::move(blocks));
        break;
      }
    }
  }
  out["messages"] = std::move(messages);
  return out;
}

Result<Turn> ParseAnthropicResponse(const json& body) {
  if (!body.is_object() || !body.contains("content") || !body["content"].is_array()) {
    return DataLossError("the response is not a message (no content array)");
  }
  Turn turn;
  turn.raw = body;
  int synthesised = 0;
  for (json& block : turn.raw["content"]) {
    std::string type = StringField(block, "type");
    if (type == "text") {
      turn.texts.push_back(StringField(block, "text"));
    } else if (type == "tool_use") {
      ToolCall call;
      call.id = StringField(block, "id");
      if (call.id.empty()) {
        call.id = "call_" + std::to_string(synthesised++);
        block["id"] = call.id;  // so the echo and the tool_result agree
      }
      call.name = StringField(block, "name");
      const json input = block.contains("input") ? block["input"] : json();
      if (input.is_object()) {
        call.args = input;
      } else {
        call.args = json::object();
        if (!input.is_null()) call.args_error = "input is not a JSON object";
      }
      if (call.name.empty() && call.args_error.empty()) call.args_error = "tool call has no name";
      turn.tool_calls.push_back(std::move(call));
    }
  }
  turn.stop_raw = StringField(body, "stop_reason");
  turn.stop = MapStop(turn.stop_raw);
  if (turn.stop == Stop::kMaxTokens) turn.tool_calls.clear();  // never run a cut-off call
  if (turn.stop == Stop::kRefusal) {
    for (const std::string& t : turn.texts) turn.refusal += t;
    if (turn.refusal.empty()) {
      turn.refusal =
          StringField(body.contains("stop_details") ? body["stop_details"] : json(), "explanation");
    }
  }
  const json usage = body.contains("usage") ? body["usage"] : json();
  bool has_in = false, has_out = false, has_5m = false;
  turn.usage.input = TokenCount(usage, "input_tokens", &has_in);
  turn.usage.output = TokenCount(usage, "output_tokens", &has_out);
  turn.usage.cache_read = TokenCount(usage, "cache_read_input_tokens");
  const json creation =
      usage.is_object() && usage.contains("cache_creation") ? usage["cache_creation"] : json();
  turn.usage.cache_write_5m = TokenCount(creation, "ephemeral_5m_input_tokens", &has_5m);
  if (!has_5m) turn.usage.cache_write_5m = TokenCount(usage, "cache_creation_input_tokens");
  turn.usage.cache_write_1h = TokenCount(creation, "ephemeral_1h_input_tokens");
  turn.usage.known = has_in && has_out;
  turn.model = StringField(body, "model");
  return turn;
}

std::unique_ptr<Provider> NewAnthropicProvider(const ProviderConfig& config) {
  return std::make_unique<AnthropicProvider>(config);
}

}  // namespace fasten::llm
