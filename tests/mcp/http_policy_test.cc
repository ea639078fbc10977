// The HTTP request policy (mcp/http_policy.h) without sockets: a table of request heads and the
// answer each gets. tests/e2e/http_test.py sends the same kinds of heads over real sockets,
// through Beast's parser.
#include "mcp/http_policy.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace fasten::mcp {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

const Fields kGood = {{"Host", "127.0.0.1:8765"},
                      {"Content-Type", "application/json"},
                      {"Accept", "application/json, text/event-stream"},
                      {"Content-Length", "40"}};

// kGood with every `name` line removed, then (unless `value` is null) one put back first.
Fields With(Fields fields, const std::string& name, const char* value) {
  std::erase_if(fields, [&](const auto& f) { return f.first == name; });
  if (value) fields.insert(fields.begin(), {name, value});
  return fields;
}
Fields Plus(Fields fields, const std::string& name, const std::string& value) {
  fields.emplace_back(name, value);
  return fields;
}

HttpPolicyConfig Config() {
  HttpPolicyConfig c;
  c.allowed_hosts = {"mcp.example.com", "api.example.com:8443"};
  c.allowed_origins = {"https://app.example.com"};
  c.bind_address = "127.0.0.1";
  c.max_body_bytes = 65536;
  return c;
}

HttpDecision Decide(const std::string& method, const std::string& target, const Fields& fields,
                    int version = 11, const HttpPolicyConfig& config = Config()) {
  HttpRequestHead head;
  head.method = method;
  head.target = target;
  head.version = version;
  for (const auto& [k, v] : fields) head.fields.emplace_back(k, v);
  return DecideHttpRequest(head, config);
}

struct Case {
  const char* name;
  std::string method, target;
  Fields fields;
  unsigned before_auth;  // 0: none
  unsigned after_auth;   // 0: none
  int version = 11;
};

