#include "store/payload_tenant.h"

#include <cstdint>

#include "util/json_text.h"

namespace fasten {
namespace {

// What reading one string literal found.
struct StringFacts {
  bool escaped = false;         // any backslash escape
  bool control = false;         // decoded U+0000-U+001F or U+007F
  bool nul_escape = false;      // \u0000
  bool lone_surrogate = false;  // \uD800-\uDFFF not part of a pair
};

// A strict RFC 8259 reader over [p_, end_). Every method returns false on text that is not
// strict JSON; nothing recurses on the input's nesting.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  bool AtEnd() const { return p_ == end_; }
  bool Next(char c) const { return p_ != end_ && *p_ == c; }

  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool Consume(char c) {
    if (!Next(c)) return false;
    ++p_;
    return true;
  }

  // Reads the string literal at '"', appending its decoded UTF-8 to *out (when not null; a lone
  // surrogate is appended in its three-byte generalised form).
  bool String(std::string* out, StringFacts* facts) {
    if (!Consume('"')) return false;
    while (p_ != end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++p_;
        if (!Escape(out, facts)) return false;
        continue;
      }
      if (c < 0x80) {
        if (c == 0x7F) facts->control = true;
        if (out) out->push_back(static_cast<char>(c));
        ++p_;
        continue;
      }
      const char* start = p_;
      if (!Utf8Sequence()) return false;
      if (out) out->append(start, p_);
    }
    return false;
  }

  // Skips one complete value. `depth` is the depth of the container holding it (0 at the top).
  // Facts of every string inside are merged into *facts.
  bool Value(int depth, bool* too_deep, StringFacts* facts) {
    std::string open;  // the containers entered, innermost last
    while (true) {
      SkipSpace();
      if (AtEnd()) return false;
      const char c = *p_;
      bool scalar_done = false;
      if (c == '{' || c == '[') {
        if (depth + static_cast<int>(open.size()) + 1 > kMaxPayloadDepth) {
          *too_deep = true;
          return false;
        }
        ++p_;
        open.push_back(c);
        SkipSpace();
        if (Consume(c == '{' ? '}' : ']')) {
          open.pop_back();
          scalar_done = true;
        } else if (c == '{') {
          if (!MemberKey(facts)) return false;
          continue;
        } else {
          continue;
        }
      } else if (c == '"') {
        if (!String(nullptr, facts)) return false;
        scalar_done = true;
      } else if (c == 't') {
        if (!Literal("true")) return false;
        scalar_done = true;
      } else if (c == 'f') {
        if (!Literal("false")) return false;
        scalar_done = true;
      } else if (c == 'n') {
        if (!Literal("null")) return false;
        scalar_done = true;
      } else {
        if (!Number()) return false;
        scalar_done = true;
      }
      // After a complete value: close containers until one continues with a comma.
      while (scalar_done) {
        if (open.empty()) return true;
        SkipSpace();
        if (Consume(',')) {
          if (open.back() == '{') {
            SkipSpace();
            if (!MemberKey(facts)) return false;
          }
          break;
        }
        if (!Consume(open.back() == '{' ? '}' : ']')) return false;
        open.pop_back();
      }
    }
  }

 private:
  // A member's key and the colon after it.
  bool MemberKey(StringFacts* facts) {
    if (!String(nullptr, facts)) return false;
    SkipSpace();
    return Consume(':');
  }

  bool Literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
      return false;
    p_ += word.size();
    return true;
  }

  bool Digits() {
    const char* start = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != start;
  }

  // -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  bool Number() {
    Consume('-');
    if (Consume('0')) {
      // no leading zeros
    } else if (p_ != end_ && *p_ >= '1' && *p_ <= '9') {
      Digits();
    } else {
      return false;
    }
    if (Consume('.') && !Digits()) return false;
    if (Next('e') || Next('E')) {
      ++p_;
      if (!Consume('+')) Consume('-');
      if (!Digits()) return false;
    }
    return true;
  }

  bool Hex4(uint32_t* out) {
    if (end_ - p_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = *p_++;
      v <<= 4;
      if (h >= '0' && h <= '9')
        v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        v |= static_cast<uint32_t>(h - 'A' + 10);
      else
        return false;
    }
    *out = v;
    return true;
  }

  // The escape after a backslash (p_ is past the backslash).
  bool Escape(std::string* out, StringFacts* facts) {
    if (AtEnd()) return false;
    facts->escaped = true;
    const char e = *p_++;
    uint32_t cp = 0;
    switch (e) {
      case '"':
      case '\\':
      case '/':
        cp = static_cast<uint32_t>(e);
        break;
      case 'b':
        cp = '\b';
        break;
      case 'f':
        cp = '\f';
        break;
      case 'n':
        cp = '\n';
        break;
      case 'r':
        cp = '\r';
        break;
      case 't':
        cp = '\t';
        break;
      case 'u': {
        if (!Hex4(&cp)) return false;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          const char* save = p_;
          uint32_t low = 0;
          if (end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u' && (p_ += 2, Hex4(&low)) &&
              low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else {
            p_ = save;  // whatever follows is read on its own
            facts->lone_surrogate = true;
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          facts->lone_surrogate = true;
        }
        if (cp == 0) facts->nul_escape = true;
        break;
      }
      default:
        return false;
    }
    if (cp < 0x20 || cp == 0x7F) facts->control = true;
    if (out) json_text::AppendCodePoint(static_cast<char32_t>(cp), out);
    return true;
  }

  // One multi-byte UTF-8 sequence at p_ (RFC 3629: no overlong forms, no surrogates, at most
  // U+10FFFF).
  bool Utf8Sequence() {
    auto byte = [&](int i) -> unsigned { return static_cast<unsigned char>(p_[i]); };
    const unsigned c = byte(0);
    int n = 0;
    unsigned lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end_ - p_ < n) return false;
    if (byte(1) < lo || byte(1) > hi) return false;
    for (int i = 2; i < n; ++i) {
      if (byte(i) < 0x80 || byte(i) > 0xBF) return false;
    }
    p_ += n;
    return true;
  }

  const char* p_;
  const char* end_;
};

