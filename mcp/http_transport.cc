// The only translation unit that includes Boost.Beast / Asio (keeps build time and coupling down).
#include "mcp/http_transport.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "mcp/access_record.h"
#include "mcp/call_runner.h"
#include "mcp/credential_scopes.h"
#include "mcp/http_policy.h"
#include "tools/json_out.h"
#include "tools/row_json.h"
#include "util/base64.h"
#include "util/duration.h"
#include "util/json_parse.h"
#include "util/work_queue.h"

namespace fasten::mcp {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

using Headers = std::vector<std::pair<std::string, std::string>>;

// `connection`: the Connection line(s), as Session::ConnectionFields makes them.
std::string FormatHttp(unsigned status, const std::string& content_type, const std::string& body,
                       const std::string& connection, const Headers& extra = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += std::string(http::obsolete_reason(http::int_to_status(status)));
  out += "\r\nServer: fasten-mcp\r\n";
  if (!content_type.empty()) out += "Content-Type: " + content_type + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += connection;
  for (const auto& [k, v] : extra) out += k + ": " + v + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

// The code of a JSON-RPC error response; 0 for a result.
int ErrorCodeOf(const json& response) {
  auto err = response.find("error");
  return err == response.end() || !err->is_object() ? 0 : err->value("code", 0);
}

std::string Chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

std::string SseEvent(const std::string& data, const char* event = "message") {
  return Chunk(std::string("event: ") + event + "\ndata: " + data + "\n\n");
}

// ---------------------------------------------------------------------------------------------

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Drain() = 0;  // close when idle; close after the current response otherwise
};

struct Server {
  Server(const Dispatcher& d, const HttpOptions& o, Log& l, net::io_context& ioc)
      : dispatcher(d),
        options(o),
        log(l),
        ioc(ioc),
        runner(d, CallRunnerOptions{o.stores, o.workers, o.call_timeout}, l) {}

  const Dispatcher& dispatcher;
  const HttpOptions& options;
  Log& log;
  net::io_context& ioc;
  CallRunner runner;              // tool calls, their stores, cancellation and deadline
  std::atomic<int> in_flight{0};  // admitted tool calls and investigations (--max-in-flight)
  std::atomic<int> investigations{0};
  std::atomic<int> connections{0};  // admitted (see Admit); changed under mu
  std::atomic<int> refusing{0};     // over-limit connections being answered 503/429
  std::atomic<bool> draining{false};
  const HttpPolicyConfig policy = PolicyConfig(options);

  std::mutex mu;
  std::map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
  std::unordered_map<std::string, int> peers;  // admitted connections per PeerKey

  // Takes a connection slot for `peer`: 0 when admitted (Release gives it back), else the
  // status that refuses it: 503 over the global limit, 429 over the per-peer one.
  unsigned Admit(const std::string& peer) {
    std::lock_guard<std::mutex> lock(mu);
    if (connections.load() >= options.max_connections) return 503;
    int& n = peers[peer];
    if (n >= options.max_connections_per_peer) return 429;
    ++n;
    connections.fetch_add(1);
    return 0;
  }
  void Release(const std::string& peer) {
    std::lock_guard<std::mutex> lock(mu);
    connections.fetch_sub(1);
    auto it = peers.find(peer);
    if (it != peers.end() && --it->second <= 0) peers.erase(it);
  }

  static HttpPolicyConfig PolicyConfig(const HttpOptions& o) {
    HttpPolicyConfig c;
    c.endpoint_path = o.path;
    c.allowed_hosts = o.allowed_hosts;
    c.allowed_origins = o.allowed_origins;
    c.bind_address = o.address;
    c.investigate = static_cast<bool>(o.investigate);
    c.spend = static_cast<bool>(o.spend);
    c.investigations = static_cast<bool>(o.investigations);
    c.max_body_bytes = o.max_body_bytes;
    return c;
  }
};

// Whom a connection counts against: its IPv4 address, or its IPv6 /64 (one host usually holds a
// whole /64); an IPv4-mapped IPv6 address counts as the IPv4 one.
std::string PeerKey(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) return "?";
  const net::ip::address a = remote.address();
  if (a.is_v4()) return a.to_string();
  const net::ip::address_v6 v6 = a.to_v6();
  if (v6.is_v4_mapped()) return net::ip::make_address_v4(net::ip::v4_mapped, v6).to_string();
  net::ip::address_v6::bytes_type bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return net::ip::address_v6(bytes).to_string() + "/64";
}

