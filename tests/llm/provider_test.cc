// The provider adapters and the libcurl client (docs/providers.md §7 items 1 and 2).
//
// Layer 1 (AnthropicWire, OpenAiWire, ProviderErrors, ProviderFactory, HttpClientUnit): neutral
// requests → golden wire JSON, hand-written responses → Turn, every error envelope; no sockets.
// Layer 2 (HttpClientFake): the real HttpClient and providers against tests/fakes/fake_llm.py on
// a loopback port; backoff goes through an injected sleeper and clock, so nothing really sleeps
// except the timeout tests.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "llm/http_client.h"
#include "llm/provider.h"
#include "llm/wire.h"

extern char** environ;

namespace fasten::llm {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Shared fixtures

ToolSpec AuditTool() {
  return {"audit_query", "Read audit rows, newest first. Read-only.",
          json::parse(R"({"type":"object","properties":{"code":{"type":["string","null"]},
              "limit":{"type":"integer"}},"required":["code","limit"],
              "additionalProperties":false})")};
}

ToolSpec VerifyTool() {
  return {"chain_verify", "Check the hash chain. Read-only.",
          json::parse(R"({"type":"object","properties":{"from_seq":{"type":"integer"}},
              "required":["from_seq"],"additionalProperties":false})")};
}

Request UserRequest(const std::string& text) {
  Request r;
  r.system = "You investigate an audit store.";
  Message m;
  m.text = text;
  r.messages.push_back(m);
  r.max_tokens = 64;
  return r;
}

Message AssistantMsg(const Turn& t) {
  Message m;
  m.role = Message::Role::kAssistant;
  m.turn = t;
  return m;
}

Message ResultsMsg(std::vector<ToolResult> results) {
  Message m;
  m.role = Message::Role::kToolResults;
  m.results = std::move(results);
  return m;
}

// The answer to every call of `t`: "rows for <name>" (the last one an error when asked).
Message AnswerAll(const Turn& t, bool last_is_error = false) {
  std::vector<ToolResult> rs;
  for (size_t i = 0; i < t.tool_calls.size(); ++i) {
    const ToolCall& c = t.tool_calls[i];
    rs.push_back({c.id, c.name, R"({"rows":[],"tool":")" + c.name + R"("})",
                  last_is_error && i + 1 == t.tool_calls.size()});
  }
  return ResultsMsg(std::move(rs));
}

// ---------------------------------------------------------------------------------------------
// Layer 1: Anthropic

const char* kAnthropicToolResponse = R"({
  "id": "msg_demo_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
  "content": [
    {"type": "text", "text": "Checking policy changes."},
    {"type": "tool_use", "id": "toolu_01", "name": "audit_query",
     "input": {"code": "POLICY_UPDATED", "limit": 50}},
    {"type": "tool_use", "id": "toolu_02", "name": "chain_verify", "input": {"from_seq": 1000}}
  ],
  "stop_reason": "tool_use", "stop_sequence": null,
  "usage": {"input_tokens": 640, "output_tokens": 71, "cache_creation_input_tokens": 30,
            "cache_read_input_tokens": 200,
            "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20}}
})";

TEST(AnthropicWire, GoldenTextRequest) {
  Request r = UserRequest("Who changed the retention policy?");
  r.tools = {AuditTool()};
  json got = AnthropicRequestJson(r, "claude-sonnet-4-6");
  json want = json::parse(R"({
    "model": "claude-sonnet-4-6", "max_tokens": 64, "temperature": 0.0,
    "system": "You investigate an audit store.",
    "tools": [{"name": "audit_query", "description": "Read audit rows, newest first. Read-only.",
               "input_schema": {"type":"object","properties":{"code":{"type":["string","null"]},
                 "limit":{"type":"integer"}},"required":["code","limit"],
                 "additionalProperties":false}}],
    "tool_choice": {"type": "auto"},
    "messages": [{"role": "user", "content": "Who changed the retention policy?"}]
  })");
  EXPECT_EQ(got, want) << got.dump(2);
}

TEST(AnthropicWire, NoToolsNoToolChoiceNoTemperature) {
  Request r = UserRequest("hi");
  r.system.clear();
  r.temperature.reset();
  r.tool_choice.kind = ToolChoice::Kind::kRequired;
  json got = AnthropicRequestJson(r, "m");
  EXPECT_EQ(got, json::parse(R"({"model":"m","max_tokens":64,
                                 "messages":[{"role":"user","content":"hi"}]})"))
      << got.dump();
}

TEST(AnthropicWire, ToolChoiceMapping) {
  Request r = UserRequest("q");
  r.tools = {AuditTool()};
  r.tool_choice.kind = ToolChoice::Kind::kAuto;
  EXPECT_EQ(AnthropicRequestJson(r, "m")["tool_choice"], json({{"type", "auto"}}));
  r.tool_choice.kind = ToolChoice::Kind::kRequired;
  EXPECT_EQ(AnthropicRequestJson(r, "m")["tool_choice"], json({{"type", "any"}}));
  r.tool_choice.kind = ToolChoice::Kind::kNone;
  EXPECT_EQ(AnthropicRequestJson(r, "m")["tool_choice"], json({{"type", "none"}}));
  r.tool_choice = {ToolChoice::Kind::kTool, "submit_answer"};
  EXPECT_EQ(AnthropicRequestJson(r, "m")["tool_choice"],
            json({{"type", "tool"}, {"name", "submit_answer"}}));
}

TEST(AnthropicWire, ParallelToolCallsParsedAndResultsInOneUserMessage) {
  Result<Turn> t = ParseAnthropicResponse(json::parse(kAnthropicToolResponse));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->texts, std::vector<std::string>{"Checking policy changes."});
  ASSERT_EQ(t->tool_calls.size(), 2u);
  EXPECT_EQ(t->tool_calls[0].id, "toolu_01");
  EXPECT_EQ(t->tool_calls[0].name, "audit_query");
  EXPECT_EQ(t->tool_calls[0].args, json::parse(R"({"code":"POLICY_UPDATED","limit":50})"));
  EXPECT_TRUE(t->tool_calls[0].args_error.empty());
  EXPECT_EQ(t->tool_calls[1].id, "toolu_02");
  EXPECT_EQ(t->stop, Stop::kToolUse);
  EXPECT_EQ(t->stop_raw, "tool_use");
  EXPECT_EQ(t->model, "claude-sonnet-4-6");
  EXPECT_TRUE(t->usage.known);
  EXPECT_EQ(t->usage.input, 640);
  EXPECT_EQ(t->usage.output, 71);
  EXPECT_EQ(t->usage.cache_read, 200);
  EXPECT_EQ(t->usage.cache_write_5m, 10);
  EXPECT_EQ(t->usage.cache_write_1h, 20);

  Request r = UserRequest("Who changed it?");
  r.messages.push_back(AssistantMsg(*t));
  r.messages.push_back(ResultsMsg({{"toolu_01", "audit_query", R"({"rows":[]})", false},
                                   {"toolu_02", "chain_verify", "from_seq too small", true}}));
  json got = AnthropicRequestJson(r, "claude-sonnet-4-6")["messages"];
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1], json({{"role", "assistant"},
                          {"content", json::parse(kAnthropicToolResponse)["content"]}}));
  EXPECT_EQ(got[2], json::parse(R"({"role":"user","content":[
      {"type":"tool_result","tool_use_id":"toolu_01","content":"{\"rows\":[]}"},
      {"type":"tool_result","tool_use_id":"toolu_02","content":"from_seq too small",
       "is_error":true}]})"))
      << got[2].dump();
}

TEST(AnthropicWire, UserTextAfterToolResultsIsMergedIntoOneUserMessage) {
  Result<Turn> t = ParseAnthropicResponse(json::parse(kAnthropicToolResponse));
  ASSERT_TRUE(t.ok());
  Request r = UserRequest("q");
  r.messages.push_back(AssistantMsg(*t));
  r.messages.push_back(AnswerAll(*t));
  Message repair;
  repair.text = "Cite rows.";
  r.messages.push_back(repair);
  json got = AnthropicRequestJson(r, "m")["messages"];
  ASSERT_EQ(got.size(), 3u);
  ASSERT_EQ(got[2]["content"].size(), 3u);
  EXPECT_EQ(got[2]["content"][0]["type"], "tool_result");
  EXPECT_EQ(got[2]["content"][1]["type"], "tool_result");
  EXPECT_EQ(got[2]["content"][2], json({{"type", "text"}, {"text", "Cite rows."}}));
}

TEST(AnthropicWire, AssistantTurnWithoutRawIsBuiltFromTextsAndCalls) {
  Turn t;
  t.texts = {"Looking."};
  t.tool_calls.push_back({"toolu_x", "audit_query", json{{"limit", 5}}, "", ""});
  Request r = UserRequest("q");
  r.messages.push_back(AssistantMsg(t));
  r.messages.push_back(AnswerAll(t));
  json got = AnthropicRequestJson(r, "m")["messages"][1];
  EXPECT_EQ(got, json::parse(R"({"role":"assistant","content":[{"type":"text","text":"Looking."},
      {"type":"tool_use","id":"toolu_x","name":"audit_query","input":{"limit":5}}]})"));
}

