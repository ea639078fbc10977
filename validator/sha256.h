// SHA-256 through OpenSSL EVP: the one hashing path shared by chain verification, the citation
// validator and the demo sealer. One Sha256 object reuses its EVP context; not thread-safe (use
// one per thread).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "util/handles.h"

typedef struct evp_md_st EVP_MD;

namespace fasten {

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

}  // namespace fasten