// One connection. Every member is touched only on the connection's strand.
//
// A connection admitted by Server::Admit serves requests; one refused (`refusal` 503 or 429)
// answers that status at once, without reading a request, and closes.
template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  Session(Server& server, tcp::socket socket, std::string peer, unsigned refusal, Args&&... args)
      : server_(server),
        stream_(std::move(socket), std::forward<Args>(args)...),
        peer_(std::move(peer)),
        refusal_(refusal) {}
  ~Session() override {
    if (refusal_) {
      server_.refusing.fetch_sub(1);
    } else {
      server_.Release(peer_);
    }
    std::lock_guard<std::mutex> lock(server_.mu);
    server_.sessions.erase(this);
  }

  void Start() {
    {
      std::lock_guard<std::mutex> lock(server_.mu);
      server_.sessions[this] = this->shared_from_this();
    }
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
        self->Begin();
      } else {
        // A client that has not finished its handshake has sent no request yet: the idle
        // deadline applies.
        beast::get_lowest_layer(self->stream_).expires_after(self->server_.options.idle_timeout);
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->Close();
          self->Begin();
        });
      }
    });
  }

  void Drain() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->Close();
      if (self->listening_) self->EndListen();
    });
  }

 private:
  // ------------------------------------------------------------------ reading
  void Begin() {
    if (!refusal_) return DoRead();
    const std::string message =
        refusal_ == 503 ? "server busy: too many connections (the limit is " +
                              std::to_string(server_.options.max_connections) + "); retry shortly"
                        : "too many connections from " + peer_ + " (the limit is " +
                              std::to_string(server_.options.max_connections_per_peer) +
                              " per address); close some and retry";
    RejectEarly(refusal_, message, {{"Retry-After", "1"}});
  }

  void DoRead() {
    if (server_.draining.load() || closed_) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_body_bytes);
    idle_ = buffer_.size() == 0;
    if (!idle_) return ReadHeader();  // the next request has begun (pipelined)
    // Nothing of the next request yet: its first bytes must come within the idle timeout, so
    // connections that send nothing cannot hold slots for long.
    beast::get_lowest_layer(stream_).expires_after(server_.options.idle_timeout);
    reading_ = true;
    stream_.async_read_some(
        buffer_.prepare(4096), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
          self->reading_ = false;
          if (ec) {
            if (ec == beast::error::timeout) {
              self->server_.log.Write(LogLevel::kDebug,
                                      "idle connection from " + self->peer_ + " closed after " +
                                          FormatSeconds(self->server_.options.idle_timeout) +
                                          " s without a request");
            }
            return self->Close();
          }
          self->buffer_.commit(n);
          self->idle_ = false;
          self->ReadHeader();
        });
  }

  // From the request's first byte, the whole of it must arrive within the read timeout.
  void ReadHeader() {
    beast::get_lowest_layer(stream_).expires_after(server_.options.read_timeout);
    reading_ = true;
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              self->reading_ = false;
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    idle_ = false;
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    started_ = Clock::now();
    method_ = std::string(req.method_string());
    target_ = std::string(req.target());

    HttpRequestHead head;
    head.method = req.method_string();
    head.target = req.target();
    head.version = static_cast<int>(req.version());
    for (const auto& field : req) head.fields.emplace_back(field.name_string(), field.value());
    decision_ = DecideHttpRequest(head, server_.policy);
    const HttpDecision& d = decision_;
    if (d.reject) return RejectEarly(d.reject.status, d.reject.message, d.reject.headers);
    if (d.route == HttpRoute::kHealthz) {
      return Reply(200, json{{"status", "ok"}}.dump(), "application/json");
    }
    if (d.route == HttpRoute::kReadyz) return Readiness();
    api_ = d.route == HttpRoute::kInvestigate      ? Api::kInvestigate
           : d.route == HttpRoute::kSpend          ? Api::kSpend
           : d.route == HttpRoute::kInvestigations ? Api::kInvestigations
                                                   : Api::kNone;
    // The caller: a value of this request, handed along with it (never kept on the connection,
    // which may carry another credential's request next).
    Principal principal;
    if (server_.options.auth) {
      std::string why;
      std::optional<Principal> p = server_.options.auth->Authenticate(d.authorization, &why);
      if (!p) {
        server_.log.Write(LogLevel::kInfo, "401 " + method_ + " " + d.path + ": " + why);
        return RejectEarly(401, "unauthorized: " + why + "; send Authorization: Bearer <token>",
                           {{"WWW-Authenticate", kWwwAuthenticate}});
      }
      principal = std::move(*p);
    } else {
      principal = Principal{server_.options.scope->tenant().value_or(""), "local"};
    }
    if (d.reject_after_auth) {
      return RejectEarly(d.reject_after_auth.status, d.reject_after_auth.message,
                         d.reject_after_auth.headers);
    }
    if (api_ == Api::kSpend) {
      HttpOptions::ApiReply r = server_.options.spend(Scope(principal), d.query);
      return Reply(r.status, DumpJson(r.body), "application/json");
    }
    if (api_ == Api::kInvestigations) {
      HttpOptions::ApiReply r = server_.options.investigations(Scope(principal), d.path, d.query);
      return Reply(r.status, DumpJson(r.body), "application/json");
    }
    accepts_sse_ = d.accepts_sse;
    if (server_.options.rate_limiter) {
      int retry = 1;
      if (!server_.options.rate_limiter->Allow(principal.tenant, Clock::now(), &retry)) {
        return RejectEarly(429, "too many requests for this tenant; retry later",
                           {{"Retry-After", std::to_string(retry)}});
      }
    }
    if (d.expect_continue) Send("HTTP/1.1 100 Continue\r\n\r\n");
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this(), principal = std::move(principal)](
                         beast::error_code ec, size_t) mutable {
                       self->reading_ = false;
                       self->OnBody(ec, std::move(principal));
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return RejectEarly(431, "request header fields too large");
    }
    if (ec == http::error::body_limit) {
      return RejectEarly(413, "payload too large: the limit is " +
                                  std::to_string(server_.options.max_body_bytes) + " bytes");
    }
    if (ec == beast::error::timeout && parser_ && (parser_->got_some() || buffer_.size() > 0)) {
      // The stream has already closed the socket: nothing more can be sent.
      server_.log.Write(LogLevel::kInfo, "client too slow: request not received within " +
                                             std::to_string(server_.options.read_timeout.count()) +
                                             " ms; connection closed");
      return Close();
    }
    if (ec != http::error::end_of_stream && ec != beast::error::timeout &&
        ec != net::error::operation_aborted && ec != net::error::eof &&
        ec != net::error::connection_reset) {
      server_.log.Write(LogLevel::kDebug, "read: " + ec.message());
      if (parser_ && parser_->got_some()) return RejectEarly(400, "bad request: " + ec.message());
    }
    Close();
  }

  void OnBody(beast::error_code ec, Principal principal) {
    if (ec) return OnReadError(ec);
    beast::get_lowest_layer(stream_).expires_never();
    auto& req = parser_->get();
    if (api_ == Api::kInvestigate) return StartInvestigation(req.body(), principal);
    json message;
    Incoming in = Dispatcher::ParseAndClassify(req.body(), &message);
    switch (in.kind) {
      case Incoming::Kind::kInvalid:
        return ReplyJson(in.error, false, 400);
      case Incoming::Kind::kResponse:
        return Reply(202, "", "");
      case Incoming::Kind::kNotification:
        if (auto target = Dispatcher::CancelTarget(message)) {
          server_.runner.Cancel(CallKey(*target, principal));
        }
        return Reply(202, "", "");
      case Incoming::Kind::kRequest:
        return OnRequest(std::move(message), principal);
    }
  }

  static std::string CallKey(const json& id, const Principal& principal) {
    std::string key = principal.tenant;
    key += '\n';
    key += principal.token_label;
    key += '\n';
    AppendJson(id, &key);
    return key;
  }

  // The request's scope: its principal's with authentication, else the launch configuration's.
  TenantScope Scope(const Principal& principal) const {
    if (server_.options.auth) return CredentialScopes::ForPrincipal(principal);
    return *server_.options.scope;
  }

  // Era selection and the envelope checks (CheckHttpEnvelope, mcp/http_policy.h), then the
  // request: cheap ones answered here, tool calls through the runner.
  void OnRequest(json request, const Principal& principal) {
    HttpEnvelope envelope = CheckHttpEnvelope(decision_, request);
    modern_ = envelope.modern;
    if (envelope.error) return ReplyJson(*envelope.error, modern_, 400);
    if (Dispatcher::IsListen(request)) {
      json ack;
      if (auto error = server_.dispatcher.Listen(request, &ack)) {
        return ReplyJson(*error, true);
      }
      return StartListen(request["id"], ack);
    }
    if (!Dispatcher::NeedsStores(request)) {
      // Cheap and store-free: answered right here.
      Connection connection;
      if (envelope.legacy_version) connection.SetLegacy(*envelope.legacy_version);
      CallContext ctx{Scope(principal)};
      ctx.connection = &connection;
      ResponseShape shape;
      std::string body = server_.dispatcher.HandleRequestText(request, ctx, &shape);
      return Reply(HttpStatusOfResponse(shape.error_code, modern_), body, "application/json");
    }
    const json* meta = nullptr;
    if (auto p = request.find("params"); p != request.end() && p->is_object()) {
      if (auto m = p->find("_meta"); m != p->end() && m->is_object()) meta = &*m;
    }
    StartCall(std::move(request), meta && meta->contains("progressToken"),
              std::move(envelope.legacy_version), principal);
  }

  // ------------------------------------------------------------------ tool calls
  void StartCall(json request, bool wants_progress, std::optional<std::string> legacy,
                 const Principal& principal) {
    if (server_.in_flight.fetch_add(1) >= server_.options.max_in_flight) {
      server_.in_flight.fetch_sub(1);
      return ReplyJson(ErrorResponse(&request["id"], kInternalError,
                                     "server busy: too many calls in flight; retry shortly"),
                       modern_, 503, {{"Retry-After", "1"}});
    }
    sse_ = wants_progress && accepts_sse_;
    if (sse_) {
      StartSse();
      if (!modern_) Send(Chunk("id: 0\ndata: \n\n"));  // legacy priming event (2025-11-25)
    }
    auto self = this->shared_from_this();
    CallSpec spec{Scope(principal)};
    spec.key = CallKey(request["id"], principal);
    spec.legacy_version = std::move(legacy);
    // Only tools/call leaves an access record; the credential is this request's.
    const bool record_access = server_.options.access_records &&
                               request["method"].get_ref<const std::string&>() == "tools/call";
    spec.count_rows = record_access;
    if (sse_) {
      spec.notify = [self](const json& n) {
        std::string event = SseEvent(DumpJson(n));
        net::post(self->stream_.get_executor(),
                  [self, event = std::move(event)] { self->Send(event); });
      };
    }
    TenantScope scope = spec.scope;
    std::string credential = record_access ? principal.token_label : std::string();
    auto finish = [self, record_access, scope = std::move(scope),
                   credential = std::move(credential)](const json& request, CallOutcome out) {
      const unsigned status = HttpStatusOfResponse(out.error_code, self->modern_);
      const CallOutcome summary{{}, out.error_code, out.is_error, false, false, out.rows};
      net::post(self->stream_.get_executor(),
                [self, status, body = std::move(out.text)] { self->FinishCall(status, body); });
      // After the answer is on its way: the record costs the caller nothing.
      if (record_access) self->RecordAccess(scope, credential, request, summary);
    };
    if (!sse_ && CallRunner::RunsInline(request)) {
      // A cheap point lookup: answered on the network thread, without a hand-off.
      CallOutcome out = server_.runner.RunInline(request, std::move(spec));
      FinishCall(HttpStatusOfResponse(out.error_code, modern_), out.text);
      if (record_access) RecordAccess(Scope(principal), principal.token_label, request, out);
      return;
    }
    call_ = server_.runner.Post(std::move(request), std::move(spec), std::move(finish));
    WatchForDisconnect(call_);
  }

  void RecordAccess(const TenantScope& scope, const std::string& credential, const json& request,
                    const CallOutcome& out) {
    const json response = out.error_code == 0 ? json{{"result", {{"isError", out.is_error}}}}
                                              : json{{"error", {{"code", out.error_code}}}};
    server_.options.access_records->Offer(
        AccessRecord(scope, credential, request, response, out.rows));
  }

  // ------------------------------------------------------------------ POST /api/v1/investigate
  void StartInvestigation(const std::string& body, const Principal& principal) {
    json request;
    JsonParseResult parsed =
        ParseJson(body, JsonLimits{server_.options.max_body_bytes, kMaxJsonDepth}, &request);
    if (!parsed.ok() || !request.is_object() || !request.contains("question") ||
        !request["question"].is_string() || request["question"].get<std::string>().empty()) {
      std::string message = "send a JSON object {\"question\": \"...\"}";
      if (!parsed.ok()) message = parsed.message + "; " + message;
      return Reply(400, DumpJson({{"error", {{"code", "bad_request"}, {"message", message}}}}),
                   "application/json");
    }
    if (server_.investigations.fetch_add(1) >= server_.options.max_investigations) {
      server_.investigations.fetch_sub(1);
      return Reply(503,
                   DumpJson({{"error",
                              {{"code", "busy"},
                               {"message", "too many investigations running; retry shortly"}}}}),
                   "application/json", {{"Retry-After", "5"}});
    }
    server_.in_flight.fetch_add(1);               // a drain waits for it
    auto call = std::make_shared<RunningCall>();  // cancelled when the client goes away
    call_ = call;
    sse_ = accepts_sse_;
    if (sse_) {
      StartSse();
    }
    WatchForDisconnect(call);
    auto self = this->shared_from_this();
    const bool sse = sse_;
    server_.runner.PostJob([self, call, request = std::move(request), scope = Scope(principal),
                            credential = principal.token_label, sse](StoreSet* stores) {
      std::function<void(const json&)> progress;
      if (sse) {
        progress = [self, call](const json& e) {
          if (call->cancelled.load()) return;
          std::string event = SseEvent(DumpJson(e), "progress");
          net::post(self->stream_.get_executor(),
                    [self, event = std::move(event)] { self->Send(event); });
        };
      }
      HttpOptions::ApiReply r;
      if (!stores) {
        r = {503,
             {{"error",
               {{"code", "store_unavailable"}, {"message", "the store is not reachable"}}}}};
      } else {
        try {
          stores->SetInterrupt(&call->cancelled);
          r = self->server_.options.investigate(request, scope, credential, stores,
                                                &call->cancelled, progress);
        } catch (const std::exception& e) {
          self->server_.log.Write(LogLevel::kError, std::string("investigate: ") + e.what());
          r = {500, {{"error", {{"code", "internal"}, {"message", "internal error"}}}}};
        }
        stores->SetInterrupt(nullptr);
      }
      std::string out = DumpJson(r.body);
      net::post(self->stream_.get_executor(),
                [self, call, status = r.status, out = std::move(out)] {
                  self->server_.investigations.fetch_sub(1);
                  self->FinishCall(status, out, "result");
                });
    });
  }

  // The head of a chunked text/event-stream response.
  void StartSse() {
    Send(
        "HTTP/1.1 200 OK\r\nServer: fasten-mcp\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n" +
        ConnectionFields() + "\r\n");
  }

  // "Connection: close", or keep-alive with the idle timeout as a hint (RFC 9112 Keep-Alive
  // timeout, whole seconds) so that clients drop an idle connection before the server does.
  std::string ConnectionFields() const {
    if (!keep_alive_) return "Connection: close\r\n";
    const auto idle =
        std::chrono::duration_cast<std::chrono::seconds>(server_.options.idle_timeout);
    if (idle.count() < 1) return "Connection: keep-alive\r\n";
    return "Connection: keep-alive\r\nKeep-Alive: timeout=" + std::to_string(idle.count()) + "\r\n";
  }

  // A client that goes away while its call runs cancels the call (docs/mcp.md §6 item 4).
  void WatchForDisconnect(std::shared_ptr<RunningCall> call) {
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.async_wait(tcp::socket::wait_read, [self = this->shared_from_this(),
                                               call](beast::error_code ec) {
      if (self->call_ != call || ec == net::error::operation_aborted) return;
      char byte;
      ssize_t n = ::recv(beast::get_lowest_layer(self->stream_).socket().native_handle(), &byte, 1,
                         MSG_PEEK | MSG_DONTWAIT);
      if (ec || n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        self->server_.log.Write(LogLevel::kDebug, "client closed the connection; call cancelled");
        call->cancelled.store(true);
        self->client_gone_ = true;
      }
      // Otherwise the client sent more (a pipelined request): leave it for the next read.
    });
  }

  // The end of a call's exchange: the response, or the SSE stream's last event (`sse_event`).
  void FinishCall(unsigned status, const std::string& body, const char* sse_event = "message") {
    server_.in_flight.fetch_sub(1);
    call_.reset();
    // A call cancelled by notifications/cancelled still ends its HTTP exchange, with the tool's
    // "cancelled" result: the client has stopped waiting for it.
    if (client_gone_) return Close();
    if (sse_) {
      sse_ = false;
      response_complete_ = true;
      Send(SseEvent(body, sse_event));
      return Send("0\r\n\r\n");
    }
    Reply(status, body, "application/json");
  }

  // ------------------------------------------------------------------ subscriptions/listen
  // An SSE stream that stays open: the acknowledgement, then only keep-alive comments (nothing
  // is ever subscribed), until the client closes it or the server shuts down.
  void StartListen(const json& id, const json& ack) {
    listening_ = true;
    listen_id_ = id;
    keep_alive_ = false;  // the connection ends with the stream
    StartSse();
    Send(SseEvent(DumpJson(ack)));
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.async_wait(tcp::socket::wait_read, [self = this->shared_from_this()](beast::error_code) {
      // Anything from the client (normally its close) ends the stream; no response is due.
      if (self->listening_) {
        self->listening_ = false;
        self->Close();
      }
    });
    KeepListening();
  }

  void KeepListening() {
    timer_.emplace(stream_.get_executor());
    timer_->expires_after(std::chrono::seconds(15));
    timer_->async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || !self->listening_) return;
      self->Send(Chunk(": keep-alive\n\n"));
      self->KeepListening();
    });
  }

  // Server teardown: notifications/cancelled naming the listen, then its final result.
  void EndListen() {
    listening_ = false;
    if (timer_) timer_->cancel();
    Send(SseEvent(DumpJson(Dispatcher::ListenCancelled(listen_id_))));
    Send(SseEvent(DumpJson(server_.dispatcher.ListenResult(listen_id_))));
    response_complete_ = true;
    Send("0\r\n\r\n");
  }

  void Readiness() {
    auto self = this->shared_from_this();
    server_.runner.PostJob([self](StoreSet* stores) {
      Status st = stores && stores->audit ? Status::Ok()
                                          : UnavailableError("the audit store cannot be opened");
      if (st.ok()) {
        std::vector<std::string> tenants;
        st = stores->audit->Tenants(CredentialScopes::ForProbe(), 1, &tenants);
      }
      if (!st.ok()) self->server_.log.Write(LogLevel::kWarn, "readyz: " + st.ToString());
      net::post(self->stream_.get_executor(), [self, ok = st.ok()] {
        if (ok) {
          json body = {{"status", "ready"}};
          if (self->server_.options.readiness_detail) {
            const json detail = self->server_.options.readiness_detail();
            for (auto& [k, v] : detail.items()) body[k] = v;
          }
          return self->Reply(200, body.dump(), "application/json");
        }
        self->Reply(
            503,
            json{{"status", "unavailable"}, {"reason", "the audit store is not reachable"}}.dump(),
            "application/json", {{"Retry-After", "5"}});
      });
    });
  }

  // ------------------------------------------------------------------ writing
  void ReplyJson(const json& response, bool modern, unsigned status = 0,
                 const Headers& extra = {}) {
    if (status == 0) status = HttpStatusOfResponse(ErrorCodeOf(response), modern);
    Reply(status, DumpJson(response), "application/json", extra);
  }

  void Reply(unsigned status, const std::string& body, const std::string& content_type,
             const Headers& extra = {}) {
    if (server_.draining.load()) keep_alive_ = false;
    response_complete_ = true;
    if (server_.log.Enabled(LogLevel::kDebug)) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_);
      server_.log.Write(LogLevel::kDebug, method_ + " " + target_ + " -> " +
                                              std::to_string(status) + " in " +
                                              std::to_string(us.count()) + " us");
    }
    Send(FormatHttp(status, content_type, body, ConnectionFields(), extra));
  }

  // Answers before the body is read: the connection cannot be reused.
  void RejectEarly(unsigned status, const std::string& message, const Headers& extra = {}) {
    keep_alive_ = false;
    json body = ErrorResponse(nullptr,
                              status == 401 || status == 403 ? kInvalidRequest
                              : status >= 500                ? kInternalError
                                                             : kInvalidRequest,
                              message);
    Reply(status, DumpJson(body), "application/json", extra);
  }

  void Send(std::string bytes) {
    if (closed_) return;
    outbox_.push_back(std::make_shared<std::string>(std::move(bytes)));
    if (!writing_) WriteNext();
  }

  void WriteNext() {
    writing_ = true;
    auto data = outbox_.front();
    beast::get_lowest_layer(stream_).expires_after(server_.options.read_timeout);
    net::async_write(stream_, net::buffer(*data),
                     [self = this->shared_from_this(), data](beast::error_code ec, size_t) {
                       self->OnWrite(ec);
                     });
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    outbox_.pop_front();
    if (ec) {
      if (call_) {
        call_->cancelled.store(true);
        client_gone_ = true;
      }
      outbox_.clear();
      return Close();
    }
    if (!outbox_.empty()) return WriteNext();
    beast::get_lowest_layer(stream_).expires_never();
    if (!response_complete_) return;  // an SSE response still streaming
    response_complete_ = false;
    if (!keep_alive_) return Close();
    DoRead();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    listening_ = false;
    if (timer_) timer_->cancel();  // its handler holds the session: release it now
    beast::error_code ec;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->stream_)
            .socket()
            .shutdown(tcp::socket::shutdown_both, ignored);
        beast::get_lowest_layer(self->stream_).close();
      });
    } else {
      // Half-close, then read and drop what the client still sends (a body we refused to read)
      // for a moment: closing with unread data makes the kernel send a reset, and the client
      // could lose the response.
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      // An idle connection (a read already pending: one read at a time) has nothing to drain.
      if (ec || reading_) return stream_.close();
      stream_.expires_after(std::chrono::seconds(2));
      Linger(0);
    }
  }

  void Linger(size_t drained) {
    auto scratch = std::make_shared<std::array<char, 16384>>();
    stream_.async_read_some(net::buffer(*scratch), [self = this->shared_from_this(), scratch,
                                                    drained](beast::error_code ec, size_t n) {
      if (ec || drained + n > (4u << 20)) return self->stream_.close();
      self->Linger(drained + n);
    });
  }

  Server& server_;
  Stream stream_;
  const std::string peer_;  // PeerKey
  const unsigned refusal_;  // 0, or the status that refuses this connection
  HttpDecision decision_;   // the current request's
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<net::steady_timer> timer_;
  std::deque<std::shared_ptr<std::string>> outbox_;
  std::shared_ptr<RunningCall> call_;  // the call in progress, for a disconnect to cancel
  std::string method_, target_;
  Clock::time_point started_{};
  bool modern_ = false;
  bool keep_alive_ = true;
  bool accepts_sse_ = false;
  enum class Api { kNone, kInvestigate, kSpend, kInvestigations };
  Api api_ = Api::kNone;
  bool sse_ = false;
  bool writing_ = false;
  bool response_complete_ = false;
  bool idle_ = false;
  bool client_gone_ = false;
  bool closed_ = false;
  bool listening_ = false;
  bool reading_ = false;  // a read on stream_ is pending
  json listen_id_;
};