TEST(AnthropicWire, TextOnlyAndTextPlusToolCall) {
  Result<Turn> t = ParseAnthropicResponse(json::parse(R"({"type":"message","model":"m",
      "content":[{"type":"text","text":"All clear."}],"stop_reason":"end_turn",
      "usage":{"input_tokens":5,"output_tokens":3}})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->texts, std::vector<std::string>{"All clear."});
  EXPECT_TRUE(t->tool_calls.empty());
  EXPECT_EQ(t->stop, Stop::kEndTurn);
  EXPECT_TRUE(t->usage.known);
  EXPECT_EQ(t->usage.cache_write_5m, 0);

  t = ParseAnthropicResponse(json::parse(R"({"type":"message","content":[
      {"type":"text","text":"One check."},
      {"type":"tool_use","id":"toolu_9","name":"chain_verify","input":{"from_seq":1}}],
      "stop_reason":"stop_sequence"})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->texts.size(), 1u);
  ASSERT_EQ(t->tool_calls.size(), 1u);
  EXPECT_EQ(t->stop, Stop::kEndTurn);  // tool use is decided by the calls, not the stop
  EXPECT_FALSE(t->usage.known);        // no usage at all
}

TEST(AnthropicWire, MaxTokensCutOffToolUseIsNeverExecutedNorEchoed) {
  Result<Turn> t = ParseAnthropicResponse(json::parse(R"({"type":"message","content":[
      {"type":"tool_use","id":"toolu_cut","name":"audit_query","input":{}}],
      "stop_reason":"max_tokens","usage":{"input_tokens":1,"output_tokens":64}})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kMaxTokens);
  EXPECT_TRUE(t->tool_calls.empty());
  Request r = UserRequest("q");
  r.messages.push_back(AssistantMsg(*t));
  Message again;
  again.text = "Answer shorter.";
  r.messages.push_back(again);
  json got = AnthropicRequestJson(r, "m")["messages"];
  EXPECT_EQ(got[1]["content"],
            json::parse(R"j([{"type":"text","text":"(output cut off at the token limit)"}])j"));
  EXPECT_EQ(got[1].dump().find("toolu_cut"), std::string::npos);
}

TEST(AnthropicWire, RefusalContextExceededPauseTurn) {
  Result<Turn> t = ParseAnthropicResponse(json::parse(R"({"type":"message",
      "content":[{"type":"text","text":"I can't help with that."}],"stop_reason":"refusal"})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kRefusal);
  EXPECT_EQ(t->refusal, "I can't help with that.");
  t = ParseAnthropicResponse(json::parse(R"({"type":"message","content":[],
      "stop_reason":"refusal","stop_details":{"type":"refusal","explanation":"policy"}})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->refusal, "policy");
  t = ParseAnthropicResponse(json::parse(
      R"({"type":"message","content":[],"stop_reason":"model_context_window_exceeded"})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kContextExceeded);
  t = ParseAnthropicResponse(
      json::parse(R"({"type":"message","content":[],"stop_reason":"pause_turn"})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kOther);
  EXPECT_EQ(t->stop_raw, "pause_turn");
}

TEST(AnthropicWire, MissingToolIdIsSynthesisedAndSentBack) {
  Result<Turn> t = ParseAnthropicResponse(json::parse(R"({"type":"message","content":[
      {"type":"tool_use","name":"audit_query","input":{"limit":1}},
      {"type":"tool_use","name":"audit_query","input":"oops"}],"stop_reason":"tool_use"})"));
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->tool_calls.size(), 2u);
  EXPECT_EQ(t->tool_calls[0].id, "call_0");
  EXPECT_EQ(t->tool_calls[1].id, "call_1");
  EXPECT_FALSE(t->tool_calls[1].args_error.empty());
  EXPECT_EQ(t->tool_calls[1].args, json::object());
  Request r = UserRequest("q");
  r.messages.push_back(AssistantMsg(*t));
  r.messages.push_back(AnswerAll(*t));
  json got = AnthropicRequestJson(r, "m")["messages"];
  EXPECT_EQ(got[1]["content"][0]["id"], "call_0");
  EXPECT_EQ(got[2]["content"][1]["tool_use_id"], "call_1");
}

TEST(AnthropicWire, UsageFallbackAndPartial) {
  Result<Turn> t = ParseAnthropicResponse(json::parse(R"({"type":"message","content":[],
      "stop_reason":"end_turn","usage":{"input_tokens":9,"output_tokens":2,
      "cache_creation_input_tokens":40,"cache_read_input_tokens":7}})"));
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->usage.known);
  EXPECT_EQ(t->usage.cache_write_5m, 40);  // no breakdown: all of it is 5-minute cache
  EXPECT_EQ(t->usage.cache_read, 7);
  t = ParseAnthropicResponse(json::parse(
      R"({"type":"message","content":[],"stop_reason":"end_turn","usage":{"input_tokens":9}})"));
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->usage.known);
  EXPECT_EQ(t->usage.input, 9);
}

TEST(AnthropicWire, NotAMessageIsDataLoss) {
  EXPECT_EQ(ParseAnthropicResponse(json::parse(R"({"type":"message"})")).status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(ParseAnthropicResponse(json::parse("[1,2]")).status().code(), StatusCode::kDataLoss);
}

// ---------------------------------------------------------------------------------------------
// Layer 1: OpenAI Chat Completions

OpenAiWireOptions OpenAiOptions() {
  OpenAiWireOptions o;
  o.max_tokens_field = "max_completion_tokens";
  o.strict_tools = true;
  return o;
}

json Completion(const std::string& message, const std::string& finish,
                const std::string& usage = "") {
  std::string text = R"({"id":"chatcmpl-1","object":"chat.completion","model":"gpt-x",
      "choices":[{"index":0,"message":)" +
                     message + R"(,"finish_reason":)" + finish + "}]" +
                     (usage.empty() ? "" : R"(,"usage":)" + usage) + "}";
  return json::parse(text);
}

TEST(OpenAiWire, GoldenTextRequest) {
  Request r = UserRequest("Was the chain intact?");
  r.tools = {VerifyTool()};
  json got = OpenAiRequestJson(r, "gpt-4.1-mini", OpenAiOptions());
  json want = json::parse(R"({
    "model": "gpt-4.1-mini", "max_completion_tokens": 64, "temperature": 0.0,
    "messages": [{"role": "system", "content": "You investigate an audit store."},
                 {"role": "user", "content": "Was the chain intact?"}],
    "tools": [{"type": "function", "function": {"name": "chain_verify",
      "description": "Check the hash chain. Read-only.", "strict": true,
      "parameters": {"type":"object","properties":{"from_seq":{"type":"integer"}},
                     "required":["from_seq"],"additionalProperties":false}}}],
    "tool_choice": "auto"
  })");
  EXPECT_EQ(got, want) << got.dump(2);
}

TEST(OpenAiWire, CompatibleServerOptions) {
  Request r = UserRequest("q");
  r.system.clear();
  r.tools = {VerifyTool()};
  OpenAiWireOptions o;  // max_tokens, no strict
  o.parallel_tool_calls = true;
  json got = OpenAiRequestJson(r, "local", o);
  EXPECT_EQ(got["max_tokens"], 64);
  EXPECT_FALSE(got.contains("max_completion_tokens"));
  EXPECT_FALSE(got["tools"][0]["function"].contains("strict"));
  EXPECT_EQ(got["parallel_tool_calls"], true);
  EXPECT_EQ(got["messages"].size(), 1u);  // no empty system message
  EXPECT_EQ(got["messages"][0]["role"], "user");
}

TEST(OpenAiWire, ToolChoiceMapping) {
  Request r = UserRequest("q");
  r.tools = {AuditTool()};
  r.tool_choice.kind = ToolChoice::Kind::kNone;
  EXPECT_EQ(OpenAiRequestJson(r, "m", {})["tool_choice"], "none");
  r.tool_choice.kind = ToolChoice::Kind::kRequired;
  EXPECT_EQ(OpenAiRequestJson(r, "m", {})["tool_choice"], "required");
  r.tool_choice = {ToolChoice::Kind::kTool, "submit_answer"};
  EXPECT_EQ(OpenAiRequestJson(r, "m", {})["tool_choice"],
            json::parse(R"({"type":"function","function":{"name":"submit_answer"}})"));
  r.tools.clear();
  EXPECT_FALSE(OpenAiRequestJson(r, "m", {}).contains("tool_choice"));
}

TEST(OpenAiWire, ParallelCallsRoundTrip) {
  Result<Turn> t = ParseOpenAiResponse(Completion(R"({"role":"assistant","content":null,
      "refusal":null,"tool_calls":[
        {"id":"call_a","type":"function","function":{"name":"audit_query",
         "arguments":"{\"code\":null,\"limit\":5}"}},
        {"id":"call_b","type":"function","function":{"name":"chain_verify",
         "arguments":"{\"from_seq\":1}"}}]})",
                                                  R"("tool_calls")",
                                                  R"({"prompt_tokens":402,"completion_tokens":23,
      "total_tokens":425,"prompt_tokens_details":{"cached_tokens":100},
      "completion_tokens_details":{"reasoning_tokens":7}})"));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(t->texts.empty());
  ASSERT_EQ(t->tool_calls.size(), 2u);
  EXPECT_EQ(t->tool_calls[0].id, "call_a");
  EXPECT_EQ(t->tool_calls[0].args, json::parse(R"({"code":null,"limit":5})"));
  EXPECT_EQ(t->tool_calls[0].raw_args, R"({"code":null,"limit":5})");
  EXPECT_EQ(t->stop, Stop::kToolUse);
  EXPECT_TRUE(t->usage.known);
  EXPECT_EQ(t->usage.input, 302);  // cached tokens are a subset of prompt_tokens
  EXPECT_EQ(t->usage.cache_read, 100);
  EXPECT_EQ(t->usage.output, 23);
  EXPECT_EQ(t->usage.reasoning, 7);
  EXPECT_EQ(t->model, "gpt-x");

  Request r = UserRequest("q");
  r.messages.push_back(AssistantMsg(*t));
  r.messages.push_back(AnswerAll(*t, /*last_is_error=*/true));
  json got = OpenAiRequestJson(r, "m", OpenAiOptions())["messages"];
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[2], json::parse(R"({"role":"assistant","content":null,"tool_calls":[
      {"id":"call_a","type":"function","function":{"name":"audit_query",
       "arguments":"{\"code\":null,\"limit\":5}"}},
      {"id":"call_b","type":"function","function":{"name":"chain_verify",
       "arguments":"{\"from_seq\":1}"}}]})"))
      << got[2].dump();
  EXPECT_EQ(got[3], json::parse(R"({"role":"tool","tool_call_id":"call_a",
      "content":"{\"rows\":[],\"tool\":\"audit_query\"}"})"));
  // An error result is wrapped as {"error": <its text>}.
  EXPECT_EQ(got[4]["tool_call_id"], "call_b");
  EXPECT_EQ(got[4]["content"], R"({"error":"{\"rows\":[],\"tool\":\"chain_verify\"}"})");
}

