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

TEST(JsonText, SkipValueAcceptsNestingUpToTheLimitWithoutRecursion) {
  auto skip = [](const std::string& text, std::string* error) {
    const char* p = text.data();
    const bool ok = SkipValue(p, text.data() + text.size(), error);
    return ok && p == text.data() + text.size();
  };
  std::string error;
  const auto n = static_cast<size_t>(kMaxDepth);
  // kMaxDepth containers nest (the innermost value sits at level kMaxDepth); one more does not.
  EXPECT_TRUE(skip(std::string(n, '[') + "1" + std::string(n, ']'), &error)) << error;
  EXPECT_FALSE(skip(std::string(n + 1, '[') + "1" + std::string(n + 1, ']'), &error));
  EXPECT_EQ(error, "nesting too deep");
  std::string objects;
  for (size_t i = 0; i < n; ++i) objects += R"({"k":)";
  EXPECT_TRUE(skip(objects + "{}" + std::string(n, '}'), &error)) << error;
  // Far beyond the limit (a stack overflow for a recursive reader): refused, not crashed.
  EXPECT_FALSE(skip(std::string(1000000, '['), &error));
  EXPECT_EQ(error, "nesting too deep");
  // Mixed containers, whitespace, every scalar kind.
  EXPECT_TRUE(skip(R"( {"a" : [ 1 , -2.5e3 , "x\"y" , true , false , null , { } , [ ] ] , "b":{}})",
                   &error))
      << error;
  for (const char* bad : {"[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{1:2}", "[", "{\"a\":[}",
                          "[}", "{]", "tru", "[nul]"}) {
    error.clear();
    EXPECT_FALSE(skip(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(JsonText, ArrayElementsRefusesTrailingCharacters) {
  std::vector<std::string_view> e;
  std::string error;
  ASSERT_TRUE(ArrayElements(R"( [1, {"a":[2]}, "x"] )", &e, &error)) << error;
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[1], R"({"a":[2]})");
  EXPECT_TRUE(ArrayElements(" [ ] ", &e, &error)) << error;
  EXPECT_TRUE(e.empty());
  EXPECT_FALSE(ArrayElements("[1] x", &e, &error));
  EXPECT_FALSE(ArrayElements("[] [", &e, &error));
  EXPECT_EQ(error, "trailing characters after JSON array");
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
