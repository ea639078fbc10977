#include "tools/cursor.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "util/base64.h"

namespace fasten {
namespace {

using nlohmann::json;

constexpr char kNotOurs[] = "cursor was not issued by this server or for this caller";
constexpr char kOtherQuery[] =
    "cursor does not belong to this query (it was issued for different filters); start again "
    "without a cursor";
constexpr char kMalformed[] = "cursor is malformed";

CursorSigner TestSigner(char fill = 'k') {
  return CursorSigner(std::string(CursorSigner::kMinKeyBytes, fill));
}

std::string Fingerprint() {
  return QueryFingerprint(json{{"code", "LOGIN_FAILED"}, {"since", "now-1h"}, {"limit", 50}});
}

// The message of a rejected cursor; records a failure when it is accepted.
std::string Rejection(const CursorSigner& signer, std::string_view cursor, std::string_view tenant,
                      std::string_view fingerprint) {
  Result<std::string> r = signer.Verify(cursor, tenant, fingerprint);
  EXPECT_FALSE(r.ok()) << "accepted " << cursor;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(ToolCursor, RoundTripsThePosition) {
  CursorSigner signer = TestSigner();
  std::string fp = Fingerprint();
  for (std::string position : {std::string("seq:12345"), std::string(), std::string("a\0b\xff", 4),
                               std::string(5000, 'p')}) {
    std::string cursor = signer.Sign("acme", fp, position);
    Result<std::string> back = signer.Verify(cursor, "acme", fp);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, position);
  }
}

TEST(ToolCursor, IsUnpaddedBase64UrlAndDeterministic) {
  CursorSigner signer = TestSigner();
  std::string cursor = signer.Sign("acme", Fingerprint(), "seq:1");
  EXPECT_EQ(
      cursor.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos)
      << cursor;
  EXPECT_EQ(cursor, signer.Sign("acme", Fingerprint(), "seq:1"));
  // version + length + "seq:1" + two 16-byte tags.
  std::optional<std::string> payload = Base64UrlDecode(cursor);
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(payload->size(), 1u + 4 + 5 + 32);
  EXPECT_EQ((*payload)[0], '\x01');
}

TEST(ToolCursor, RejectsEveryTamperedByte) {
  CursorSigner signer = TestSigner();
  std::string fp = Fingerprint();
  std::string payload = *Base64UrlDecode(signer.Sign("acme", fp, "seq:12345"));
  for (size_t i = 0; i < payload.size(); ++i) {
    for (int bit : {0x01, 0x80}) {
      std::string tampered = payload;
      tampered[i] = static_cast<char>(tampered[i] ^ bit);
      Result<std::string> r = signer.Verify(Base64UrlEncode(tampered), "acme", fp);
      EXPECT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
    }
  }
  // Every edit of the text, including the spare low bits of its last character.
  std::string cursor = Base64UrlEncode(payload);
  ASSERT_NE(payload.size() % 3, 0u);  // so the last character has spare bits
  for (size_t i = 0; i < cursor.size(); ++i) {
    for (char c : {'A', 'B', 'Q', 'g', '-', '_'}) {
      if (cursor[i] == c) continue;
      std::string edited = cursor;
      edited[i] = c;
      EXPECT_FALSE(signer.Verify(edited, "acme", fp).ok()) << "char " << i << " -> " << c;
    }
  }
  // A changed position is caught by the owner tag.
  std::string moved = payload;
  moved[5] = 'S';
  EXPECT_EQ(Rejection(signer, Base64UrlEncode(moved), "acme", fp), kNotOurs);
}

TEST(ToolCursor, RejectsAnotherTenantWithoutNamingIt) {
  CursorSigner signer = TestSigner();
  std::string fp = Fingerprint();
  std::string cursor = signer.Sign("acme", fp, "seq:7");
  std::string message = Rejection(signer, cursor, "globex", fp);
  EXPECT_EQ(message, kNotOurs);
  EXPECT_EQ(message.find("acme"), std::string::npos);
  // Same for a tenant that differs only by a prefix, and for the empty tenant.
  EXPECT_EQ(Rejection(signer, cursor, "acm", fp), kNotOurs);
  EXPECT_EQ(Rejection(signer, cursor, "", fp), kNotOurs);
}

TEST(ToolCursor, RejectsAnotherQuery) {
  CursorSigner signer = TestSigner();
  std::string cursor = signer.Sign("acme", Fingerprint(), "seq:7");
  std::string other = QueryFingerprint(json{{"code", "LOGIN_OK"}, {"since", "now-1h"}});
  EXPECT_EQ(Rejection(signer, cursor, "acme", other), kOtherQuery);
  // A foreign tenant with a different query still only hears that the cursor is not theirs.
  EXPECT_EQ(Rejection(signer, cursor, "globex", other), kNotOurs);
}

TEST(ToolCursor, RejectsAnotherKey) {
  std::string fp = Fingerprint();
  std::string cursor = TestSigner('k').Sign("acme", fp, "seq:7");
  EXPECT_EQ(Rejection(TestSigner('j'), cursor, "acme", fp), kNotOurs);
  CursorSigner a = CursorSigner::WithRandomKey();
  CursorSigner b = CursorSigner::WithRandomKey();
  EXPECT_TRUE(a.Verify(a.Sign("acme", fp, "p"), "acme", fp).ok());
  EXPECT_EQ(Rejection(b, a.Sign("acme", fp, "p"), "acme", fp), kNotOurs);
}

TEST(ToolCursor, RejectsGarbage) {
  CursorSigner signer = TestSigner();
  std::string fp = Fingerprint();
  for (std::string_view text :
       {"", "a", "!!!!", "abc=", "bm90IGEgY3Vyc29y", "seq:12345", "ey J0ZW5hbnQiOiJhY21lIn0"}) {
    EXPECT_EQ(Rejection(signer, text, "acme", fp), kMalformed) << text;
  }
  // Another version, and a length field that disagrees with the payload.
  std::string payload = *Base64UrlDecode(signer.Sign("acme", fp, "seq:1"));
  std::string v2 = payload;
  v2[0] = '\x02';
  EXPECT_EQ(Rejection(signer, Base64UrlEncode(v2), "acme", fp), kMalformed);
  std::string long_len = payload;
  long_len[1] = '\x7f';
  EXPECT_EQ(Rejection(signer, Base64UrlEncode(long_len), "acme", fp), kMalformed);
  EXPECT_EQ(Rejection(signer, Base64UrlEncode(payload + "x"), "acme", fp), kMalformed);
}

TEST(ToolCursor, RejectsEveryTruncation) {
  CursorSigner signer = TestSigner();
  std::string fp = Fingerprint();
  std::string cursor = signer.Sign("acme", fp, "seq:12345");
  for (size_t n = 0; n < cursor.size(); ++n) {
    EXPECT_FALSE(signer.Verify(cursor.substr(0, n), "acme", fp).ok()) << n;
  }
}

TEST(ToolCursor, StaysValidWhenOnlyTheLimitChanges) {
  CursorSigner signer = TestSigner();
  std::string first_page = QueryFingerprint(json{{"code", "X"}, {"limit", 10}});
  std::string cursor = signer.Sign("acme", first_page, "seq:10");
  std::string next_page = QueryFingerprint(json{{"limit", 50}, {"code", "X"}, {"cursor", cursor}});
  EXPECT_EQ(next_page, first_page);
  Result<std::string> back = signer.Verify(cursor, "acme", next_page);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, "seq:10");
}

TEST(QueryFingerprint, IsSha256OfTheSortedCompactDump) {
  // printf '%s' '{"a":"x","b":1,"nested":{"y":[1,2.5,null],"z":true}}' | sha256sum
  json args = json::parse(
      R"({"nested": {"z": true, "y": [1, 2.5, null]}, "limit": 5, "b": 1, "cursor": "c", "a": "x"})");
  EXPECT_EQ(QueryFingerprint(args),
            "d32625e5ea9737e2c083377af15c8b0cb46ee2d9d5116d6f24c6ff4ec01ed6ed");
  // UTF-8 is hashed as UTF-8, not as \u escapes: printf '{"a":"\xc3\xa9"}' | sha256sum
  EXPECT_EQ(QueryFingerprint(json::parse(R"({"a": "\u00e9"})")),
            "b3a092a6af48807fa9482b2ee140105575daa26d5b24b3c0e60a7e2dee6683b1");
}

TEST(QueryFingerprint, DependsOnEveryOtherArgument) {
  std::string base = QueryFingerprint(json{{"code", "X"}});
  EXPECT_EQ(base, QueryFingerprint(json{{"code", "X"}, {"limit", 1}, {"cursor", "abc"}}));
  EXPECT_NE(base, QueryFingerprint(json{{"code", "Y"}}));
  EXPECT_NE(base, QueryFingerprint(json{{"code", "X"}, {"since", "now-1h"}}));
  EXPECT_NE(base, QueryFingerprint(json{{"filter", {{"code", "X"}}}}));
  // Only top-level "limit" and "cursor" are dropped.
  EXPECT_NE(QueryFingerprint(json{{"filter", {{"limit", 1}}}}),
            QueryFingerprint(json{{"filter", {{"limit", 2}}}}));
  EXPECT_EQ(QueryFingerprint(json::object()).size(), 64u);
  EXPECT_EQ(QueryFingerprint(nullptr).size(), 64u);
}

TEST(ToolCursorDeathTest, ShortKeyAborts) {
  EXPECT_DEATH(CursorSigner(std::string(CursorSigner::kMinKeyBytes - 1, 'k')), "");
}

}  // namespace
}  // namespace fasten