TEST(OpenAiWire, ErrorResultsAreWrappedOnce) {
  Turn t;
  t.tool_calls.push_back({"c1", "audit_query", json::object(), "", "{}"});
  t.tool_calls.push_back({"c2", "audit_query", json::object(), "", "{}"});
  Request r = UserRequest("q");
  r.messages.push_back(AssistantMsg(t));
  r.messages.push_back(ResultsMsg({{"c1", "audit_query", "limit must be 1..200", true},
                                   {"c2", "audit_query", R"({"error":"bad since"})", true}}));
  json got = OpenAiRequestJson(r, "m", {})["messages"];
  EXPECT_EQ(got[3]["content"], R"({"error":"limit must be 1..200"})");
  EXPECT_EQ(got[4]["content"], R"({"error":"bad since"})");
}

TEST(OpenAiWire, TextOnlyAndTextPlusToolCall) {
  Result<Turn> t = ParseOpenAiResponse(
      Completion(R"({"role":"assistant","content":"All clear.","refusal":null})", R"("stop")",
                 R"({"prompt_tokens":10,"completion_tokens":3})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->texts, std::vector<std::string>{"All clear."});
  EXPECT_EQ(t->stop, Stop::kEndTurn);
  EXPECT_TRUE(t->usage.known);
  EXPECT_EQ(t->usage.input, 10);
  t = ParseOpenAiResponse(Completion(R"({"role":"assistant","content":"Checking.",
      "tool_calls":[{"id":"c","type":"function","function":{"name":"audit_query",
      "arguments":"{}"}}]})",
                                     R"("tool_calls")"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->texts, std::vector<std::string>{"Checking."});
  ASSERT_EQ(t->tool_calls.size(), 1u);
  EXPECT_EQ(t->tool_calls[0].args, json::object());
  EXPECT_FALSE(t->usage.known);  // usage absent → unknown, not 0
}

TEST(OpenAiWire, ArgumentsLenient) {
  Result<Turn> t = ParseOpenAiResponse(Completion(R"({"role":"assistant","content":"",
      "tool_calls":[
        {"id":"c1","type":"function","function":{"name":"audit_query","arguments":"{\"limit\":5"}},
        {"id":"c2","type":"function","function":{"name":"audit_query","arguments":{"limit":6}}},
        {"id":"c3","type":"function","function":{"name":"audit_query","arguments":"[1]"}},
        {"id":"c4","type":"function","function":{"name":"audit_query","arguments":""}},
        {"id":"c5","type":"function","function":{"arguments":"{}"}}]})",
                                                  R"("tool_calls")"));
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->tool_calls.size(), 5u);
  EXPECT_NE(t->tool_calls[0].args_error.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(t->tool_calls[0].args, json::object());
  EXPECT_EQ(t->tool_calls[0].raw_args, "{\"limit\":5");
  EXPECT_TRUE(t->tool_calls[1].args_error.empty());  // Ollama-style object arguments
  EXPECT_EQ(t->tool_calls[1].args, json({{"limit", 6}}));
  EXPECT_NE(t->tool_calls[2].args_error.find("not a JSON object"), std::string::npos);
  EXPECT_TRUE(t->tool_calls[3].args_error.empty());
  EXPECT_EQ(t->tool_calls[3].args, json::object());
  EXPECT_FALSE(t->tool_calls[4].args_error.empty());  // no function name
  EXPECT_TRUE(t->texts.empty());                      // content "" is no text

  // Echoed: valid arguments as received, invalid ones as "{}".
  Request r = UserRequest("q");
  r.messages.push_back(AssistantMsg(*t));
  r.messages.push_back(AnswerAll(*t));
  json calls = OpenAiRequestJson(r, "m", {})["messages"][2]["tool_calls"];
  EXPECT_EQ(calls[0]["function"]["arguments"], "{}");
  EXPECT_EQ(calls[1]["function"]["arguments"], R"({"limit":6})");
  EXPECT_EQ(calls[3]["function"]["arguments"], "{}");
}

TEST(OpenAiWire, MissingIdsAndTypeSynthesisedAndSentBack) {
  std::atomic<int64_t> counter{7};
  json body = Completion(R"({"role":"assistant","content":null,"tool_calls":[
      {"function":{"name":"audit_query","arguments":"{}"}},
      {"function":{"name":"chain_verify","arguments":"{}"}}]})",
                         R"("tool")");
  Result<Turn> t = ParseOpenAiResponse(body, &counter);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->tool_calls.size(), 2u);
  EXPECT_EQ(t->tool_calls[0].id, "call_7");
  EXPECT_EQ(t->tool_calls[1].id, "call_8");
  EXPECT_EQ(counter.load(), 9);
  EXPECT_EQ(t->stop, Stop::kToolUse);  // legacy llama.cpp "tool"
  EXPECT_EQ(t->stop_raw, "tool");
  EXPECT_EQ(t->raw["tool_calls"][1]["id"], "call_8");
  Request r = UserRequest("q");
  r.messages.push_back(AssistantMsg(*t));
  r.messages.push_back(AnswerAll(*t));
  json msgs = OpenAiRequestJson(r, "m", {})["messages"];
  EXPECT_EQ(msgs[2]["tool_calls"][0]["id"], "call_7");
  EXPECT_EQ(msgs[2]["tool_calls"][0]["type"], "function");
  EXPECT_EQ(msgs[4]["tool_call_id"], "call_8");
}

TEST(OpenAiWire, FinishReasons) {
  const char* call = R"({"role":"assistant","content":null,"tool_calls":[{"id":"c",
      "type":"function","function":{"name":"audit_query","arguments":"{}"}}]})";
  Result<Turn> t = ParseOpenAiResponse(Completion(call, R"("stop")"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kToolUse);  // "stop" with tool calls
  EXPECT_EQ(t->tool_calls.size(), 1u);
  t = ParseOpenAiResponse(Completion(call, "null"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kToolUse);
  t = ParseOpenAiResponse(Completion(call, R"("length")"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kMaxTokens);
  EXPECT_TRUE(t->tool_calls.empty());  // cut off: never executed
  t = ParseOpenAiResponse(Completion(R"({"role":"assistant","content":"x"})", R"("length")"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kMaxTokens);
  t = ParseOpenAiResponse(
      Completion(R"({"role":"assistant","content":null})", R"("content_filter")"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kRefusal);
  t = ParseOpenAiResponse(Completion(R"({"role":"assistant","content":null,
      "function_call":{"name":"audit_query","arguments":"{\"limit\":2}"}})",
                                     R"("function_call")"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kToolUse);
  ASSERT_EQ(t->tool_calls.size(), 1u);
  EXPECT_EQ(t->tool_calls[0].args, json({{"limit", 2}}));
  EXPECT_EQ(t->tool_calls[0].id, "call_0");
  t = ParseOpenAiResponse(Completion(
      R"({"role":"assistant","content":null,"refusal":"I can't help with that."})", R"("stop")"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->stop, Stop::kRefusal);
  EXPECT_EQ(t->refusal, "I can't help with that.");
}

TEST(OpenAiWire, QuirksOfCompatibleServers) {
  // vLLM: tool_calls [] and reasoning_content null, prompt_tokens_details null.
  Result<Turn> t = ParseOpenAiResponse(Completion(R"({"role":"assistant","content":"Hi",
      "tool_calls":[],"reasoning_content":null,"reasoning":"ignored"})",
                                                  R"("stop")",
                                                  R"({"prompt_tokens":8,"completion_tokens":2,
      "total_tokens":10,"prompt_tokens_details":null})"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->texts, std::vector<std::string>{"Hi"});
  EXPECT_TRUE(t->tool_calls.empty());
  EXPECT_TRUE(t->usage.known);
  EXPECT_EQ(t->usage.input, 8);
  EXPECT_EQ(t->usage.cache_read, 0);
  // Partial usage (prompt side only) → unknown.
  t = ParseOpenAiResponse(
      Completion(R"({"role":"assistant","content":"x"})", R"("stop")", R"({"prompt_tokens":8})"));
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->usage.known);
  // A model that wrote its call as text: no tool call.
  t = ParseOpenAiResponse(Completion(R"({"role":"assistant",
      "content":"```json\n{\"name\":\"audit_query\",\"arguments\":{}}\n```"})",
                                     R"("stop")"));
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->tool_calls.empty());
  EXPECT_EQ(t->stop, Stop::kEndTurn);
}

