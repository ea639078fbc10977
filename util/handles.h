// Owning wrappers for C handles: each C handle gets a std::unique_ptr with its deleter.
// A raw handle never leaves the .cc that opened it.
#pragma once

#include <memory>

struct sqlite3;
struct sqlite3_stmt;
struct evp_md_ctx_st;
struct evp_pkey_st;
struct evp_pkey_ctx_st;
struct bio_st;
struct ECDSA_SIG_st;

namespace fasten {

struct SqliteCloser {
  void operator()(sqlite3* db) const;
};
struct SqliteFinalizer {
  void operator()(sqlite3_stmt* stmt) const;
};
struct EvpMdCtxFree {
  void operator()(evp_md_ctx_st* ctx) const;
};
struct EvpPkeyFree {
  void operator()(evp_pkey_st* key) const;
};
struct EvpPkeyCtxFree {
  void operator()(evp_pkey_ctx_st* ctx) const;
};
struct BioFree {
  void operator()(bio_st* bio) const;
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG_st* sig) const;
};

using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;
using SqliteStmt = std::unique_ptr<sqlite3_stmt, SqliteFinalizer>;
using EvpMdCtx = std::unique_ptr<evp_md_ctx_st, EvpMdCtxFree>;
using EvpPkey = std::unique_ptr<evp_pkey_st, EvpPkeyFree>;
using EvpPkeyCtx = std::unique_ptr<evp_pkey_ctx_st, EvpPkeyCtxFree>;
using Bio = std::unique_ptr<bio_st, BioFree>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG_st, EcdsaSigFree>;

// A POSIX file descriptor, closed on scope exit (negative: none).
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace fasten
