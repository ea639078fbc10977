// Fuzzes the HTTP request policy (mcp/http_policy.h DecideHttpRequest, ParseHostAndPort): what
// the shared HTTP server answers to a request head before reading its body.
//
// Input: a request head as text: "METHOD TARGET HTTP/1.x" then one "Name: value" field per line
// (LF or CRLF; a line without ':' is a field with an empty value). It is judged under two
// configurations: the default (loopback only, /mcp) and an open one (an allowed host and origin,
// a bind address, the investigate and spend APIs, a 4 KiB body limit). Checks, re-derived here
// from the head:
// - at most one of `reject` and `reject_after_auth`, each with a status the policy documents
//   (400, 403, 404, 405, 501 before authentication; 400, 405, 406, 413, 415 after), a message,
//   and Allow with every 405;
// - a head with Host, Origin, Authorization, Content-Length, Transfer-Encoding, Content-Type,
//   Expect, MCP-Protocol-Version, Mcp-Method or Mcp-Name twice is refused with 400;
// - an accepted head (no rejection) has one Host that parses and is allowed, no Origin or an
//   allowed one, a known path, a plain decimal Content-Length (never with Transfer-Encoding) or
//   exactly "chunked", and, for the MCP endpoint, POST with an application/json Content-Type and
//   a Content-Length within the limit; its path and query put back together give the target,
//   and its authorization is the Authorization field;
// - the transport's error body for any rejection (ErrorResponse + DumpJson) is valid JSON that
//   carries the message, whatever bytes the head held;
// - ParseHostAndPort: an accepted authority gives a lower-case host that parses to itself.
#include <cctype>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mcp/dispatcher.h"
#include "mcp/http_policy.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/row_json.h"