TEST(OpenAiWire, NoChoicesIsDataLoss) {
  EXPECT_EQ(ParseOpenAiResponse(json::parse(R"({"choices":[]})")).status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(ParseOpenAiResponse(json::parse(R"({"error":{"message":"x"}})")).status().code(),
            StatusCode::kDataLoss);
}

// ---------------------------------------------------------------------------------------------
// Layer 1: error envelopes (docs/providers.md §3, §4 items 7 and 8)

struct ErrorCase {
  const char* name;
  int status;
  const char* body;
  StatusCode code;
  bool retryable;
  const char* error_type;
  const char* message_part;
};

TEST(ProviderErrors, EveryEnvelope) {
  const ErrorCase cases[] = {
      {"anthropic overloaded", 529,
       R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},
           "request_id":"req_1"})",
       StatusCode::kUnavailable, true, "overloaded_error", "Overloaded"},
      {"anthropic invalid", 400,
       R"({"type":"error","error":{"type":"invalid_request_error",
           "message":"max_tokens: field required"}})",
       StatusCode::kInvalidArgument, false, "invalid_request_error", "max_tokens: field required"},
      {"anthropic auth", 401,
       R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}})",
       StatusCode::kUnauthenticated, false, "authentication_error", "invalid x-api-key"},
      {"anthropic permission", 403,
       R"({"type":"error","error":{"type":"permission_error","message":"no"}})",
       StatusCode::kUnauthenticated, false, "permission_error", "no"},
      {"anthropic rate limit", 429,
       R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})",
       StatusCode::kResourceExhausted, true, "rate_limit_error", "rate limited"},
      {"anthropic billing", 429,
       R"({"type":"error","error":{"type":"billing_error",
           "message":"This request would exceed your organization's monthly spend limit."}})",
       StatusCode::kResourceExhausted, false, "billing_error", "quota exhausted"},
      {"openai rate limit", 429,
       R"({"error":{"message":"Rate limit reached for requests","type":"requests","param":null,
           "code":"rate_limit_exceeded"}})",
       StatusCode::kResourceExhausted, true, "rate_limit_exceeded",
       "Rate limit reached for requests"},
      {"openai quota", 429,
       R"({"error":{"message":"You exceeded your current quota.","type":"insufficient_quota",
           "param":null,"code":"insufficient_quota"}})",
       StatusCode::kResourceExhausted, false, "insufficient_quota", "quota exhausted"},
      {"openai not found", 404,
       R"({"error":{"message":"The model does not exist","type":"invalid_request_error",
           "param":null,"code":"model_not_found"}})",
       StatusCode::kInvalidArgument, false, "model_not_found", "The model does not exist"},
      {"openai code null", 500,
       R"({"error":{"message":"boom","type":"server_error","param":null,"code":null}})",
       StatusCode::kUnavailable, true, "server_error", "boom"},
      {"vllm flat int code", 400,
       R"({"object":"error","message":"bad schema","type":"BadRequestError","param":null,
           "code":400})",
       StatusCode::kInvalidArgument, false, "BadRequestError", "bad schema"},
      {"vllm nested int code", 503,
       R"({"error":{"message":"busy","type":"ServiceUnavailableError","param":null,"code":503}})",
       StatusCode::kUnavailable, true, "ServiceUnavailableError", "busy"},
      {"vllm auto tool choice", 400,
       R"({"error":{"message":"\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set","type":"BadRequestError","param":null,"code":400}})",
       StatusCode::kInvalidArgument, false, "BadRequestError",
       "configuration error: HTTP 400 BadRequestError: \"auto\" tool choice requires "
       "--enable-auto-tool-choice and --tool-call-parser to be set"},
      {"vllm string 401", 401, R"({"error":"Unauthorized"})", StatusCode::kUnauthenticated, false,
       "", "Unauthorized"},
      {"llamacpp loading", 503,
       R"({"error":{"code":503,"message":"Loading model","type":"unavailable_error"}})",
       StatusCode::kUnavailable, true, "unavailable_error", "Loading model"},
      {"llamacpp context", 400,
       R"({"error":{"code":400,"message":"too long","type":"exceed_context_size_error"}})",
       StatusCode::kInvalidArgument, false, "exceed_context_size_error", "too long"},
      {"ollama string", 404, R"({"error":"model \"qwen3\" not found, try pulling it first"})",
       StatusCode::kInvalidArgument, false, "", "model \"qwen3\" not found"},
      {"conflict", 409, R"({"error":{"message":"conflict"}})", StatusCode::kUnavailable, true, "",
       "conflict"},
      {"request timeout", 408, "", StatusCode::kDeadlineExceeded, true, "", "(empty body)"},
      {"too large", 413, R"({"error":{"message":"too big","type":"invalid_request_error"}})",
       StatusCode::kInvalidArgument, false, "invalid_request_error", "too big"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    HttpFailure f = ParseErrorResponse("prov", c.status, "application/json", c.body);
    EXPECT_EQ(f.status.code(), c.code) << f.status.ToString();
    EXPECT_EQ(f.retryable, c.retryable);
    EXPECT_EQ(f.error_type, c.error_type);
    EXPECT_NE(f.status.message().find(c.message_part), std::string::npos) << f.status.message();
    EXPECT_EQ(f.status.message().rfind("prov: ", 0), 0u) << f.status.message();
  }
}

TEST(ProviderErrors, Html502GivesAShortExcerpt) {
  std::string html =
      "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
      "Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n" +
      std::string(5000, 'x');
  HttpFailure f = ParseErrorResponse("openai", 502, "text/html", html);
  EXPECT_EQ(f.status.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(f.retryable);
  EXPECT_NE(f.status.message().find("HTTP 502: 502 Bad Gateway 502 Bad Gateway nginx"),
            std::string::npos)
      << f.status.message();
  EXPECT_EQ(f.status.message().find('<'), std::string::npos);
  EXPECT_LT(f.status.message().size(), 300u);
}

// ---------------------------------------------------------------------------------------------
// Layer 1: factory, keys, small helpers

TEST(ProviderFactory, KindsAndDefaults) {
  for (const char* kind :
       {"anthropic", "openai", "vllm", "ollama", "llamacpp", "openai-compatible"}) {
    ProviderConfig c;
    c.kind = kind;
    c.model = "m";
    Result<std::unique_ptr<Provider>> p = MakeProvider(c);
    ASSERT_TRUE(p.ok()) << kind << ": " << p.status().ToString();
    EXPECT_EQ((*p)->kind(), kind);
    EXPECT_EQ((*p)->model(), "m");
    EXPECT_EQ((*p)->honours_tool_choice(), std::string(kind) != "ollama") << kind;
  }
  ProviderConfig c;
  c.kind = "gemini";
  c.model = "m";
  EXPECT_EQ(MakeProvider(c).status().code(), StatusCode::kInvalidArgument);
  c.kind = "openai";
  c.model = "";
  EXPECT_EQ(MakeProvider(c).status().code(), StatusCode::kInvalidArgument);
  c.model = "m";
  c.base_url = "ftp://example.com";
  EXPECT_EQ(MakeProvider(c).status().code(), StatusCode::kInvalidArgument);
}

TEST(ProviderFactory, StopNames) {
  EXPECT_STREQ(StopName(Stop::kEndTurn), "end_turn");
  EXPECT_STREQ(StopName(Stop::kToolUse), "tool_use");
  EXPECT_STREQ(StopName(Stop::kMaxTokens), "max_tokens");
  EXPECT_STREQ(StopName(Stop::kRefusal), "refusal");
  EXPECT_STREQ(StopName(Stop::kContextExceeded), "context_exceeded");
  EXPECT_STREQ(StopName(Stop::kOther), "other");
}

TEST(ProviderFactory, ResolveApiKey) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("fasten_key_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string file = dir + "/key";
  std::ofstream(file) << "  sk-from-file \nsecond line\n";
  Result<std::string> k = ResolveApiKey("anthropic", file);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(*k, "sk-from-file");
  EXPECT_EQ(ResolveApiKey("openai", dir + "/missing").status().code(), StatusCode::kNotFound);
  std::ofstream(file) << "\n";
  EXPECT_EQ(ResolveApiKey("openai", file).status().code(), StatusCode::kInvalidArgument);
  Result<std::string> local = ResolveApiKey("ollama", file);
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(*local, "");

  setenv("OPENAI_API_KEY", "sk-env-openai", 1);
  setenv("FASTEN_LLM_API_KEY", "local-env", 1);
  unsetenv("ANTHROPIC_API_KEY");
  k = ResolveApiKey("openai", "");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, "sk-env-openai");
  k = ResolveApiKey("vllm", "");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, "local-env");
  Result<std::string> missing = ResolveApiKey("anthropic", "");
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("ANTHROPIC_API_KEY"), std::string::npos);
  EXPECT_EQ(ResolveApiKey("nope", "").status().code(), StatusCode::kInvalidArgument);
  unsetenv("OPENAI_API_KEY");
  unsetenv("FASTEN_LLM_API_KEY");
  std::filesystem::remove_all(dir);
}

