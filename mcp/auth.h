// Authentication for the HTTP transport: an Authorization header in, the tenant out.
//
// The transport hands every request's raw `Authorization` header to an Authenticator; on success
// the returned Principal's tenant is the only tenant the request may see (nothing in a request
// body can change it), on failure it answers 401 with `WWW-Authenticate: Bearer
// realm="fasten-mcp"` (kWwwAuthenticate). Credentials come only from that header, never from the
// query string. No OAuth is advertised (docs/mcp.md §7).
//
//   TokenFileAuthenticator  static bearer tokens, one tenant each, from a tokens file that stores
//                           only SHA-256 digests (format below); the default.
//   JwtAuthenticator        optional: HS256/RS256/ES256 JWTs, tenant taken from a claim.
//   AnyOfAuthenticator      several of the above; the first success wins.
//
// The tokens file (docs/auth.md), UTF-8 text, one token per line; blank lines and lines starting
// with '#' are ignored:
//
//   sha256:<64 lowercase hex> tenant=<tenant> label=<label> created=<YYYY-MM-DDTHH:MM:SSZ>
//
// The digest is SHA-256 of the whole token text as sent after "Bearer " (e.g. "fmcp_..."). Fields
// are separated by spaces or tabs; the key=value fields may come in any order, each exactly once
// (created is optional). Tenants and labels are 1..128 printable ASCII characters without
// whitespace; labels are unique within a file, and so are digests. Anything else makes the whole
// file invalid. The file is written 0600, atomically (temporary file + rename), by `fasten-mcp
// token add|revoke`.
//
// Tokens and their digests never appear in logs or in `why` strings; labels do.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mcp/rate_limit.h"  // RateLimiter, for the transport's per-tenant limit
#include "util/status.h"

namespace fasten::mcp {

// The challenge sent with every 401.
inline constexpr char kWwwAuthenticate[] = "Bearer realm=\"fasten-mcp\"";

// Who a request is: the tenant it is bound to, and a label naming the credential in logs
// (never the credential itself).
struct Principal {
  std::string tenant;
  std::string token_label;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // `authorization` is the raw Authorization header value ("" when absent).
  // Returns the principal, or nullopt with *why set to a short safe reason ("missing bearer
  // token", "unknown or revoked token", "token expired" ...) for logs and 401 bodies.
  virtual std::optional<Principal> Authenticate(std::string_view authorization,
                                                std::string* why) const = 0;
};

// Splits an Authorization header value into its bearer token: the scheme "Bearer" in any case,
// one or more spaces, then a token68 (RFC 9110 §11.2: letters, digits, "-._~+/", then optional
// trailing "="), at most 8192 characters; surrounding spaces are ignored. Returns false with
// *why set ("missing bearer token", "unsupported authorization scheme", "malformed bearer token")
// otherwise.
bool ExtractBearerToken(std::string_view authorization, std::string_view* token, std::string* why);

// ---------------------------------------------------------------------------------------------
// The tokens file.

struct TokenRecord {
  std::string digest;   // 64 lowercase hex: SHA-256 of the token
  std::string tenant;   // the tenant the token is bound to
  std::string label;    // unique within the file; names the token in logs and `token list`
  std::string created;  // "YYYY-MM-DDTHH:MM:SSZ", or empty when the line has none
};

// InvalidArgument unless `name` is 1..128 printable ASCII characters without whitespace.
// `what` ("tenant", "label") names it in the message.
Status ValidateTokenName(std::string_view what, std::string_view name);

// Lowercase hex SHA-256 of `token`: the digest stored in the file.
std::string TokenDigest(std::string_view token);

// A new token: "fmcp_" followed by 32 bytes from RAND_bytes in base64url (43 characters).
Status NewToken(std::string* token);

// Parses a tokens file's text. DataLoss naming the first bad line's number (never its text).
Status ParseTokensFile(std::string_view text, std::vector<TokenRecord>* records);
// The file text for `records`, with a header comment describing the format.
std::string FormatTokensFile(const std::vector<TokenRecord>& records);

// Reads and parses `path`. NotFound when it does not exist; FailedPrecondition when it is
// writable by group or others (anyone who can write it can add a token); DataLoss when corrupt.
Status ReadTokensFile(const std::string& path, std::vector<TokenRecord>* records);
// Replaces `path` atomically with `records`: a 0600 temporary file in the same directory,
// fsync, rename over `path`, fsync of the directory.
Status WriteTokensFile(const std::string& path, const std::vector<TokenRecord>& records);

// Holds an exclusive advisory lock (flock on "<path>.lock") so that concurrent `token add` and
// `token revoke` runs do not lose each other's changes. Readers do not need it.
class TokensFileLock {
 public:
  static Status Acquire(const std::string& tokens_path, std::unique_ptr<TokensFileLock>* out);
  ~TokensFileLock();
  TokensFileLock(const TokensFileLock&) = delete;
  TokensFileLock& operator=(const TokensFileLock&) = delete;

