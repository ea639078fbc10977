#include "util/json_text.h"

#include <cstring>

namespace fasten::json_text {
namespace {

bool Fail(std::string* error, const char* what) {
  if (error) *error = what;
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ReadHex4(const char*& p, const char* end, char32_t* value) {
  if (end - p < 4) return false;
  char32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    int h = HexValue(p[i]);
    if (h < 0) return false;
    v = (v << 4) | static_cast<char32_t>(h);
  }
  p += 4;
  *value = v;
  return true;
}

bool MatchLiteral(const char*& p, const char* end, const char* lit) {
  size_t n = std::strlen(lit);
  if (static_cast<size_t>(end - p) < n || std::memcmp(p, lit, n) != 0) return false;
  p += n;
  return true;
}

}  // namespace

void SkipSpace(const char*& p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
}

char32_t NextCodePoint(const char*& p, const char* end) {
  auto b0 = static_cast<unsigned char>(*p);
  if (b0 < 0x80) {
    ++p;
    return b0;
  }
  int len;
  char32_t cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    ++p;
    return 0xFFFD;
  }
  if (end - p < len) {
    ++p;
    return 0xFFFD;
  }
  for (int i = 1; i < len; ++i) {
    auto b = static_cast<unsigned char>(p[i]);
    if ((b & 0xC0) != 0x80) {
      ++p;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  // Reject overlong forms and out-of-range values; surrogates (generalised UTF-8) are allowed.
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
    ++p;
    return 0xFFFD;
  }
  p += len;
  return cp;
}

void AppendCodePoint(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool ReadString(const char*& p, const char* end, std::string* out, std::string* error) {
  if (p >= end || *p != '"') return Fail(error, "expected a string");
  ++p;
  while (true) {
    // Copy the plain run in one go.
    const char* run = p;
    while (p < end && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) < 0x80) ++p;
    out->append(run, p);
    if (p >= end) return Fail(error, "unterminated string");
    char c = *p;
    if (c == '"') {
      ++p;
      return true;
    }
    if (c != '\\') {
      // Non-ASCII: validate and normalise (invalid bytes become U+FFFD).
      AppendCodePoint(NextCodePoint(p, end), out);
      continue;
    }
    ++p;
    if (p >= end) return Fail(error, "unterminated escape");
    char e = *p++;
    switch (e) {
      case '"':
        out->push_back('"');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '/':
        out->push_back('/');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        char32_t cp;
        if (!ReadHex4(p, end, &cp)) return Fail(error, "bad \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
          const char* q = p + 2;
          char32_t low;
          if (ReadHex4(q, end, &low) && low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            p = q;
          }
        }
        AppendCodePoint(cp, out);
        break;
      }
      default:
        return Fail(error, "bad escape character");
    }
  }
}

bool ReadNumberToken(const char*& p, const char* end, std::string_view* token, std::string* error) {
  const char* start = p;
  if (MatchLiteral(p, end, "NaN") || MatchLiteral(p, end, "Infinity") ||
      MatchLiteral(p, end, "-Infinity")) {
    *token = std::string_view(start, p - start);
    return true;
  }
  if (p < end && *p == '-') ++p;
  if (p >= end) return Fail(error, "bad number");
  if (*p == '0') {
    ++p;
  } else if (*p >= '1' && *p <= '9') {
    while (p < end && *p >= '0' && *p <= '9') ++p;
  } else {
    return Fail(error, "bad number");
  }
  if (p < end && *p == '.') {
    ++p;
    if (p >= end || *p < '0' || *p > '9') return Fail(error, "bad number fraction");
    while (p < end && *p >= '0' && *p <= '9') ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p >= end || *p < '0' || *p > '9') return Fail(error, "bad number exponent");
    while (p < end && *p >= '0' && *p <= '9') ++p;
  }
  *token = std::string_view(start, p - start);
  return true;
}