TEST(HttpClientUnit, RetryAfterAndBackoff) {
  HttpResponse r;
  EXPECT_FALSE(ServerRetryAfterMs(r, 0).has_value());
  r.headers["retry-after"] = "7";
  EXPECT_EQ(ServerRetryAfterMs(r, 0), 7000);
  r.headers["retry-after"] = "1.5";
  EXPECT_EQ(ServerRetryAfterMs(r, 0), 1500);
  r.headers["retry-after-ms"] = "1200";  // wins over retry-after
  EXPECT_EQ(ServerRetryAfterMs(r, 0), 1200);
  r.headers.erase("retry-after-ms");
  r.headers["retry-after"] = "Wed, 21 Oct 2015 07:28:00 GMT";
  const int64_t at = 1445412480000;  // that date, in Unix ms
  EXPECT_EQ(ServerRetryAfterMs(r, at - 30000), 30000);
  EXPECT_FALSE(ServerRetryAfterMs(r, at + 1000).has_value());  // in the past
  r.headers["retry-after"] = "0";
  EXPECT_FALSE(ServerRetryAfterMs(r, 0).has_value());
  r.headers["retry-after"] = "soon";
  EXPECT_FALSE(ServerRetryAfterMs(r, 0).has_value());

  EXPECT_EQ(BackoffMs(0, 1.0), 500);
  EXPECT_EQ(BackoffMs(1, 1.0), 1000);
  EXPECT_EQ(BackoffMs(2, 0.75), 1500);
  EXPECT_EQ(BackoffMs(4, 1.0), 8000);
  EXPECT_EQ(BackoffMs(30, 1.0), 8000);
}

TEST(HttpClientUnit, BodyExcerptIsOneShortLine) {
  EXPECT_EQ(BodyExcerpt("a\n\tb  <b>c</b>\x01"), "a b c");
  std::string s = BodyExcerpt(std::string(50, 'y') + "\xc3\xa9" + std::string(50, 'z'), 51);
  EXPECT_EQ(s, std::string(50, 'y') + "...");  // never cuts a UTF-8 sequence
}

// ---------------------------------------------------------------------------------------------
// Layer 2: the real client against tests/fakes/fake_llm.py

int64_t SteadyUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A fake provider process serving one script; stopped (SIGTERM) on destruction.
class FakeLlm {
 public:
  explicit FakeLlm(const json& script) {
    char tmpl[] = "/tmp/fasten_fake_llm_XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string script_path = dir_ + "/script.json";
    log_path_ = dir_ + "/log.jsonl";
    std::ofstream(script_path) << script.dump();
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<std::string> args = {
        FASTEN_PYTHON, FASTEN_FAKE_LLM, "--script", script_path, "--port", "0", "--log", log_path_};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, FASTEN_PYTHON, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      pid_ = -1;
      close(fds[0]);
      return;
    }
    out_ = fdopen(fds[0], "r");
    char line[256] = {0};
    if (out_ != nullptr && std::fgets(line, sizeof line, out_) != nullptr) {
      std::string s = line;
      size_t colon = s.rfind(':');
      if (s.rfind("listening on http://127.0.0.1:", 0) == 0 && colon != std::string::npos) {
        port_ = std::atoi(s.c_str() + colon + 1);
      }
    }
  }
  ~FakeLlm() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (out_ != nullptr) std::fclose(out_);
    std::filesystem::remove_all(dir_);
  }
  FakeLlm(const FakeLlm&) = delete;
  FakeLlm& operator=(const FakeLlm&) = delete;

  bool ok() const { return port_ > 0; }
  std::string url(const std::string& flavor) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + flavor;
  }

  // GET /_fake/status over a plain socket (libcurl stays inside llm/http_client.cc).
  json Status() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string resp;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      std::string req = "GET /_fake/status HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
      if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
        char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
      }
    }
    close(fd);
    size_t body = resp.find("\r\n\r\n");
    if (body == std::string::npos) return json();
    return json::parse(resp.substr(body + 4), nullptr, false);
  }

  std::vector<json> Log() const {
    std::vector<json> out;
    std::ifstream in(log_path_);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
    }
    return out;
  }

 private:
  std::string dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int port_ = 0;
};

// Injected time: sleeps are recorded, not slept, and advance the clock.
struct FakeTime {
  std::vector<int64_t> sleeps;
  std::atomic<int64_t> slept{0};
  void Apply(ProviderConfig& c) {
    c.sleeper = [this](int64_t us) {
      sleeps.push_back(us);
      slept += us;
    };
    c.clock = [this] { return SteadyUs() + slept.load(); };
    c.jitter = [] { return 1.0; };
  }
};

class HttpClientFake : public ::testing::Test {
 protected:
  std::unique_ptr<Provider> Make(const FakeLlm& fake, const std::string& kind,
                                 const std::string& flavor, const std::string& key = "sk-test") {
    ProviderConfig c;
    c.kind = kind;
    c.model = "fake-model";
    c.base_url = fake.url(flavor);
    c.api_key = key;
    c.request_timeout_ms = 10000;
    time_.Apply(c);
    if (tweak_) tweak_(c);
    Result<std::unique_ptr<Provider>> p = MakeProvider(c);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  static void ExpectClean(const FakeLlm& fake, int remaining = 0) {
    json st = fake.Status();
    EXPECT_EQ(st["failures"], json::array()) << st.dump();
    EXPECT_EQ(st["remaining"], remaining) << st.dump();
  }

  FakeTime time_;
  std::function<void(ProviderConfig&)> tweak_;
};

TEST_F(HttpClientFake, AuthHeadersAndMaxTokensFieldForEveryFlavour) {
  json script = json::parse(R"({"api_keys":{"anthropic":"sk-ant","openai":"sk-oai",
      "vllm":"vllm-key","llamacpp":"lc-key"},"turns":[
    {"text":"from anthropic","expect":{"path":"/anthropic/v1/messages",
      "headers":{"anthropic-version":"2023-06-01","x-api-key":"sk-ant"},
      "headers_absent":["authorization"],"json_subset":{"max_tokens":64,"model":"fake-model"},
      "body_lacks":"sk-ant"}},
    {"text":"from openai","expect":{"path":"/openai/v1/chat/completions",
      "headers":{"authorization":"Bearer sk-oai"},"headers_absent":["x-api-key"],
      "json_subset":{"max_completion_tokens":64},"body_lacks":"sk-oai"}},
    {"text":"from vllm","expect":{"headers":{"authorization":"Bearer vllm-key"},
      "json_subset":{"max_tokens":64}}},
    {"text":"from ollama","expect":{"path":"/ollama/v1/chat/completions",
      "headers_absent":["authorization"],"json_subset":{"max_tokens":64}}},
    {"text":"from llamacpp","expect":{"headers":{"authorization":"Bearer lc-key"}}},
    {"text":"from legacy","expect":{"path":"/llamacpp-legacy/v1/chat/completions"}}]})");
  FakeLlm fake(script);
  ASSERT_TRUE(fake.ok());
  struct Case {
    const char* kind;
    const char* flavor;
    const char* key;
    const char* want;
  };
  const Case cases[] = {{"anthropic", "anthropic", "sk-ant", "from anthropic"},
                        {"openai", "openai", "sk-oai", "from openai"},
                        {"vllm", "vllm", "vllm-key", "from vllm"},
                        {"ollama", "ollama", "", "from ollama"},
                        {"llamacpp", "llamacpp", "lc-key", "from llamacpp"},
                        {"openai-compatible", "llamacpp-legacy", "x", "from legacy"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.kind);
    auto p = Make(fake, c.kind, c.flavor, c.key);
    ASSERT_NE(p, nullptr);
    CallError err;
    Result<Turn> t = p->Complete(UserRequest("hello"), &err);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->texts, std::vector<std::string>{c.want});
    EXPECT_EQ(t->stop, Stop::kEndTurn);
    EXPECT_TRUE(t->usage.known);
    EXPECT_GT(t->usage.input, 0);
    EXPECT_EQ(err.attempts, 1);
    if (std::string(c.kind) == "anthropic" || std::string(c.kind) == "openai") {
      EXPECT_FALSE(t->request_id.empty());
    }
  }
  ExpectClean(fake);
}

