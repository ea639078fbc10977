#include "validator/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace fasten {

const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? static_cast<const EVP_MD*>(fetched) : EVP_sha256();
  }();
  return md;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) std::abort();  // allocation failure: nothing sensible to do
}

void Sha256::HexInto(std::string_view a, std::string_view b, char out[64]) {
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx_.get(), Sha256Md(), nullptr);
  EVP_DigestUpdate(ctx_.get(), a.data(), a.size());
  if (!b.empty()) EVP_DigestUpdate(ctx_.get(), b.data(), b.size());
  EVP_DigestFinal_ex(ctx_.get(), digest, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
}

std::string Sha256::Hex(std::string_view a, std::string_view b) {
  std::string s(64, '0');
  HexInto(a, b, s.data());
  return s;
}

}  // namespace fasten