namespace {

using fasten::fuzz::AsText;
using nlohmann::json;
namespace mcp = fasten::mcp;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const std::vector<std::string> kSingle = {
    "host",         "origin", "authorization",        "content-length", "transfer-encoding",
    "content-type", "expect", "mcp-protocol-version", "mcp-method",     "mcp-name"};

// The values of field `name` (lower case), trimmed, in order.
std::vector<std::string_view> Values(const mcp::HttpRequestHead& head, const std::string& name) {
  std::vector<std::string_view> out;
  for (const auto& [n, v] : head.fields) {
    if (Lower(n) == name) out.push_back(Trim(v));
  }
  return out;
}

void CheckBody(const mcp::HttpRejection& r) {
  const std::string body =
      fasten::DumpJson(mcp::ErrorResponse(nullptr, mcp::kInvalidRequest, r.message));
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK_MSG(parsed.is_object() && parsed["error"]["message"].is_string(), body);
}

void CheckHost(std::string_view authority) {
  std::optional<std::string> host = mcp::ParseHostAndPort(authority);
  if (!host) return;
  FUZZ_CHECK(!host->empty() && Lower(*host) == *host);
  std::optional<std::string> again = mcp::ParseHostAndPort(*host);
  FUZZ_CHECK_MSG(again && *again == *host, *host);
}

void Check(const mcp::HttpRequestHead& head, const mcp::HttpPolicyConfig& config) {
  const mcp::HttpDecision d = mcp::DecideHttpRequest(head, config);
  FUZZ_CHECK(!(d.reject && d.reject_after_auth));
  for (const mcp::HttpRejection* r : {&d.reject, &d.reject_after_auth}) {
    if (!*r) continue;
    FUZZ_CHECK(!r->message.empty());
    CheckBody(*r);
    if (r->status == 405) {
      FUZZ_CHECK(!r->headers.empty() && r->headers[0].first == "Allow");
    }
  }
  if (d.reject) {
    const unsigned s = d.reject.status;
    FUZZ_CHECK_MSG(s == 400 || s == 403 || s == 404 || s == 405 || s == 501, std::to_string(s));
  }
  if (d.reject_after_auth) {
    const unsigned s = d.reject_after_auth.status;
    FUZZ_CHECK_MSG(s == 400 || s == 405 || s == 406 || s == 413 || s == 415, std::to_string(s));
  }
  for (const std::string& name : kSingle) {
    if (Values(head, name).size() > 1) {
      FUZZ_CHECK_MSG(d.reject && d.reject.status == 400, "duplicate " + name + " accepted");
    }
  }
  if (d.reject) return;

  // Passed the framing and host checks.
  const std::vector<std::string_view> host = Values(head, "host");
  FUZZ_CHECK(host.size() == 1);
  std::optional<std::string> name = mcp::ParseHostAndPort(host[0]);
  FUZZ_CHECK(name.has_value());
  bool allowed = *name == "localhost" || *name == "127.0.0.1" || *name == "[::1]";
  for (const std::string& h : config.allowed_hosts) {
    allowed = allowed || *name == Lower(h) || mcp::ParseHostAndPort(h) == *name;
  }
  allowed = allowed || (!config.bind_address.empty() && *name == config.bind_address);
  FUZZ_CHECK_MSG(allowed, "host " + *name + " accepted");
  const std::vector<std::string_view> origin = Values(head, "origin");
  if (!origin.empty()) {
    bool ok = false;
    for (const std::string& o : config.allowed_origins) ok = ok || origin[0] == o;
    for (std::string_view scheme : {"http://", "https://"}) {
      if (origin[0].substr(0, scheme.size()) != scheme) continue;
      std::optional<std::string> o = mcp::ParseHostAndPort(origin[0].substr(scheme.size()));
      ok = ok || (o && (*o == "localhost" || *o == "127.0.0.1" || *o == "[::1]"));
    }
    FUZZ_CHECK_MSG(ok, "origin " + std::string(origin[0]) + " accepted");
  }
  const std::vector<std::string_view> cl = Values(head, "content-length");
  const std::vector<std::string_view> te = Values(head, "transfer-encoding");
  FUZZ_CHECK(cl.empty() || te.empty());
  if (!cl.empty()) {
    FUZZ_CHECK(!cl[0].empty() && cl[0].find_first_not_of("0123456789") == std::string_view::npos);
    FUZZ_CHECK(d.content_length && std::to_string(*d.content_length) ==
                                       std::string(cl[0].substr(std::min(
                                           cl[0].find_first_not_of('0'), cl[0].size() - 1))));
  }
  if (!te.empty()) {
    // A list: empty elements are ignored (RFC 9110 §5.6.1; Beast's token_list does the same),
    // so what was accepted is exactly one non-empty coding, chunked.
    std::string codings;
    for (char c : Lower(te[0])) {
      if (c != ',' && c != ' ' && c != '\t') codings.push_back(c);
    }
    FUZZ_CHECK_MSG(codings == "chunked", std::string(te[0]));
    FUZZ_CHECK(head.version >= 11 && d.chunked);
  }
  std::string target =
      d.path + (head.target.find('?') != std::string_view::npos ? "?" + d.query : "");
  FUZZ_CHECK(target == head.target);
  const std::vector<std::string_view> auth = Values(head, "authorization");
  // /healthz and /readyz answer without looking at credentials: none is read for them.
  const bool probe = d.route == mcp::HttpRoute::kHealthz || d.route == mcp::HttpRoute::kReadyz;
  FUZZ_CHECK(d.authorization == (auth.empty() || probe ? std::string() : std::string(auth[0])));

  if (d.reject_after_auth) return;
  switch (d.route) {
    case mcp::HttpRoute::kHealthz:
    case mcp::HttpRoute::kReadyz:
    case mcp::HttpRoute::kSpend:
    case mcp::HttpRoute::kInvestigations:
      FUZZ_CHECK(head.method == "GET");
      FUZZ_CHECK(!d.chunked && d.content_length.value_or(0) == 0);
      break;
    case mcp::HttpRoute::kEndpoint:
    case mcp::HttpRoute::kInvestigate: {
      FUZZ_CHECK(head.method == "POST");
      const std::vector<std::string_view> type = Values(head, "content-type");
      FUZZ_CHECK(type.size() == 1 && Lower(type[0]).rfind("application/json", 0) == 0);
      if (d.content_length) FUZZ_CHECK(*d.content_length <= config.max_body_bytes);
      break;
    }
    case mcp::HttpRoute::kNone:
      FUZZ_CHECK_MSG(false, "accepted without a route");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  if (lines.empty()) return 0;
  mcp::HttpRequestHead head;
  auto request_line = fasten::fuzz::SplitFirst(lines[0], ' ', 3);
  head.method = request_line[0];
  head.target = request_line.size() > 1 ? request_line[1] : std::string_view();
  head.version = request_line.size() > 2 && request_line[2] == "HTTP/1.0" ? 10 : 11;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    head.fields.emplace_back(lines[i].substr(0, colon), colon == std::string_view::npos
                                                            ? std::string_view()
                                                            : lines[i].substr(colon + 1));
    CheckHost(Trim(head.fields.back().second));
  }

  Check(head, mcp::HttpPolicyConfig());
  mcp::HttpPolicyConfig open;
  open.allowed_hosts = {"mcp.example.com", "Fasten.Internal:8443"};
  open.allowed_origins = {"https://claude.ai"};
  open.bind_address = "10.0.0.7";
  open.investigate = true;
  open.spend = true;
  open.investigations = true;
  open.max_body_bytes = 4096;
  Check(head, open);
  return 0;
}