TEST_F(HttpClientFake, WrongKeyIs401NotRetriedAndNotLeaked) {
  FakeLlm fake(json::parse(R"({"api_keys":{"openai":"sk-right"},"turns":[{"text":"never"}]})"));
  ASSERT_TRUE(fake.ok());
  auto p = Make(fake, "openai", "openai", "sk-wrong-secret");
  CallError err;
  Result<Turn> t = p->Complete(UserRequest("hi"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(err.http_status, 401);
  EXPECT_EQ(err.attempts, 1);
  EXPECT_FALSE(err.retryable);
  EXPECT_EQ(t.status().message().find("sk-wrong-secret"), std::string::npos);
  EXPECT_TRUE(time_.sleeps.empty());
  ExpectClean(fake, 1);
}

TEST_F(HttpClientFake, AnthropicToolRoundTrip) {
  FakeLlm fake(json::parse(R"({"turns":[
    {"text":"Looking.","tool_calls":[{"name":"audit_query","input":{"code":null,"limit":5}},
                                     {"name":"chain_verify","input":{"from_seq":1}}]},
    {"text":"Done.","expect":{"tool_result_count":2}}]})"));
  ASSERT_TRUE(fake.ok());
  auto p = Make(fake, "anthropic", "anthropic");
  Request r = UserRequest("What happened?");
  r.tools = {AuditTool(), VerifyTool()};
  Result<Turn> t1 = p->Complete(r);
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();
  ASSERT_EQ(t1->tool_calls.size(), 2u);
  EXPECT_EQ(t1->stop, Stop::kToolUse);
  EXPECT_EQ(t1->tool_calls[0].name, "audit_query");
  EXPECT_EQ(t1->tool_calls[0].args, json::parse(R"({"code":null,"limit":5})"));
  EXPECT_EQ(t1->tool_calls[0].id.rfind("toolu_", 0), 0u);
  r.messages.push_back(AssistantMsg(*t1));
  r.messages.push_back(AnswerAll(*t1, /*last_is_error=*/true));
  Result<Turn> t2 = p->Complete(r);
  ASSERT_TRUE(t2.ok()) << t2.status().ToString();
  EXPECT_EQ(t2->texts, std::vector<std::string>{"Done."});
  ExpectClean(fake);
  std::vector<json> log = fake.Log();
  ASSERT_EQ(log.size(), 2u);
  json results = log[1]["tool_results"];
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]["id"], t1->tool_calls[0].id);
  EXPECT_EQ(results[0]["is_error"], false);
  EXPECT_EQ(results[1]["id"], t1->tool_calls[1].id);
  EXPECT_EQ(results[1]["is_error"], true);
  EXPECT_EQ(log[1]["body"]["messages"][1]["content"], t1->raw["content"]);  // verbatim echo
}

TEST_F(HttpClientFake, OpenAiStyleToolRoundTripEveryFlavour) {
  json turns = json::array();
  const char* flavors[] = {"openai", "vllm", "ollama", "llamacpp", "llamacpp-legacy"};
  for (int i = 0; i < 5; ++i) {
    turns.push_back(json::parse(
        R"({"tool_calls":[{"name":"audit_query","input":{"code":"X","limit":2}},
                          {"name":"chain_verify","input":{"from_seq":3}}]})"));
    turns.push_back(json::parse(R"({"text":"ok","expect":{"tool_result_count":2}})"));
  }
  FakeLlm fake(json{{"api_keys", {{"openai", "sk-test"}}}, {"turns", turns}});
  ASSERT_TRUE(fake.ok());
  for (const char* flavor : flavors) {
    SCOPED_TRACE(flavor);
    std::string kind = std::string(flavor) == "llamacpp-legacy" ? "llamacpp" : flavor;
    auto p = Make(fake, kind, flavor);
    Request r = UserRequest("q");
    r.tools = {AuditTool(), VerifyTool()};
    Result<Turn> t1 = p->Complete(r);
    ASSERT_TRUE(t1.ok()) << t1.status().ToString();
    ASSERT_EQ(t1->tool_calls.size(), 2u);
    EXPECT_EQ(t1->stop, Stop::kToolUse);
    EXPECT_EQ(t1->tool_calls[0].args, json::parse(R"({"code":"X","limit":2})"));
    EXPECT_EQ(t1->tool_calls[1].args, json::parse(R"({"from_seq":3})"));
    if (std::string(flavor) == "llamacpp-legacy") {
      EXPECT_EQ(t1->stop_raw, "tool");
      EXPECT_EQ(t1->tool_calls[0].id, "call_0");  // synthesised
      EXPECT_EQ(t1->tool_calls[1].id, "call_1");
    } else {
      EXPECT_FALSE(t1->tool_calls[0].id.empty());
    }
    r.messages.push_back(AssistantMsg(*t1));
    r.messages.push_back(AnswerAll(*t1));
    Result<Turn> t2 = p->Complete(r);
    ASSERT_TRUE(t2.ok()) << t2.status().ToString();
    EXPECT_EQ(t2->texts, std::vector<std::string>{"ok"});
  }
  ExpectClean(fake);
  std::vector<json> log = fake.Log();
  ASSERT_EQ(log.size(), 10u);
  // The legacy server's second request answers the synthesised ids.
  EXPECT_EQ(log[9]["tool_results"][0]["id"], "call_0");
  EXPECT_EQ(log[9]["tool_results"][1]["id"], "call_1");
  EXPECT_EQ(log[9]["body"]["messages"][2]["tool_calls"][0]["id"], "call_0");
  EXPECT_EQ(log[0]["body"]["tools"][0]["function"]["strict"], true);        // openai
  EXPECT_EQ(log[6]["body"]["parallel_tool_calls"], true);                   // llamacpp
  EXPECT_FALSE(log[4]["body"]["tools"][0]["function"].contains("strict"));  // ollama
}

TEST_F(HttpClientFake, QuirksOverTheWire) {
  FakeLlm fake(json::parse(R"({"turns":[
    {"tool_calls":[{"name":"audit_query","input":{"limit":1}}],
     "quirks":["args_invalid_json","finish_stop","no_usage"]},
    {"text":"fine","expect":{"tool_result_count":1}},
    {"tool_calls":[{"name":"audit_query","input":{"limit":1}}],
     "quirks":["args_object","content_null","extra_fields","partial_usage"]}]})"));
  ASSERT_TRUE(fake.ok());
  auto p = Make(fake, "vllm", "vllm");
  Request r = UserRequest("q");
  r.tools = {AuditTool()};
  Result<Turn> t = p->Complete(r);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->tool_calls.size(), 1u);
  EXPECT_FALSE(t->tool_calls[0].args_error.empty());
  EXPECT_EQ(t->stop, Stop::kToolUse);
  EXPECT_EQ(t->stop_raw, "stop");
  EXPECT_FALSE(t->usage.known);
  r.messages.push_back(AssistantMsg(*t));
  r.messages.push_back(
      ResultsMsg({{t->tool_calls[0].id, "audit_query", t->tool_calls[0].args_error, true}}));
  ASSERT_TRUE(p->Complete(r).ok());
  t = p->Complete(UserRequest("again"));
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->tool_calls.size(), 1u);
  EXPECT_EQ(t->tool_calls[0].args, json({{"limit", 1}}));
  EXPECT_FALSE(t->usage.known);
  ExpectClean(fake);
}

TEST_F(HttpClientFake, RateLimitRetryAfterHonoured) {
  FakeLlm fake(json::parse(R"({"turns":[
    {"fault":{"kind":"rate_limit","retry_after":1}},{"text":"anthropic ok"},
    {"fault":{"kind":"rate_limit","retry_after":null,"retry_after_ms":1200}},{"text":"openai ok"}
  ]})"));
  ASSERT_TRUE(fake.ok());
  CallError err;
  Result<Turn> t = Make(fake, "anthropic", "anthropic")->Complete(UserRequest("q"), &err);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->texts[0], "anthropic ok");
  EXPECT_EQ(err.attempts, 2);
  EXPECT_EQ(time_.sleeps, std::vector<int64_t>{1000000});
  time_.sleeps.clear();
  t = Make(fake, "openai", "openai")->Complete(UserRequest("q"), &err);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->texts[0], "openai ok");
  EXPECT_EQ(time_.sleeps, std::vector<int64_t>{1200000});
  ExpectClean(fake);
}

TEST_F(HttpClientFake, RetryAfterHttpDateAndTooLong) {
  std::time_t when = std::time(nullptr) + 20;
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&when));
  json script = json::parse(R"({"turns":[{"fault":{"kind":"rate_limit"}},{"text":"ok"},
      {"fault":{"kind":"rate_limit","retry_after":120}}]})");
  script["turns"][0]["fault"]["retry_after"] = date;
  FakeLlm fake(script);
  ASSERT_TRUE(fake.ok());
  auto p = Make(fake, "anthropic", "anthropic");
  ASSERT_TRUE(p->Complete(UserRequest("q")).ok());
  ASSERT_EQ(time_.sleeps.size(), 1u);
  EXPECT_GT(time_.sleeps[0], 17000000);
  EXPECT_LE(time_.sleeps[0], 21000000);
  time_.sleeps.clear();
  CallError err;
  Result<Turn> t = p->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(t.status().message().find("rate limited; retry after 120 s"), std::string::npos)
      << t.status().message();
  EXPECT_TRUE(time_.sleeps.empty());
  EXPECT_EQ(err.attempts, 1);
  EXPECT_EQ(err.http_status, 429);
  ExpectClean(fake);
}

