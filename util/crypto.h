// The cryptographic primitives every part of fasten-mcp uses, through OpenSSL EVP in one place:
// SHA-256 (the one hashing path shared by chain verification, the citation validator, the demo
// sealer, checkpoints, packs and records), HMAC-SHA256, random bytes and constant-time
// comparison. One Sha256 or DigestStream object reuses its EVP context; not thread-safe (use one
// per thread). The free functions are thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/handles.h"

typedef struct evp_md_st EVP_MD;

namespace fasten {

inline constexpr size_t kSha256Bytes = 32;

// OpenSSL's SHA-256, fetched once for the process (EVP_sha256() in an init fetches it anew every
// time, a measurable share of hashing a short row).
const EVP_MD* Sha256Md();

class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Lowercase hex digest of the concatenation of `a` and `b`.
  std::string Hex(std::string_view a, std::string_view b = {});
  // Writes 64 lowercase hex characters to `out`.
  void HexInto(std::string_view a, std::string_view b, char out[64]);

 private:
  EvpMdCtx ctx_;
};

// Streaming SHA-256, lowercase hex at the end.
class DigestStream {
 public:
  DigestStream();
  void Update(std::string_view bytes);
  std::string FinishHex();  // resets for reuse
  int64_t bytes() const { return bytes_; }

 private:
  EvpMdCtx ctx_;
  int64_t bytes_ = 0;
};

// The raw SHA-256 of `data` into `out` (kSha256Bytes); false when OpenSSL fails.
bool Sha256Bytes(std::string_view data, unsigned char out[kSha256Bytes]);

// HMAC-SHA256(key, data) into `out` (kSha256Bytes); false when OpenSSL fails.
bool HmacSha256(std::string_view key, std::string_view data, unsigned char out[kSha256Bytes]);

// `n` bytes from OpenSSL's CSPRNG (RAND_bytes); false when no secure randomness is available.
bool RandomBytes(void* out, size_t n);

// The `n` bytes at `a` and `b` are equal; the time taken depends on `n` only (CRYPTO_memcmp).
bool ConstantTimeEqual(const void* a, const void* b, size_t n);

}  // namespace fasten
