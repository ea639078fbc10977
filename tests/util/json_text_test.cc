#include "util/json_text.h"

#include <gtest/gtest.h>

#include "util/base64.h"

namespace fasten::json_text {
namespace {

TEST(JsonText, ObjectMembersKeepRawValueText) {
  std::vector<Member> m;
  std::string error;
  ASSERT_TRUE(ObjectMembers(R"( {"a": 75.0, "b" : {"x": [1e+20]}, "c":"d\u00e9"} )", &m, &error));
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].key, "a");
  EXPECT_EQ(m[0].raw, "75.0");
  EXPECT_EQ(m[1].raw, R"({"x": [1e+20]})");
  EXPECT_EQ(m[2].raw, R"("d\u00e9")");
}

TEST(JsonText, ReadStringDecodesEscapesAndPairs) {
  std::string in = R"("a\n\u00e9\ud83d\ude00\ud800")", out, error;
  const char* p = in.data();
  ASSERT_TRUE(ReadString(p, in.data() + in.size(), &out, &error));
  EXPECT_EQ(out, "a\n\xC3\xA9\xF0\x9F\x98\x80\xED\xA0\x80");  // lone surrogate in WTF-8
  EXPECT_EQ(p, in.data() + in.size());
}

TEST(JsonText, MalformedInputFailsWithAReason) {
  std::vector<Member> m;
  std::string error;
  for (const char* bad : {"", "[]", "{", R"({"a":})", R"({"a":1,})", R"({"a" 1})",
                          R"({"a":"\u12"})", R"({"a":1} trailing)"}) {
    error.clear();
    EXPECT_FALSE(ObjectMembers(bad, &m, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

// Found by tests/fuzz/fuzz_json_text (crashes/json_text/array_trailing_characters): ArrayElements
// returned at the closing bracket without looking at what followed, unlike ObjectMembers.
TEST(JsonText, ArrayElementsRejectTrailingCharacters) {
  std::vector<std::string_view> e;
  std::string error;
  EXPECT_FALSE(ArrayElements("[1, 2] x", &e, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(ArrayElements("[] []", &e, &error));
  ASSERT_TRUE(ArrayElements(" [1, [2]] \n", &e, &error)) << error;
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[1], "[2]");
  ASSERT_TRUE(ArrayElements("[ ]\t", &e, &error)) << error;
  EXPECT_TRUE(e.empty());
}

TEST(Base64Url, RoundTripsAndRejectsForeignCharacters) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto d = Base64UrlDecode(Base64UrlEncode(s));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, s);
  }
  EXPECT_FALSE(Base64UrlDecode("ab+c").has_value());
  EXPECT_FALSE(Base64UrlDecode("a").has_value());
}

}  // namespace
}  // namespace fasten::json_text
