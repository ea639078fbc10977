// The MCP dispatcher: JSON-RPC 2.0 requests in, responses out, for both protocol eras.
//
//   modern (2026-07-28): stateless; every request carries params._meta with
//     io.modelcontextprotocol/protocolVersion and .../clientCapabilities; server/discover;
//     results carry resultType and _meta serverInfo; list results carry ttlMs and cacheScope.
//   legacy (2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05): initialize negotiates a version for
//     the connection; ping; output gated by the negotiated version.
//
// The dispatcher is transport-independent (stdio now, HTTP later): a transport classifies each
// message, hands requests to HandleRequest with a CallContext, and writes what comes back.
// **The tenant comes from the CallContext** (the transport's credential or launch
// configuration), never from a request. Thread-safe: HandleRequest may run on many threads, each
// with its own StoreSet.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "anchor/tips_cache.h"
#include "mcp/protocol.h"
#include "tools/registry.h"

namespace fasten::mcp {

struct ServerInfo {
  std::string name = "fasten-mcp";
  std::string version;
  std::string title = "fasten audit reader";
};

// Protocol state of one connection (a stdio process): legacy once `initialize` arrived.
class Connection {
 public:
  void SetLegacy(const std::string& version);
  std::optional<std::string> legacy_version() const;

 private:
  mutable std::mutex mu_;
  std::optional<std::string> legacy_;
};

struct CallContext {
  // Bound by the transport (its credential or launch configuration); there is no default.
  TenantScope scope;
  Connection* connection = nullptr;
  StoreSet* stores = nullptr;  // this thread's stores; may be null for requests without tools
  const std::atomic<bool>* cancelled = nullptr;
  std::function<void(const nlohmann::json& notification)> notify{};  // on this request's stream
  // When set, a tools/call whose tool succeeded stores here how many rows its result holds
  // (RowsReturned, mcp/access_record.h), whatever the protocol version shows of it.
  int64_t* rows_returned = nullptr;
  // Out: the tool found the store unavailable (the runner reopens it before the next call).
  bool store_unavailable = false;
};

// What HandleRequestText tells about the response besides its text.
struct ResponseShape {
  int error_code = 0;     // the JSON-RPC error's code; 0 for a result
  bool is_error = false;  // a result with isError
};

// What a transport does with one parsed message.
struct Incoming {
  enum class Kind { kRequest, kNotification, kResponse, kInvalid };
  Kind kind = Kind::kInvalid;
  nlohmann::json error;  // kInvalid: the error response to send (may have no id)
};

class Dispatcher {
 public:
  Dispatcher(const ToolRegistry* tools, const CursorSigner* cursors, ServerInfo info);

  static Incoming Classify(const nlohmann::json& message);
  // Parses one message's text (util/json_parse.h, kMessageJsonLimits' depth; the transport has
  // already held it to its byte limit) and classifies it. Text that is not JSON is kInvalid with
  // -32700; a message nested deeper than the limit is kInvalid with -32600 naming the limit,
  // carrying the request's id when it could still be read. On kRequest, kNotification and
  // kResponse *message holds the message.
  static Incoming ParseAndClassify(std::string_view text, nlohmann::json* message);

  // True for requests that read stores (run them on a worker); false for cheap ones.
  static bool NeedsStores(const nlohmann::json& request);

  // validate_answer's integrity margin (validator/integrity_verdict.h; default 30 min). Set
  // before serving.
  void set_integrity_margin(Micros margin) { integrity_margin_ = margin; }
  // The checkpoint log chain_verify also checks (anchor/checkpoint.h); null: none. Outlives the
  // dispatcher. Set before serving.
  void set_anchors(const anchor::AnchorConfig* anchors);

  // The response to a request.
  nlohmann::json HandleRequest(const nlohmann::json& request, CallContext& ctx) const;
  // The same response as one line of compact JSON text: DumpJson(HandleRequest(...)), byte for
  // byte, but a tool's result is serialised once for both its text content and its
  // structuredContent instead of being dumped, copied and dumped again.
  std::string HandleRequestText(const nlohmann::json& request, CallContext& ctx,
                                ResponseShape* shape = nullptr) const;

  // For notifications/cancelled: the id of the request to cancel, or nullopt.
  static std::optional<nlohmann::json> CancelTarget(const nlohmann::json& notification);

  // subscriptions/listen (2026-07-28): a stream that stays open for notifications outside any
  // request. fasten-mcp's tool list never changes and it offers no resources, so it honours no
  // notification type: the acknowledgement's filter is {} and nothing else is ever sent on it.
  static bool IsListen(const nlohmann::json& request);
  // On success returns nullopt and sets *ack to notifications/subscriptions/acknowledged (the
  // stream's first message); otherwise the error response (envelope errors, as for any modern
  // request; a listen without the modern _meta is -32601).
  std::optional<nlohmann::json> Listen(const nlohmann::json& request, nlohmann::json* ack) const;
  // When the server ends an open listen (shutdown): notifications/cancelled naming it, then the
  // listen's final result.
  static nlohmann::json ListenCancelled(const nlohmann::json& id);
  nlohmann::json ListenResult(const nlohmann::json& id) const;

  // A response, or a tools/call result not yet written out (defined and used in dispatcher.cc).
  struct Reply;

 private:
  Reply Handle(const nlohmann::json& request, CallContext& ctx) const;
  Reply HandleModern(const nlohmann::json& id, const std::string& method,
                     const nlohmann::json& params, CallContext& ctx) const;
  Reply HandleLegacy(const nlohmann::json& id, const std::string& method,
                     const nlohmann::json& params, CallContext& ctx) const;
  nlohmann::json ToolsList(const std::string& version) const;
  Reply CallTool(const nlohmann::json& id, const nlohmann::json& params, const std::string& version,
                 CallContext& ctx) const;

  const ToolRegistry* tools_;
  const CursorSigner* cursors_;
  ServerInfo info_;
  std::string instructions_;
  Micros integrity_margin_ = 30 * 60 * int64_t{1000000};
  const anchor::AnchorConfig* anchors_ = nullptr;
  std::unique_ptr<anchor::AnchorTipsCache> anchor_tips_;
};

}  // namespace fasten::mcp
