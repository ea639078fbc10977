#include "tools/cursor.h"

#include <openssl/crypto.h>

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "util/base64.h"
#include "util/crypto.h"

namespace fasten {
namespace {

constexpr unsigned char kVersion = 0x01;
constexpr size_t kTagBytes = 16;
constexpr size_t kHeaderBytes = 1 + 4;  // version, position length
constexpr std::string_view kOwnerDomain = "fasten-cursor-owner-v1";
constexpr std::string_view kQueryDomain = "fasten-cursor-query-v1";

void PutFixed32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

uint32_t GetFixed32(const char* p) {
  auto b = [p](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

void PutField(std::string* out, std::string_view field) {
  PutFixed32(out, static_cast<uint32_t>(field.size()));
  out->append(field);
}

// The first kTagBytes of HMAC-SHA256(key, domain || 0x00 || L(f) || f for each field f);
// nullopt when OpenSSL fails.
std::optional<std::string> Tag(const std::string& key, std::string_view domain,
                               std::initializer_list<std::string_view> fields) {
  std::string message(domain);
  message.push_back('\0');
  for (std::string_view f : fields) PutField(&message, f);
  unsigned char mac[kSha256Bytes];
  if (!HmacSha256(key, message, mac)) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(mac), kTagBytes);
}

bool SameTag(const std::string& a, std::string_view b) {
  return a.size() == b.size() && ConstantTimeEqual(a.data(), b.data(), a.size());
}

}  // namespace

CursorSigner::CursorSigner(std::string key) : key_(std::move(key)) {
  if (key_.size() < kMinKeyBytes) std::abort();  // a weak MAC key is a configuration bug
}

CursorSigner CursorSigner::WithRandomKey() {
  std::string key(kMinKeyBytes, '\0');
  if (!RandomBytes(key.data(), key.size())) {
    std::abort();  // no randomness: nothing sensible to do
  }
  CursorSigner signer(key);
  OPENSSL_cleanse(key.data(), key.size());
  return signer;
}

CursorSigner::~CursorSigner() {
  OPENSSL_cleanse(key_.data(), key_.size());
}

std::string CursorSigner::Sign(std::string_view tenant, std::string_view query_fingerprint,
                               std::string_view position) const {
  std::optional<std::string> owner = Tag(key_, kOwnerDomain, {tenant, position});
  std::optional<std::string> query = Tag(key_, kQueryDomain, {tenant, query_fingerprint, position});
  if (!owner || !query) std::abort();  // HMAC-SHA256 cannot fail short of a broken OpenSSL
  std::string payload;
  payload.reserve(kHeaderBytes + position.size() + 2 * kTagBytes);
  payload.push_back(static_cast<char>(kVersion));
  PutField(&payload, position);
  payload += *owner;
  payload += *query;
  return Base64UrlEncode(payload);
}

Result<std::string> CursorSigner::Verify(std::string_view cursor, std::string_view tenant,
                                         std::string_view query_fingerprint) const {
  const Status malformed = InvalidArgumentError("cursor is malformed");
  std::optional<std::string> payload = Base64UrlDecode(cursor);
  if (!payload || payload->size() < kHeaderBytes + 2 * kTagBytes) return malformed;
  // One text per payload: refuse spare bits in the last character, so no edit of the text is
  // accepted.
  if (Base64UrlEncode(*payload) != cursor) return malformed;
  if (static_cast<unsigned char>((*payload)[0]) != kVersion) return malformed;
  size_t position_len = GetFixed32(payload->data() + 1);
  if (payload->size() - kHeaderBytes - 2 * kTagBytes != position_len) return malformed;

  std::string_view rest(*payload);
  std::string_view position = rest.substr(kHeaderBytes, position_len);
  std::string_view owner_tag = rest.substr(kHeaderBytes + position_len, kTagBytes);
  std::string_view query_tag = rest.substr(kHeaderBytes + position_len + kTagBytes, kTagBytes);

  std::optional<std::string> owner = Tag(key_, kOwnerDomain, {tenant, position});
  std::optional<std::string> query = Tag(key_, kQueryDomain, {tenant, query_fingerprint, position});
  if (!owner || !query) return InternalError("cursor check failed inside OpenSSL");
  if (!SameTag(*owner, owner_tag)) {
    return InvalidArgumentError("cursor was not issued by this server or for this caller");
  }
  if (!SameTag(*query, query_tag)) {
    return InvalidArgumentError(
        "cursor does not belong to this query (it was issued for different filters); start again "
        "without a cursor");
  }
  return std::string(position);
}

std::string QueryFingerprint(const nlohmann::json& args_without_cursor) {
  nlohmann::json args = args_without_cursor;
  if (args.is_object()) {
    args.erase("cursor");
    args.erase("limit");
    args.erase("offset");
  }
  // nlohmann::json keeps object members sorted, and dump() without an indent is compact.
  std::string canonical = args.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  Sha256 sha;
  return sha.Hex(canonical);
}

}  // namespace fasten