TEST(HttpPolicy, TableOfRequestHeads) {
  const Fields te = With(kGood, "Content-Length", nullptr);
  const std::vector<Case> cases = {
      {"a good POST", "POST", "/mcp", kGood, 0, 0},
      {"a good POST with a query", "POST", "/mcp?x=1", kGood, 0, 0},
      // Host.
      {"duplicate Host", "POST", "/mcp", Plus(kGood, "Host", "127.0.0.1:8765"), 400, 0},
      {"duplicate Host, any case", "POST", "/mcp", Plus(kGood, "host", "evil.example.com"), 400, 0},
      {"no Host in HTTP/1.1", "POST", "/mcp", With(kGood, "Host", nullptr), 400, 0},
      {"no Host in HTTP/1.0", "POST", "/mcp", With(kGood, "Host", nullptr), 403, 0, 10},
      {"empty Host", "POST", "/mcp", With(kGood, "Host", ""), 403, 0},
      {"Host with a junk port", "POST", "/mcp", With(kGood, "Host", "127.0.0.1:80junk"), 400, 0},
      {"Host with port 70000", "POST", "/mcp", With(kGood, "Host", "127.0.0.1:70000"), 400, 0},
      {"Host with port 65536", "POST", "/mcp", With(kGood, "Host", "localhost:65536"), 400, 0},
      {"Host with port 65535", "POST", "/mcp", With(kGood, "Host", "localhost:65535"), 0, 0},
      {"Host with port 0", "POST", "/mcp", With(kGood, "Host", "localhost:0"), 400, 0},
      {"Host with an empty port", "POST", "/mcp", With(kGood, "Host", "localhost:"), 400, 0},
      {"Host with a signed port", "POST", "/mcp", With(kGood, "Host", "localhost:+80"), 400, 0},
      {"Host with a long port", "POST", "/mcp", With(kGood, "Host", "localhost:0000080"), 400, 0},
      {"Host with two ports", "POST", "/mcp", With(kGood, "Host", "localhost:80:81"), 400, 0},
      {"Host with userinfo", "POST", "/mcp", With(kGood, "Host", "evil@127.0.0.1"), 400, 0},
      {"Host with a space", "POST", "/mcp", With(kGood, "Host", "local host"), 400, 0},
      {"bare IPv6 Host", "POST", "/mcp", With(kGood, "Host", "::1"), 400, 0},
      {"IPv6 Host", "POST", "/mcp", With(kGood, "Host", "[::1]:8765"), 0, 0},
      {"IPv6 Host, long form", "POST", "/mcp", With(kGood, "Host", "[0:0:0:0:0:0:0:1]"), 0, 0},
      {"IPv6 Host with a junk port", "POST", "/mcp", With(kGood, "Host", "[::1]:8x"), 400, 0},
      {"IPv6 Host, unclosed", "POST", "/mcp", With(kGood, "Host", "[::1"), 400, 0},
      {"IPv6 Host, not an address", "POST", "/mcp", With(kGood, "Host", "[::g]"), 400, 0},
      {"IPv6 Host with a zone", "POST", "/mcp", With(kGood, "Host", "[fe80::1%25eth0]"), 400, 0},
      {"IPv6 Host, trailing junk", "POST", "/mcp", With(kGood, "Host", "[::1]x"), 400, 0},
      {"foreign Host", "POST", "/mcp", With(kGood, "Host", "evil.example.com"), 403, 0},
      {"allowed Host", "POST", "/mcp", With(kGood, "Host", "MCP.example.com:443"), 0, 0},
      {"allowed Host given with a port", "POST", "/mcp",
       With(kGood, "Host", "api.example.com:9000"), 0, 0},
      // Origin.
      {"loopback Origin", "POST", "/mcp", Plus(kGood, "Origin", "http://localhost:3000"), 0, 0},
      {"allowed Origin", "POST", "/mcp", Plus(kGood, "Origin", "https://app.example.com"), 0, 0},
      {"foreign Origin", "POST", "/mcp", Plus(kGood, "Origin", "http://evil.example.com"), 403, 0},
      {"Origin with a junk port", "POST", "/mcp", Plus(kGood, "Origin", "http://localhost:1x"), 403,
       0},
      {"Origin with a path", "POST", "/mcp", Plus(kGood, "Origin", "http://localhost/x"), 403, 0},
      {"Origin null", "POST", "/mcp", Plus(kGood, "Origin", "null"), 403, 0},
      {"duplicate Origin", "POST", "/mcp",
       Plus(Plus(kGood, "Origin", "http://localhost"), "Origin", "http://localhost"), 400, 0},
      // Singletons.
      {"duplicate Authorization", "POST", "/mcp",
       Plus(Plus(kGood, "Authorization", "Bearer a"), "authorization", "Bearer b"), 400, 0},
      {"duplicate Content-Type", "POST", "/mcp", Plus(kGood, "Content-Type", "application/json"),
       400, 0},
      {"duplicate MCP-Protocol-Version", "POST", "/mcp",
       Plus(Plus(kGood, "MCP-Protocol-Version", "2026-07-28"), "MCP-Protocol-Version",
            "2025-11-25"),
       400, 0},
      {"duplicate Mcp-Method", "POST", "/mcp",
       Plus(Plus(kGood, "Mcp-Method", "a"), "Mcp-Method", "b"), 400, 0},
      {"duplicate Mcp-Name", "POST", "/mcp", Plus(Plus(kGood, "Mcp-Name", "a"), "Mcp-Name", "a"),
       400, 0},
      {"two Accept lines are one list", "POST", "/mcp",
       Plus(With(kGood, "Accept", "text/html"), "Accept", "application/json"), 0, 0},
      // Content-Length and Transfer-Encoding.
      {"duplicate Content-Length", "POST", "/mcp", Plus(kGood, "Content-Length", "40"), 400, 0},
      {"Content-Length list", "POST", "/mcp", With(kGood, "Content-Length", "40, 40"), 400, 0},
      {"negative Content-Length", "POST", "/mcp", With(kGood, "Content-Length", "-1"), 400, 0},
      {"huge Content-Length", "POST", "/mcp", With(kGood, "Content-Length", "99999999999999999999"),
       400, 0},
      {"Content-Length over the limit", "POST", "/mcp", With(kGood, "Content-Length", "65537"), 0,
       413},
      {"Content-Length at the limit", "POST", "/mcp", With(kGood, "Content-Length", "65536"), 0, 0},
      {"chunked", "POST", "/mcp", Plus(te, "Transfer-Encoding", "chunked"), 0, 0},
      {"Chunked", "POST", "/mcp", Plus(te, "Transfer-Encoding", " Chunked "), 0, 0},
      {"chunked with Content-Length", "POST", "/mcp", Plus(kGood, "Transfer-Encoding", "chunked"),
       400, 0},
      {"identity with Content-Length", "POST", "/mcp", Plus(kGood, "Transfer-Encoding", "identity"),
       400, 0},
      {"xchunked with Content-Length", "POST", "/mcp", Plus(kGood, "Transfer-Encoding", "xchunked"),
       400, 0},
      {"xchunked", "POST", "/mcp", Plus(te, "Transfer-Encoding", "xchunked"), 400, 0},
      {"identity", "POST", "/mcp", Plus(te, "Transfer-Encoding", "identity"), 400, 0},
      {"chunked, gzip", "POST", "/mcp", Plus(te, "Transfer-Encoding", "chunked, gzip"), 400, 0},
      {"empty Transfer-Encoding", "POST", "/mcp", Plus(te, "Transfer-Encoding", ""), 400, 0},
      {"gzip, chunked", "POST", "/mcp", Plus(te, "Transfer-Encoding", "gzip, chunked"), 501, 0},
      {"chunked, chunked", "POST", "/mcp", Plus(te, "Transfer-Encoding", "chunked,chunked"), 501,
       0},
      {"duplicate Transfer-Encoding", "POST", "/mcp",
       Plus(Plus(te, "Transfer-Encoding", "chunked"), "Transfer-Encoding", "chunked"), 400, 0},
      {"chunked in HTTP/1.0", "POST", "/mcp", Plus(te, "Transfer-Encoding", "chunked"), 400, 0, 10},
      // Media types.
      {"Content-Type with a charset", "POST", "/mcp",
       With(kGood, "Content-Type", "application/json; charset=utf-8"), 0, 0},
      {"Content-Type with a quoted charset", "POST", "/mcp",
       With(kGood, "Content-Type", "application/json;charset=\"UTF-8\""), 0, 0},
      {"Content-Type in capitals", "POST", "/mcp", With(kGood, "Content-Type", "APPLICATION/JSON"),
       0, 0},
      {"Content-Type with another parameter", "POST", "/mcp",
       With(kGood, "Content-Type", "application/json; profile=x"), 0, 0},
      {"Content-Type jsonx", "POST", "/mcp", With(kGood, "Content-Type", "application/jsonx"), 0,
       415},
      {"Content-Type json-seq", "POST", "/mcp", With(kGood, "Content-Type", "application/json-seq"),
       0, 415},
      {"Content-Type another charset", "POST", "/mcp",
       With(kGood, "Content-Type", "application/json; charset=latin1"), 0, 415},
      {"Content-Type bad parameter", "POST", "/mcp",
       With(kGood, "Content-Type", "application/json; charset"), 0, 415},
      {"Content-Type junk after", "POST", "/mcp", With(kGood, "Content-Type", "application/json x"),
       0, 415},
      {"Content-Type two types", "POST", "/mcp",
       With(kGood, "Content-Type", "application/json, text/plain"), 0, 415},
      {"Content-Type text/plain", "POST", "/mcp", With(kGood, "Content-Type", "text/plain"), 0,
       415},
      {"no Content-Type", "POST", "/mcp", With(kGood, "Content-Type", nullptr), 0, 415},
      {"Accept jsonx", "POST", "/mcp", With(kGood, "Accept", "application/jsonx"), 0, 406},
      {"Accept text/html", "POST", "/mcp", With(kGood, "Accept", "text/html"), 0, 406},
      {"Accept json with q=0", "POST", "/mcp", With(kGood, "Accept", "application/json;q=0"), 0,
       406},
      {"Accept json with q=0.5", "POST", "/mcp", With(kGood, "Accept", "application/json;q=0.5"), 0,
       0},
      {"Accept */*", "POST", "/mcp", With(kGood, "Accept", "*/*"), 0, 0},
      {"Accept application/*", "POST", "/mcp", With(kGood, "Accept", "application/*"), 0, 0},
      {"Accept SSE only", "POST", "/mcp", With(kGood, "Accept", "text/event-stream"), 0, 0},
      {"no Accept", "POST", "/mcp", With(kGood, "Accept", nullptr), 0, 0},
      // Methods and paths.
      {"GET /mcp", "GET", "/mcp", With(kGood, "Content-Length", nullptr), 0, 405},
      {"DELETE /mcp", "DELETE", "/mcp", kGood, 0, 405},
      {"lower-case post", "post", "/mcp", kGood, 0, 405},
      {"unknown path", "POST", "/other", kGood, 404, 0},
      {"investigate when off", "POST", "/api/v1/investigate", kGood, 404, 0},
      {"GET /healthz", "GET", "/healthz", {{"Host", "localhost"}}, 0, 0},
      {"POST /healthz", "POST", "/healthz", kGood, 405, 0},
      {"GET /readyz with a body", "GET", "/readyz", kGood, 400, 0},
      {"GET /healthz, foreign Host", "GET", "/healthz", {{"Host", "evil.example.com"}}, 403, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HttpDecision d = Decide(c.method, c.target, c.fields, c.version);
    EXPECT_EQ(d.reject.status, c.before_auth) << d.reject.message;
    EXPECT_EQ(d.reject_after_auth.status, c.after_auth) << d.reject_after_auth.message;
    if (d.reject) {
      EXPECT_FALSE(d.reject.message.empty());
    }
  }
}

TEST(HttpPolicy, AcceptedRequestCarriesWhatTheTransportNeeds) {
  HttpDecision d = Decide("POST", "/mcp?a=b",
                          {{"host", "localhost"},
                           {"content-type", "application/json"},
                           {"accept", "application/json"},
                           {"accept", "text/event-stream;q=0.1"},
                           {"authorization", "  Bearer abc "},
                           {"mcp-protocol-version", " 2026-07-28"},
                           {"MCP-METHOD", "tools/call"},
                           {"Mcp-Name", "=?base64?dG9wb2xvZ3k=?="},
                           {"Expect", "100-Continue"},
                           {"Transfer-Encoding", "chunked"}});
  ASSERT_FALSE(d.reject) << d.reject.message;
  ASSERT_FALSE(d.reject_after_auth) << d.reject_after_auth.message;
  EXPECT_EQ(d.route, HttpRoute::kEndpoint);
  EXPECT_EQ(d.path, "/mcp");
  EXPECT_EQ(d.query, "a=b");
  EXPECT_EQ(d.authorization, "Bearer abc");
  EXPECT_EQ(d.protocol_version, "2026-07-28");
  EXPECT_EQ(d.mcp_method, "tools/call");
  EXPECT_EQ(d.mcp_name, "=?base64?dG9wb2xvZ3k=?=");
  EXPECT_TRUE(d.accepts_sse);
  EXPECT_TRUE(d.chunked);
  EXPECT_FALSE(d.content_length);
  EXPECT_TRUE(d.expect_continue);

  d = Decide("POST", "/mcp", kGood);
  EXPECT_EQ(d.authorization, "");
  EXPECT_FALSE(d.protocol_version);
  EXPECT_FALSE(d.mcp_method);
  EXPECT_EQ(d.content_length, 40u);
  EXPECT_FALSE(d.chunked);
  EXPECT_FALSE(d.expect_continue);
  EXPECT_TRUE(d.accepts_sse);  // kGood lists it
  d = Decide("POST", "/mcp", With(kGood, "Accept", "*/*"));
  EXPECT_FALSE(d.accepts_sse);  // only an explicit text/event-stream asks for SSE
  d = Decide("POST", "/mcp", With(kGood, "Accept", "text/event-stream;q=0, application/json"));
  EXPECT_FALSE(d.accepts_sse);
}

TEST(HttpPolicy, RejectionsCarryTheirMessageAndHeaders) {
  HttpDecision d = Decide("GET", "/mcp", With(kGood, "Content-Length", nullptr));
  EXPECT_EQ(d.reject_after_auth.headers, (HttpHeaderList{{"Allow", "POST"}}));
  d = Decide("POST", "/healthz", kGood);
  EXPECT_EQ(d.reject.headers, (HttpHeaderList{{"Allow", "GET"}}));
  d = Decide("POST", "/mcp",
             Plus(Plus(kGood, "authorization", "Bearer x"), "Authorization", "Bearer y"));
  EXPECT_EQ(d.reject.message, "bad request: duplicate Authorization header (it may appear once)");
  d = Decide("POST", "/mcp",
             Plus(With(kGood, "Content-Length", nullptr), "Transfer-Encoding", "gzip, chunked"));
  EXPECT_EQ(d.reject.message,
            "not implemented: Transfer-Encoding 'gzip, chunked'; only chunked is supported");
  d = Decide("POST", "/mcp", With(kGood, "Host", "evil.example.com"));
  EXPECT_EQ(d.reject.message, "forbidden: Host header not allowed (use --allow-host NAME)");
}

TEST(HttpPolicy, RoutesAndTheBindAddress) {
  HttpPolicyConfig c = Config();
  c.investigate = true;
  c.spend = true;
  c.endpoint_path = "/custom";
  EXPECT_EQ(Decide("POST", "/api/v1/investigate", kGood, 11, c).route, HttpRoute::kInvestigate);
  HttpDecision d = Decide("GET", "/api/v1/spend?from=2026-01-01", {{"Host", "localhost"}}, 11, c);
  EXPECT_EQ(d.route, HttpRoute::kSpend);
  EXPECT_FALSE(d.reject_after_auth);
  EXPECT_EQ(d.query, "from=2026-01-01");
  EXPECT_EQ(Decide("POST", "/api/v1/spend", kGood, 11, c).reject_after_auth.status, 405u);
  // The investigation record log: the list and one record, GET only, only when served.
  EXPECT_EQ(Decide("GET", "/api/v1/investigations", {{"Host", "localhost"}}, 11, c).reject.status,
            404u);
  c.investigations = true;
  d = Decide("GET", "/api/v1/investigations?limit=5", {{"Host", "localhost"}}, 11, c);
  EXPECT_EQ(d.route, HttpRoute::kInvestigations);
  EXPECT_FALSE(d.reject_after_auth);
  EXPECT_EQ(d.query, "limit=5");
  d = Decide("GET", "/api/v1/investigations/inv-0123456789abcdef", {{"Host", "localhost"}}, 11, c);
  EXPECT_EQ(d.route, HttpRoute::kInvestigations);
  EXPECT_EQ(d.path, "/api/v1/investigations/inv-0123456789abcdef");
  EXPECT_EQ(Decide("POST", "/api/v1/investigations", kGood, 11, c).reject_after_auth.status, 405u);
  EXPECT_EQ(Decide("GET", "/api/v1/investigationsX", {{"Host", "localhost"}}, 11, c).reject.status,
            404u);
  EXPECT_EQ(Decide("POST", "/custom", kGood, 11, c).route, HttpRoute::kEndpoint);
  EXPECT_EQ(Decide("POST", "/mcp", kGood, 11, c).reject.status, 404u);
  // A Host naming the bind address is accepted, unless it is a wildcard.
  c.bind_address = "10.0.0.7";
  EXPECT_FALSE(Decide("POST", "/custom", With(kGood, "Host", "10.0.0.7:8765"), 11, c).reject);
  c.bind_address = "2001:db8::7";
  EXPECT_FALSE(Decide("POST", "/custom", With(kGood, "Host", "[2001:DB8::7]"), 11, c).reject);
  c.bind_address = "0.0.0.0";
  EXPECT_EQ(Decide("POST", "/custom", With(kGood, "Host", "0.0.0.0"), 11, c).reject.status, 403u);
}

TEST(HttpPolicy, ParseHostAndPort) {
  EXPECT_EQ(ParseHostAndPort("Example.COM:8080"), "example.com");
  EXPECT_EQ(ParseHostAndPort("example.com"), "example.com");
  EXPECT_EQ(ParseHostAndPort("[::1]:8765"), "[::1]");
  EXPECT_EQ(ParseHostAndPort("[0::0:1]"), "[::1]");
  EXPECT_EQ(ParseHostAndPort("[2001:DB8::1]"), "[2001:db8::1]");
  EXPECT_EQ(ParseHostAndPort("h:1"), "h");
  EXPECT_EQ(ParseHostAndPort("h:65535"), "h");
  for (const char* bad :
       {"",       ":80",     "h:",        "h:0",        "h:65536", "h:99999", "h:1a", "h: 80",
        "h:-1",   "h:+1",    "h:123456",  "a b",        "a@b",     "a/b",     "[::1", "[]",
        "[::1]:", "[::1]80", "[1.2.3.4]", "[::1%eth0]", "[v1.x]",  "::1"}) {
    EXPECT_FALSE(ParseHostAndPort(bad)) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// The JSON-RPC side of an HTTP exchange: status of a response, era and envelope of a request.

TEST(HttpStatusOfResponse, MapsErrorCodesPerEra) {
  EXPECT_EQ(HttpStatusOfResponse(0, true), 200u);
  EXPECT_EQ(HttpStatusOfResponse(0, false), 200u);
  for (bool modern : {false, true}) {
    EXPECT_EQ(HttpStatusOfResponse(-32700, modern), 400u);
    EXPECT_EQ(HttpStatusOfResponse(-32600, modern), 400u);
    EXPECT_EQ(HttpStatusOfResponse(-32602, modern), 200u);  // a tool's bad arguments
    EXPECT_EQ(HttpStatusOfResponse(-32603, modern), 200u);
  }
  EXPECT_EQ(HttpStatusOfResponse(-32601, true), 404u);
  EXPECT_EQ(HttpStatusOfResponse(-32601, false), 200u);
  for (int code : {-32020, -32021, -32022}) {
    EXPECT_EQ(HttpStatusOfResponse(code, true), 400u) << code;
    EXPECT_EQ(HttpStatusOfResponse(code, false), 200u) << code;
  }
}

nlohmann::json Request(const std::string& method, nlohmann::json params) {
  return {{"jsonrpc", "2.0"}, {"id", 7}, {"method", method}, {"params", std::move(params)}};
}

nlohmann::json Meta(nlohmann::json version = "2026-07-28") {
  return {{"io.modelcontextprotocol/protocolVersion", std::move(version)},
          {"io.modelcontextprotocol/clientCapabilities", nlohmann::json::object()}};
}

HttpDecision Headers(std::optional<std::string> version, std::optional<std::string> method = {},
                     std::optional<std::string> name = {}) {
  HttpDecision d;
  d.protocol_version = std::move(version);
  d.mcp_method = std::move(method);
  d.mcp_name = std::move(name);
  return d;
}

int ErrorCode(const HttpEnvelope& e) {
  return e.error ? (*e.error)["error"]["code"].get<int>() : 0;
}

TEST(CheckHttpEnvelope, LegacyRequestsTakeTheHeadersVersionOrTheDefault) {
  HttpEnvelope e = CheckHttpEnvelope(Headers(std::nullopt), Request("tools/list", {}));
  EXPECT_FALSE(e.modern);
  EXPECT_EQ(ErrorCode(e), 0);
  EXPECT_EQ(e.legacy_version, std::optional<std::string>("2025-03-26"));
  e = CheckHttpEnvelope(Headers("2025-06-18"), Request("tools/list", {}));
  EXPECT_EQ(e.legacy_version, std::optional<std::string>("2025-06-18"));
  e = CheckHttpEnvelope(Headers("2025-06-18"), Request("initialize", {}));
  EXPECT_FALSE(e.legacy_version);  // initialize negotiates its own
  e = CheckHttpEnvelope(Headers("1999-01-01"), Request("tools/list", {}));
  EXPECT_EQ(ErrorCode(e), -32022);
  EXPECT_EQ((*e.error)["id"], 7);
}

TEST(CheckHttpEnvelope, ModernRequestsMirrorTheBodyInTheHeaders) {
  const nlohmann::json call = Request("tools/call", {{"name", "row_get"}, {"_meta", Meta()}});
  HttpEnvelope e = CheckHttpEnvelope(Headers("2026-07-28", "tools/call", "row_get"), call);
  EXPECT_TRUE(e.modern);
  EXPECT_EQ(ErrorCode(e), 0);
  EXPECT_FALSE(e.legacy_version);
  // Mcp-Name may be base64 ("row_get").
  e = CheckHttpEnvelope(Headers("2026-07-28", "tools/call", "=?base64?cm93X2dldA==?="), call);
  EXPECT_EQ(ErrorCode(e), 0);
  struct Case {
    HttpDecision headers;
    nlohmann::json request;
    int code;
  } cases[] = {
      // The modern header without the body's version.
      {Headers("2026-07-28", "tools/list"), Request("tools/list", {}), -32602},
      {Headers(std::nullopt, "tools/call", "row_get"), call, -32020},
      {Headers("2025-11-25", "tools/call", "row_get"), call, -32020},
      // A header mirroring an unsupported body version: the version is judged.
      {Headers("2027-01-01", "tools/call", "row_get"),
       Request("tools/call", {{"name", "row_get"}, {"_meta", Meta("2027-01-01")}}), -32022},
      {Headers("2026-07-28", std::nullopt, "row_get"), call, -32020},
      {Headers("2026-07-28", "tools/list", "row_get"), call, -32020},
      {Headers("2026-07-28", "tools/call"), call, -32020},
      {Headers("2026-07-28", "tools/call", "search"), call, -32020},
      {Headers("2026-07-28", "tools/call", "=?base64?!!?="), call, -32020},
      {Headers("2026-07-28", "tools/call", "row_get"),
       Request("tools/call",
               {{"name", "row_get"},
                {"_meta", {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"}}}}),
       -32602},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ErrorCode(CheckHttpEnvelope(c.headers, c.request)), c.code) << c.request.dump();
  }
}

}  // namespace
}  // namespace fasten::mcp