TEST_F(HttpClientFake, OverloadedAndUnavailableRetriedWithBackoff) {
  FakeLlm fake(json::parse(R"({"turns":[
    {"fault":"overloaded","repeat":2},{"text":"anthropic ok"},
    {"fault":"overloaded"},{"fault":"server_error"},{"text":"openai ok"},
    {"fault":"unavailable"},{"text":"llamacpp ok"}]})"));
  ASSERT_TRUE(fake.ok());
  CallError err;
  Result<Turn> t = Make(fake, "anthropic", "anthropic")->Complete(UserRequest("q"), &err);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->texts[0], "anthropic ok");
  EXPECT_EQ(err.attempts, 3);
  EXPECT_EQ(time_.sleeps, (std::vector<int64_t>{500000, 1000000}));
  time_.sleeps.clear();
  t = Make(fake, "openai", "openai")->Complete(UserRequest("q"), &err);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->texts[0], "openai ok");
  EXPECT_EQ(err.attempts, 3);
  t = Make(fake, "llamacpp", "llamacpp")->Complete(UserRequest("q"), &err);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->texts[0], "llamacpp ok");
  EXPECT_EQ(err.attempts, 2);
  std::vector<json> log = fake.Log();
  ASSERT_EQ(log.size(), 8u);
  EXPECT_EQ(log[0]["response"]["status"], 529);
  EXPECT_EQ(log[3]["response"]["status"], 503);
  ExpectClean(fake);
}

TEST_F(HttpClientFake, ClientErrorsAndQuotaNotRetried) {
  FakeLlm fake(json::parse(R"({"turns":[
    {"fault":"bad_request"},{"fault":"auth"},{"fault":"not_found"},{"fault":"quota"},
    {"fault":"bad_request"},{"fault":"auth"},{"fault":"not_found"},{"fault":"quota"}]})"));
  ASSERT_TRUE(fake.ok());
  struct Want {
    int status;
    StatusCode code;
  };
  const Want wants[] = {{400, StatusCode::kInvalidArgument},
                        {401, StatusCode::kUnauthenticated},
                        {404, StatusCode::kInvalidArgument},
                        {429, StatusCode::kResourceExhausted}};
  for (const char* kind : {"anthropic", "openai"}) {
    auto p = Make(fake, kind, kind);
    for (const Want& w : wants) {
      SCOPED_TRACE(std::string(kind) + " " + std::to_string(w.status));
      CallError err;
      Result<Turn> t = p->Complete(UserRequest("q"), &err);
      EXPECT_EQ(t.status().code(), w.code) << t.status().ToString();
      EXPECT_EQ(err.http_status, w.status);
      EXPECT_EQ(err.attempts, 1);
      EXPECT_FALSE(err.retryable);
      if (w.status == 429) {
        EXPECT_NE(t.status().message().find("quota exhausted"), std::string::npos)
            << t.status().message();
        EXPECT_EQ(err.error_type,
                  std::string(kind) == "anthropic" ? "billing_error" : "insufficient_quota");
      }
    }
  }
  EXPECT_TRUE(time_.sleeps.empty());
  ExpectClean(fake);
}

TEST_F(HttpClientFake, VllmAutoToolChoiceIsAConfigurationError) {
  FakeLlm fake(json::parse(R"({"turns":[{"fault":"vllm_auto_tool_choice"}]})"));
  ASSERT_TRUE(fake.ok());
  CallError err;
  Result<Turn> t = Make(fake, "vllm", "vllm")->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("\"auto\" tool choice requires --enable-auto-tool-choice "
                                      "and --tool-call-parser to be set"),
            std::string::npos)
      << t.status().message();
  EXPECT_EQ(err.attempts, 1);
  EXPECT_FALSE(err.retryable);
  ExpectClean(fake);
}

TEST_F(HttpClientFake, ShouldRetryHeaderOverridesTheTable) {
  FakeLlm fake(json::parse(R"({"turns":[
    {"fault":{"kind":"unavailable","should_retry":false}},
    {"fault":{"kind":"bad_request","should_retry":true}},{"text":"ok"}]})"));
  ASSERT_TRUE(fake.ok());
  auto p = Make(fake, "anthropic", "anthropic");
  CallError err;
  Result<Turn> t = p->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(err.attempts, 1);
  EXPECT_FALSE(err.retryable);
  t = p->Complete(UserRequest("q"), &err);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(err.attempts, 2);
  ExpectClean(fake);
}

TEST_F(HttpClientFake, RetryCap) {
  FakeLlm fake(json::parse(R"({"turns":[{"fault":"overloaded","repeat":5}]})"));
  ASSERT_TRUE(fake.ok());
  CallError err;
  Result<Turn> t = Make(fake, "anthropic", "anthropic")->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(t.status().message().find("overloaded_error: Overloaded (after 3 attempts)"),
            std::string::npos)
      << t.status().message();
  EXPECT_EQ(err.attempts, 3);
  EXPECT_EQ(err.http_status, 529);
  EXPECT_EQ(err.error_type, "overloaded_error");
  EXPECT_TRUE(err.retryable);
  EXPECT_EQ(time_.sleeps.size(), 2u);
  ExpectClean(fake, 2);

  tweak_ = [](ProviderConfig& c) { c.max_retries = 0; };
  t = Make(fake, "anthropic", "anthropic")->Complete(UserRequest("q"), &err);
  EXPECT_EQ(err.attempts, 1);
  ExpectClean(fake, 1);
}

TEST_F(HttpClientFake, DeadlineStopsRetries) {
  FakeLlm fake(json::parse(R"({"turns":[{"fault":"overloaded"},{"text":"too late"}]})"));
  ASSERT_TRUE(fake.ok());
  tweak_ = [this](ProviderConfig& c) { c.deadline_us = c.clock() + 300000; };
  CallError err;
  Result<Turn> t = Make(fake, "anthropic", "anthropic")->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(t.status().message().find("no time left for a retry before the deadline"),
            std::string::npos)
      << t.status().message();
  EXPECT_EQ(err.attempts, 1);
  EXPECT_TRUE(time_.sleeps.empty());  // 500 ms backoff > 300 ms left
  ExpectClean(fake, 1);

  tweak_ = [](ProviderConfig& c) { c.deadline_us = c.clock() - 1; };
  t = Make(fake, "anthropic", "anthropic")->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(fake.Log().size(), 1u);  // no request was sent
}

TEST_F(HttpClientFake, RealTimeoutThenRetry) {
  FakeLlm fake(json::parse(R"({"turns":[
    {"text":"late","delay_ms":1500},{"text":"retried"},
    {"fault":{"kind":"timeout","hold_ms":1500}},
    {"text":"deadline-bound","delay_ms":1500}]})"));
  ASSERT_TRUE(fake.ok());
  tweak_ = [](ProviderConfig& c) {
    c.request_timeout_ms = 300;
    c.max_retries = 1;
  };
  CallError err;
  auto p = Make(fake, "openai", "openai");
  int64_t start = SteadyUs();
  Result<Turn> t = p->Complete(UserRequest("q"), &err);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->texts[0], "retried");
  EXPECT_EQ(err.attempts, 2);
  EXPECT_LT(SteadyUs() - start, 1400000);  // gave up on the slow answer

  tweak_ = [](ProviderConfig& c) {
    c.request_timeout_ms = 300;
    c.max_retries = 0;
  };
  t = Make(fake, "openai", "openai")->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kDeadlineExceeded) << t.status().ToString();
  EXPECT_EQ(err.http_status, 0);
  EXPECT_TRUE(err.retryable);

  // A generous request timeout is cut to the time left before the deadline.
  tweak_ = [](ProviderConfig& c) {
    c.request_timeout_ms = 10000;
    c.max_retries = 0;
    c.deadline_us = c.clock() + 400000;
  };
  start = SteadyUs();
  t = Make(fake, "openai", "openai")->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kDeadlineExceeded) << t.status().ToString();
  EXPECT_LT(SteadyUs() - start, 1400000);
  ExpectClean(fake);
}

TEST_F(HttpClientFake, ConnectionRefusedRetriedThenUnavailable) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);  // nothing listens there now
  ProviderConfig c;
  c.kind = "vllm";
  c.model = "m";
  c.base_url = "http://127.0.0.1:" + std::to_string(port);
  time_.Apply(c);
  auto p = MakeProvider(c);
  ASSERT_TRUE(p.ok());
  CallError err;
  Result<Turn> t = (*p)->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(t.status().message().find("vllm: connection failed"), std::string::npos)
      << t.status().message();
  EXPECT_EQ(err.http_status, 0);
  EXPECT_EQ(err.attempts, 3);
  EXPECT_TRUE(err.retryable);
  EXPECT_EQ(time_.sleeps, (std::vector<int64_t>{500000, 1000000}));
}

TEST_F(HttpClientFake, TruncatedBodyRetried) {
  FakeLlm fake(json::parse(R"({"turns":[
    {"text":"cut","fault":"truncated"},{"text":"whole"},{"text":"cut again","fault":"truncated"},
    {"fault":"drop"}]})"));
  ASSERT_TRUE(fake.ok());
  CallError err;
  Result<Turn> t = Make(fake, "anthropic", "anthropic")->Complete(UserRequest("q"), &err);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->texts[0], "whole");
  EXPECT_EQ(err.attempts, 2);
  tweak_ = [](ProviderConfig& c) { c.max_retries = 0; };
  auto p = Make(fake, "anthropic", "anthropic");
  t = p->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(t.status().message().find("truncated"), std::string::npos) << t.status().message();
  EXPECT_TRUE(err.retryable);
  t = p->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(t.status().message().find("no response"), std::string::npos) << t.status().message();
  ExpectClean(fake);
}