class Listener {
 public:
  Listener(Server& server, ssl::context* tls)
      : server_(server), acceptor_(server.ioc), retry_(server.ioc), tls_(tls) {}

  Status Open(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return UnavailableError("cannot listen on " + endpoint.address().to_string() + ":" +
                              std::to_string(endpoint.port()) + ": " + ec.message());
    }
    return Status::Ok();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void Accept() {
    acceptor_.async_accept(net::make_strand(server_.ioc),
                           [this](beast::error_code ec, tcp::socket socket) {
                             if (ec == net::error::operation_aborted) return;
                             if (ec) {
                               // Out of descriptors (EMFILE) and the like: pause instead of
                               // spinning on an accept that fails at once.
                               server_.log.Write(LogLevel::kWarn, "accept: " + ec.message());
                               retry_.expires_after(std::chrono::milliseconds(100));
                               retry_.async_wait([this](beast::error_code e) {
                                 if (!e && !server_.draining.load()) Accept();
                               });
                               return;
                             }
                             Start(std::move(socket));
                             if (!server_.draining.load()) Accept();
                           });
  }

  void Close() {
    beast::error_code ignored;
    acceptor_.close(ignored);
    retry_.cancel();
  }

 private:
  // Answering a refused connection costs a write and a short linger; past this many at once,
  // further refused connections are closed without an answer.
  static constexpr int kMaxRefusing = 64;

