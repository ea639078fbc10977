#include "tools/json_out.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace fasten {
namespace {

using nlohmann::json;

// What writing a byte of a string takes: 0 copy it, 1 escape it, 2 a byte of a multi-byte
// UTF-8 sequence (copied once the sequence is known to be valid).
constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> c{};
  for (int i = 0; i < 0x20; ++i) c[i] = 1;
  c['"'] = 1;
  c['\\'] = 1;
  for (int i = 0x80; i < 0x100; ++i) c[i] = 2;
  return c;
}();

// The length of the well-formed UTF-8 sequence at p (whose first byte is >= 0x80), or 0 when it
// is not one (Unicode Table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF), the
// same set of sequences nlohmann's decoder accepts.
size_t Utf8Length(const unsigned char* p, const unsigned char* end) {
  const unsigned char b0 = p[0];
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (b0 == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xF1 && b0 <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

std::string NlohmannDump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

struct StringOut {
  std::string* s;
  void Put(char c) { s->push_back(c); }
  void Append(const char* p, size_t n) { s->append(p, n); }
  void Append(std::string_view v) { s->append(v); }
  size_t Mark() const { return s->size(); }
  void Reset(size_t mark) { s->resize(mark); }
};

struct CountOut {
  size_t n = 0;
  void Put(char) { ++n; }
  void Append(const char*, size_t len) { n += len; }
  void Append(std::string_view v) { n += v.size(); }
  size_t Mark() const { return n; }
  void Reset(size_t mark) { n = mark; }
};

// Writes the escaped body of a string (no quotes); false, with part of it written, when the
// text is not valid UTF-8.
template <typename Out>
bool EscapedBody(std::string_view text, Out& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  const auto* run = p;
  while (p < end) {
    const uint8_t k = kClass[*p];
    if (k == 0) {
      ++p;
      continue;
    }
    if (k == 2) {
      const size_t n = Utf8Length(p, end);
      if (n == 0) return false;
      p += n;
      continue;
    }
    out.Append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    switch (*p) {
      case '"':
        out.Append("\\\"", 2);
        break;
      case '\\':
        out.Append("\\\\", 2);
        break;
      case '\b':
        out.Append("\\b", 2);
        break;
      case '\t':
        out.Append("\\t", 2);
        break;
      case '\n':
        out.Append("\\n", 2);
        break;
      case '\f':
        out.Append("\\f", 2);
        break;
      case '\r':
        out.Append("\\r", 2);
        break;
      default: {
        const char u[6] = {'\\', 'u', '0', '0', kHex[*p >> 4], kHex[*p & 0xF]};
        out.Append(u, 6);
      }
    }
    ++p;
    run = p;
  }
  out.Append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
  return true;
}

template <typename Out>
void String(std::string_view text, Out& out) {
  const size_t mark = out.Mark();
  out.Put('"');
  if (EscapedBody(text, out)) {
    out.Put('"');
    return;
  }
  out.Reset(mark);  // invalid UTF-8: nlohmann decides what replaces the bad bytes
  out.Append(NlohmannDump(json(std::string(text))));
}

template <typename Out>
void Integer(auto v, Out& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 24 bytes hold any 64-bit integer
  out.Append(buf, static_cast<size_t>(end - buf));
}

template <typename Out>
void Value(const json& v, Out& out, std::span<const JsonSplice> splices) {
  for (const JsonSplice& s : splices) {
    if (s.node == &v) {
      out.Append(s.bytes);
      return;
    }
  }
  switch (v.type()) {
    case json::value_t::object: {
      const auto& object = v.get_ref<const json::object_t&>();
      if (object.empty()) {
        out.Append("{}", 2);
        return;
      }
      char sep = '{';
      for (const auto& [key, member] : object) {
        out.Put(sep);
        sep = ',';
        String(key, out);
        out.Put(':');
        Value(member, out, splices);
      }
      out.Put('}');
      return;
    }
    case json::value_t::array: {
      const auto& array = v.get_ref<const json::array_t&>();
      if (array.empty()) {
        out.Append("[]", 2);
        return;
      }
      char sep = '[';
      for (const json& element : array) {
        out.Put(sep);
        sep = ',';
        Value(element, out, splices);
      }
      out.Put(']');
      return;
    }
    case json::value_t::string:
      String(v.get_ref<const std::string&>(), out);
      return;
    case json::value_t::boolean:
      if (v.get<bool>())
        out.Append("true", 4);
      else
        out.Append("false", 5);
      return;
    case json::value_t::null:
      out.Append("null", 4);
      return;
    case json::value_t::number_integer:
      Integer(v.get<json::number_integer_t>(), out);
      return;
    case json::value_t::number_unsigned:
      Integer(v.get<json::number_unsigned_t>(), out);
      return;
    case json::value_t::number_float:
    case json::value_t::binary:
    case json::value_t::discarded:
    default:
      out.Append(NlohmannDump(v));  // nlohmann's float spelling; never in tool results otherwise
      return;
  }
}

}  // namespace

void AppendJson(const json& value, std::string* out) {
  StringOut o{out};
  Value(value, o, {});
}

void AppendJson(const json& value, std::string* out, std::span<const JsonSplice> splices) {
  StringOut o{out};
  Value(value, o, splices);
}

size_t JsonDumpSize(const json& value) {
  CountOut o;
  Value(value, o, {});
  return o.n;
}

void AppendJsonString(std::string_view text, std::string* out) {
  StringOut o{out};
  String(text, o);
}

}  // namespace fasten
