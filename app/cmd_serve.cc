#include <limits.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "app/anchor_flags.h"
#include "app/checkpointer.h"
#include "app/commands.h"
#include "app/investigator_flags.h"
#include "app/launch_scopes.h"
#include "app/store_config.h"
#include "mcp/auth.h"
#include "mcp/dispatcher.h"
#include "mcp/http_policy.h"
#include "mcp/http_transport.h"
#include "mcp/jwt_auth.h"
#include "mcp/log.h"
#include "mcp/stdio_transport.h"
#include "mcp/tokens_file.h"
#include "record/record_writer.h"
#include "store/index_advice.h"
#include "tools/cursor.h"
#include "tools/registry.h"
#include "tools/row_json.h"
#include "validator/integrity_verdict.h"

namespace fasten {

const char kServeHelp[] =
    R"(Usage: fasten-mcp serve --store DSN [--tenant T | --all-tenants] [--sys-store DSN]
                        [--api-store DSN] [--log-level LEVEL] [--workers N]
                        [--call-timeout S]
       fasten-mcp serve --http ADDR:PORT --store DSN (--tokens FILE | --jwt-alg ALG ... |
                        --tenant T on loopback) [HTTP options]

Serves MCP in both protocol eras: 2026-07-28 (stateless, server/discover) and initialize-based
2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05. Eleven read-only tools: audit_query, sys_query,
api_query, request_trace, chain_verify, row_get, red_metrics, topology, search, validate_answer,
doctor.

Without --http it speaks stdio (one JSON-RPC message per line; logs on stderr) for Claude
Desktop, Claude Code and other hosts that start the server themselves. With --http it serves
Streamable HTTP at http://ADDR:PORT/mcp (Cursor, remote agents, mcp-remote), statelessly: any
replica behind a load balancer can answer any request.

Every request sees exactly one tenant's rows. On stdio the tenant is --tenant; over HTTP it is
the tenant bound to the caller's bearer token (or --tenant on a loopback-only server without
authentication). No tool takes a tenant argument, and nothing in a request can change it.

Options:
  --store DSN        audit store (default $FASTEN_AUDIT_DSN): sqlite:////abs/path.db or
                     postgres://user@host/db?table=schema.name; use absolute SQLite paths
                     (hosts start servers in unknown directories)
  --tenant T         the tenant to serve (default $FASTEN_TENANT_ID)
  --all-tenants      serve every tenant's rows (operator use only); required to serve a
                     store holding several tenants without --tenant
  --log-level L      error, warn, info (default) or debug, on stderr
  --workers N        threads running tool calls (default 2 on stdio, 4 over HTTP; 1..64)
  --call-timeout S   seconds a tool call may run before it is stopped and answered with a
                     tool error, on stdio and over HTTP (default 60; 0.1 to 86400, decimals
                     allowed)
  --cursor-key FILE  secret (>= 32 bytes) signing paging cursors, on stdio and over HTTP
                     (default $FASTEN_CURSOR_KEY_FILE, else random per process). With a kept
                     key, cursors stay valid across restarts; give every HTTP replica behind
                     one load balancer the same file so any of them accepts any cursor
  --integrity-margin D  validate_answer and investigations: how far the integrity
                     verdict's window reaches beyond the cited rows, each side (default 30m)

HTTP options:
  --http ADDR:PORT   listen there (e.g. 127.0.0.1:8765; port 0 picks a free one). Binding
                     anything but loopback requires authentication.
  --tokens FILE      bearer tokens, each bound to one tenant (fasten-mcp token add)
  --jwt-alg ALG      also accept JWTs: HS256, RS256 or ES256, with
  --jwt-key FILE     the HS256 secret or the RS256/ES256 PEM public key,
  --jwt-audience A   the required audience (comma-separated for several),
  --jwt-tenant-claim C   the claim naming the tenant (default tenant),
  --jwt-issuer I     and, when given, the required issuer;
  --jwt-max-lifetime S   refuse JWTs living longer than S seconds (exp - iat, or exp - now
                     without iat; default 86400; 0: no limit)
  --allow-host H     extra Host names to accept, comma-separated (localhost, 127.0.0.1 and
                     [::1] always are); other Host headers get 403
  --allow-origin O   browser origins to accept, comma-separated, e.g. https://app.example.com
                     (loopback origins always are); other Origin headers get 403
  --tls-cert FILE    serve HTTPS with this PEM certificate chain
  --tls-key FILE     and this PEM private key
  --max-body BYTES   largest request body (default 1048576; larger gets 413)
  --idle-connection-timeout S   seconds a connection may stay open without starting a
                     request (a new one, or between keep-alive requests; over TLS, to finish
                     the handshake); then it is closed (default 5; 0.1 to 3600)
  --read-timeout S   seconds to receive a whole request from its first byte (default 10; 0.1
                     to 3600, decimals allowed)
  --max-in-flight N  tool calls running or queued at once (default 64; more get 503)
  --max-connections N    open connections in all (default 512); more get 503 and are closed
  --max-connections-per-peer N   open connections from one client address (an IPv6 /64)
                     (default 128); more get 429 and are closed. Behind a load balancer or
                     proxy all connections share its address: set it to --max-connections
  --rate-limit R     requests per second per tenant (default 0: unlimited; over it: 429)
  --rate-burst B     burst size for --rate-limit (default 2*R, at least 1)

Investigation record log (docs/investigations.md):
  --state PATH       the state database holding it (default: $FASTEN_STATE_DIR/state.db,
                     else $XDG_STATE_HOME/fasten-mcp/state.db, else
                     ~/.local/state/fasten-mcp/state.db); serve refuses to start when it
                     cannot be opened
  --no-access-records   do not record tools/calls. By default every tools/call over HTTP
                     appends an access record (tenant, credential label, tool, SHA-256 of
                     the arguments, rows returned, status), written in the background