 private:
  explicit TokensFileLock(int fd) : fd_(fd) {}
  int fd_;
};

// Adds a new token for `tenant` to `path` (created if missing), under TokensFileLock. An empty
// `label` becomes "<tenant>-<first 8 hex of the digest>". InvalidArgument for a bad tenant or
// label or a label already in the file. On success *token is the new token (shown to the
// operator once, stored nowhere) and *record its line.
Status AddToken(const std::string& path, const std::string& tenant, const std::string& label,
                std::chrono::system_clock::time_point now, std::string* token, TokenRecord* record);

// Removes from `path`, under TokensFileLock, the one token whose label equals `label` (when
// `by_label`) or whose digest starts with `digest_prefix` (hex, at least 8 characters, an
// optional "sha256:" in front). NotFound when none matches, InvalidArgument when several do
// (the message lists their labels). *removed is the removed line.
Status RevokeToken(const std::string& path, bool by_label, const std::string& key,
                   TokenRecord* removed);

// ---------------------------------------------------------------------------------------------
// Authenticators.

struct TokenFileOptions {
  // How often, at most, Authenticate looks at the file's identity (inode, size, mtime) and
  // reloads it when it changed. Default: 1 s.
  std::chrono::milliseconds reload_interval{1000};
  // Where reload failures are reported (a warning: once per failure, until a load succeeds
  // again). Default: a line on stderr.
  std::function<void(const std::string& message)> log;
  // Where successful reloads are reported (informational). Default: nowhere.
  std::function<void(const std::string& message)> notice;
};

// Bearer tokens from a tokens file. Thread-safe.
//
// Picks up `token add`/`token revoke` made while the server runs: when the file's inode, size or
// mtime changed (checked at most once per reload_interval, by one thread while the others carry
// on with the current set) it is read again. A file that becomes unreadable, missing, too open
// or corrupt keeps the last good set and logs once. Lookup hashes the presented token and
// compares it with every stored digest using CRYPTO_memcmp, never stopping early.
class TokenFileAuthenticator : public Authenticator {
 public:
  // Loads `path`. Fails (NotFound, FailedPrecondition, DataLoss) when it cannot be used; a file
  // with no tokens loads (and authenticates nobody).
  static Status Load(const std::string& path, std::unique_ptr<TokenFileAuthenticator>* out);
  static Status Load(const std::string& path, TokenFileOptions options,
                     std::unique_ptr<TokenFileAuthenticator>* out);
  ~TokenFileAuthenticator() override;

  std::optional<Principal> Authenticate(std::string_view authorization,
                                        std::string* why) const override;

  // Tokens in the current set (after any due reload).
  size_t token_count() const;

 private:
  struct State;
  TokenFileAuthenticator(std::string path, TokenFileOptions options);
  std::shared_ptr<const std::vector<TokenRecord>> Current() const;

  // Constant after construction.
  const std::string path_;
  const TokenFileOptions options_;

  // The reload bookkeeping and the current set; see auth.cc.
  std::unique_ptr<State> state_;
};

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

// Tries each authenticator in order; the first success wins. When all fail, *why holds their
// distinct reasons joined with "; ". Thread-safe when each part is.
class AnyOfAuthenticator : public Authenticator {
 public:
  explicit AnyOfAuthenticator(std::vector<std::unique_ptr<Authenticator>> parts);

  std::optional<Principal> Authenticate(std::string_view authorization,
                                        std::string* why) const override;

 private:
  const std::vector<std::unique_ptr<Authenticator>> parts_;
};

}  // namespace fasten::mcp
