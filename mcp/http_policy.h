// The HTTP request policy: what fasten-mcp answers to a request head, decided before its body is
// read. Pure: no sockets, no clock, no Boost.Beast, no exceptions (allocation failure aside). The
// transport (mcp/http_transport.cc) calls DecideHttpRequest once per request with the head as
// plain data; unit tests (tests/mcp/http_policy_test.cc) and fuzz drivers call it directly.
// Thread-safe: it reads only its arguments.
//
// The checks, in the order they are applied (the first that fails decides):
//
//   framing                                                         -> `reject` (before auth)
//     a Host, Origin, Authorization, Content-Length, Transfer-Encoding, Content-Type, Expect,
//       MCP-Protocol-Version, Mcp-Method or Mcp-Name field given twice             400
//     HTTP/1.1 without Host; a Host that is not host[:port] (port 1-65535, digits only; an IPv6
//       literal in brackets)                                                        400
//     Content-Length not a plain decimal                                           400
//     Transfer-Encoding in HTTP/1.0, or together with Content-Length                400
//     Transfer-Encoding whose last coding is not chunked (xchunked, identity)       400
//       (RFC 9112 §6.3: the body's length cannot be known)
//     any other coding before chunked ("gzip, chunked")                            501
//   Host not allowed (empty, or not loopback / allowed / the bind address)          403
//   Origin present and not allowed                                                 403
//   GET /healthz, /readyz: another method 405 (Allow: GET); a body                 400
//   a path that is neither a probe, the endpoint nor an enabled API                404
//   -- the transport authenticates here (401) --                   -> `reject_after_auth`
//   GET /api/v1/spend, GET /api/v1/investigations[/ID]: another method 405 (Allow: GET);
//     a body                                                                       400
//   the endpoint, POST /api/v1/investigate: not POST                     405 (Allow: POST)
//     Content-Type not exactly application/json (parameters allowed; a charset must be
//       utf-8)                                                                      415
//     Accept present and listing neither JSON (application/json, application/*, */*) nor
//       text/event-stream, each with q > 0                                          406
//     Content-Length over the body limit                                           413
//
// Field names are matched without regard to case; values are trimmed of spaces and tabs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fasten::mcp {

// Response header fields, in order.
using HttpHeaderList = std::vector<std::pair<std::string, std::string>>;

// A request head as it arrived. The views must outlive the DecideHttpRequest call only.
struct HttpRequestHead {
  std::string_view method;  // as sent, e.g. "POST"
  std::string_view target;  // as sent, e.g. "/mcp" or "/api/v1/spend?from=2026-01-01"
  int version = 11;         // 10 for HTTP/1.0, 11 for HTTP/1.1
  std::vector<std::pair<std::string_view, std::string_view>> fields;  // in arrival order
};

// The server's side of the policy: fixed for the life of the server.
struct HttpPolicyConfig {
  std::string endpoint_path = "/mcp";
  // Host names accepted beyond localhost, 127.0.0.1 and [::1] (each with any port). An entry
  // may carry a port, which is ignored. Matched without regard to case.
  std::vector<std::string> allowed_hosts;
  // Origins accepted beyond loopback ones (http or https, any port), matched exactly.
  std::vector<std::string> allowed_origins;
  // The address the server listens on: a Host naming it is accepted, unless it is a wildcard
  // (0.0.0.0, ::).
  std::string bind_address;
  bool investigate = false;     // POST /api/v1/investigate is served
  bool spend = false;           // GET /api/v1/spend is served
  bool investigations = false;  // GET /api/v1/investigations and /api/v1/investigations/ID
  uint64_t max_body_bytes = 1 << 20;
};

enum class HttpRoute { kNone, kHealthz, kReadyz, kEndpoint, kInvestigate, kSpend, kInvestigations };

// An answer that ends the request: its status (0: none), a message for the JSON error body and
// extra response fields (Allow).
struct HttpRejection {
  unsigned status = 0;
  std::string message;
  HttpHeaderList headers;
  explicit operator bool() const { return status != 0; }
};

struct HttpDecision {
  // Answer this, before authenticating, and close the connection.
  HttpRejection reject;
  // Answer this to a caller whose credential was accepted (without authentication: to
  // everyone), and close the connection.
  HttpRejection reject_after_auth;

  // Filled as far as the checks got; complete when neither rejection is set.
  HttpRoute route = HttpRoute::kNone;
  std::string path;           // the target before '?'
  std::string query;          // after '?', without it
  std::string authorization;  // the Authorization value ("" when absent)
  // MCP-Protocol-Version, Mcp-Method, Mcp-Name, trimmed; nullopt when absent.
  std::optional<std::string> protocol_version;
  std::optional<std::string> mcp_method;
  std::optional<std::string> mcp_name;
  bool accepts_sse = false;  // Accept lists text/event-stream (q > 0)
  std::optional<uint64_t> content_length;
  bool chunked = false;          // Transfer-Encoding: chunked
  bool expect_continue = false;  // Expect: 100-continue
};

// Decides what to do with a request head (see the table above).
HttpDecision DecideHttpRequest(const HttpRequestHead& head,
                               const HttpPolicyConfig& config) noexcept;

// The host of a Host value or an origin's authority ("Example.COM:8080" -> "example.com",
// "[::1]:8765" -> "[::1]"), lower-cased and without the port; nullopt unless it is
// host[:port] with a port of 1-65535 (digits only), the host a registered name (letters,
// digits, '-', '.', '_', '~') or a bracketed IPv6 literal.
std::optional<std::string> ParseHostAndPort(std::string_view authority);

// The era of a JSON-RPC request over HTTP and its envelope checks (docs/mcp.md §6): the
// headers the policy read (`decision`) against the request's body.
//   legacy (no params._meta version, and no MCP-Protocol-Version: 2026-07-28): a header naming
//     an unknown version is -32022; the request runs under the header's version, else
//     kDefaultLegacyVersion (initialize negotiates its own);
//   modern: the body's _meta version is required (-32602), the MCP-Protocol-Version header must
//     mirror it (-32020) before the version itself is judged (-32022), Mcp-Method must equal the
//     method and Mcp-Name (plain or =?base64?...?=) params.name / params.uri (-32020), then
//     clientCapabilities must be an object (-32602). The checks of the body alone are the
//     dispatcher's (CheckModernVersion, CheckModernCapabilities, mcp/protocol.h).
struct HttpEnvelope {
  bool modern = false;
  std::optional<std::string> legacy_version;  // legacy, not initialize
  std::optional<nlohmann::json> error;        // answer this with status 400
};
// `request`: a classified JSON-RPC request (an object with a string method and a valid id).
HttpEnvelope CheckHttpEnvelope(const HttpDecision& decision, const nlohmann::json& request);

// The HTTP status of a JSON-RPC response whose error code is `error_code` (0: a result):
// parse errors and invalid requests 400; in the modern era also unknown methods 404 and
// envelope errors (-32020, -32021, -32022) 400; otherwise 200 (docs/mcp.md §6 item 3).
unsigned HttpStatusOfResponse(int error_code, bool modern) noexcept;

// "=?base64?<b64>?=" (docs/mcp.md §6 item 2) decoded; other values as they are; nullopt when the
// base64 is invalid.
std::optional<std::string> DecodeHeaderValue(std::string_view value);

}  // namespace fasten::mcp
