#include "util/json_parse.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace fasten {
namespace {

using nlohmann::json;

std::string Nested(int levels, const std::string& inner = "1") {
  return std::string(static_cast<size_t>(levels), '[') + inner +
         std::string(static_cast<size_t>(levels), ']');
}

TEST(JsonParse, ParsesWhatNlohmannParses) {
  const char* texts[] = {
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{}}})",
      R"([1,-2,3.5,1e+20,true,false,null,"s\n\"",{},[]])",
      R"("\ud83d\ude00 and \u00e9")",
      "  {\"a\" : [ 1 , {\"b\":null} ] }  ",
      "0",
  };
  for (const char* t : texts) {
    json got;
    JsonParseResult r = ParseJson(t, {}, &got);
    ASSERT_TRUE(r.ok()) << t << ": " << r.message;
    EXPECT_EQ(got, json::parse(t)) << t;
  }
}

TEST(JsonParse, ADuplicatedKeyKeepsItsLastValueAsNlohmannDoes) {
  json got;
  ASSERT_TRUE(ParseJson(R"({"a":1,"b":2,"a":{"c":3}})", {}, &got).ok());
  EXPECT_EQ(got, json::parse(R"({"a":{"c":3},"b":2})"));
}

TEST(JsonParse, DepthUpToTheLimitIsAcceptedOneMoreIsNot) {
  JsonLimits limits{1 << 20, 8};
  json got;
  ASSERT_TRUE(ParseJson(Nested(8), limits, &got).ok());
  EXPECT_EQ(got.dump(), Nested(8));
  JsonParseResult r = ParseJson(Nested(9), limits, &got);
  EXPECT_EQ(r.error, JsonParseError::kTooDeep);
  EXPECT_NE(r.message.find("limit of 8 levels"), std::string::npos) << r.message;
  // The container past the limit reads as null; everything above it is kept.
  EXPECT_EQ(got.dump(), Nested(8, "null"));
  // Objects count like arrays; an empty container at the limit is fine.
  ASSERT_TRUE(ParseJson(R"({"a":{"b":[{}]}})", JsonLimits{100, 4}, &got).ok());
  EXPECT_EQ(ParseJson(R"({"a":{"b":[{"c":1}]}})", JsonLimits{100, 3}, &got).error,
            JsonParseError::kTooDeep);
}