Checkpoints (docs/evidence.md):
  --checkpoint-log FILE   chain_verify also checks the store against this checkpoint log
                     (signatures, the log's chain, each node's checkpointed tip)
  --checkpoint-key KEY    append a signed checkpoint to it at start and every period
  --checkpoint-every D    the period (default 5m; e.g. 300, 30s, 5m, 1h; at least 1s)
  --checkpoint-tsa URL    timestamp each checkpoint with this RFC 3161 authority
  --pubkey PUB       further public keys trusted to have signed the log (rotated keys);
                     the --checkpoint-key's own public key always is
  --tsa-ca PEM       trusted roots of the timestamp authority

Endpoints: POST /mcp (MCP), GET /healthz (liveness, no authentication), GET /readyz (200 when
the audit store answers, else 503), GET /api/v1/investigations[/ID] (the caller's tenant's
records, while the log is open). SIGTERM or SIGINT drains in-flight calls, appends the queued
records, then exits 0.

Register it with a host: fasten-mcp config claude-desktop|claude-code|cursor|vscode.
)";

const char kConfigHelp[] =
    R"(Usage: fasten-mcp config claude-desktop|claude-code|cursor|vscode --store DSN --tenant T
                         [--name NAME]
       fasten-mcp config claude-desktop|claude-code|cursor|vscode --url URL [--name NAME]

Prints a ready registration snippet for the host. With --store it starts this binary over
stdio, with its absolute path and an absolute store path (hosts start servers in an
unpredictable working directory). With --url it connects to a running `serve --http` server;
the bearer token is never written into the snippet: the host reads it from the FASTEN_TOKEN
environment variable when it connects (Claude Code expands '${FASTEN_TOKEN}', Cursor
'${env:FASTEN_TOKEN}'), VS Code prompts for it, and Claude Desktop's mcp-remote takes it from
the snippet's env block. Claude Desktop reaches HTTP servers through mcp-remote, which needs
--allow-http for plain http:// to a host other than this machine (added for you).

  --name NAME   the server's name in the host (default fasten): 1 to 64 letters, digits, '-'
                or '_', starting with a letter or digit. Give the stdio and HTTP entries of
                one host different names.
)";

namespace {

// A checkpoint period: seconds ("300"), or with a unit: "30s", "5m", "1h". At least 1 s.
std::optional<std::chrono::milliseconds> ParseCheckpointPeriod(const std::string& text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  int64_t unit = 1000;
  std::string digits = text;
  switch (text.back()) {
    case 's':
      unit = 1000;
      digits.pop_back();
      break;
    case 'm':
      unit = 60 * 1000;
      digits.pop_back();
      break;
    case 'h':
      unit = 3600 * 1000;
      digits.pop_back();
      break;
    default:
      break;
  }
  std::optional<int64_t> n = ParseIntInRange(digits, 1, 7 * 24 * 3600);
  if (!n || *n * unit > int64_t{7} * 24 * 3600 * 1000) return std::nullopt;
  return std::chrono::milliseconds(*n * unit);
}

using json = nlohmann::json;

std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "fasten-mcp";
  return std::string(buf, static_cast<size_t>(n));
}

int Fail(CommandIo& io, const char* cmd, const Status& st) {
  io.err << "fasten-mcp " << cmd << ": " << st.message() << "\n";
  return kExitUsage;
}

// Logs one warning line when tenant-leading indexes that `fasten-mcp index` advises are missing.
void WarnMissingTenantIndexes(const Dsn& dsn, mcp::LogLevel level, std::ostream& err) {
  mcp::Log log(err, level);
  IndexReport report;
  Status st = AdviseIndexes(dsn, &report);
  if (!st.ok()) {
    log.Write(mcp::LogLevel::kWarn,
              "could not check the tenant indexes of a multi-tenant store: " + st.message());
    return;
  }
  size_t missing = 0;
  for (const IndexAdvice& a : report.advice) missing += a.tenant_leading && !a.exists;
  if (missing == 0) return;
  log.Write(mcp::LogLevel::kWarn,
            "this store holds several tenants and " + std::to_string(missing) +
                " tenant-leading index(es) are missing, so one tenant can time its queries to "
                "learn which codes, events and paths other tenants use: run `fasten-mcp index "
                "--store " +
                dsn.Display() + " --apply` (docs/security.md)");
}

// Resolves the tenant binding: --tenant / FASTEN_TENANT_ID, or --all-tenants.
Status BindTenant(const Args& args, const Env& env, std::optional<std::string>* tenant, bool* all) {
  *all = args.Has("all-tenants");
  std::optional<std::string> t = args.Get("tenant");
  if (!t) t = env.Get("FASTEN_TENANT_ID");
  if (t && *all) return InvalidArgumentError("give either --tenant or --all-tenants, not both");
  if (t && t->empty()) return InvalidArgumentError("--tenant is empty: name a tenant");
  *tenant = t;
  return Status::Ok();
}

}  // namespace