  void Start(tcp::socket socket) {
    beast::error_code ignored;
    std::string peer = PeerKey(socket);
    const unsigned refusal = server_.Admit(peer);
    if (refusal) {
      NoteRefusal(peer, refusal);
      if (server_.refusing.fetch_add(1) >= kMaxRefusing) {
        server_.refusing.fetch_sub(1);
        socket.close(ignored);
        return;
      }
    }
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls_) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          server_, std::move(socket), std::move(peer), refusal, *tls_)
          ->Start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(server_, std::move(socket), std::move(peer),
                                                   refusal)
          ->Start();
    }
  }

  // One warning per 10 s at most, however many connections a flood makes.
  void NoteRefusal(const std::string& peer, unsigned status) {
    ++refused_;
    const Clock::time_point now = Clock::now();
    if (now - last_note_ < std::chrono::seconds(10)) return;
    server_.log.Write(
        LogLevel::kWarn,
        "refused " + std::to_string(refused_) + " connection(s) over the limits" +
            (last_note_ == Clock::time_point{} ? "" : " since the last such warning") +
            "; the latest from " + peer +
            (status == 503 ? ": " + std::to_string(server_.options.max_connections) +
                                 " connections open (--max-connections)"
                           : ": " + std::to_string(server_.options.max_connections_per_peer) +
                                 " connections open from it (--max-connections-per-peer)"));
    last_note_ = now;
    refused_ = 0;
  }

  Server& server_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  ssl::context* tls_;
  // Touched only by the accept handler.
  Clock::time_point last_note_{};
  int refused_ = 0;
};

}  // namespace

