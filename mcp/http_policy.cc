#include "mcp/http_policy.h"

#include "mcp/protocol.h"
#include "tools/row_json.h"
#include "util/base64.h"

#include <arpa/inet.h>

#include <array>
#include <cctype>

namespace fasten::mcp {
namespace {

char LowerChar(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerChar(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerChar(a[i]) != LowerChar(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

bool IsAlnum(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 9110 §5.6.2 tchar.
bool IsTokenChar(char c) {
  return IsAlnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// ---------------------------------------------------------------------------------------------
// Media types (RFC 9110 §8.3.1): type "/" subtype *( OWS ";" OWS [ name "=" value ] ).

struct MediaType {
  std::string type;                                         // "application/json", lower-cased
  std::vector<std::pair<std::string, std::string>> params;  // names lower-cased, values unquoted
};

// Reads a token at *s; false when there is none.
bool ReadToken(std::string_view* s, std::string* out) {
  size_t n = 0;
  while (n < s->size() && IsTokenChar((*s)[n])) ++n;
  if (n == 0) return false;
  *out = std::string(s->substr(0, n));
  s->remove_prefix(n);
  return true;
}

// Reads a quoted-string at *s (the opening quote is the first character), unescaped.
bool ReadQuoted(std::string_view* s, std::string* out) {
  out->clear();
  for (size_t i = 1; i < s->size(); ++i) {
    const char c = (*s)[i];
    if (c == '"') {
      s->remove_prefix(i + 1);
      return true;
    }
    if (c == '\\') {
      if (++i == s->size()) return false;
      out->push_back((*s)[i]);
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      return false;
    } else {
      out->push_back(c);
    }
  }
  return false;
}

void SkipSpace(std::string_view* s) {
  while (!s->empty() && (s->front() == ' ' || s->front() == '\t')) s->remove_prefix(1);
}

// Parses one media type (or media range) at the start of *s, stopping before a ',' or the end.
bool ReadMediaType(std::string_view* s, MediaType* out) {
  std::string type, subtype;
  if (!ReadToken(s, &type) || s->empty() || s->front() != '/') return false;
  s->remove_prefix(1);
  if (!ReadToken(s, &subtype)) return false;
  out->type = Lower(type) + "/" + Lower(subtype);
  out->params.clear();
  for (;;) {
    SkipSpace(s);
    if (s->empty() || s->front() == ',') return true;
    if (s->front() != ';') return false;
    s->remove_prefix(1);
    SkipSpace(s);
    if (s->empty() || s->front() == ';' || s->front() == ',') continue;  // an empty parameter
    std::string name, value;
    if (!ReadToken(s, &name) || s->empty() || s->front() != '=') return false;
    s->remove_prefix(1);
    if (!s->empty() && s->front() == '"') {
      if (!ReadQuoted(s, &value)) return false;
    } else if (!ReadToken(s, &value)) {
      return false;
    }
    out->params.emplace_back(Lower(name), std::move(value));
  }
}

// Content-Type: exactly application/json; a charset parameter, when given, is utf-8.
bool IsJsonContentType(std::string_view value) {
  MediaType m;
  if (!ReadMediaType(&value, &m) || !value.empty() || m.type != "application/json") return false;
  for (const auto& [name, v] : m.params) {
    if (name == "charset" && !EqualsIgnoreCase(v, "utf-8")) return false;
  }
  return true;
}

// RFC 9110 §12.4.2 qvalue: true for a weight of zero ("0", "0.", "0.000").
bool IsZeroWeight(std::string_view q) {
  if (q.empty() || q[0] != '0') return false;
  q.remove_prefix(1);
  if (q.empty()) return true;
  if (q[0] != '.') return false;
  return q.find_first_not_of('0', 1) == std::string_view::npos;
}

// Accept (RFC 9110 §12.5.1): which of JSON and SSE it lists with a weight above zero. Elements
// that do not parse are skipped.
void ReadAccept(std::string_view value, bool* json, bool* sse) {
  *json = *sse = false;
  while (!value.empty()) {
    SkipSpace(&value);
    MediaType m;
    std::string_view rest = value;
    if (ReadMediaType(&rest, &m)) {
      bool zero = false;
      for (const auto& [name, v] : m.params) {
        if (name == "q") zero = IsZeroWeight(v);
      }
      if (!zero) {
        if (m.type == "application/json" || m.type == "application/*" || m.type == "*/*") {
          *json = true;
        }
        if (m.type == "text/event-stream") *sse = true;
      }
      value = rest;
    }
    const size_t comma = value.find(',');
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Hosts and origins.

bool IsLoopbackName(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

bool IsWildcard(const std::string& address) {
  return address.empty() || address == "0.0.0.0" || address == "::" || address == "[::]";
}

bool HostAllowed(const std::string& host, const HttpPolicyConfig& config) {
  if (IsLoopbackName(host)) return true;
  for (const std::string& h : config.allowed_hosts) {
    if (host == Lower(h)) return true;
    std::optional<std::string> name = ParseHostAndPort(h);
    if (name && host == *name) return true;
  }
  if (IsWildcard(config.bind_address)) return false;
  std::optional<std::string> bound = ParseHostAndPort(
      config.bind_address.find(':') != std::string::npos && config.bind_address.front() != '['
          ? "[" + config.bind_address + "]"
          : config.bind_address);
  return bound && host == *bound;
}

bool OriginAllowed(std::string_view origin, const HttpPolicyConfig& config) {
  for (const std::string& o : config.allowed_origins) {
    if (origin == o) return true;
  }
  const size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos) return false;
  const std::string_view s = origin.substr(0, scheme);
  if (s != "http" && s != "https") return false;
  std::optional<std::string> host = ParseHostAndPort(origin.substr(scheme + 3));
  return host && IsLoopbackName(*host);
}

// ---------------------------------------------------------------------------------------------

// Fields read once each; a second line of any of them is refused.
enum Single : size_t {
  kHost,
  kOrigin,
  kAuthorization,
  kContentLength,
  kTransferEncoding,
  kContentType,
  kExpect,
  kProtocolVersion,
  kMcpMethod,
  kMcpName,
  kSingleCount
};
constexpr std::array<std::string_view, kSingleCount> kSingleNames = {
    "Host",         "Origin", "Authorization",        "Content-Length", "Transfer-Encoding",
    "Content-Type", "Expect", "MCP-Protocol-Version", "Mcp-Method",     "Mcp-Name"};

HttpRejection Reject(unsigned status, std::string message, HttpHeaderList headers = {}) {
  HttpRejection r;
  r.status = status;
  r.message = std::move(message);
  r.headers = std::move(headers);
  return r;
}

bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;  // < 10^19 fits in 64 bits
  uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<std::string> ParseHostAndPort(std::string_view authority) {
  std::string host;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos || close < 3) return std::nullopt;
    const std::string literal(authority.substr(1, close - 1));
    in6_addr addr;
    char text[INET6_ADDRSTRLEN];
    if (literal.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos ||
        inet_pton(AF_INET6, literal.c_str(), &addr) != 1 ||
        inet_ntop(AF_INET6, &addr, text, sizeof text) == nullptr) {
      return std::nullopt;
    }
    host = "[" + std::string(text) + "]";
    rest = authority.substr(close + 1);
  } else {
    const size_t colon = authority.find(':');
    const std::string_view name = authority.substr(0, colon);
    if (name.empty()) return std::nullopt;
    for (char c : name) {
      if (!IsAlnum(c) && c != '-' && c != '.' && c != '_' && c != '~') return std::nullopt;
    }
    host = Lower(name);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
  }
  if (rest.empty()) return host;
  uint64_t port = 0;
  if (rest.front() != ':' || rest.size() > 6 || !ParseDecimal(rest.substr(1), &port) || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return host;
}

HttpDecision DecideHttpRequest(const HttpRequestHead& head,
                               const HttpPolicyConfig& config) noexcept {
  HttpDecision d;
  const size_t q = head.target.find('?');
  d.path = std::string(head.target.substr(0, q));
  if (q != std::string_view::npos) d.query = std::string(head.target.substr(q + 1));

  // The fields, and the first one given twice.
  std::array<std::optional<std::string_view>, kSingleCount> single;
  std::string accept;
  bool has_accept = false;
  for (const auto& [name, raw] : head.fields) {
    const std::string_view value = Trim(raw);
    if (EqualsIgnoreCase(name, "Accept")) {
      accept += (has_accept ? "," : "") + std::string(value);
      has_accept = true;
      continue;
    }
    for (size_t i = 0; i < kSingleCount; ++i) {
      if (!EqualsIgnoreCase(name, kSingleNames[i])) continue;
      if (single[i]) {
        d.reject = Reject(400, "bad request: duplicate " + std::string(kSingleNames[i]) +
                                   " header (it may appear once)");
        return d;
      }
      single[i] = value;
    }
  }

  // Framing.
  if (!single[kHost] && head.version >= 11) {
    d.reject = Reject(400, "bad request: HTTP/1.1 requires a Host header");
    return d;
  }
  std::optional<std::string> host;
  if (single[kHost] && !single[kHost]->empty()) {
    host = ParseHostAndPort(*single[kHost]);
    if (!host) {
      d.reject = Reject(400,
                        "bad request: invalid Host header (expected host[:port], the port "
                        "1-65535)");
      return d;
    }
  }
  if (single[kContentLength]) {
    uint64_t length = 0;
    if (!ParseDecimal(*single[kContentLength], &length)) {
      d.reject = Reject(400, "bad request: invalid Content-Length");
      return d;
    }
    d.content_length = length;
  }
  if (single[kTransferEncoding]) {
    if (head.version < 11) {
      d.reject = Reject(400, "bad request: Transfer-Encoding in an HTTP/1.0 request");
      return d;
    }
    if (single[kContentLength]) {
      d.reject = Reject(400, "bad request: both Transfer-Encoding and Content-Length");
      return d;
    }
    std::vector<std::string_view> codings;
    std::string_view list = *single[kTransferEncoding];
    for (;;) {
      const size_t comma = list.find(',');
      const std::string_view coding = Trim(list.substr(0, comma));
      if (!coding.empty()) codings.push_back(coding);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    const std::string shown(*single[kTransferEncoding]);
    if (codings.empty() || !EqualsIgnoreCase(codings.back(), "chunked")) {
      d.reject = Reject(400, "bad request: Transfer-Encoding '" + shown +
                                 "' does not end with chunked, so the body's length is unknown");
      return d;
    }
    if (codings.size() > 1) {
      d.reject = Reject(
          501, "not implemented: Transfer-Encoding '" + shown + "'; only chunked is supported");
      return d;
    }
    d.chunked = true;
  }

  // DNS-rebinding protection (docs/mcp.md §6 item 1), before anything else is looked at.
  if (!host || !HostAllowed(*host, config)) {
    d.reject = Reject(403, "forbidden: Host header not allowed (use --allow-host NAME)");
    return d;
  }
  if (single[kOrigin] && !OriginAllowed(*single[kOrigin], config)) {
    d.reject = Reject(403, "forbidden: Origin not allowed (use --allow-origin ORIGIN)");
    return d;
  }

  const bool has_body = d.chunked || d.content_length.value_or(0) > 0;
  if (d.path == "/healthz" || d.path == "/readyz") {
    d.route = d.path == "/healthz" ? HttpRoute::kHealthz : HttpRoute::kReadyz;
    if (head.method != "GET") {
      d.reject = Reject(405, "use GET", {{"Allow", "GET"}});
    } else if (has_body) {
      d.reject = Reject(400, "no body expected");
    }
    return d;
  }
  if (config.investigate && d.path == "/api/v1/investigate") {
    d.route = HttpRoute::kInvestigate;
  } else if (config.spend && d.path == "/api/v1/spend") {
    d.route = HttpRoute::kSpend;
  } else if (config.investigations && (d.path == "/api/v1/investigations" ||
                                       d.path.rfind("/api/v1/investigations/", 0) == 0)) {
    d.route = HttpRoute::kInvestigations;
  } else if (d.path == config.endpoint_path) {
    d.route = HttpRoute::kEndpoint;
  } else {
    d.reject = Reject(404, "not found: the MCP endpoint is " + config.endpoint_path);
    return d;
  }
  if (single[kAuthorization]) d.authorization = std::string(*single[kAuthorization]);
  if (single[kProtocolVersion]) d.protocol_version = std::string(*single[kProtocolVersion]);
  if (single[kMcpMethod]) d.mcp_method = std::string(*single[kMcpMethod]);
  if (single[kMcpName]) d.mcp_name = std::string(*single[kMcpName]);
  d.expect_continue = single[kExpect] && EqualsIgnoreCase(*single[kExpect], "100-continue");

  // What only an authenticated caller is told.
  if (d.route == HttpRoute::kSpend || d.route == HttpRoute::kInvestigations) {
    if (head.method != "GET") {
      d.reject_after_auth = Reject(405, "use GET", {{"Allow", "GET"}});
    } else if (has_body) {
      d.reject_after_auth = Reject(400, "no body expected");
    }
    return d;
  }
  if (head.method != "POST") {
    d.reject_after_auth = Reject(405,
                                 "method not allowed: send each JSON-RPC message as a POST (this "
                                 "server opens no GET stream and mints no sessions)",
                                 {{"Allow", "POST"}});
    return d;
  }
  if (!single[kContentType] || !IsJsonContentType(*single[kContentType])) {
    d.reject_after_auth =
        Reject(415,
               "unsupported media type: Content-Type must be application/json (parameters "
               "allowed, charset utf-8)");
    return d;
  }
  bool json = false;
  ReadAccept(accept, &json, &d.accepts_sse);
  if (!Trim(accept).empty() && !json && !d.accepts_sse) {
    d.reject_after_auth = Reject(406,
                                 "not acceptable: Accept must list application/json and "
                                 "text/event-stream");
    return d;
  }
  if (d.content_length && *d.content_length > config.max_body_bytes) {
    d.reject_after_auth = Reject(
        413, "payload too large: the limit is " + std::to_string(config.max_body_bytes) + " bytes");
  }
  return d;
}

std::optional<std::string> DecodeHeaderValue(std::string_view v) {
  constexpr std::string_view kOpen = "=?base64?", kClose = "?=";
  if (v.size() < kOpen.size() + kClose.size() || v.substr(0, kOpen.size()) != kOpen ||
      v.substr(v.size() - kClose.size()) != kClose) {
    return std::string(v);
  }
  std::string b64(v.substr(kOpen.size(), v.size() - kOpen.size() - kClose.size()));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  for (char& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return Base64UrlDecode(b64);
}

unsigned HttpStatusOfResponse(int code, bool modern) noexcept {
  if (code == 0) return 200;
  if (code == kParseError || code == kInvalidRequest) return 400;
  if (!modern) return 200;
  if (code == kMethodNotFound) return 404;
  if (code == kUnsupportedProtocolVersion || code == kHeaderMismatch ||
      code == kMissingRequiredClientCapability) {
    return 400;
  }
  return 200;
}

HttpEnvelope CheckHttpEnvelope(const HttpDecision& d, const nlohmann::json& request) {
  using json = nlohmann::json;
  HttpEnvelope e;
  const json& id = request["id"];
  const std::string& method = request["method"].get_ref<const std::string&>();
  static const json kEmpty = json::object();
  auto p = request.find("params");
  const json& params = p != request.end() && p->is_object() ? *p : kEmpty;
  auto m = params.find("_meta");
  const json* meta = m != params.end() && m->is_object() ? &*m : nullptr;
  const bool has_header = d.protocol_version.has_value();
  const std::string header_version = d.protocol_version.value_or("");
  const bool body_modern = meta && meta->contains(kMetaVersion);
  e.modern = body_modern || (has_header && header_version == kModernVersion);
  if (!e.modern) {
    if (has_header && !IsLegacyVersion(header_version)) {
      std::string supported = kModernVersion;
      for (const char* v : kLegacyVersions) supported += std::string(", ") + v;
      e.error = ErrorResponse(
          &id, kUnsupportedProtocolVersion,
          "unsupported MCP-Protocol-Version '" + header_version + "'; supported: " + supported,
          {{"supported", {kModernVersion}}, {"requested", header_version}});
      return e;
    }
    if (method != "initialize")
      e.legacy_version = has_header ? header_version : kDefaultLegacyVersion;
    return e;
  }
  if (!body_modern) {
    e.error = ErrorResponse(&id, kInvalidParams,
                            std::string("missing _meta[\"") + kMetaVersion +
                                "\"]: modern requests carry it in params._meta");
    return e;
  }
  const json& v = (*meta)[kMetaVersion];
  auto mismatch = [&](const std::string& what) {
    e.error = ErrorResponse(&id, kHeaderMismatch, "header mismatch: " + what);
    return e;
  };
  // The header must mirror the body before the version itself is judged: a header naming
  // 2026-07-28 over a body naming another version is a mismatch (-32020), not -32022.
  if (!has_header) return mismatch(std::string(kHeaderProtocolVersion) + " header missing");
  if (!v.is_string() || header_version != v.get_ref<const std::string&>()) {
    return mismatch(std::string(kHeaderProtocolVersion) + " '" + header_version +
                    "' differs from the body's " + DumpJson(v));
  }
  if ((e.error = CheckModernVersion(id, v))) return e;
  if (!d.mcp_method) return mismatch(std::string(kHeaderMethod) + " header missing");
  if (*d.mcp_method != method) {
    return mismatch(std::string(kHeaderMethod) + " '" + *d.mcp_method +
                    "' differs from the body's method '" + method + "'");
  }
  const char* name_field = method == "tools/call" || method == "prompts/get" ? "name"
                           : method == "resources/read"                      ? "uri"
                                                                             : nullptr;
  if (name_field) {
    if (!d.mcp_name) return mismatch(std::string(kHeaderName) + " header missing");
    std::optional<std::string> name = DecodeHeaderValue(*d.mcp_name);
    if (!name) return mismatch(std::string(kHeaderName) + " is not valid =?base64?...?= text");
    auto body_name = params.find(name_field);
    if (body_name == params.end() || !body_name->is_string() ||
        body_name->get_ref<const std::string&>() != *name) {
      return mismatch(std::string(kHeaderName) + " differs from params." + name_field);
    }
  }
  e.error = CheckModernCapabilities(id, *meta);
  return e;
}

}  // namespace fasten::mcp
