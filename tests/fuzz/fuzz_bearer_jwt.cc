// Fuzzes bearer extraction and JWT verification (mcp/auth.h ExtractBearerToken,
// JwtAuthenticator with HS256 and a key fixed here).
//
// Input: a mode byte, then
//   'h' + HEADER            the raw Authorization header value;
//   anything else + JOSE '\n' CLAIMS
//                           a JOSE header and a claims set (any bytes) that the driver signs with
//                           the fixed key, so the fuzzer reaches the claim checks behind the
//                           signature.
// Checks:
// - ExtractBearerToken: accepted ⇒ the token is the header's text after "Bearer" (any case) and
//   spaces, 1..8192 token68 characters; refused ⇒ one of the three documented reasons;
// - a token is accepted only with the signature the fixed key makes; the same token with its
//   signature changed is always refused as "bad JWT signature" or earlier;
// - accepted ⇒ (independently re-read with nlohmann) alg is HS256 with no crit; exp is a number
//   not in the past (30 s leeway), nbf if present not in the future; aud holds the accepted
//   audience; the principal's tenant is the tenant claim, a valid token name; the label is "jwt"
//   or "jwt:<sub>";
// - refused ⇒ the reason is short, and never contains the token.
#include <openssl/evp.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "mcp/jwt_auth.h"
#include "tests/fuzz/fuzz_util.h"
#include "util/base64.h"
#include "util/json_parse.h"

namespace {

using fasten::fuzz::AsText;
using fasten::mcp::JwtAuthenticator;
using fasten::mcp::JwtOptions;
using fasten::mcp::Principal;
using nlohmann::json;

constexpr char kSecret[] = "fuzz-driver-hs256-secret-0123456789abcdef";
constexpr int64_t kNow = 1900000000;  // 2030-03-17, fixed so runs repeat
constexpr int64_t kLeeway = 30;

std::string Hmac(const std::string& input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t n = 0;
  const std::string key = kSecret;
  FUZZ_CHECK(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
                       sizeof mac, &n) != nullptr);
  return std::string(reinterpret_cast<const char*>(mac), n);
}

const JwtAuthenticator& Authenticator() {
  static const JwtAuthenticator* a = [] {
    JwtOptions o;
    o.algorithm = JwtOptions::Algorithm::kHs256;
    o.audiences = {"fasten-mcp"};
    o.leeway = std::chrono::seconds(kLeeway);
    o.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow)); };
    std::unique_ptr<JwtAuthenticator> out;
    fasten::Status st = JwtAuthenticator::Create(o, kSecret, &out);
    FUZZ_CHECK_MSG(st.ok(), st.ToString());
    return out.release();
  }();
  return *a;
}

