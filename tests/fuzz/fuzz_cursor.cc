// Fuzzes tool cursors (tools/cursor.h CursorSigner, QueryFingerprint; store/reader.h AuditKey's
// cursor position; util/base64.h).
//
// Input: CURSOR '\n' TENANT '\n' FINGERPRINT '\n' POSITION (any bytes; missing parts are empty).
// The signing key is fixed here. Checks:
// - Verify(CURSOR) accepts only what Sign made for that tenant, fingerprint and position: an
//   accepted cursor equals Sign(TENANT, FINGERPRINT, position);
// - Sign then Verify returns POSITION; the same cursor is refused for any other tenant ("not
//   issued ... for this caller") and any other fingerprint ("does not belong to this query"),
//   and after any one-character edit, truncation or extension;
// - refusals are InvalidArgument with one of the three documented messages;
// - base64url: Decode(Encode(x)) == x; a decoded text re-encodes to itself when Verify accepted;
// - AuditKey: a position that decodes re-encodes to a text that decodes to the same key;
// - QueryFingerprint of a JSON object ignores "cursor" and "limit", and is 64 lowercase hex.
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "store/reader.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/cursor.h"
#include "util/base64.h"

namespace {

using fasten::CursorSigner;
using fasten::fuzz::AsText;

const CursorSigner& Signer() {
  static const CursorSigner* signer = new CursorSigner("fuzz-driver-cursor-key-0123456789abcdef");
  return *signer;
}

constexpr char kMalformed[] = "cursor is malformed";
constexpr char kNotIssued[] = "cursor was not issued by this server or for this caller";
constexpr char kOtherQuery[] =
    "cursor does not belong to this query (it was issued for different filters); start again "
    "without a cursor";

void CheckRefusal(const fasten::Result<std::string>& r) {
  FUZZ_CHECK(!r.ok());
  FUZZ_CHECK_MSG(r.status().code() == fasten::StatusCode::kInvalidArgument, r.status().ToString());
  const std::string& m = r.status().message();
  FUZZ_CHECK_MSG(m == kMalformed || m == kNotIssued || m == kOtherQuery, m);
}

void CheckAuditKey(std::string_view text) {
  std::optional<fasten::AuditKey> key = fasten::AuditKey::Decode(text);
  if (!key) return;
  std::optional<fasten::AuditKey> again = fasten::AuditKey::Decode(key->Encode());
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->ts_prefix == key->ts_prefix && again->ts_us == key->ts_us &&
             again->seq == key->seq && again->node == key->node && again->id == key->id);
}

void CheckFingerprint(std::string_view text) {
  nlohmann::json args = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (!args.is_object()) return;
  const std::string fp = fasten::QueryFingerprint(args);
  FUZZ_CHECK(fp.size() == 64 && fp.find_first_not_of("0123456789abcdef") == std::string::npos);
  nlohmann::json paged = args;
  paged["cursor"] = "next";
  paged["limit"] = 7;
  FUZZ_CHECK(fasten::QueryFingerprint(paged) == fp);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = fasten::fuzz::SplitFirst(AsText(data, size), '\n', 4);
  parts.resize(4);
  const std::string_view cursor = parts[0], tenant = parts[1], fingerprint = parts[2],
                         position = parts[3];
  const CursorSigner& signer = Signer();

  // A fuzzed cursor is accepted only when it is exactly what Sign would make.
  fasten::Result<std::string> verified = signer.Verify(cursor, tenant, fingerprint);
  if (verified.ok()) {
    FUZZ_CHECK(signer.Sign(tenant, fingerprint, *verified) == cursor);
    auto decoded = fasten::Base64UrlDecode(cursor);
    FUZZ_CHECK(decoded && fasten::Base64UrlEncode(*decoded) == cursor);
  } else {
    CheckRefusal(verified);
  }
  auto decoded = fasten::Base64UrlDecode(cursor);
  if (decoded) FUZZ_CHECK(fasten::Base64UrlDecode(fasten::Base64UrlEncode(*decoded)) == *decoded);
  FUZZ_CHECK(fasten::Base64UrlDecode(fasten::Base64UrlEncode(position)) == position);

  // Sign, then Verify, bound to tenant and query.
  const std::string signed_cursor = signer.Sign(tenant, fingerprint, position);
  fasten::Result<std::string> back = signer.Verify(signed_cursor, tenant, fingerprint);
  FUZZ_CHECK_MSG(back.ok(), back.status().ToString());
  FUZZ_CHECK(*back == position);
  const std::string other_tenant = std::string(tenant) + "x";
  fasten::Result<std::string> r = signer.Verify(signed_cursor, other_tenant, fingerprint);
  FUZZ_CHECK(!r.ok() && r.status().message() == kNotIssued);
  r = signer.Verify(signed_cursor, tenant, std::string(fingerprint) + "x");
  FUZZ_CHECK(!r.ok() && r.status().message() == kOtherQuery);

  // Edits: one character changed (at a place the input picks), the last dropped, one added.
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t at = (cursor.size() * 31 + position.size()) % signed_cursor.size();
  std::string edited = signed_cursor;
  const char* now = std::strchr(kAlphabet, edited[at]);
  FUZZ_CHECK(now != nullptr);
  edited[at] = kAlphabet[(now - kAlphabet + 1 + cursor.size() % 63) % 64];
  CheckRefusal(signer.Verify(edited, tenant, fingerprint));
  CheckRefusal(
      signer.Verify(signed_cursor.substr(0, signed_cursor.size() - 1), tenant, fingerprint));
  CheckRefusal(signer.Verify(signed_cursor + "A", tenant, fingerprint));

  CheckAuditKey(cursor);
  CheckAuditKey(position);
  CheckFingerprint(position);
  return 0;
}