PayloadTenantResult Ambiguous(Attribution kind) {
  return PayloadTenantResult{std::nullopt, kind};
}

}  // namespace

const char* AttributionName(Attribution kind) {
  switch (kind) {
    case Attribution::kNone:
      return "none";
    case Attribution::kAttributed:
      return "attributed";
    case Attribution::kInvalidJson:
      return "invalid_json";
    case Attribution::kTooDeep:
      return "too_deep";
    case Attribution::kDuplicate:
      return "duplicate";
    case Attribution::kEscapedKey:
      return "escaped_key";
    case Attribution::kNotString:
      return "not_string";
    case Attribution::kControlChar:
      return "control_char";
    case Attribution::kLoneSurrogate:
      return "lone_surrogate";
    case Attribution::kUndecodable:
      return "undecodable";
  }
  return "unknown";
}

PayloadTenantResult PayloadTenant(std::string_view payload) {
  Scanner s(payload);
  bool too_deep = false;
  StringFacts elsewhere;  // every string but the tenant value
  auto invalid = [&] {
    return Ambiguous(too_deep ? Attribution::kTooDeep : Attribution::kInvalidJson);
  };
  s.SkipSpace();
  if (!s.Next('{')) {
    if (!s.Value(0, &too_deep, &elsewhere)) return invalid();
    s.SkipSpace();
    return s.AtEnd() ? PayloadTenantResult{} : invalid();
  }
  s.Consume('{');
  int members = 0;  // top-level members whose decoded key is "tenant_id"
  bool escaped_key = false, not_string = false;
  std::string value;
  StringFacts value_facts;
  s.SkipSpace();
  if (!s.Consume('}')) {
    std::string key;
    while (true) {
      s.SkipSpace();
      key.clear();
      StringFacts key_facts;
      if (!s.String(&key, &key_facts)) return invalid();
      elsewhere.nul_escape |= key_facts.nul_escape;
      elsewhere.lone_surrogate |= key_facts.lone_surrogate;
      s.SkipSpace();
      if (!s.Consume(':')) return invalid();
      s.SkipSpace();
      if (key == "tenant_id") {
        escaped_key |= key_facts.escaped;
        if (++members == 1 && s.Next('"')) {
          if (!s.String(&value, &value_facts)) return invalid();
        } else {
          if (members == 1) not_string = true;
          if (!s.Value(1, &too_deep, &elsewhere)) return invalid();
        }
      } else if (!s.Value(1, &too_deep, &elsewhere)) {
        return invalid();
      }
      s.SkipSpace();
      if (s.Consume(',')) continue;
      if (s.Consume('}')) break;
      return invalid();
    }
  }
  s.SkipSpace();
  if (!s.AtEnd()) return invalid();
  if (members == 0) return PayloadTenantResult{};
  if (members > 1) return Ambiguous(Attribution::kDuplicate);
  if (escaped_key) return Ambiguous(Attribution::kEscapedKey);
  if (not_string) return Ambiguous(Attribution::kNotString);
  if (value_facts.control) return Ambiguous(Attribution::kControlChar);
  if (value_facts.lone_surrogate) return Ambiguous(Attribution::kLoneSurrogate);
  if (elsewhere.nul_escape || elsewhere.lone_surrogate) return Ambiguous(Attribution::kUndecodable);
  return PayloadTenantResult{std::move(value), Attribution::kAttributed};
}

std::string PgPayloadTenantFunctionDdl(const std::string& quoted_schema) {
  return "CREATE OR REPLACE FUNCTION " + quoted_schema + "." + kPgPayloadTenantFunction +
         R"((p text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL UNSAFE STRICT SET search_path = pg_catalog, pg_temp AS $fasten$
DECLARE
  n integer;
  v json;
BEGIN
  IF strpos(p, 'tenant_id') = 0 THEN
    RETURN NULL;
  END IF;
  SELECT count(*), min(e.value::text)::json INTO n, v
    FROM json_each(p::json) AS e WHERE e.key = 'tenant_id';
  IF n <> 1 OR json_typeof(v) <> 'string' THEN
    RETURN NULL;
  END IF;
  RETURN v #>> '{}';
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$fasten$)";
}

bool PayloadBelongsTo(std::string_view payload, std::string_view tenant) {
  PayloadTenantResult r = PayloadTenant(payload);
  return r.tenant && *r.tenant == tenant;
}

}  // namespace fasten