bool IsToken68(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

void CheckBearer(std::string_view header) {
  std::string_view token;
  std::string why;
  if (!fasten::mcp::ExtractBearerToken(header, &token, &why)) {
    FUZZ_CHECK_MSG(why == "missing bearer token" || why == "unsupported authorization scheme" ||
                       why == "malformed bearer token",
                   why);
    return;
  }
  FUZZ_CHECK(!token.empty() && token.size() <= 8192);
  FUZZ_CHECK(token.data() >= header.data() &&
             token.data() + token.size() <= header.data() + header.size());
  size_t i = 0;
  while (i < token.size() && IsToken68(token[i])) ++i;
  FUZZ_CHECK(i > 0);
  while (i < token.size() && token[i] == '=') ++i;
  FUZZ_CHECK(i == token.size());
  // What precedes the token: optional spaces/tabs, "bearer" in any case, spaces/tabs.
  std::string_view before = header.substr(0, static_cast<size_t>(token.data() - header.data()));
  while (!before.empty() && (before.front() == ' ' || before.front() == '\t')) {
    before.remove_prefix(1);
  }
  FUZZ_CHECK(before.size() > 6);
  for (size_t k = 0; k < 6; ++k) {
    FUZZ_CHECK(std::tolower(static_cast<unsigned char>(before[k])) == "bearer"[k]);
  }
  for (char c : before.substr(6)) FUZZ_CHECK(c == ' ' || c == '\t');
  std::string_view after = header.substr(before.size() + token.size() +
                                         static_cast<size_t>(before.data() - header.data()));
  for (char c : after) FUZZ_CHECK(c == ' ' || c == '\t');
}

// The claims of an accepted token hold what Authenticate promised.
void CheckAccepted(std::string_view token, const Principal& p) {
  size_t dot1 = token.find('.');
  size_t dot2 = token.find('.', dot1 + 1);
  FUZZ_CHECK(dot1 != std::string_view::npos && dot2 != std::string_view::npos);
  std::string signing_input(token.substr(0, dot2));
  auto signature = fasten::Base64UrlDecode(token.substr(dot2 + 1));
  FUZZ_CHECK(signature && *signature == Hmac(signing_input));
  auto header_bytes = fasten::Base64UrlDecode(token.substr(0, dot1));
  auto claims_bytes = fasten::Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  FUZZ_CHECK(header_bytes && claims_bytes);
  // Read as the authenticator reads JSON (util/json_parse.h): lone surrogate escapes as U+FFFD.
  fasten::ReplaceLoneSurrogateEscapes(&*header_bytes);
  fasten::ReplaceLoneSurrogateEscapes(&*claims_bytes);
  FUZZ_CHECK(header_bytes->find('\0') == std::string::npos &&
             claims_bytes->find('\0') == std::string::npos);
  json header = json::parse(*header_bytes, nullptr, false);
  json claims = json::parse(*claims_bytes, nullptr, false);
  FUZZ_CHECK(header.is_object() && claims.is_object());
  FUZZ_CHECK(header.value("alg", json()) == "HS256" && !header.contains("crit"));
  FUZZ_CHECK(claims.contains("exp") && claims["exp"].is_number());
  const double exp = claims["exp"].get<double>();
  FUZZ_CHECK(std::isfinite(exp) && static_cast<double>(kNow) < exp + kLeeway);
  if (claims.contains("nbf")) {
    FUZZ_CHECK(claims["nbf"].is_number());
    FUZZ_CHECK(static_cast<double>(kNow + kLeeway) >= claims["nbf"].get<double>());
  }
  const json aud = claims.value("aud", json());
  bool aud_ok = aud == "fasten-mcp";
  if (aud.is_array()) {
    for (const json& a : aud) aud_ok = aud_ok || a == "fasten-mcp";
  }
  FUZZ_CHECK(aud_ok);
  FUZZ_CHECK(claims.value("tenant", json()) == p.tenant);
  FUZZ_CHECK(fasten::mcp::ValidateTokenName("tenant", p.tenant).ok());
  const json sub = claims.value("sub", json());
  FUZZ_CHECK(p.token_label == "jwt" ||
             (sub.is_string() && p.token_label == "jwt:" + sub.get<std::string>()));
}

void CheckAuthenticate(std::string_view token) {
  std::string why;
  std::optional<Principal> p = Authenticator().Authenticate("Bearer " + std::string(token), &why);
  if (p) {
    CheckAccepted(token, *p);
  } else {
    FUZZ_CHECK(!why.empty() && why.size() < 200);
    if (token.size() >= 8) FUZZ_CHECK(why.find(token) == std::string::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);
  if (text.empty()) return 0;
  const char mode = text.front();
  text.remove_prefix(1);
  if (mode == 'h') {
    CheckBearer(text);
    std::string_view token;
    std::string why;
    if (fasten::mcp::ExtractBearerToken(text, &token, &why)) CheckAuthenticate(token);
    return 0;
  }
  auto parts = fasten::fuzz::SplitFirst(text, '\n', 2);
  std::string_view header = parts[0];
  std::string_view claims = parts.size() > 1 ? parts[1] : std::string_view();
  const std::string signing_input =
      fasten::Base64UrlEncode(header) + "." + fasten::Base64UrlEncode(claims);
  const std::string signature = Hmac(signing_input);
  const std::string token = signing_input + "." + fasten::Base64UrlEncode(signature);
  CheckBearer("Bearer " + token);
  CheckAuthenticate(token);
  // The same token with one signature bit flipped is refused.
  std::string forged_signature = signature;
  forged_signature[static_cast<size_t>(mode) % forged_signature.size()] ^= 1;
  const std::string forged = signing_input + "." + fasten::Base64UrlEncode(forged_signature);
  std::string why;
  FUZZ_CHECK(!Authenticator().Authenticate("Bearer " + forged, &why));
  return 0;
}
