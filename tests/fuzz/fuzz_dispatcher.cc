// Fuzzes the MCP dispatcher end to end on the demo store, in both protocol eras.
//
// A demo store (demo/demo_store.h: two tenants, every writer, both incidents) is written once per
// process into a temporary directory and opened once. Input: JSON-RPC lines, handled as
// mcp/stdio_transport.cc handles them: ParseAndClassify (the bounded parser), then answered by
// Listen or
// HandleRequestText with the tenant bound to "acme" (tools/call with the stores, anything else
// without, as stdio does). Each input is a new connection, so `initialize` starts the legacy
// era and `_meta` requests are modern. At most 16 lines per input. Checks, for every answer:
// - one line of JSON (no raw newline), an object with "jsonrpc": "2.0", exactly one of "result"
//   and "error", and an "id": the message's own whenever nlohmann can read a string or integer id
//   in it (errors included), null otherwise;
// - nothing in it belongs to another tenant: every "tenant_id"/"tenant" member anywhere in the
//   answer, including inside a tool result's text, is "acme" or null;
// - a tool result's text content is the JSON of its structuredContent when both are present;
// - for requests other than tools/call, HandleRequestText is byte for byte the dump of
//   HandleRequest (tool results hold the current time, so they are checked by the item above).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "demo/demo_store.h"
#include "mcp/dispatcher.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/support/test_scopes.h"
#include "tools/cursor.h"
#include "tools/row_json.h"

namespace {

using fasten::fuzz::AsText;
using nlohmann::json;
namespace mcp = fasten::mcp;

constexpr char kTenant[] = "acme";
constexpr size_t kMaxLines = 16;

struct Fixture {
  std::string dir;
  fasten::ToolRegistry registry = fasten::ToolRegistry::Default();
  fasten::CursorSigner cursors{"fuzz-driver-dispatcher-cursor-key-0123456789"};
  mcp::Dispatcher dispatcher{&registry, &cursors, mcp::ServerInfo{"fasten-mcp", "fuzz", "fuzz"}};
  fasten::StoreSet stores;