TEST_F(HttpClientFake, MalformedJsonIsDataLossNotRetried) {
  FakeLlm fake(json::parse(R"({"turns":[{"fault":"malformed"},{"fault":"malformed"},
    {"text":"unused"}]})"));
  ASSERT_TRUE(fake.ok());
  for (const char* kind : {"anthropic", "openai"}) {
    CallError err;
    Result<Turn> t = Make(fake, kind, kind)->Complete(UserRequest("q"), &err);
    EXPECT_EQ(t.status().code(), StatusCode::kDataLoss) << t.status().ToString();
    EXPECT_NE(t.status().message().find("not JSON"), std::string::npos);
    EXPECT_EQ(err.attempts, 1);
    EXPECT_EQ(err.http_status, 200);
    EXPECT_FALSE(err.retryable);
  }
  ExpectClean(fake, 1);
}

TEST_F(HttpClientFake, AResponseOverTheSizeLimitIsRefusedNotKept) {
  // Issue 12: a 20 MB model reply was kept and echoed back on every later turn. A body over
  // max_response_bytes (decoded: gzip counts as inflated) now fails the call, once.
  const std::string big(200 * 1024, 'x');
  FakeLlm fake(
      json{{"turns", {{{"text", big}}, {{"text", big}, {"gzip", true}}, {{"text", "ok"}}}}});
  ASSERT_TRUE(fake.ok());
  tweak_ = [](ProviderConfig& c) { c.max_response_bytes = 64 * 1024; };
  for (const char* kind : {"anthropic", "openai"}) {
    CallError err;
    Result<Turn> t = Make(fake, kind, kind)->Complete(UserRequest("q"), &err);
    EXPECT_EQ(t.status().code(), StatusCode::kDataLoss) << t.status().ToString();
    EXPECT_NE(t.status().message().find("larger than 65536 bytes (the limit)"), std::string::npos)
        << t.status().message();
    EXPECT_EQ(err.attempts, 1);
    EXPECT_FALSE(err.retryable);
  }
  // A reply within the limit is unaffected.
  Result<Turn> t = Make(fake, "openai", "openai")->Complete(UserRequest("q"));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->texts, std::vector<std::string>{"ok"});
  ExpectClean(fake);
}

TEST_F(HttpClientFake, NegativeTokenCountsMakeUsageUnknown) {
  // Issue 12: a provider's negative usage was stored as negative tokens (a negative cost).
  FakeLlm fake(json::parse(R"({"turns":[{"text":"a","usage":{"input":-5,"output":10}},
    {"text":"b","usage":{"input":7,"output":-1}},{"text":"c","usage":{"input":7,"output":3}}]})"));
  ASSERT_TRUE(fake.ok());
  for (const char* kind : {"anthropic", "openai"}) {
    Result<Turn> t = Make(fake, kind, kind)->Complete(UserRequest("q"));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_FALSE(t->usage.known) << kind;
    EXPECT_GE(t->usage.input, 0);
    EXPECT_GE(t->usage.output, 0);
  }
  Result<Turn> t = Make(fake, "anthropic", "anthropic")->Complete(UserRequest("q"));
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->usage.known);
  EXPECT_EQ(t->usage.input, 7);
  EXPECT_EQ(t->usage.output, 3);
  ExpectClean(fake);
}

TEST_F(HttpClientFake, DeeplyNestedToolArgumentsAreAnArgumentsErrorNotACrash) {
  // Issue 12: tool-call arguments nested ~100 k levels deep killed the server during
  // POST /api/v1/investigate. They are now refused at the depth limit.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  json script = {{"turns",
                  {{{"tool_calls", {{{"name", "audit_query"}, {"raw_arguments", deep}}}}},
                   {{"text", "after"}}}}};
  FakeLlm fake(script);
  ASSERT_TRUE(fake.ok());
  auto p = Make(fake, "openai", "openai");
  Result<Turn> t = p->Complete(UserRequest("q"));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->tool_calls.size(), 1u);
  EXPECT_NE(t->tool_calls[0].args_error.find("limit of 64 levels"), std::string::npos)
      << t->tool_calls[0].args_error;
  EXPECT_EQ(t->tool_calls[0].args, json::object());
  Result<Turn> next = p->Complete(UserRequest("again"));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->texts, std::vector<std::string>{"after"});
  ExpectClean(fake);
}

TEST_F(HttpClientFake, Html502RetriedThenShortExcerpt) {
  FakeLlm fake(json::parse(R"({"turns":[{"fault":"html"},{"text":"after proxy"},
    {"fault":"html"}]})"));
  ASSERT_TRUE(fake.ok());
  CallError err;
  Result<Turn> t = Make(fake, "ollama", "ollama", "")->Complete(UserRequest("q"), &err);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->texts[0], "after proxy");
  tweak_ = [](ProviderConfig& c) { c.max_retries = 0; };
  t = Make(fake, "ollama", "ollama", "")->Complete(UserRequest("q"), &err);
  EXPECT_EQ(t.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(err.http_status, 502);
  EXPECT_NE(t.status().message().find("HTTP 502: 502 Bad Gateway"), std::string::npos)
      << t.status().message();
  EXPECT_EQ(t.status().message().find("<html>"), std::string::npos);
  ExpectClean(fake);
}

TEST_F(HttpClientFake, GzipBodyDecoded) {
  FakeLlm fake(json::parse(R"({"turns":[{"text":"squeezed answer","gzip":true}]})"));
  ASSERT_TRUE(fake.ok());
  Result<Turn> t = Make(fake, "openai", "openai")->Complete(UserRequest("q"));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->texts, std::vector<std::string>{"squeezed answer"});
  std::vector<json> log = fake.Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0]["headers"]["accept-encoding"].get<std::string>().find("gzip"),
            std::string::npos);
  ExpectClean(fake);
}

// A one-connection loopback server that answers a POST with its own body (any bytes), sent back
// as application/timestamp-reply, and keeps the request head it got.
class BinaryEcho {
 public:
  BinaryEcho() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 1) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~BinaryEcho() {
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  BinaryEcho(const BinaryEcho&) = delete;
  BinaryEcho& operator=(const BinaryEcho&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/tsa"; }
  int port() const { return port_; }
  std::string head;  // request line and headers, lower-cased; valid after the call
  std::string body;

 private:
  void Serve() {
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::string in;
    char buf[4096];
    size_t end = std::string::npos;
    size_t length = 0;
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0) {
      in.append(buf, static_cast<size_t>(n));
      if (end == std::string::npos && (end = in.find("\r\n\r\n")) != std::string::npos) {
        head = in.substr(0, end);
        for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        size_t cl = head.find("content-length:");
        length = cl == std::string::npos ? 0 : std::strtoul(head.c_str() + cl + 15, nullptr, 10);
      }
      if (end != std::string::npos && in.size() >= end + 4 + length) break;
    }
    if (end != std::string::npos) body = in.substr(end + 4, length);
    std::string out =
        "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n"
        "Connection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    for (size_t off = 0; off < out.size();) {
      ssize_t w = write(c, out.data() + off, out.size() - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// RFC 3161 requests and replies are DER: NUL bytes and every other byte value go out and come back
// intact (the body's size, not strlen), with the caller's Content-Type.
TEST_F(HttpClientFake, BinaryBodyAndContentTypeRoundTrip) {
  std::string payload("\x30\x00\x02\x01\x00\xff\x00", 7);
  for (int i = 0; i < 512; ++i) payload += static_cast<char>(i & 0xff);
  BinaryEcho echo;
  ASSERT_GT(echo.port(), 0);
  ProviderConfig config;
  HttpClient client(config);
  HttpRequest request{echo.url(), {"Content-Type: application/timestamp-query"}, payload};
  bool retryable = false;
  Result<HttpResponse> r = client.Send(request, 10000, &retryable);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-type"), "application/timestamp-reply");
  EXPECT_EQ(r->body.size(), payload.size());
  EXPECT_EQ(r->body, payload);
  EXPECT_EQ(echo.body, payload);
  EXPECT_NE(echo.head.find("\r\ncontent-type: application/timestamp-query"), std::string::npos)
      << echo.head;
  EXPECT_EQ(echo.head.find("application/json"), std::string::npos) << echo.head;
}

TEST_F(HttpClientFake, ConcurrentCallsOnOneProvider) {
  FakeLlm fake(json::parse(R"({"turns":[{"text":"same","repeat":8}]})"));
  ASSERT_TRUE(fake.ok());
  auto p = Make(fake, "openai", "openai");
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 2; ++j) {
        CallError err;  // no retries are expected, so the shared sleeper is never called
        Result<Turn> t = p->Complete(UserRequest("q"), &err);
        if (t.ok() && t->texts == std::vector<std::string>{"same"}) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 8);
  ExpectClean(fake);
}

}  // namespace
}  // namespace fasten::llm