namespace {

Status ParseLogLevel(const Args& args, mcp::LogLevel* out) {
  *out = mcp::LogLevel::kInfo;
  std::optional<std::string> level = args.Get("log-level");
  if (!level) return Status::Ok();
  if (*level == "error") {
    *out = mcp::LogLevel::kError;
  } else if (*level == "warn") {
    *out = mcp::LogLevel::kWarn;
  } else if (*level == "info") {
    *out = mcp::LogLevel::kInfo;
  } else if (*level == "debug") {
    *out = mcp::LogLevel::kDebug;
  } else {
    return InvalidArgumentError("--log-level must be error, warn, info or debug");
  }
  return Status::Ok();
}

std::vector<std::string> SplitList(const std::optional<std::string>& value) {
  std::vector<std::string> out;
  if (!value) return out;
  size_t start = 0;
  while (start <= value->size()) {
    size_t comma = value->find(',', start);
    if (comma == std::string::npos) comma = value->size();
    std::string item = value->substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

// "127.0.0.1:8765", "[::1]:8765", "localhost:0".
Status ParseListenAddress(const std::string& text, std::string* address, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) {
    return InvalidArgumentError("--http needs ADDR:PORT, e.g. 127.0.0.1:8765 (got '" + text + "')");
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return InvalidArgumentError("--http needs an address before the port, e.g. 127.0.0.1:8765");
  }
  const std::string digits = text.substr(colon + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(digits) > 65535) {
    return InvalidArgumentError("--http: '" + digits + "' is not a port (0-65535)");
  }
  *address = host;
  *port = static_cast<uint16_t>(std::stoi(digits));
  return Status::Ok();
}

Status BuildAuthenticator(const Args& args, std::unique_ptr<mcp::Authenticator>* out) {
  std::vector<std::unique_ptr<mcp::Authenticator>> parts;
  if (auto tokens = args.Get("tokens")) {
    std::unique_ptr<mcp::TokenFileAuthenticator> a;
    Status st = mcp::TokenFileAuthenticator::Load(*tokens, &a);
    if (!st.ok()) return InvalidArgumentError("--tokens " + *tokens + ": " + st.message());
    parts.push_back(std::move(a));
  }
  if (auto alg = args.Get("jwt-alg")) {
    mcp::JwtOptions jwt;
    if (*alg == "HS256") {
      jwt.algorithm = mcp::JwtOptions::Algorithm::kHs256;
    } else if (*alg == "RS256") {
      jwt.algorithm = mcp::JwtOptions::Algorithm::kRs256;
    } else if (*alg == "ES256") {
      jwt.algorithm = mcp::JwtOptions::Algorithm::kEs256;
    } else {
      return InvalidArgumentError("--jwt-alg must be HS256, RS256 or ES256");
    }
    if (!args.Get("jwt-key")) return InvalidArgumentError("--jwt-alg needs --jwt-key FILE");
    jwt.key_file = *args.Get("jwt-key");
    jwt.audiences = SplitList(args.Get("jwt-audience"));
    if (jwt.audiences.empty()) return InvalidArgumentError("--jwt-alg needs --jwt-audience A");
    if (auto claim = args.Get("jwt-tenant-claim")) jwt.tenant_claim = *claim;
    if (auto issuer = args.Get("jwt-issuer")) jwt.issuer = *issuer;
    std::optional<int64_t> lifetime;
    FASTEN_RETURN_IF_ERROR(
        args.GetInt("jwt-max-lifetime", 0, int64_t{10} * 366 * 86400, &lifetime));
    if (lifetime) jwt.max_lifetime = std::chrono::seconds(*lifetime);
    std::unique_ptr<mcp::JwtAuthenticator> a;
    Status st = mcp::JwtAuthenticator::Load(jwt, &a);
    if (!st.ok()) return InvalidArgumentError("--jwt-key " + jwt.key_file + ": " + st.message());
    parts.push_back(std::move(a));
  } else {
    for (const char* f :
         {"jwt-key", "jwt-audience", "jwt-tenant-claim", "jwt-issuer", "jwt-max-lifetime"}) {
      if (args.Has(f)) return InvalidArgumentError(std::string("--") + f + " needs --jwt-alg");
    }
  }
  if (parts.empty()) return Status::Ok();
  if (parts.size() == 1) {
    *out = std::move(parts[0]);
  } else {
    *out = std::make_unique<mcp::AnyOfAuthenticator>(std::move(parts));
  }
  return Status::Ok();
}

mcp::HttpOptions::ApiReply ApiError(unsigned status, const std::string& code,
                                    const std::string& message) {
  return {status, {{"error", {{"code", code}, {"message", message}}}}};
}

mcp::HttpOptions::ApiReply InvestigateOverHttp(const llm::Investigator& investigator,
                                               const CursorSigner& cursors, const json& request,
                                               const TenantScope& scope,
                                               const std::string& credential, StoreSet* stores,
                                               anchor::AnchorTipsCache* tips,
                                               const std::atomic<bool>* cancelled,
                                               const std::function<void(const json&)>& progress) {
  const std::optional<std::string>& tenant = scope.tenant();
  if (!tenant || tenant->empty()) {
    return ApiError(400, "no_tenant",
                    "an investigation reads one tenant's rows, and this server has none bound: "
                    "authenticate with a tenant token, or start it with --tenant T");
  }
  for (const auto& [key, value] : request.items()) {
    if (key != "question") {
      return ApiError(400, "bad_request",
                      "unknown member \"" + key +
                          "\": send {\"question\": \"...\"} (the "
                          "tenant comes from your credential, never from the request)");
    }
  }
  ToolEnv env{scope};
  env.stores = stores;
  env.cursors = &cursors;
  env.cancelled = cancelled;
  if (tips) {
    Result<std::shared_ptr<const AnchorTips>> t = tips->Get();
    if (t.ok()) env.anchor_tips = std::move(t.value());
  }
  llm::Investigator::Recorded recorded;
  llm::InvestigateResult r = investigator.Run(
      request["question"].get<std::string>(), env, credential,
      [&](const std::string& event, const json& detail) {
        if (progress) progress({{"event", event}, {"detail", detail}});
      },
      &recorded);
  json body = llm::InvestigateResultJson(r);
  body["tenant"] = *tenant;
  body["record"] = recorded.id.empty() ? json(nullptr) : json(recorded.id);
  if (!recorded.status.ok()) body["record_error"] = recorded.status.message();
  body["model"] = investigator.config().provider.kind + "/" + investigator.config().provider.model;
  unsigned status = 200;
  if (r.outcome == llm::Outcome::kRefused) status = 429;
  if (r.outcome == llm::Outcome::kProviderError) status = 502;
  return {status, body};
}

mcp::HttpOptions::ApiReply SpendOverHttp(const llm::Investigator& investigator,
                                         const TenantScope& scope, const std::string& query) {
  std::map<std::string, std::string> params;
  if (Status st = ParseQueryParams(query, {"from", "to"}, &params); !st.ok()) {
    return ApiError(400, "bad_request", st.message());
  }
  const std::string from = params["from"], to = params["to"];
  for (const std::string* d : {&from, &to}) {
    if (!d->empty() && !llm::IsValidDay(*d)) {
      return ApiError(400, "bad_request", "days are YYYY-MM-DD; got \"" + *d + "\"");
    }
  }
  // A tenant-bound caller sees its own spend only; an all-tenants server sees every tenant.
  Result<json> out = investigator.SpendJson(scope.tenant().value_or(""), from, to);
  if (!out.ok()) return ApiError(503, "state_unavailable", out.status().message());
  return {200, *out};
}

// GET /api/v1/investigations[?kind=K&limit=N&before=SEQ] and /api/v1/investigations/ID. A
// tenant-bound caller sees its own tenant's records only; another tenant's id answers exactly
// like an id that does not exist.
mcp::HttpOptions::ApiReply InvestigationsOverHttp(record::RecordLog& log, const TenantScope& scope,
                                                  const std::string& path,
                                                  const std::string& query) {
  const std::optional<std::string>& tenant = scope.tenant();  // the record log's filter
  static constexpr std::string_view kPrefix = "/api/v1/investigations";
  if (path.size() > kPrefix.size()) {
    const std::string id = path.substr(kPrefix.size() + 1);
    if (!query.empty()) {
      return ApiError(400, "bad_request", "GET /api/v1/investigations/ID takes no parameters");
    }
    Result<record::StoredRecord> r = log.Get(id, tenant);
    if (r.ok()) return {200, record::RecordJson(*r)};
    if (r.status().code() == StatusCode::kNotFound) {
      return ApiError(404, "not_found", "no record with this id");
    }
    return ApiError(503, "state_unavailable", r.status().message());
  }
  std::map<std::string, std::string> params;
  if (Status st = ParseQueryParams(query, {"kind", "limit", "before"}, &params); !st.ok()) {
    return ApiError(400, "bad_request", st.message());
  }
  record::ListOptions options;
  options.tenant = tenant;
  Status st = record::ParseKindFilter(params.count("kind") ? params["kind"] : "investigation",
                                      &options.kind);
  if (!st.ok()) return ApiError(400, "bad_request", st.message());
  if (params.count("limit")) {
    std::optional<int64_t> limit = ParseIntInRange(params["limit"], 1, record::kMaxListLimit);
    if (!limit) {
      return ApiError(400, "bad_request",
                      "limit is an integer from 1 to " + std::to_string(record::kMaxListLimit));
    }
    options.limit = *limit;
  }
  if (params.count("before")) {
    options.before_seq = ParseIntInRange(params["before"], 1, INT64_MAX);
    if (!options.before_seq) return ApiError(400, "bad_request", "before is a record seq (>= 1)");
  }
  Result<std::vector<record::StoredRecord>> rows = log.List(options);
  if (!rows.ok()) return ApiError(503, "state_unavailable", rows.status().message());
  json out = {{"tenant", tenant ? json(*tenant) : json(nullptr)},
              {"kind", options.kind.empty() ? "all" : options.kind},
              {"records", json::array()}};
  for (const record::StoredRecord& r : *rows)
    out["records"].push_back(record::RecordSummaryJson(r));
  if (static_cast<int64_t>(rows->size()) == options.limit && !rows->empty()) {
    out["next_before"] = rows->back().seq;
  }
  return {200, out};
}

}  // namespace

int RunServe(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  for (FlagSpec f : {FlagSpec{"tenant", true},
                     FlagSpec{"all-tenants", false},
                     FlagSpec{"log-level", true},
                     FlagSpec{"workers", true},
                     FlagSpec{"http", true},
                     FlagSpec{"tokens", true},
                     FlagSpec{"jwt-alg", true},
                     FlagSpec{"jwt-key", true},
                     FlagSpec{"jwt-audience", true},
                     FlagSpec{"jwt-tenant-claim", true},
                     FlagSpec{"jwt-issuer", true},
                     FlagSpec{"allow-host", true},
                     FlagSpec{"allow-origin", true},
                     FlagSpec{"tls-cert", true},
                     FlagSpec{"tls-key", true},
                     FlagSpec{"max-body", true},
                     FlagSpec{"read-timeout", true},
                     FlagSpec{"call-timeout", true},
                     FlagSpec{"max-in-flight", true},
                     FlagSpec{"rate-limit", true},
                     FlagSpec{"rate-burst", true},
                     FlagSpec{"cursor-key", true},
                     FlagSpec{"jwt-max-lifetime", true},
                     FlagSpec{"idle-connection-timeout", true},
                     FlagSpec{"max-connections", true},
                     FlagSpec{"max-connections-per-peer", true},
                     FlagSpec{"no-access-records", false},
                     FlagSpec{"checkpoint-key", true},
                     FlagSpec{"checkpoint-log", true},
                     FlagSpec{"checkpoint-every", true},
                     FlagSpec{"checkpoint-tsa", true},
                     FlagSpec{"pubkey", true},
                     FlagSpec{"tsa-ca", true}}) {
    specs.push_back(f);
  }
  specs.insert(specs.end(), kInvestigatorFlags.begin(), kInvestigatorFlags.end());
  Result<Args> args = Args::Parse("serve", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, "serve", args.status());
  if (args->Has("help")) {
    io.out << kServeHelp
           << "\nInvestigations over HTTP (POST /api/v1/investigate, GET /api/v1/spend;"
           << " enabled by --provider):\n"
           << kInvestigatorFlagsHelp;
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return Fail(io, "serve",
                InvalidArgumentError("unexpected argument '" + args->positionals()[0] + "'"));
  }
  const bool http = args->Has("http");
  if (!http) {
    for (const char* f :
         {"tokens", "jwt-alg", "allow-host", "allow-origin", "tls-cert", "tls-key", "max-body",
          "read-timeout", "max-in-flight", "rate-limit", "rate-burst", "idle-connection-timeout",
          "max-connections", "max-connections-per-peer", "no-access-records"}) {
      if (args->Has(f)) {
        return Fail(
            io, "serve",
            InvalidArgumentError(std::string("--") + f + " applies to HTTP: add --http ADDR:PORT"));
      }
    }
  }
  mcp::LogLevel log_level;
  std::optional<int64_t> workers, call_timeout;
  Status st = ParseLogLevel(*args, &log_level);
  if (st.ok()) st = args->GetInt("workers", 1, 64, &workers);
  if (st.ok()) st = args->GetSecondsAsMillis("call-timeout", 100, 86400 * 1000, &call_timeout);
  if (!st.ok()) return Fail(io, "serve", st);

  std::unique_ptr<mcp::Authenticator> auth;
  mcp::HttpOptions http_options;
  if (http) {
    st = ParseListenAddress(*args->Get("http"), &http_options.address, &http_options.port);
    if (st.ok()) st = BuildAuthenticator(*args, &auth);
    if (!st.ok()) return Fail(io, "serve", st);
    if (!auth && !mcp::IsLoopbackAddress(http_options.address)) {
      return Fail(io, "serve",
                  InvalidArgumentError(
                      "refusing to serve " + http_options.address +
                      " without authentication: anyone who can reach it could read the audit "
                      "data. Add --tokens FILE (fasten-mcp token add --tenant T --tokens FILE) "
                      "or bind 127.0.0.1"));
    }
    if (auth && (args->Has("tenant") || args->Has("all-tenants"))) {
      return Fail(io, "serve",
                  InvalidArgumentError("with --tokens/--jwt-alg each request's tenant comes from "
                                       "its credential: drop --tenant/--all-tenants"));
    }
    http_options.allowed_hosts = SplitList(args->Get("allow-host"));
    http_options.allowed_origins = SplitList(args->Get("allow-origin"));
    http_options.tls_cert = args->Get("tls-cert").value_or("");
    http_options.tls_key = args->Get("tls-key").value_or("");
    std::optional<int64_t> max_body, read_timeout, max_in_flight, rate, burst, idle_timeout,
        max_connections, max_per_peer;
    st = args->GetInt("max-body", 1024, int64_t{1} << 30, &max_body);
    if (st.ok()) st = args->GetSecondsAsMillis("read-timeout", 100, 3600 * 1000, &read_timeout);
    if (st.ok()) {
      st = args->GetSecondsAsMillis("idle-connection-timeout", 100, 3600 * 1000, &idle_timeout);
    }
    if (st.ok()) st = args->GetInt("max-connections", 1, 100000, &max_connections);
    if (st.ok()) st = args->GetInt("max-connections-per-peer", 1, 100000, &max_per_peer);
    if (st.ok()) st = args->GetInt("max-in-flight", 1, 100000, &max_in_flight);
    if (st.ok()) st = args->GetInt("rate-limit", 0, 1000000, &rate);
    if (st.ok()) st = args->GetInt("rate-burst", 1, 10000000, &burst);
    if (!st.ok()) return Fail(io, "serve", st);
    if (max_body) http_options.max_body_bytes = static_cast<size_t>(*max_body);
    if (read_timeout) http_options.read_timeout = std::chrono::milliseconds(*read_timeout);
    if (call_timeout) http_options.call_timeout = std::chrono::milliseconds(*call_timeout);
    if (max_in_flight) http_options.max_in_flight = static_cast<int>(*max_in_flight);
    if (idle_timeout) http_options.idle_timeout = std::chrono::milliseconds(*idle_timeout);
    if (max_connections) http_options.max_connections = static_cast<int>(*max_connections);
    if (max_per_peer) http_options.max_connections_per_peer = static_cast<int>(*max_per_peer);
    if (rate && *rate > 0) {
      static std::unique_ptr<mcp::RateLimiter> limiter;
      limiter = std::make_unique<mcp::RateLimiter>(
          static_cast<double>(*rate),
          static_cast<double>(burst.value_or(std::max<int64_t>(1, 2 * *rate))));
      http_options.rate_limiter = limiter.get();
    }
  }

  std::optional<std::string> tenant;
  StoreConfig stores;
  bool all = false;
  if (!auth) st = BindTenant(*args, io.env, &tenant, &all);
  if (st.ok()) st = ResolveStoreConfig(*args, io.env, &stores);
  if (!st.ok()) return Fail(io, "serve", st);
  // Open once up front so a bad store fails here, clearly, not on the first tool call.
  {
    StoreSet probe;
    st = OpenStoreSet(stores, true, &probe);
    if (!st.ok()) return Fail(io, "serve", st);
    if (!auth && !tenant && !all) {
      std::vector<std::string> tenants;
      st = probe.audit->Tenants(app::LaunchScopes::AllTenants(), 3, &tenants);
      if (!st.ok()) return Fail(io, "serve", st);
      if (tenants.size() > 1) {
        std::string names;
        for (const auto& t : tenants) names += (names.empty() ? "" : ", ") + t;
        return Fail(io, "serve",
                    InvalidArgumentError(
                        "the store holds rows of several tenants (" + names +
                        (tenants.size() > 2 ? ", ..." : "") +
                        "): pass --tenant T (or set FASTEN_TENANT_ID) to serve one, "
                        "or --all-tenants to serve them all" +
                        (http ? ", or --tokens FILE to bind a tenant to each caller" : "")));
      }
      if (tenants.size() == 1) tenant = tenants[0];
    }
    // One process serving several tenants: without tenant-leading indexes one tenant can time
    // its queries to learn which codes, events and paths the others use (docs/security.md).
    bool several = auth != nullptr;
    if (!several) {
      std::vector<std::string> tenants;
      several = probe.audit->Tenants(app::LaunchScopes::AllTenants(), 2, &tenants).ok() &&
                tenants.size() > 1;
    }
    if (several) WarnMissingTenantIndexes(stores.audit, log_level, io.err);
  }
  ToolRegistry registry = ToolRegistry::Default();
  std::optional<std::string> cursor_key_file = args->Get("cursor-key");
  if (!cursor_key_file) cursor_key_file = io.env.Get("FASTEN_CURSOR_KEY_FILE");
  CursorSigner cursors = CursorSigner::WithRandomKey();
  if (cursor_key_file) {
    std::ifstream f(*cursor_key_file, std::ios::binary);
    std::string key((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    if (!f.good() && !f.eof()) {
      return Fail(
          io, "serve",
          InvalidArgumentError("--cursor-key " + *cursor_key_file + ": cannot read the file"));
    }
    if (key.size() < CursorSigner::kMinKeyBytes) {
      return Fail(io, "serve",
                  InvalidArgumentError("--cursor-key " + *cursor_key_file + ": needs at least " +
                                       std::to_string(CursorSigner::kMinKeyBytes) +
                                       " bytes of secret (e.g. openssl rand -hex 32 > FILE)"));
    }
    cursors = CursorSigner(key);
  }
  mcp::ServerInfo info;
  info.version = "0.1.0";
  mcp::Dispatcher dispatcher(&registry, &cursors, info);
  {
    Micros margin = kDefaultIntegrityMargin;
    if (Status m = IntegrityMarginFlag(*args, &margin); !m.ok()) return Fail(io, "serve", m);
    dispatcher.set_integrity_margin(margin);
  }
  // Checkpoints: chain_verify checks the log; with a key, the server also appends to it.
  std::optional<anchor::PrivateKey> checkpoint_key;
  std::optional<anchor::PublicKey> checkpoint_pub;
  if (auto path = args->Get("checkpoint-key")) {
    Result<anchor::PrivateKey> k = anchor::PrivateKey::Load(*path);
    if (!k.ok()) return Fail(io, "serve", k.status().WithContext("--checkpoint-key"));
    checkpoint_key = std::move(k.value());
    checkpoint_pub = checkpoint_key->Public();
  }
  if ((checkpoint_key || args->Has("checkpoint-every") || args->Has("checkpoint-tsa")) &&
      !args->Has("checkpoint-log")) {
    return Fail(io, "serve",
                InvalidArgumentError("--checkpoint-key, --checkpoint-every and --checkpoint-tsa "
                                     "go with --checkpoint-log FILE"));
  }
  if ((args->Has("checkpoint-every") || args->Has("checkpoint-tsa")) && !checkpoint_key) {
    return Fail(io, "serve",
                InvalidArgumentError("--checkpoint-every and --checkpoint-tsa need "
                                     "--checkpoint-key KEY (the key that signs checkpoints)"));
  }
  Result<std::optional<anchor::AnchorConfig>> anchors =
      ReadAnchorFlags(*args, checkpoint_pub ? &*checkpoint_pub : nullptr, "checkpoint-log");
  if (!anchors.ok()) return Fail(io, "serve", anchors.status());
  std::unique_ptr<anchor::AnchorTipsCache> serve_tips;
  if (anchors.value()) {
    dispatcher.set_anchors(&*anchors.value());
    serve_tips = std::make_unique<anchor::AnchorTipsCache>(*anchors.value());
  }
  std::chrono::milliseconds checkpoint_every{5 * 60 * 1000};
  if (auto every = args->Get("checkpoint-every")) {
    std::optional<std::chrono::milliseconds> d = ParseCheckpointPeriod(*every);
    if (!d) {
      return Fail(io, "serve",
                  InvalidArgumentError("--checkpoint-every " + *every +
                                       ": expected a duration of at least 1s, e.g. 300, 30s, "
                                       "5m or 1h"));
    }
    checkpoint_every = *d;
  }
  std::unique_ptr<PeriodicCheckpointer> checkpointer;
  mcp::Log checkpoint_log(io.err, mcp::LogLevel::kInfo);
  if (checkpoint_key) {
    CheckpointerConfig cc;
    cc.log = anchors.value()->log;
    cc.key = &*checkpoint_key;
    cc.store_name = stores.audit.Display();
    cc.tsa_url = args->Get("checkpoint-tsa").value_or("");
    checkpointer = std::make_unique<PeriodicCheckpointer>(
        stores.audit, cc, checkpoint_every, [&checkpoint_log](const std::string& line) {
          checkpoint_log.Write(
              line.find("failed") != std::string::npos || line.find("warning") != std::string::npos
                  ? mcp::LogLevel::kWarn
                  : mcp::LogLevel::kInfo,
              line);
        });
  }
  std::unique_ptr<llm::Investigator> investigator;
  // The investigation record log: the investigator's, or one of our own for access records.
  std::unique_ptr<record::RecordLog> own_records;
  record::RecordLog* records = nullptr;
  if (http) {
    llm::InvestigatorConfig inv_config;
    st = ResolveInvestigatorConfig(*args, io.env, &inv_config);
    if (!st.ok()) return Fail(io, "serve", st);
    if (inv_config.configured) {
      Result<std::unique_ptr<llm::Investigator>> made = llm::Investigator::Make(inv_config);
      if (!made.ok()) return Fail(io, "serve", made.status());
      investigator = std::move(made).value();
      records = investigator->records();
      http_options.investigate = [&investigator, &cursors, &serve_tips](
                                     const json& request, const TenantScope& scope,
                                     const std::string& credential, StoreSet* stores,
                                     const std::atomic<bool>* cancelled,
                                     const std::function<void(const json&)>& progress) {
        return InvestigateOverHttp(*investigator, cursors, request, scope, credential, stores,
                                   serve_tips.get(), cancelled, progress);
      };
      http_options.readiness_detail = [&investigator]() -> json {
        // Totals only (no tenant names): /readyz needs no credential.
        json out = {{"provider", investigator->config().provider.kind + "/" +
                                     investigator->config().provider.model}};
        Result<json> spend = investigator->SpendJson("", llm::UtcToday(), llm::UtcToday());
        if (!spend.ok()) {
          out["spend_today"] = {{"error", spend.status().message()}};
          return {{"investigate", out}};
        }
        int64_t calls = 0, unknown = 0;
        double usd = 0;
        for (const json& row : (*spend)["rows"]) {
          calls += row["calls"].get<int64_t>();
          unknown += row["unknown_cost_calls"].get<int64_t>();
          usd += row["cost_usd"].get<double>();
        }
        out["spend_today"] = {{"day", llm::UtcToday()},
                              {"model_calls", calls},
                              {"cost_usd", usd},
                              {"unknown_cost_calls", unknown},
                              {"pricing_version", (*spend)["pricing_version"]}};
        return {{"investigate", out}};
      };
      http_options.spend = [&investigator](const TenantScope& scope, const std::string& query) {
        return SpendOverHttp(*investigator, scope, query);
      };
    }
    if (!records && !args->Has("no-access-records")) {
      if (inv_config.state_path.empty()) {
        return Fail(io, "serve",
                    InvalidArgumentError("no place for the state database that keeps the access "
                                         "records: pass --state PATH or set FASTEN_STATE_DIR (or "
                                         "HOME), or serve without them: --no-access-records"));
      }
      Result<std::unique_ptr<record::RecordLog>> opened =
          record::RecordLog::Open(inv_config.state_path);
      if (!opened.ok()) {
        return Fail(io, "serve",
                    opened.status().WithContext("cannot keep access records (--state PATH "
                                                "names another place; --no-access-records "
                                                "serves without them)"));
      }
      own_records = std::move(opened).value();
      records = own_records.get();
    }
    if (records) {
      http_options.investigations = [records](const TenantScope& scope, const std::string& path,
                                              const std::string& query) {
        return InvestigationsOverHttp(*records, scope, path, query);
      };
    }
  } else if (args->Has("provider")) {
    return Fail(io, "serve",
                InvalidArgumentError("--provider serves investigations over HTTP: add --http "
                                     "ADDR:PORT (on stdio, use fasten-mcp investigate)"));
  }
  if (http) {
    http_options.auth = auth.get();
    // Without auth the launch configuration binds the scope; with it, each request's credential.
    if (!auth) http_options.scope = app::LaunchScopes::FromFlag(tenant);
    http_options.stores = stores;
    http_options.workers = static_cast<int>(workers.value_or(4));
    http_options.log_level = log_level;
    mcp::Log record_warnings(io.err, log_level);
    std::unique_ptr<record::RecordWriter> access_writer;
    if (records && !args->Has("no-access-records")) {
      record::RecordWriterOptions writer_options;
      writer_options.warn = [&record_warnings](const std::string& message) {
        record_warnings.Write(mcp::LogLevel::kWarn, message);
      };
      access_writer = std::make_unique<record::RecordWriter>(records, writer_options);
      http_options.access_records = access_writer.get();
      record_warnings.Write(mcp::LogLevel::kInfo,
                            "access records: every tools/call is recorded in " + records->path() +
                                " (fasten-mcp investigations list --kind access)");
    }
    const int rc = mcp::RunHttp(dispatcher, http_options, io.err);
    // The drain is over: append what is still queued before exiting.
    if (access_writer) access_writer->Stop();
    return rc == 0 ? kExitOk : kExitUsage;
  }
  // The launch-bound scope: --tenant T (or the store's only tenant), else --all-tenants.
  mcp::StdioOptions options{app::LaunchScopes::FromFlag(tenant)};
  options.workers = static_cast<int>(workers.value_or(2));
  options.log_level = log_level;
  options.stores = stores;
  if (call_timeout) options.call_timeout = std::chrono::milliseconds(*call_timeout);
  return mcp::RunStdio(dispatcher, options, std::cin, std::cout, io.err);
}

namespace {

// A word the POSIX shell passes through unchanged: single-quoted, each ' written as '\''.
std::string ShellQuote(const std::string& word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// A server name every host accepts as a key and as a command-line word.
Status ValidateServerName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  }
  if (ok) return Status::Ok();
  return InvalidArgumentError(
      "--name must be 1 to 64 letters, digits, '-' or '_', starting with a letter or digit "
      "(got '" +
      name + "')");
}

// The host of an http(s) URL: sets *loopback when it is this machine (localhost, 127.0.0.0/8,
// [::1]). InvalidArgument when the URL has no valid host[:port].
Status UrlHost(const std::string& url, bool* loopback) {
  const size_t scheme = url.find("://");
  std::string authority = url.substr(scheme + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  const size_t at = authority.rfind('@');  // user:password@host
  if (at != std::string::npos) authority = authority.substr(at + 1);
  std::optional<std::string> host = mcp::ParseHostAndPort(authority);
  if (!host) {
    return InvalidArgumentError("--url: '" + authority +
                                "' is not HOST[:PORT] (a port from 1 to 65535)");
  }
  std::string address = *host;
  if (address.front() == '[') address = address.substr(1, address.size() - 2);
  *loopback = mcp::IsLoopbackAddress(address);
  return Status::Ok();
}

// Registration of a running HTTP server (docs/http.md): the token stays in the environment.
int PrintHttpConfig(CommandIo& io, const std::string& host, const std::string& url,
                    const std::string& name, bool loopback) {
  if (host == "claude-desktop") {
    json args = {"-y", "mcp-remote", url, "--header", "Authorization:${FASTEN_AUTH}"};
    // mcp-remote refuses plain http:// to any host but this one unless told otherwise.
    const bool plain_remote = url.rfind("http://", 0) == 0 && !loopback;
    if (plain_remote) args.push_back("--allow-http");
    json j = {
        {"mcpServers",
         {{name,
           {{"command", "npx"}, {"args", args}, {"env", {{"FASTEN_AUTH", "Bearer <token>"}}}}}}}};
    io.out << DumpJson(j, 2) << "\n";
    io.err << "Claude Desktop runs stdio servers only: this goes through mcp-remote. Replace "
              "<token> (keep the space after Bearer in the env value, none in the args), add it "
              "to claude_desktop_config.json, then restart Claude Desktop.\n";
    if (plain_remote) {
      io.err << "The token crosses the network unencrypted over http://: prefer https:// (serve "
                "--tls-cert/--tls-key, or TLS at a proxy).\n";
    }
  } else if (host == "claude-code") {
    // Single quotes: the shell writes ${FASTEN_TOKEN} literally into Claude Code's
    // configuration, and Claude Code expands it from its environment at each connection.
    io.out << "claude mcp add --transport http " << name << " " << ShellQuote(url)
           << " --header 'Authorization: Bearer ${FASTEN_TOKEN}'\n";
    io.err << "Claude Code reads FASTEN_TOKEN from its environment when it connects: set it "
              "where Claude Code runs (the token is not written into its configuration).\n";
  } else if (host == "cursor") {
    json j = {
        {"mcpServers",
         {{name, {{"url", url}, {"headers", {{"Authorization", "Bearer ${env:FASTEN_TOKEN}"}}}}}}}};
    io.out << DumpJson(j, 2) << "\n";
    io.err << "Add this to ~/.cursor/mcp.json or <project>/.cursor/mcp.json and set FASTEN_TOKEN "
              "in Cursor's environment.\n";
  } else {
    json j = {{"inputs",
               {{{"type", "promptString"},
                 {"id", "fasten-token"},
                 {"description", "fasten-mcp bearer token"},
                 {"password", true}}}},
              {"servers",
               {{name,
                 {{"type", "http"},
                  {"url", url},
                  {"headers", {{"Authorization", "Bearer ${input:fasten-token}"}}}}}}}};
    io.out << DumpJson(j, 2) << "\n";
    io.err << "Add this to .vscode/mcp.json (note: top-level \"servers\").\n";
  }
  return kExitOk;
}

}  // namespace

int RunConfig(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  specs.push_back({"tenant", true});
  specs.push_back({"all-tenants", false});
  specs.push_back({"url", true});
  specs.push_back({"name", true});
  Result<Args> args = Args::Parse("config", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, "config", args.status());
  if (args->Has("help")) {
    io.out << kConfigHelp;
    return kExitOk;
  }
  if (args->positionals().size() != 1) {
    return Fail(io, "config",
                InvalidArgumentError("name one host: claude-desktop, claude-code, "
                                     "cursor or vscode"));
  }
  const std::string host = args->positionals()[0];
  if (host != "claude-desktop" && host != "claude-code" && host != "cursor" && host != "vscode") {
    return Fail(io, "config",
                InvalidArgumentError("unknown host '" + host +
                                     "': use claude-desktop, claude-code, cursor or vscode"));
  }
  const std::string name = args->Get("name").value_or("fasten");
  if (Status st = ValidateServerName(name); !st.ok()) return Fail(io, "config", st);
  if (auto url = args->Get("url")) {
    if (args->Has("store") || args->Has("tenant") || args->Has("all-tenants")) {
      return Fail(io, "config",
                  InvalidArgumentError("--url connects to a running server, whose tokens pick "
                                       "the tenant: drop --store/--tenant"));
    }
    if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0) {
      return Fail(io, "config",
                  InvalidArgumentError("--url must be http://HOST:PORT/mcp or https://..."));
    }
    bool loopback = false;
    if (Status st = UrlHost(*url, &loopback); !st.ok()) return Fail(io, "config", st);
    return PrintHttpConfig(io, host, *url, name, loopback);
  }
  StoreConfig stores;
  Status st = ResolveStoreConfig(*args, io.env, &stores);
  if (!st.ok()) return Fail(io, "config", st);
  bool all = false;
  std::optional<std::string> tenant;
  st = BindTenant(*args, io.env, &tenant, &all);
  if (!st.ok()) return Fail(io, "config", st);
  if (!tenant && !all) {
    return Fail(io, "config", InvalidArgumentError("--tenant T is required (or --all-tenants)"));
  }
  const std::string self = SelfPath();
  json server_args = {"serve", "--store",
                      stores.audit.kind == Dsn::Kind::kSqlite
                          ? "sqlite:///" + stores.audit.path +
                                (stores.audit.table ? "?table=" + *stores.audit.table : "")
                          : stores.audit.raw};
  if (tenant) {
    server_args.push_back("--tenant");
    server_args.push_back(*tenant);
  } else {
    server_args.push_back("--all-tenants");
  }
  if (host == "claude-desktop" || host == "cursor") {
    json j = {{"mcpServers", {{name, {{"command", self}, {"args", server_args}}}}}};
    io.out << DumpJson(j, 2) << "\n";
    if (host == "claude-desktop") {
      io.err << "Add this to claude_desktop_config.json (Settings > Developer > Edit Config), "
                "then restart Claude Desktop.\n";
    } else {
      io.err << "Add this to ~/.cursor/mcp.json or <project>/.cursor/mcp.json.\n";
    }
  } else if (host == "vscode") {
    json j = {{"servers", {{name, {{"type", "stdio"}, {"command", self}, {"args", server_args}}}}}};
    io.out << DumpJson(j, 2) << "\n";
    io.err << "Add this to .vscode/mcp.json (note: top-level \"servers\").\n";
  } else if (host == "claude-code") {
    std::string cmd = "claude mcp add " + name + " -- " + ShellQuote(self);
    for (const auto& a : server_args) cmd += " " + ShellQuote(a.get<std::string>());
    io.out << cmd << "\n";
  } else {
    return Fail(io, "config",
                InvalidArgumentError("unknown host '" + host +
                                     "': use claude-desktop, claude-code, cursor "
                                     "or vscode"));
  }
  return kExitOk;
}

}  // namespace fasten
