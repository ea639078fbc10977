// MCP over Streamable HTTP (docs/mcp.md §6): one endpoint, every client message its own POST, both
// protocol eras, stateless (no Mcp-Session-Id is ever minted), so any replica can serve any
// request.
//
// Per connection: over --max-connections 503, over --max-connections-per-peer 429 (each with
// Retry-After, then closed); no request begun within the idle timeout: closed.
// Per request (the head is judged by DecideHttpRequest, mcp/http_policy.h, which has the whole
// table), in this order (docs/http.md):
//   malformed framing (duplicate Host, Authorization, Content-Length..., a bad Host port,
//   Transfer-Encoding other than chunked or with Content-Length) -> 400 / 501
//   Host / Origin not allowed           -> 403
//   GET /healthz                        -> 200, no authentication
//   GET /readyz                         -> 200 when the audit store answers, else 503
//   POST /api/v1/investigate, GET /api/v1/spend, GET /api/v1/investigations[/ID]
//                                       (when configured; see HttpOptions)
//   other paths                         -> 404
//   credentials missing or invalid      -> 401 + WWW-Authenticate (when authentication is on)
//   GET / DELETE / other methods        -> 405 (Allow: POST)
//   Content-Type not JSON               -> 415;  Accept covering neither JSON nor SSE -> 406
//   body over the limit                 -> 413;  headers over the limit -> 431
//   tenant over its rate                -> 429 + Retry-After
//   too many calls in flight            -> 503 + Retry-After
//   notification or client response     -> 202, empty body
//   request                             -> 200 JSON (or SSE when it asked for progress); the
//                                          modern era's envelope errors -> 400, unknown methods
//                                          -> 404; unparseable JSON -> 400 with -32700
// Error bodies are always JSON (a JSON-RPC error, without an id when there is none).
//
// The tenant comes from the credential (or, without authentication, from launch configuration
// exactly as on stdio); nothing in a request can change it. Tool calls run on a pool of worker
// threads, each with its own StoreSet; the network runs on its own thread, so a slow query never
// delays another request. SIGTERM / SIGINT stop accepting, let in-flight calls finish (up to the
// drain timeout), then RunHttp returns 0.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mcp/auth.h"
#include "mcp/dispatcher.h"
#include "mcp/log.h"
#include "mcp/rate_limit.h"
#include "record/record_writer.h"
#include "store/store_set.h"

namespace fasten::mcp {

struct HttpOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8765;  // 0: any free port (the log and on_listening name it)
  std::string path = "/mcp";
  std::vector<std::string> allowed_hosts;    // beyond localhost, 127.0.0.1, [::1] (any port)
  std::vector<std::string> allowed_origins;  // exact origins, e.g. https://app.example.com
  const Authenticator* auth = nullptr;       // null: no authentication (loopback only)
  // The scope when auth is null, issued by the launch configuration (app/launch_scopes.h);
  // required then. With auth each request's principal is its scope (mcp/credential_scopes.h).
  std::optional<TenantScope> scope;
  StoreConfig stores;
  int workers = 4;  // threads running tool calls, each with its own stores
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  // A connection must send the first bytes of a request (or, over TLS, finish its handshake)
  // within idle_timeout of opening or of its previous response, or it is closed without an
  // answer; from a request's first byte, the whole request must arrive within read_timeout.
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds read_timeout{10000};
  std::chrono::milliseconds call_timeout{60000};  // a tool call running longer is stopped
  std::chrono::milliseconds drain_timeout{30000};
  int max_in_flight = 64;  // tool calls running or queued; more get 503
  // Open connections in all, and from one peer (an IPv4 address or an IPv6 /64). A connection
  // over the first gets 503, over the second 429, both with Retry-After and Connection: close,
  // without its request being read. Behind a load balancer or proxy every connection comes
  // from its address: raise max_connections_per_peer to max_connections there.
  int max_connections = 512;
  int max_connections_per_peer = 128;
  RateLimiter* rate_limiter = nullptr;  // per tenant; null: unlimited
  std::string tls_cert, tls_key;        // PEM files; both empty: plain HTTP
  LogLevel log_level = LogLevel::kInfo;
  // The REST API beside the MCP endpoint: same Host/Origin checks, same credentials, the
  // caller's tenant. Unset: those paths answer 404.
  //   POST /api/v1/investigate {"question": "..."}  runs on a worker with its stores; JSON
  //        result, or SSE (`event: progress` lines, then `event: result`) when the client's
  //        Accept lists text/event-stream. `cancelled` is set when the client goes away.
  //   GET  /api/v1/spend[?from=YYYY-MM-DD&to=YYYY-MM-DD]
  struct ApiReply {
    unsigned status = 200;
    nlohmann::json body;
  };
  //   GET  /api/v1/investigations[?kind=&limit=&before=], GET /api/v1/investigations/ID: the
  //        caller's tenant's investigation records (`path` is the whole path)
  // `credential` is the caller's token label ("local" without authentication).
  std::function<ApiReply(const nlohmann::json& request, const TenantScope& scope,
                         const std::string& credential, StoreSet* stores,
                         const std::atomic<bool>* cancelled,
                         const std::function<void(const nlohmann::json& event)>& progress)>
      investigate;
  std::function<ApiReply(const TenantScope& scope, const std::string& query)> spend;
  std::function<ApiReply(const TenantScope& scope, const std::string& path,
                         const std::string& query)>
      investigations;
  // Where every tools/call leaves an access record (mcp/access_record.h), offered from the
  // worker after the response has been handed to the network: a full queue drops the record
  // (counted, and marked in the log), never the call. Null: no access records.
  record::RecordWriter* access_records = nullptr;
  int max_investigations = 2;  // running at once; more get 503
  // Extra members of the /readyz body (e.g. today's model spend); unset: none.
  std::function<nlohmann::json()> readiness_detail;
  std::function<void(uint16_t port)> on_listening;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackAddress(const std::string& address);

// Serves until SIGTERM or SIGINT. Returns 0 after a clean drain, 2 when it cannot start (the
// reason is logged).
int RunHttp(const Dispatcher& dispatcher, const HttpOptions& options, std::ostream& log);

}  // namespace fasten::mcp
