// JWT bearer credentials (RFC 7519): the tenant taken from a claim of a token signed with one
// configured key (docs/auth.md).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcp/auth.h"
#include "util/status.h"

namespace fasten::mcp {

struct JwtOptions {
  enum class Algorithm { kHs256, kRs256, kEs256 };
  // The only algorithm accepted; a token whose header names another ("none", or HS256 against an
  // RS256 key) is rejected. Default HS256.
  Algorithm algorithm = Algorithm::kHs256;
  // HS256: a file holding the shared secret (at least 32 bytes; one trailing newline is
  // ignored). RS256 (RSA >= 2048 bits) / ES256 (P-256): a PEM public key ("BEGIN PUBLIC KEY").
  std::string key_file;
  // The claim holding the tenant (a string that passes ValidateTokenName). Default "tenant".
  std::string tenant_claim = "tenant";
  // Accepted audiences: the token's "aud" (a string or an array) must contain one. Required.
  std::vector<std::string> audiences;
  // When set, "iss" must equal it.
  std::optional<std::string> issuer;
  // Clock skew tolerated on exp, nbf and iat. Default 30 s.
  std::chrono::seconds leeway{30};
  // The longest lifetime accepted: exp - iat, or exp - now when there is no iat. A token
  // meant to live longer is refused even while it is valid. 0: no limit. Default 24 h.
  std::chrono::seconds max_lifetime{86400};
  // The clock; default std::chrono::system_clock::now. For tests.
  std::function<std::chrono::system_clock::time_point()> clock;
};

// JWTs (RFC 7519) signed with one configured key. Thread-safe (immutable after creation).
// Checks, in order: shape (three base64url parts, at most 8192 characters), header alg equals
// the configured one and no "crit", the signature, then "exp" (required), "nbf" and "iat"
// (optional), the lifetime, "aud", "iss" and the tenant claim. exp, nbf and iat are JSON
// integers from 0 to 253402300799 (9999-12-31T23:59:59Z), else the token is malformed (a float
// such as 1e300, or 2^70, would otherwise never expire); a token is not yet valid before nbf or
// iat (less the leeway). The label is "jwt:<sub>" when sub is a valid name, else "jwt".
class JwtAuthenticator : public Authenticator {
 public:
  // Reads options.key_file and calls Create.
  static Status Load(const JwtOptions& options, std::unique_ptr<JwtAuthenticator>* out);
  // `key` is the secret (HS256) or the PEM public key (RS256/ES256). InvalidArgument when the
  // key does not fit the algorithm (short secret, a PEM given as an HMAC secret, wrong key type,
  // curve or size) or no audience is configured.
  static Status Create(const JwtOptions& options, std::string_view key,
                       std::unique_ptr<JwtAuthenticator>* out);
  ~JwtAuthenticator() override;

  std::optional<Principal> Authenticate(std::string_view authorization,
                                        std::string* why) const override;

 private:
  struct Key;
  JwtAuthenticator(JwtOptions options, std::unique_ptr<Key> key);
  bool VerifySignature(std::string_view signing_input, std::string_view signature) const;

  const JwtOptions options_;
  const std::unique_ptr<Key> key_;
};

}  // namespace fasten::mcp
