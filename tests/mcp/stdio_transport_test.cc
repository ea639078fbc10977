// RunStdio driven with in-memory streams: the shared call runner's store reopening and deadline
// as the stdio transport uses them. (tests/e2e/robustness_test.py runs the real binary.)
#include "mcp/stdio_transport.h"

#include <gtest/gtest.h>

#include <functional>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "demo/demo_store.h"
#include "mcp/call_runner.h"
#include "mcp/mcp_test_util.h"
#include "support/test_scopes.h"
#include "test_store.h"
#include "tools/cursor.h"
#include "tools/row_json.h"

namespace fasten::mcp {
namespace {

using json = nlohmann::json;
using testing::ToolCall;

// Input handed out one chunk at a time; before_[i] runs just before chunk i is read, i.e. after
// the server has handled every line of the chunks before it (calls it answers on its reading
// thread are done by then).
class ChunkedInput : public std::streambuf {
 public:
  ChunkedInput(std::vector<std::string> chunks, std::vector<std::function<void()>> before)
      : chunks_(std::move(chunks)), before_(std::move(before)) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (next_ >= chunks_.size()) return traits_type::eof();
    if (next_ < before_.size() && before_[next_]) before_[next_]();
    std::string& c = chunks_[next_++];
    setg(c.data(), c.data(), c.data() + c.size());
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::vector<std::string> chunks_;
  std::vector<std::function<void()>> before_;
  size_t next_ = 0;
};

std::vector<json> Lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

json ById(const std::vector<json>& responses, int id) {
  for (const json& r : responses) {
    if (r.value("id", json()) == id) return r;
  }
  ADD_FAILURE() << "no response with id " << id;
  return json();
}

std::string Text(const json& response) {
  return response["result"]["content"][0]["text"].get<std::string>();
}

class StdioTransport : public ::testing::Test {
 protected:
  StoreConfig Config(const std::string& path) { return testing::SqliteStoreConfig(path); }

  testing::TempDir dir_;
  ToolRegistry registry_ = ToolRegistry::Default();
  CursorSigner cursors_ = CursorSigner::WithRandomKey();
  Dispatcher dispatcher_{&registry_, &cursors_, ServerInfo{"fasten-mcp", "0.1.0", "t"}};
};

TEST_F(StdioTransport, AStoreMissingAtStartIsOpenedOnALaterCall) {
  const std::string path = dir_.File("late.db");
  StdioOptions options{test_support::TestScopes::Tenant("acme")};
  options.stores = Config(path);
  options.store_retry = std::chrono::milliseconds(0);
  options.log_level = LogLevel::kError;
  const json citation = {{"monotonic_seq", 1}, {"hash", std::string(64, 'e')}};
  // row_get runs on the reading thread, so the store appears exactly between the two calls;
  // audit_query (on a worker) then reads it too.
  std::vector<std::string> chunks = {DumpJson(ToolCall(1, "row_get", citation)) + "\n",
                                     DumpJson(ToolCall(2, "row_get", citation)) + "\n" +
                                         DumpJson(ToolCall(3, "audit_query", {{"limit", 1}})) +
                                         "\n"};
  std::vector<std::function<void()>> before = {nullptr, [&] {
                                                 DemoOptions o;
                                                 o.path = path;
                                                 DemoSummary s;
                                                 ASSERT_TRUE(WriteDemoStore(o, &s).ok());
                                               }};
  ChunkedInput input(std::move(chunks), std::move(before));
  std::istream in(&input);
  std::ostringstream out, log;
  EXPECT_EQ(RunStdio(dispatcher_, options, in, out, log), 0);
  std::vector<json> responses = Lines(out.str());
  ASSERT_EQ(responses.size(), 3u) << out.str();
  EXPECT_NE(Text(ById(responses, 1)).find("the store is not available"), std::string::npos);
  EXPECT_EQ(Text(ById(responses, 2)).find("the store is not available"), std::string::npos)
      << Text(ById(responses, 2));
  const json r3 = ById(responses, 3);
  EXPECT_FALSE(r3["result"].value("isError", false)) << r3.dump();
  EXPECT_EQ(r3["result"]["structuredContent"]["rows"].size(), 1u) << r3.dump();
  EXPECT_NE(log.str().find("cannot open the store"), std::string::npos) << log.str();
}

TEST(CallRunnerDeadline, ReplacesAResultWithTheTimeoutToolError) {
  const std::string response =
      R"({"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"{}"}],)"
      R"("structuredContent":{},"resultType":"complete"}})";
  json r = json::parse(
      CallRunner::DeadlineResult(response, "chain_verify", std::chrono::milliseconds(200)));
  EXPECT_EQ(r["id"], 4);
  EXPECT_TRUE(r["result"]["isError"].get<bool>());
  EXPECT_FALSE(r["result"].contains("structuredContent"));
  EXPECT_EQ(r["result"]["resultType"], "complete");
  EXPECT_EQ(r["result"]["content"][0]["text"],
            "chain_verify: stopped after 0.2 s (the server's --call-timeout); narrow the query, "
            "e.g. a shorter time window or one node");
  // A JSON-RPC error stays as it is.
  const std::string error = R"({"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"x"}})";
  EXPECT_EQ(CallRunner::DeadlineResult(error, "t", std::chrono::milliseconds(200)), error);
}

}  // namespace
}  // namespace fasten::mcp
