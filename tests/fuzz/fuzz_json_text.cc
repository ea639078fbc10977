// Fuzzes util/json_text: SkipValue, ReadString, ReadNumberToken, ObjectMembers, ArrayElements.
//
// Input: any bytes, read as JSON text. Checks, besides "no crash, no UB":
// - SkipValue consumes a prefix that SkipValue accepts again, alone and whole;
// - agreement with nlohmann/json (an independent parser): text nlohmann accepts is accepted (when
//   it nests no deeper than kMaxDepth), and for plain text (printable ASCII without \u escapes,
//   NaN, Infinity or numbers beyond a double, where json_text is deliberately more lenient) the
//   two accept exactly the same texts;
// - ObjectMembers/ArrayElements: each member's raw text is one whole value; for text nlohmann
//   accepts, the members (last duplicate wins) and elements equal nlohmann's, and strings decode
//   to nlohmann's strings;
// - ReadString: the decoded text is valid WTF-8 and survives AppendCanonicalString + ReadString
//   unchanged (canonical escaping is lossless);
// - ReadNumberToken: the token is a prefix of the input that nlohmann reads as one number, or one
//   of NaN, Infinity, -Infinity.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "util/json_text.h"
#include "validator/canonical.h"

namespace {

using fasten::fuzz::AsText;
using nlohmann::json;
namespace jt = fasten::json_text;

// True when every code point of `s` decodes without U+FFFD substitution (WTF-8 allows surrogates).
bool IsWtf8(std::string_view s) {
  const char* p = s.data();
  const char* end = p + s.size();
  while (p < end) {
    const char* at = p;
    char32_t cp = jt::NextCodePoint(p, end);
    if (cp == 0xFFFD && !(p - at == 3 && static_cast<unsigned char>(at[0]) == 0xEF)) return false;
  }
  return true;
}

// nlohmann's reading of `text`, discarded when it is not JSON. (nlohmann takes a NUL byte for the
// end of the input; JSON text never holds one.)
json ParseOrDiscard(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return json(json::value_t::discarded);
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

// True when nlohmann rejects `text` only because a number overflows a double (1e400), which
// json_text keeps as a token on purpose.
bool RejectedForOverflow(std::string_view text) {
  try {
    json parsed = json::parse(text.begin(), text.end());
    (void)parsed;
  } catch (const json::exception& e) {  // out_of_range.406: number overflow
    return std::string_view(e.what()).find("number overflow") != std::string_view::npos;
  }
  return false;
}

// Text where json_text and nlohmann must agree exactly: printable ASCII (json_text also takes raw
// control characters inside strings), no \u escapes (json_text keeps lone surrogates), no NaN or
// Infinity tokens, and no number too large for a double.
bool Plain(std::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return text.find("\\u") == std::string_view::npos && text.find("NaN") == std::string_view::npos &&
         text.find("Infinity") == std::string_view::npos && !RejectedForOverflow(text);
}

// A raw high surrogate directly followed by a raw low one (WTF-8): once escaped, the two read
// back as one supplementary code point, so they are the one text escaping does not preserve.
bool HasSurrogatePair(std::string_view s) {
  for (size_t i = 0; i + 6 <= s.size(); ++i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    if (b(0) == 0xED && b(1) >= 0xA0 && b(1) <= 0xAF && b(3) == 0xED && b(4) >= 0xB0 &&
        b(4) <= 0xBF) {
      return true;
    }
  }
  return false;
}

void CheckSkipValue(std::string_view text, bool nlohmann_accepts) {
  const char* p = text.data();
  const char* end = p + text.size();
  std::string error;
  const bool ok = jt::SkipValue(p, end, &error);
  if (!ok) {
    FUZZ_CHECK(!error.empty());
  } else {
    FUZZ_CHECK(p > text.data() && p <= end);
    // The consumed value, alone, is one whole value.
    const char* start = text.data();
    jt::SkipSpace(start, end);
    std::string_view value(start, static_cast<size_t>(p - start));
    const char* q = value.data();
    FUZZ_CHECK(jt::SkipValue(q, value.data() + value.size(), &error));
    FUZZ_CHECK(q == value.data() + value.size());
  }
  const char* rest = p;
  if (ok) jt::SkipSpace(rest, end);
  const bool whole = ok && rest == end;
  if (nlohmann_accepts && fasten::fuzz::TextDepth(text) <= jt::kMaxDepth) {
    FUZZ_CHECK_MSG(whole, "nlohmann accepts a text json_text rejects: " + error);
  }
  if (whole && !nlohmann_accepts && Plain(text)) {
    FUZZ_CHECK_MSG(nlohmann_accepts, "json_text accepts a plain text nlohmann rejects");
  }
}

void CheckReadString(std::string_view text) {
  if (text.empty() || text.front() != '"') return;
  const char* p = text.data();
  std::string decoded, error;
  if (!jt::ReadString(p, text.data() + text.size(), &decoded, &error)) return;
  FUZZ_CHECK(IsWtf8(decoded));
  // The literal as read, checked against nlohmann when it accepts it.
  std::string_view literal(text.data(), static_cast<size_t>(p - text.data()));
  json theirs = ParseOrDiscard(literal);
  if (!theirs.is_discarded()) {
    FUZZ_CHECK(theirs.is_string());
    FUZZ_CHECK_MSG(theirs.get_ref<const std::string&>() == decoded, "decoded differently");
  }
  // Canonical escaping then decoding gives the same code points back. (A raw high surrogate
  // followed by a raw low one is the one exception: once escaped they read as a pair.)
  if (!HasSurrogatePair(decoded)) {
    for (auto style : {fasten::EscapeStyle::kPython, fasten::EscapeStyle::kGo}) {
      std::string escaped, again;
      fasten::AppendCanonicalString(decoded, style, &escaped);
      FUZZ_CHECK(fasten::fuzz::IsAscii(escaped));
      const char* q = escaped.data();
      FUZZ_CHECK(jt::ReadString(q, escaped.data() + escaped.size(), &again, &error));
      FUZZ_CHECK(q == escaped.data() + escaped.size());
      FUZZ_CHECK_MSG(again == decoded, "AppendCanonicalString + ReadString changed the text");
    }
  }
}

void CheckNumber(std::string_view text) {
  const char* p = text.data();
  std::string_view token;
  std::string error;
  if (!jt::ReadNumberToken(p, text.data() + text.size(), &token, &error)) return;
  FUZZ_CHECK(token.data() == text.data() && !token.empty());
  if (token == "NaN" || token == "Infinity" || token == "-Infinity") return;
  json theirs = ParseOrDiscard(token);
  FUZZ_CHECK_MSG(theirs.is_number() || RejectedForOverflow(token),
                 "token " + std::string(token) + " is not a number");
}

void CheckMembers(std::string_view text, const json& theirs) {
  std::vector<jt::Member> members;
  std::string error;
  if (!jt::ObjectMembers(text, &members, &error)) {
    FUZZ_CHECK(!error.empty());
    if (theirs.is_object() && fasten::fuzz::TextDepth(text) <= jt::kMaxDepth) {
      FUZZ_CHECK_MSG(false, "nlohmann accepts an object ObjectMembers rejects: " + error);
    }
    return;
  }
  for (const jt::Member& m : members) {
    const char* p = m.raw.data();
    FUZZ_CHECK(jt::SkipValue(p, m.raw.data() + m.raw.size(), &error));
    FUZZ_CHECK(p == m.raw.data() + m.raw.size());
  }
  if (!theirs.is_object()) return;
  // nlohmann keeps the last of duplicated keys, as ObjectMembers' callers do.
  std::map<std::string, std::string_view> last;
  for (const jt::Member& m : members) last[m.key] = m.raw;
  FUZZ_CHECK(last.size() == theirs.size());
  for (const auto& [key, raw] : last) {
    auto it = theirs.find(key);
    FUZZ_CHECK_MSG(it != theirs.end(), "missing member " + key);
    FUZZ_CHECK_MSG(ParseOrDiscard(raw) == *it, "member " + key + " differs");
  }
}

void CheckElements(std::string_view text, const json& theirs) {
  std::vector<std::string_view> elements;
  std::string error;
  if (!jt::ArrayElements(text, &elements, &error)) {
    FUZZ_CHECK(!error.empty());
    if (theirs.is_array() && fasten::fuzz::TextDepth(text) <= jt::kMaxDepth) {
      FUZZ_CHECK_MSG(false, "nlohmann accepts an array ArrayElements rejects: " + error);
    }
    return;
  }
  for (std::string_view e : elements) {
    const char* p = e.data();
    FUZZ_CHECK(jt::SkipValue(p, e.data() + e.size(), &error));
    FUZZ_CHECK(p == e.data() + e.size());
  }
  // An accepted array is the whole text (up to whitespace), so in plain text nlohmann agrees.
  if (!theirs.is_array() && Plain(text)) {
    FUZZ_CHECK_MSG(theirs.is_array(), "ArrayElements accepts a text that is not a JSON array");
  }
  if (!theirs.is_array()) return;
  FUZZ_CHECK(elements.size() == theirs.size());
  for (size_t i = 0; i < elements.size(); ++i) {
    FUZZ_CHECK_MSG(ParseOrDiscard(elements[i]) == theirs[i], "element " + std::to_string(i));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);
  const json theirs = ParseOrDiscard(text);
  CheckSkipValue(text, !theirs.is_discarded());
  CheckReadString(text);
  CheckNumber(text);
  CheckMembers(text, theirs);
  CheckElements(text, theirs);
  return 0;
}