  Fixture() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fasten-fuzz-XXXXXX").string();
    FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    fasten::DemoOptions o;
    o.path = dir + "/demo.db";
    o.audit_rows = 600;  // small: both incidents are always there, and queries stay fast
    fasten::DemoSummary summary;
    fasten::Status st = fasten::WriteDemoStore(o, &summary);
    FUZZ_CHECK_MSG(st.ok(), st.ToString());
    fasten::StoreConfig config;
    config.audit = fasten::ParseDsn("sqlite:///" + o.path).value();
    config.sys = config.api = config.audit;
    config.sys.table.reset();
    st = fasten::OpenStoreSet(config, /*need_streams=*/true, &stores);
    FUZZ_CHECK_MSG(st.ok(), st.ToString());
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Fixture& TheFixture() {
  static Fixture fixture;  // destroyed at exit, removing the store
  return fixture;
}

// Every tenant-naming member of `v` names kTenant (or nothing); descends into JSON text.
void CheckTenants(const json& v, int depth = 0) {
  if (depth > 64) return;
  if (v.is_object()) {
    for (const auto& [key, member] : v.items()) {
      if (key == "tenant_id" || key == "tenant") {
        FUZZ_CHECK_MSG(member.is_null() || member == kTenant,
                       "another tenant's data: " + member.dump());
      }
      CheckTenants(member, depth + 1);
    }
  } else if (v.is_array()) {
    for (const json& e : v) CheckTenants(e, depth + 1);
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (!s.empty() && (s.front() == '{' || s.front() == '[')) {
      json inner = json::parse(s, nullptr, false);
      if (!inner.is_discarded()) CheckTenants(inner, depth + 1);
    }
  }
}

// `id`: the id the answer must carry (nullptr: any id, null included).
void CheckAnswer(const std::string& line, const json* id) {
  FUZZ_CHECK(line.find('\n') == std::string::npos);
  json answer = json::parse(line, nullptr, false);
  FUZZ_CHECK_MSG(answer.is_object(), line);
  FUZZ_CHECK(answer.value("jsonrpc", json()) == "2.0");
  const bool method = answer.contains("method");  // a notification (listen acknowledgement)
  if (!method) {
    FUZZ_CHECK_MSG(answer.contains("result") != answer.contains("error"), line);
    FUZZ_CHECK_MSG(answer.contains("id"), line);  // "id": null when it could not be read
    if (id) FUZZ_CHECK_MSG(answer["id"] == *id, line);
  }
  CheckTenants(answer);
  if (answer.contains("result") && answer["result"].is_object()) {
    const json& result = answer["result"];
    if (result.contains("structuredContent") && result.contains("content") &&
        !result.value("isError", false)) {
      const json& text = result["content"][0]["text"];
      FUZZ_CHECK(text.is_string());
      FUZZ_CHECK_MSG(
          json::parse(text.get<std::string>(), nullptr, false) == result["structuredContent"],
          line);
    }
  }
}

void HandleLine(std::string line, mcp::Connection& connection) {
  Fixture& f = TheFixture();
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.find_first_not_of(" \t") == std::string::npos) return;
  // The id as an independent parser reads it: every answer to a message with one carries it.
  // (nlohmann stops at a NUL byte as if the text ended there; such a line is not JSON.)
  json plain = line.find('\0') == std::string::npos
                   ? json::parse(line, nullptr, /*allow_exceptions=*/false)
                   : json();
  const json* id = nullptr;
  if (plain.is_object() && plain.contains("id") &&
      (plain["id"].is_string() || plain["id"].is_number_integer())) {
    id = &plain["id"];
  }
  json message;
  mcp::Incoming kind = mcp::Dispatcher::ParseAndClassify(line, &message);
  switch (kind.kind) {
    case mcp::Incoming::Kind::kInvalid:
      CheckAnswer(fasten::DumpJson(kind.error), id);
      return;
    case mcp::Incoming::Kind::kResponse:
      return;
    case mcp::Incoming::Kind::kNotification:
      (void)mcp::Dispatcher::CancelTarget(message);
      return;
    case mcp::Incoming::Kind::kRequest:
      break;
  }
  if (id) FUZZ_CHECK(message["id"] == *id);
  if (mcp::Dispatcher::IsListen(message)) {
    json ack;
    std::optional<json> error = f.dispatcher.Listen(message, &ack);
    CheckAnswer(fasten::DumpJson(error ? *error : ack), error ? &message["id"] : nullptr);
    if (!error) {
      CheckAnswer(fasten::DumpJson(f.dispatcher.ListenResult(message["id"])), &message["id"]);
    }
    return;
  }
  mcp::CallContext ctx{fasten::test_support::TestScopes::Tenant(kTenant)};
  ctx.connection = &connection;
  const bool tools = mcp::Dispatcher::NeedsStores(message);
  ctx.stores = tools ? &f.stores : nullptr;
  std::vector<json> notifications;
  ctx.notify = [&](const json& n) { notifications.push_back(n); };
  const std::string text = f.dispatcher.HandleRequestText(message, ctx);
  CheckAnswer(text, &message["id"]);
  for (const json& n : notifications) CheckAnswer(fasten::DumpJson(n), nullptr);
  if (!tools) {
    mcp::Connection same = {};
    if (auto v = connection.legacy_version()) same.SetLegacy(*v);
    ctx.connection = &same;
    FUZZ_CHECK_MSG(fasten::DumpJson(f.dispatcher.HandleRequest(message, ctx)) == text, text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);
  mcp::Connection connection;
  size_t lines = 0;
  while (!text.empty() && lines++ < kMaxLines) {
    size_t nl = text.find('\n');
    HandleLine(std::string(text.substr(0, nl)), connection);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return 0;
}
