// Tool cursors: opaque, HMAC-signed page positions bound to a tenant and a query (docs/mcp.md §4.1
// rule 5), so a cursor replayed by another tenant, for other filters, or after a key change is
// rejected instead of paging through the wrong data.
//
// Format, version 1. All integers are big-endian; L(x) is x's length as 4 bytes.
//
//   cursor    = base64url-without-padding(payload)
//   payload   = 0x01 || L(position) || position || owner_tag || query_tag
//   owner_tag = first 16 bytes of HMAC-SHA256(key, "fasten-cursor-owner-v1" || 0x00 ||
//                                             L(tenant) || tenant || L(position) || position)
//   query_tag = first 16 bytes of HMAC-SHA256(key, "fasten-cursor-query-v1" || 0x00 ||
//                                             L(tenant) || tenant ||
//                                             L(fingerprint) || fingerprint ||
//                                             L(position) || position)
//
// Verify accepts only the canonical text of a payload (the spare low bits of the last character
// are zero), so any edit of the text is rejected. Every field is length-prefixed, so no choice of
// tenant, fingerprint or position can collide with another. Two tags let Verify say which check
// failed: the owner tag proves the cursor came from this key for this tenant, the query tag that it
// also came from this query. Neither tells a caller anything about another tenant; both are
// compared in constant time (CRYPTO_memcmp). The position is authenticated, not encrypted: the
// client can decode it, so put nothing secret in it. A cursor does not expire by itself; a new key
// (a restart with WithRandomKey) invalidates all.
//
// Thread-safety: a CursorSigner is immutable; Sign and Verify may run on many threads.
#pragma once

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "util/status.h"

namespace fasten {

class CursorSigner {
 public:
  static constexpr size_t kMinKeyBytes = 32;

  // REQUIRES: key.size() >= kMinKeyBytes. A shorter key aborts the process: check the length
  // where the key is configured.
  explicit CursorSigner(std::string key);
  // A signer with a fresh 32-byte key from RAND_bytes; its cursors die with it.
  static CursorSigner WithRandomKey();

  CursorSigner(const CursorSigner&) = default;
  CursorSigner& operator=(const CursorSigner&) = default;
  CursorSigner(CursorSigner&&) = default;
  CursorSigner& operator=(CursorSigner&&) = default;
  ~CursorSigner();  // wipes the key

  // The cursor text (base64url) for `position`, bound to `tenant` and `query_fingerprint`.
  // REQUIRES: each argument is shorter than 4 GiB.
  std::string Sign(std::string_view tenant, std::string_view query_fingerprint,
                   std::string_view position) const;

  // The position signed into `cursor`, when it was signed by this key for `tenant` and
  // `query_fingerprint`. Otherwise InvalidArgument with one of:
  //   "cursor is malformed"
  //   "cursor was not issued by this server or for this caller"
  //   "cursor does not belong to this query (it was issued for different filters); start again
  //    without a cursor"
  // (Internal only if OpenSSL itself fails.)
  Result<std::string> Verify(std::string_view cursor, std::string_view tenant,
                             std::string_view query_fingerprint) const;

 private:
  std::string key_;
};

// What a cursor is bound to: the lowercase hex SHA-256 of the compact, sorted-key JSON dump of a
// tool's arguments without "cursor", "limit" (the page size may change between pages) and
// "offset" (the next page of an offset page is asked for by its cursor, without the offset). A
// non-object is hashed as it is. Numbers keep their JSON type: 1 and 1.0 differ.
std::string QueryFingerprint(const nlohmann::json& args_without_cursor);

}  // namespace fasten
