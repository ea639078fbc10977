// The tokens file and the bearer authenticator that reads it.
//
// The tokens file (docs/auth.md), UTF-8 text, one token per line; blank lines and lines starting
// with '#' are ignored:
//
//   sha256:<64 lowercase hex> tenant=<tenant> label=<label> created=<YYYY-MM-DDTHH:MM:SSZ>
//
// The digest is SHA-256 of the whole token text as sent after "Bearer " (e.g. "fmcp_..."). Fields
// are separated by spaces or tabs; the key=value fields may come in any order, each exactly once
// (created is optional). Tenants and labels follow ValidateTokenName (mcp/auth.h); labels are
// unique within a file, and so are digests. Anything else makes the whole file invalid. The file
// is written 0600, atomically (temporary file + rename), by `fasten-mcp token add|revoke`.
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

#include "mcp/auth.h"
#include "util/status.h"

namespace fasten::mcp {

struct TokenRecord {
  std::string digest;   // 64 lowercase hex: SHA-256 of the token
  std::string tenant;   // the tenant the token is bound to
  std::string label;    // unique within the file; names the token in logs and `token list`
  std::string created;  // "YYYY-MM-DDTHH:MM:SSZ", or empty when the line has none
};

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

}  // namespace fasten::mcp
