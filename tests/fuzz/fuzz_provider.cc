// Fuzzes the model provider response parsers (llm/wire.h): Anthropic Messages and OpenAI Chat
// Completions 200 bodies, and error bodies of every status.
//
// Input: a mode byte, then an HTTP body (any bytes):
//   'a' Anthropic 200 body, 'o' OpenAI 200 body; anything else: an error body whose status is
//   400 + (mode % 200) (so 4xx and 5xx).
// The body goes through ParseBody, as CallModel does, then the adapter's parser. Checks:
// - a refusal is DataLoss; no exception escapes;
// - a parsed turn: every tool call has an id, an object `args` (`{}` when args_error is set) and a
//   name unless args_error says why not; a turn cut off at the token limit carries no tool calls;
//   token counts are never negative;
// - the turn echoed back in the next request (with one result per tool call) is serialisable and
//   pairs up: the tool_use blocks / tool_calls sent back are exactly the turn's tool calls, and
//   each has its result;
// - error bodies: a non-OK status naming the provider, never retryable for a 4xx other than
//   408, 409 and 429; BodyExcerpt has no control characters and respects its limit.
#include <atomic>
#include <set>
#include <string>

#include "llm/wire.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using fasten::fuzz::AsText;
using nlohmann::json;
namespace llm = fasten::llm;

void CheckTurn(const llm::Turn& turn) {
  for (const llm::ToolCall& c : turn.tool_calls) {
    FUZZ_CHECK(!c.id.empty());
    FUZZ_CHECK(c.args.is_object());
    if (c.args_error.empty()) FUZZ_CHECK(!c.name.empty());
  }
  if (turn.stop == llm::Stop::kMaxTokens) FUZZ_CHECK(turn.tool_calls.empty());
  const llm::Usage& u = turn.usage;
  FUZZ_CHECK(u.input >= 0 && u.output >= 0 && u.cache_read >= 0 && u.cache_write_5m >= 0 &&
             u.cache_write_1h >= 0 && u.reasoning >= 0);
}

llm::Request Echo(const llm::Turn& turn) {
  llm::Request request;
  request.system = "system";
  llm::Message user;
  user.role = llm::Message::Role::kUser;
  user.text = "question";
  llm::Message assistant;
  assistant.role = llm::Message::Role::kAssistant;
  assistant.turn = turn;
  llm::Message results;
  results.role = llm::Message::Role::kToolResults;
  for (const llm::ToolCall& c : turn.tool_calls) {
    results.results.push_back({c.id, c.name, "{\"ok\":true}", !c.args_error.empty()});
  }
  request.messages = {user, assistant};
  if (!turn.tool_calls.empty()) request.messages.push_back(results);
  return request;
}

std::multiset<std::string> CallIds(const llm::Turn& turn) {
  std::multiset<std::string> ids;
  for (const llm::ToolCall& c : turn.tool_calls) ids.insert(c.id);
  return ids;
}

void CheckAnthropic(const json& body) {
  fasten::Result<llm::Turn> turn = llm::ParseAnthropicResponse(body);
  if (!turn.ok()) {
    FUZZ_CHECK(turn.status().code() == fasten::StatusCode::kDataLoss);
    return;
  }
  CheckTurn(*turn);
  const json request = llm::AnthropicRequestJson(Echo(*turn), "model");
  (void)llm::DumpJson(request);
  const json& messages = request["messages"];
  FUZZ_CHECK(messages.size() >= 2 && messages[1]["role"] == "assistant");
  std::multiset<std::string> used, answered;
  for (const json& block : messages[1]["content"]) {
    if (block.is_object() && block.value("type", json()) == "tool_use") {
      FUZZ_CHECK(block.contains("id") && block["id"].is_string());
      used.insert(block["id"].get<std::string>());
    }
  }
  FUZZ_CHECK(std::set<std::string>(used.begin(), used.end()) == [&] {
    std::multiset<std::string> ids = CallIds(*turn);
    return std::set<std::string>(ids.begin(), ids.end());
  }());
  if (messages.size() > 2) {
    for (const json& block : messages[2]["content"]) {
      if (block.is_object() && block.value("type", json()) == "tool_result") {
        answered.insert(block["tool_use_id"].get<std::string>());
      }
    }
  }
  FUZZ_CHECK(answered == CallIds(*turn));
}

void CheckOpenAi(const json& body) {
  std::atomic<int64_t> next_id{0};
  fasten::Result<llm::Turn> turn = llm::ParseOpenAiResponse(body, &next_id);
  if (!turn.ok()) {
    FUZZ_CHECK(turn.status().code() == fasten::StatusCode::kDataLoss);
    return;
  }
  CheckTurn(*turn);
  for (const llm::ToolCall& c : turn->tool_calls) {
    if (c.args_error.empty() && !c.raw_args.empty()) {
      json reparsed = json::parse(c.raw_args, nullptr, false);
      FUZZ_CHECK(reparsed.is_object() || reparsed.is_discarded());
    }
  }
  for (const llm::OpenAiWireOptions& options :
       {llm::OpenAiWireOptions{}, llm::OpenAiWireOptions{"max_completion_tokens", true, true}}) {
    const json request = llm::OpenAiRequestJson(Echo(*turn), "model", options);
    (void)llm::DumpJson(request);
    const json& messages = request["messages"];
    std::vector<std::string> sent, answered;
    for (const json& m : messages) {
      if (m["role"] == "assistant" && m.contains("tool_calls")) {
        for (const json& tc : m["tool_calls"]) {
          sent.push_back(tc["id"].get<std::string>());
          FUZZ_CHECK(tc["function"]["arguments"].is_string());
        }
      }
      if (m["role"] == "tool") answered.push_back(m["tool_call_id"].get<std::string>());
    }
    std::vector<std::string> ids;
    for (const llm::ToolCall& c : turn->tool_calls) ids.push_back(c.id);
    FUZZ_CHECK(sent == ids);
    FUZZ_CHECK(answered == ids);
  }
}

void CheckError(int status, const std::string& body) {
  llm::HttpFailure f = llm::ParseErrorResponse("provider", status, "application/json", body);
  FUZZ_CHECK(!f.status.ok());
  FUZZ_CHECK(f.status.message().rfind("provider: ", 0) == 0);
  if (status >= 400 && status < 500 && status != 408 && status != 409 && status != 429) {
    FUZZ_CHECK_MSG(!f.retryable || f.status.code() == fasten::StatusCode::kUnavailable,
                   f.status.ToString());
  }
  for (size_t max : {size_t{0}, size_t{1}, size_t{7}, size_t{200}}) {
    const std::string excerpt = llm::BodyExcerpt(body, max);
    FUZZ_CHECK(excerpt.size() <= max + 3);
    for (char c : excerpt) {
      FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);
  if (text.empty()) return 0;
  const char mode = text.front();
  llm::HttpResponse response;
  response.status = 200;
  response.body = std::string(text.substr(1));
  if (mode != 'a' && mode != 'o') {
    CheckError(400 + static_cast<unsigned char>(mode) % 200, response.body);
    return 0;
  }
  llm::CallError error;
  fasten::Result<json> body = llm::ParseBody("provider", response, &error);
  if (!body.ok()) {
    FUZZ_CHECK(body.status().code() == fasten::StatusCode::kDataLoss);
    FUZZ_CHECK(!error.retryable);
    return 0;
  }
  if (mode == 'a') {
    CheckAnthropic(*body);
  } else {
    CheckOpenAi(*body);
  }
  return 0;
}