namespace {
int Serve(Server& server, ssl::context* tls, const net::ip::address& ip,
          const std::string& address);
}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  if (address == "localhost") return true;
  beast::error_code ec;
  auto a = net::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

int RunHttp(const Dispatcher& dispatcher, const HttpOptions& options, std::ostream& log_stream) {
  log_stream.tie(nullptr);
  Log log(log_stream, options.log_level);
  if (!options.auth && !options.scope) {
    log.Write(LogLevel::kError, "without authentication the launch configuration binds a scope");
    return 2;
  }
  beast::error_code ec;
  std::string address = options.address == "localhost" ? "127.0.0.1" : options.address;
  auto ip = net::ip::make_address(address, ec);
  if (ec) {
    log.Write(LogLevel::kError, "--http: '" + options.address + "' is not an IP address");
    return 2;
  }
  std::optional<ssl::context> tls;
  if (!options.tls_cert.empty() || !options.tls_key.empty()) {
    if (options.tls_cert.empty() || options.tls_key.empty()) {
      log.Write(LogLevel::kError, "TLS needs both --tls-cert and --tls-key");
      return 2;
    }
    tls.emplace(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    tls->use_certificate_chain_file(options.tls_cert, ec);
    if (ec) {
      log.Write(LogLevel::kError, "--tls-cert " + options.tls_cert + ": " + ec.message());
      return 2;
    }
    tls->use_private_key_file(options.tls_key, ssl::context::pem, ec);
    if (ec) {
      log.Write(LogLevel::kError, "--tls-key " + options.tls_key + ": " + ec.message());
      return 2;
    }
  }

  // Teardown order matters: handlers still queued when the loop stops hold sessions, whose
  // destructors use `server`; so the io_context is destroyed (explicitly, below) while `server`
  // still lives, and the listener, timers and signal set before the io_context.
  std::optional<net::io_context> ioc_holder(std::in_place, 1);
  net::io_context& ioc = *ioc_holder;
  Server server(dispatcher, options, log, ioc);
  int rc = Serve(server, tls ? &*tls : nullptr, ip, address);
  ioc_holder.reset();
  if (rc == 0) log.Write(LogLevel::kInfo, "stopped");
  return rc;
}

namespace {

int Serve(Server& server, ssl::context* tls, const net::ip::address& ip,
          const std::string& address) {
  const HttpOptions& options = server.options;
  Log& log = server.log;
  net::io_context& ioc = server.ioc;
  Listener listener(server, tls);
  Status st = listener.Open(tcp::endpoint(ip, options.port));
  if (!st.ok()) {
    log.Write(LogLevel::kError, st.message());
    server.runner.Stop();
    return 2;
  }
  listener.Accept();
  const uint16_t port = listener.port();
  std::string host = ip.is_v6() ? "[" + address + "]" : address;
  log.Write(LogLevel::kInfo, std::string("serving MCP on ") + (tls ? "https" : "http") + "://" +
                                 host + ":" + std::to_string(port) + options.path + "; store " +
                                 options.stores.audit.Display() +
                                 (options.auth ? "; tenant from each request's bearer token"
                                               : "; " + options.scope->Describe()));
  if (options.on_listening) options.on_listening(port);

  net::signal_set signals(ioc, SIGINT, SIGTERM);
  net::steady_timer drain_timer(ioc);
  Clock::time_point drain_deadline{};
  std::function<void()> check_drained = [&] {
    const bool done = server.in_flight.load() == 0 && server.connections.load() == 0;
    if (done || Clock::now() >= drain_deadline) {
      if (!done) {
        log.Write(LogLevel::kWarn, "drain timeout: cancelling " +
                                       std::to_string(server.in_flight.load()) +
                                       " call(s) still running");
        server.runner.CancelAll();
      }
      ioc.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([&](beast::error_code e) {
      if (!e) check_drained();
    });
  };
  signals.async_wait([&](beast::error_code e, int signo) {
    if (e) return;
    log.Write(LogLevel::kInfo, std::string(signo == SIGTERM ? "SIGTERM" : "SIGINT") +
                                   ": draining " + std::to_string(server.in_flight.load()) +
                                   " call(s) in flight, then exiting");
    server.draining.store(true);
    listener.Close();
    std::vector<std::shared_ptr<SessionBase>> open;
    {
      std::lock_guard<std::mutex> lock(server.mu);
      for (auto& [ptr, weak] : server.sessions) {
        if (auto s = weak.lock()) open.push_back(std::move(s));
      }
    }
    for (auto& s : open) s->Drain();
    open.clear();
    drain_deadline = Clock::now() + options.drain_timeout;
    check_drained();
  });

  ioc.run();
  server.runner.CancelAll();
  server.runner.Stop();
  return 0;
}

}  // namespace
}  // namespace fasten::mcp