TEST(JsonParse, TheCrashInputOfIssue12IsRefusedWithoutRecursion) {
  // ~87 k levels overflowed the stack when the parsed document was copied. Now the document
  // never holds more than the limit, and the parse itself does not recurse.
  const std::string deep = Nested(100000);
  json got;
  JsonParseResult r = ParseJson(deep, JsonLimits{1 << 20, kMaxJsonDepth}, &got);
  EXPECT_EQ(r.error, JsonParseError::kTooDeep);
  json copy = got;  // shallow now: copying and dumping are safe
  EXPECT_EQ(copy.dump().size(), static_cast<size_t>(2 * kMaxJsonDepth + 4));

  // A request whose arguments nest that deep still yields its id for the error response.
  const std::string request = R"({"jsonrpc":"2.0","method":"tools/call","params":{"arguments":)" +
                              deep + R"(},"id":"abc"})";
  r = ParseJson(request, JsonLimits{1 << 20, kMaxJsonDepth}, &got);
  EXPECT_EQ(r.error, JsonParseError::kTooDeep);
  EXPECT_EQ(got["id"], "abc");

  // Unbalanced (never closed) and object-shaped nesting end as errors too.
  EXPECT_EQ(ParseJson(std::string(200000, '['), JsonLimits{1 << 20, 64}, &got).error,
            JsonParseError::kSyntax);
  std::string objects;
  for (int i = 0; i < 50000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(50000, '}');
  EXPECT_EQ(ParseJson(objects, JsonLimits{1 << 20, 64}, &got).error, JsonParseError::kTooDeep);
}

TEST(JsonParse, TextOverTheByteLimitIsNotParsed) {
  json got = 5;
  JsonParseResult r = ParseJson(R"({"a":"0123456789"})", JsonLimits{10, 64}, &got);
  EXPECT_EQ(r.error, JsonParseError::kTooLarge);
  EXPECT_NE(r.message.find("limit of 10 bytes"), std::string::npos) << r.message;
  EXPECT_TRUE(got.is_null());
}

TEST(JsonParse, SyntaxErrorsSayWhere) {
  const char* bad[] = {"",         "{",         "[1,]",   "{\"a\":1}x", "NaN",         "[1e400]",
                       "\"\xff\"", "{\"a\" 1}", "tru",    "\"a\\x\"",   "[\"\\u12\"]", "{'a':1}",
                       "01",       "\"\t\"",    "[1] [2]"};
  for (const char* t : bad) {
    json got = 5;
    JsonParseResult r = ParseJson(t, {}, &got);
    EXPECT_EQ(r.error, JsonParseError::kSyntax) << t;
    EXPECT_EQ(r.message.rfind("not valid JSON at byte ", 0), 0u) << r.message;
    EXPECT_TRUE(got.is_null()) << t;
  }
}

// Found by tests/fuzz/fuzz_json_parse (crashes/json_parse/nul_then_garbage): nlohmann's lexer
// reads a NUL byte as the end of the input, so a document followed by NUL and anything at all
// parsed as the document alone.
TEST(JsonParse, ANulByteIsASyntaxErrorNotTheEndOfTheText) {
  using namespace std::string_literals;
  for (const std::string& t : {"{}\0x"s, "{\"jsonrpc\":\"2.0\"}\0"s, "\"\"\0\"\\ud800\""s,
                               "\"a\0b\""s, "[1,\0 2]"s, "\0"s}) {
    json got = 5;
    JsonParseResult r = ParseJson(t, {}, &got);
    EXPECT_EQ(r.error, JsonParseError::kSyntax) << json(t).dump();
    EXPECT_EQ(r.message.rfind("not valid JSON at byte ", 0), 0u) << r.message;
    EXPECT_TRUE(got.is_null()) << json(t).dump();
  }
}

TEST(JsonParse, LoneSurrogateEscapesReadAsTheReplacementCharacter) {
  json got;
  ASSERT_TRUE(ParseJson(R"({"id":"\ud800","x":["a\uDC00b","\ud83d\ude00"]})", {}, &got).ok());
  EXPECT_EQ(got["id"], "\xEF\xBF\xBD");
  EXPECT_EQ(got["x"][0],
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(got["x"][1], "\xF0\x9F\x98\x80");  // a proper pair is a proper character
  // In keys too, and a high surrogate followed by a non-low escape.
  ASSERT_TRUE(ParseJson(R"({"\udbff":"\ud800\u0041"})", {}, &got).ok());
  EXPECT_EQ(got, json::parse("{\"\xEF\xBF\xBD\":\"\xEF\xBF\xBD"
                             "A\"}"));
  // Still a syntax error when something else is wrong.
  EXPECT_EQ(ParseJson(R"(["\ud800",])", {}, &got).error, JsonParseError::kSyntax);
}

TEST(ReplaceLoneSurrogateEscapes, RewritesOnlyLoneEscapesInsideStrings) {
  std::string t = R"(["\ud800", "\\ud800", "\ud83d\ude00", "\udc00\ud800", "x\ud800"])";
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(&t), 4u);
  EXPECT_EQ(t, R"(["\ufffd", "\\ud800", "\ud83d\ude00", "\ufffd\ufffd", "x\ufffd"])");
  std::string outside = R"(\ud800 "a")";
  EXPECT_EQ(ReplaceLoneSurrogateEscapes(&outside), 0u);
}

TEST(JsonParse, StatusFormNamesTheInputAndTheLimit) {
  json got;
  Status st = ParseJsonStatus("[[[1]]]", JsonLimits{100, 2}, "prices file p.json", &got);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "prices file p.json: JSON nested deeper than the limit of 2 levels");
  EXPECT_TRUE(got.is_null());
  st = ParseJsonStatus("[", JsonLimits{}, "answer a.json", &got);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message().rfind("answer a.json: not valid JSON at byte ", 0), 0u) << st.message();
}

}  // namespace
}  // namespace fasten
