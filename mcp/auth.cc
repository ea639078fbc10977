#include "mcp/auth.h"

namespace fasten::mcp {
namespace {

constexpr size_t kMaxNameLength = 128;

bool IsSpace(char c) {
  return c == ' ' || c == '\t';
}

bool IsToken68Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Header parsing and names.

bool ExtractBearerToken(std::string_view authorization, std::string_view* token, std::string* why) {
  std::string_view v = authorization;
  while (!v.empty() && IsSpace(v.front())) v.remove_prefix(1);
  while (!v.empty() && IsSpace(v.back())) v.remove_suffix(1);
  if (v.empty()) {
    *why = "missing bearer token";
    return false;
  }
  size_t sp = 0;
  while (sp < v.size() && !IsSpace(v[sp])) ++sp;
  std::string_view scheme = v.substr(0, sp);
  static constexpr std::string_view kBearer = "bearer";
  bool is_bearer = scheme.size() == kBearer.size();
  for (size_t i = 0; is_bearer && i < scheme.size(); ++i) {
    char c = scheme[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    is_bearer = c == kBearer[i];
  }
  if (!is_bearer) {
    *why = "unsupported authorization scheme";
    return false;
  }
  std::string_view t = v.substr(sp);
  while (!t.empty() && IsSpace(t.front())) t.remove_prefix(1);
  if (t.empty()) {
    *why = "missing bearer token";
    return false;
  }
  if (t.size() > kMaxBearerTokenLength) {
    *why = "malformed bearer token";
    return false;
  }
  size_t i = 0;
  while (i < t.size() && IsToken68Char(t[i])) ++i;
  if (i == 0) {
    *why = "malformed bearer token";
    return false;
  }
  while (i < t.size() && t[i] == '=') ++i;
  if (i != t.size()) {
    *why = "malformed bearer token";
    return false;
  }
  *token = t;
  return true;
}

Status ValidateTokenName(std::string_view what, std::string_view name) {
  if (name.empty()) return InvalidArgumentError(std::string(what) + " is empty");
  if (name.size() > kMaxNameLength) {
    return InvalidArgumentError(std::string(what) + " is longer than 128 characters");
  }
  for (char c : name) {
    if (c <= ' ' || c > '~') {
      return InvalidArgumentError(std::string(what) +
                                  " must be printable ASCII without spaces or control characters");
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// AnyOfAuthenticator.

AnyOfAuthenticator::AnyOfAuthenticator(std::vector<std::unique_ptr<Authenticator>> parts)
    : parts_(std::move(parts)) {}

std::optional<Principal> AnyOfAuthenticator::Authenticate(std::string_view authorization,
                                                          std::string* why) const {
  std::vector<std::string> reasons;
  for (const auto& part : parts_) {
    std::string reason;
    std::optional<Principal> p = part->Authenticate(authorization, &reason);
    if (p) return p;
    bool seen = false;
    for (const std::string& r : reasons) seen = seen || r == reason;
    if (!seen) reasons.push_back(std::move(reason));
  }
  std::string joined;
  for (const std::string& r : reasons) joined += (joined.empty() ? "" : "; ") + r;
  *why = joined.empty() ? "no authenticator configured" : joined;
  return std::nullopt;
}

}  // namespace fasten::mcp
