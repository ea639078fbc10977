#include "util/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>

namespace fasten {
namespace {

void ToHex(const unsigned char digest[kSha256Bytes], char out[64]) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < kSha256Bytes; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
}

}  // namespace

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
  unsigned char digest[kSha256Bytes];
  unsigned int len = 0;
  EVP_DigestInit_ex(ctx_.get(), Sha256Md(), nullptr);
  EVP_DigestUpdate(ctx_.get(), a.data(), a.size());
  if (!b.empty()) EVP_DigestUpdate(ctx_.get(), b.data(), b.size());
  EVP_DigestFinal_ex(ctx_.get(), digest, &len);
  ToHex(digest, out);
}

std::string Sha256::Hex(std::string_view a, std::string_view b) {
  std::string s(64, '0');
  HexInto(a, b, s.data());
  return s;
}

DigestStream::DigestStream() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) std::abort();
  EVP_DigestInit_ex(ctx_.get(), Sha256Md(), nullptr);
}

void DigestStream::Update(std::string_view bytes) {
  EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
  bytes_ += static_cast<int64_t>(bytes.size());
}

std::string DigestStream::FinishHex() {
  unsigned char digest[kSha256Bytes];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), digest, &len);
  std::string out(64, '0');
  ToHex(digest, out.data());
  EVP_DigestInit_ex(ctx_.get(), Sha256Md(), nullptr);
  bytes_ = 0;
  return out;
}

bool Sha256Bytes(std::string_view data, unsigned char out[kSha256Bytes]) {
  unsigned int n = 0;
  return EVP_Digest(data.data(), data.size(), out, &n, Sha256Md(), nullptr) == 1 &&
         n == kSha256Bytes;
}

bool HmacSha256(std::string_view key, std::string_view data, unsigned char out[kSha256Bytes]) {
  size_t len = 0;
  return EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                   reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
                   kSha256Bytes, &len) != nullptr &&
         len == kSha256Bytes;
}

bool RandomBytes(void* out, size_t n) {
  return RAND_bytes(static_cast<unsigned char*>(out), static_cast<int>(n)) == 1;
}

bool ConstantTimeEqual(const void* a, const void* b, size_t n) {
  return CRYPTO_memcmp(a, b, n) == 0;
}

}  // namespace fasten
