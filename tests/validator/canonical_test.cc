#include "validator/canonical.h"

#include <gtest/gtest.h>

#include "util/json_text.h"

namespace fasten {
namespace {

std::string Canon(std::string_view text, EscapeStyle style = EscapeStyle::kPython) {
  Canonicalizer c;
  std::string out, error;
  EXPECT_TRUE(c.AppendJson(text, style, &out, &error)) << error << " for " << text;
  return out;
}

TEST(CanonicalJson, SortsKeysRecursivelyAndDropsWhitespace) {
  EXPECT_EQ(Canon(R"({ "b" : 1 , "a" : { "z" : [ 1 , { "y":2, "x":3 } ], "m": null } })"),
            R"({"a":{"m":null,"z":[1,{"x":3,"y":2}]},"b":1})");
}

TEST(CanonicalJson, SortsByCodePointNotUtf16) {
  // U+FFFF sorts before U+1F600 by code point (UTF-16 order would put the surrogate first).
  EXPECT_EQ(Canon("{\"\\ud83d\\ude00\":1,\"\\uffff\":2,\"z\":3}"),
            "{\"z\":3,\"\\uffff\":2,\"\\ud83d\\ude00\":1}");
}

TEST(CanonicalJson, KeepsNumberTokensExactly) {
  EXPECT_EQ(Canon("[75.0, 1e+20, 1e-07, -0.0, 1e-7, 1.0e5, 123456789012345678901234567890, 2.50]"),
            "[75.0,1e+20,1e-07,-0.0,1e-7,1.0e5,123456789012345678901234567890,2.50]");
  EXPECT_EQ(Canon("[NaN, Infinity, -Infinity]"), "[NaN,Infinity,-Infinity]");
}

TEST(CanonicalJson, EscapesLikeCPythonEnsureAscii) {
  EXPECT_EQ(Canon(R"("a\"b\\c\/d\n\r\t\b\f\u0001\u007f<>&/")"),
            R"("a\"b\\c/d\n\r\t\b\f\u0001\u007f<>&/")");
  EXPECT_EQ(Canon("\"Jos\xC3\xA9 \xF0\x9F\x98\x80\""), R"("Jos\u00e9 \ud83d\ude00")");
  EXPECT_EQ(Canon(R"("\u00E9")"), R"("\u00e9")");  // lowercase hex
}

TEST(CanonicalJson, GoStyleEscapesFormFeedAndBackspaceAsUnicode) {
  EXPECT_EQ(Canon(R"("\b\f")", EscapeStyle::kGo), R"("\u0008\u000c")");
}

TEST(CanonicalJson, LoneSurrogatesSurviveTheRoundTrip) {
  EXPECT_EQ(Canon(R"(["\ud800", "\udc00x", "\ud83d"])"), R"(["\ud800","\udc00x","\ud83d"])");
}

TEST(CanonicalJson, InvalidUtf8BecomesReplacementCharacterPerByte) {
  EXPECT_EQ(Canon("\"a\xFF\xC3\""), R"("a\ufffd\ufffd")");
}

TEST(CanonicalJson, DuplicateKeysKeepTheLastValue) {
  EXPECT_EQ(Canon(R"({"a":1,"b":2,"a":3})"), R"({"a":3,"b":2})");
}

TEST(CanonicalJson, GoHtmlEscapesDecodeToLiterals) {
  EXPECT_EQ(Canon(R"({"x":"\u003cb\u003e \u0026"})"), R"({"x":"<b> &"})");
}

TEST(CanonicalJson, RejectsEveryTruncatedPrefix) {
  const std::string text = R"({"a":[1,2.5,{"b":"c\u00e9"}],"d":true,"e":null})";
  Canonicalizer c;
  for (size_t n = 0; n < text.size(); ++n) {
    std::string out, error;
    EXPECT_FALSE(c.AppendJson(text.substr(0, n), EscapeStyle::kPython, &out, &error))
        << "prefix of length " << n << " accepted";
  }
}

TEST(CanonicalJson, RejectsGarbageWithAReason) {
  Canonicalizer c;
  for (const char* bad :
       {"", "{", "{\"a\"}", "[1,]", "01", "1.", "tru", "\"\\x\"", "{} x", "{'a':1}", "[1 2]"}) {
    std::string out, error;
    EXPECT_FALSE(c.AppendJson(bad, EscapeStyle::kPython, &out, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(CanonicalJson, DeepNestingIsRefusedNotACrash) {
  std::string deep(100000, '[');
  Canonicalizer c;
  std::string out, error;
  EXPECT_FALSE(c.AppendJson(deep, EscapeStyle::kPython, &out, &error));
  EXPECT_EQ(error, "nesting too deep");
}

TEST(CanonicalJson, NestingUpToTheLimitRendersAndSortsAtEveryLevel) {
  // Objects nested so that the innermost array's items sit exactly at level kMaxDepth, each
  // with members out of order: rendered iteratively, sorted at every level. One level more is
  // refused.
  const int n = json_text::kMaxDepth - 1;
  std::string in, want;
  for (int i = 0; i < n; ++i) {
    in += R"({"z":[1,2], "a":)";
    want += R"({"a":)";
  }
  in += "null";
  want += "null";
  for (int i = 0; i < n; ++i) {
    in += ", \"m\": {\"y\":1,\"x\":2}}";
    want += R"(,"m":{"x":2,"y":1},"z":[1,2]})";
  }
  EXPECT_EQ(Canon(in), want);
  Canonicalizer c;
  std::string out, error;
  EXPECT_FALSE(c.AppendJson("[" + in + "]", EscapeStyle::kPython, &out, &error));
  EXPECT_EQ(error, "nesting too deep");
  // The same Canonicalizer renders the next value correctly after a failure.
  out.clear();
  ASSERT_TRUE(c.AppendJson(R"({"b":[{"d":1,"c":2}],"a":{}})", EscapeStyle::kPython, &out, &error));
  EXPECT_EQ(out, R"({"a":{},"b":[{"c":2,"d":1}]})");
}

TEST(CanonicalRow, UnknownFormAndBadTimestampAreReported) {
  AuditRow r;
  r.id = "evt-1";
  r.timestamp = "yesterday";
  r.canonical_form_id = "3";
  Canonicalizer c;
  std::string out, error;
  EXPECT_FALSE(c.RowBytes(r, RowHashOptions(), &out, &error));
  EXPECT_EQ(error, "unknown canonical_form_id \"3\"");
  r.canonical_form_id = "1";
  EXPECT_FALSE(c.RowBytes(r, RowHashOptions(), &out, &error));
  EXPECT_EQ(error, "unparseable timestamp");
}

TEST(CanonicalRow, PreFormIdOmitsTheKeyAndEmptyWireVersionIsOne) {
  AuditRow r;
  r.id = "evt-1";
  r.timestamp = "2026-06-15T10:30:45Z";
  r.timestamp_ok = ParseTimestamp(r.timestamp, &r.timestamp_us);
  r.wire_version = "";
  r.detail.Set("{}");
  Canonicalizer c;
  std::string with, without, error;
  ASSERT_TRUE(c.RowBytes(r, RowHashOptions(), &with, &error));
  RowHashOptions pre;
  pre.include_form_id = false;
  ASSERT_TRUE(c.RowBytes(r, pre, &without, &error));
  EXPECT_NE(with.find("\"canonical_form_id\":\"1\""), std::string::npos);
  EXPECT_EQ(without.find("canonical_form_id"), std::string::npos);
  EXPECT_NE(with.find("\"wire_version\":\"1\""), std::string::npos);
  EXPECT_NE(with.find("\"timestamp\":\"2026-06-15T10:30:45+00:00\""), std::string::npos);
}

}  // namespace
}  // namespace fasten