bool SkipValue(const char*& p, const char* end, std::string* error, int depth) {
  // Iterative: `open` holds the containers entered so far ('{' or '['), innermost last, so
  // nesting costs one byte of heap per level and no stack.
  std::string open;
  std::string scratch;
  // Reads an object member's key and its ':' (the value follows).
  auto member_key = [&]() {
    SkipSpace(p, end);
    scratch.clear();
    if (!ReadString(p, end, &scratch, error)) return false;
    SkipSpace(p, end);
    if (p >= end || *p != ':') return Fail(error, "expected ':'");
    ++p;
    return true;
  };
  while (true) {
    // One value, at nesting level depth + open.size().
    if (depth + static_cast<int>(open.size()) > kMaxDepth) return Fail(error, "nesting too deep");
    SkipSpace(p, end);
    if (p >= end) return Fail(error, "unexpected end of JSON");
    const char c = *p;
    if (c == '{' || c == '[') {
      ++p;
      SkipSpace(p, end);
      if (p < end && *p == (c == '{' ? '}' : ']')) {
        ++p;  // empty: the value is complete
      } else {
        open.push_back(c);
        if (c == '{' && !member_key()) return false;
        continue;  // its first value
      }
    } else if (c == '"') {
      scratch.clear();
      if (!ReadString(p, end, &scratch, error)) return false;
    } else if (c == 't' || c == 'f' || c == 'n') {
      if (!MatchLiteral(p, end, c == 't' ? "true" : c == 'f' ? "false" : "null")) {
        return Fail(error, "bad literal");
      }
    } else {
      std::string_view token;
      if (!ReadNumberToken(p, end, &token, error)) return false;
    }
    // The value is complete: close every container it completes, or move to the next value.
    while (true) {
      if (open.empty()) return true;
      const bool object = open.back() == '{';
      SkipSpace(p, end);
      if (p < end && *p == ',') {
        ++p;
        if (object && !member_key()) return false;
        break;
      }
      if (p < end && *p == (object ? '}' : ']')) {
        ++p;
        open.pop_back();
        continue;
      }
      return Fail(error, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
}

}  // namespace fasten::json_text

namespace fasten::json_text {

bool ObjectMembers(std::string_view text, std::vector<Member>* members, std::string* error) {
  members->clear();
  const char* p = text.data();
  const char* end = p + text.size();
  SkipSpace(p, end);
  if (p >= end || *p != '{') {
    if (error) *error = "expected a JSON object";
    return false;
  }
  ++p;
  SkipSpace(p, end);
  if (p < end && *p == '}') {
    ++p;
  } else {
    while (true) {
      SkipSpace(p, end);
      Member m;
      if (!ReadString(p, end, &m.key, error)) return false;
      SkipSpace(p, end);
      if (p >= end || *p != ':') {
        if (error) *error = "expected ':'";
        return false;
      }
      ++p;
      SkipSpace(p, end);
      const char* start = p;
      if (!SkipValue(p, end, error, 1)) return false;
      m.raw = std::string_view(start, static_cast<size_t>(p - start));
      members->push_back(std::move(m));
      SkipSpace(p, end);
      if (p < end && *p == ',') {
        ++p;
        continue;
      }
      if (p < end && *p == '}') {
        ++p;
        break;
      }
      if (error) *error = "expected ',' or '}'";
      return false;
    }
  }
  SkipSpace(p, end);
  if (p != end) {
    if (error) *error = "trailing characters after JSON object";
    return false;
  }
  return true;
}

bool ArrayElements(std::string_view text, std::vector<std::string_view>* elements,
                   std::string* error) {
  elements->clear();
  const char* p = text.data();
  const char* end = p + text.size();
  SkipSpace(p, end);
  if (p >= end || *p != '[') {
    if (error) *error = "expected a JSON array";
    return false;
  }
  ++p;
  SkipSpace(p, end);
  if (p < end && *p == ']') {
    ++p;
  } else {
    while (true) {
      SkipSpace(p, end);
      const char* start = p;
      if (!SkipValue(p, end, error, 1)) return false;
      elements->emplace_back(start, static_cast<size_t>(p - start));
      SkipSpace(p, end);
      if (p < end && *p == ',') {
        ++p;
        continue;
      }
      if (p < end && *p == ']') {
        ++p;
        break;
      }
      if (error) *error = "expected ',' or ']'";
      return false;
    }
  }
  SkipSpace(p, end);
  if (p != end) {
    if (error) *error = "trailing characters after JSON array";
    return false;
  }
  return true;
}

}  // namespace fasten::json_text
