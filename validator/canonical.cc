#include "validator/canonical.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "util/json_text.h"

namespace fasten {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendU4(char32_t v, std::string* out) {
  char buf[6] = {'\\',        'u', kHex[(v >> 12) & 15], kHex[(v >> 8) & 15], kHex[(v >> 4) & 15],
                 kHex[v & 15]};
  out->append(buf, 6);
}

// True for the bytes that can be copied to the output unchanged.
inline bool Plain(unsigned char c) {
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

}  // namespace

void AppendCanonicalString(std::string_view text, EscapeStyle style, std::string* out) {
  out->push_back('"');
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const char* run = p;
    while (p < end && Plain(static_cast<unsigned char>(*p))) ++p;
    out->append(run, p);
    if (p >= end) break;
    char32_t cp = json_text::NextCodePoint(p, end);
    switch (cp) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        if (style == EscapeStyle::kPython)
          out->append("\\b");
        else
          AppendU4(cp, out);
        break;
      case '\f':
        if (style == EscapeStyle::kPython)
          out->append("\\f");
        else
          AppendU4(cp, out);
        break;
      default:
        if (cp < 0x10000) {
          AppendU4(cp, out);
        } else {
          char32_t v = cp - 0x10000;
          AppendU4(0xD800 + (v >> 10), out);
          AppendU4(0xDC00 + (v & 0x3FF), out);
        }
    }
  }
  out->push_back('"');
}

bool Canonicalizer::AppendJson(std::string_view text, EscapeStyle style, std::string* out,
                               std::string* error) {
  const char* p = text.data();
  const char* end = p + text.size();
  members_.clear();
  keys_.clear();
  frames_.clear();
  error_.clear();
  bool ok = Value(p, end, style, out);
  if (ok) {
    json_text::SkipSpace(p, end);
    if (p != end) {
      ok = false;
      error_ = "trailing characters after JSON value";
    }
  }
  if (!ok && error) *error = error_.empty() ? "invalid JSON" : error_;
  return ok;
}

bool Canonicalizer::BeginMember(const char*& p, const char* end, EscapeStyle style,
                                std::string* out) {
  json_text::SkipSpace(p, end);
  Member& m = frames_.back().member;
  m.key_begin = keys_.size();
  if (!json_text::ReadString(p, end, &keys_, &error_)) return false;
  m.key_end = keys_.size();
  json_text::SkipSpace(p, end);
  if (p >= end || *p != ':') {
    error_ = "expected ':'";
    return false;
  }
  ++p;
  m.val_begin = out->size();
  AppendCanonicalString(std::string_view(keys_).substr(m.key_begin, m.key_end - m.key_begin), style,
                        out);
  out->push_back(':');
  return true;
}

bool Canonicalizer::Value(const char*& p, const char* end, EscapeStyle style, std::string* out) {
  // Iterative: frames_ holds the containers entered so far, innermost last.
  while (true) {
    // One value, at nesting level frames_.size().
    if (frames_.size() > static_cast<size_t>(json_text::kMaxDepth)) {
      error_ = "nesting too deep";
      return false;
    }
    json_text::SkipSpace(p, end);
    if (p >= end) {
      error_ = "unexpected end of JSON";
      return false;
    }
    switch (*p) {
      case '{':
        ++p;
        json_text::SkipSpace(p, end);
        if (p < end && *p == '}') {
          ++p;
          out->append("{}");
          break;
        }
        frames_.push_back({true, members_.size(), keys_.size(), out->size(), {}});
        if (!BeginMember(p, end, style, out)) return false;
        continue;  // its first value
      case '[':
        ++p;
        out->push_back('[');
        json_text::SkipSpace(p, end);
        if (p < end && *p == ']') {
          ++p;
          out->push_back(']');
          break;
        }
        frames_.push_back({false, 0, 0, 0, {}});
        continue;  // its first value
      case '"':
        text_.clear();
        if (!json_text::ReadString(p, end, &text_, &error_)) return false;
        AppendCanonicalString(text_, style, out);
        break;
      case 't':
      case 'f':
      case 'n': {
        const char* lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
        size_t n = std::strlen(lit);
        if (static_cast<size_t>(end - p) < n || std::memcmp(p, lit, n) != 0) {
          error_ = "bad literal";
          return false;
        }
        out->append(lit, n);
        p += n;
        break;
      }
      default: {
        std::string_view token;
        if (!json_text::ReadNumberToken(p, end, &token, &error_)) return false;
        out->append(token);
        break;
      }
    }
    // A value is complete: it completes its container's current member or element; close every
    // container that ends here, or go on to the next value.
    while (true) {
      if (frames_.empty()) return true;
      Frame& f = frames_.back();
      if (f.object) {
        f.member.val_end = out->size();
        members_.push_back(f.member);
      }
      json_text::SkipSpace(p, end);
      if (p < end && *p == ',') {
        ++p;
        if (!f.object) {
          out->push_back(',');
        } else if (!BeginMember(p, end, style, out)) {
          return false;
        }
        break;
      }
      if (p < end && *p == (f.object ? '}' : ']')) {
        ++p;
        if (f.object) {
          FinishObject(f, out);
        } else {
          out->push_back(']');
        }
        frames_.pop_back();
        continue;
      }
      error_ = f.object ? "expected ',' or '}'" : "expected ',' or ']'";
      return false;
    }
  }
}

void Canonicalizer::FinishObject(const Frame& f, std::string* out) {
  // Sort members by decoded key (WTF-8 byte order = code point order), stably, so that for a
  // duplicated key the last occurrence ends up last; keep only that one.
  const size_t n = members_.size() - f.member_frame;
  order_.resize(n);
  for (size_t i = 0; i < n; ++i) order_[i] = f.member_frame + i;
  auto key = [this](size_t i) {
    return std::string_view(keys_).substr(members_[i].key_begin,
                                          members_[i].key_end - members_[i].key_begin);
  };
  std::stable_sort(order_.begin(), order_.end(),
                   [&](size_t a, size_t b) { return key(a) < key(b); });
  scratch_.clear();
  scratch_.push_back('{');
  bool first = true;
  for (size_t i = 0; i < n; ++i) {
    if (i + 1 < n && key(order_[i]) == key(order_[i + 1])) continue;  // a later value wins
    if (!first) scratch_.push_back(',');
    first = false;
    const Member& m = members_[order_[i]];
    scratch_.append(*out, m.val_begin, m.val_end - m.val_begin);
  }
  scratch_.push_back('}');
  out->resize(f.out_begin);
  out->append(scratch_);
  members_.resize(f.member_frame);
  keys_.resize(f.key_frame);
}

bool Canonicalizer::DetailBytes(const AuditRow& row, EscapeStyle style, std::string* out,
                                std::string* error) {
  out->clear();
  if (row.detail.null) {
    out->append("null");
    return true;
  }
  if (!AppendJson(row.detail.value, style, out, error)) {
    if (error) *error = "detail is not valid JSON (" + *error + ")";
    return false;
  }
  return true;
}

bool Canonicalizer::RowBytes(const AuditRow& row, const RowHashOptions& o, std::string* out,
                             std::string* error) {
  const bool form2 = row.canonical_form_id == "2";
  if (!form2 && row.canonical_form_id != "1") {
    if (error) *error = "unknown canonical_form_id \"" + row.canonical_form_id + "\"";
    return false;
  }
  if (!row.timestamp_ok) {
    if (error) *error = "unparseable timestamp";
    return false;
  }
  const bool z_style = form2 || o.timestamps == RowHashOptions::Timestamps::kCanonicalZ;
  auto ts = [&](Micros t) {
    if (z_style)
      AppendCanonicalTimestamp(t + o.timestamp_shift_us, out);
    else
      AppendIsoformatTimestamp(t + o.timestamp_shift_us, out);
  };
  auto str = [&](const char* key, const std::string& value) {
    out->append(key);
    AppendCanonicalString(value, o.escapes, out);
  };
  out->clear();
  str("{\"action\":", row.action);
  str(",\"actor\":", row.actor);
  str(",\"actor_kind\":", row.actor_kind);
  if (o.include_form_id) str(",\"canonical_form_id\":", row.canonical_form_id);
  str(",\"category\":", row.category);
  str(",\"code\":", row.code);
  if (form2) {
    out->append(",\"detail_commitment\":");
    if (row.detail_commitment.null)
      out->append("null");
    else
      AppendCanonicalString(row.detail_commitment.value, o.escapes, out);
  } else {
    out->append(",\"detail\":");
    if (row.detail.null) {
      out->append("null");
    } else if (!AppendJson(row.detail.value, o.escapes, out, error)) {
      if (error) *error = "detail is not valid JSON (" + *error + ")";
      return false;
    }
  }
  str(",\"domain\":", row.domain);
  str(",\"id\":", row.id);
  str(",\"method\":", row.method);
  out->append(",\"monotonic_seq\":");
  AppendInt(row.monotonic_seq, out);
  str(",\"origin_id\":", row.origin_id);
  str(",\"prev_hash\":", row.prev_hash);
  str(",\"request_id\":", row.request_id);
  str(",\"service_id\":", row.service_id);
  str(",\"severity\":", row.severity);
  out->append(",\"shipped_at\":");
  if (row.shipped_at.null || o.null_shipped_at) {
    out->append("null");
  } else if (row.shipped_at_ok) {
    out->push_back('"');
    ts(row.shipped_at_us);
    out->push_back('"');
  } else {
    if (error) *error = "unparseable shipped_at";
    return false;
  }
  str(",\"source_node_id\":", row.source_node_id);
  str(",\"target\":", row.target);
  out->append(",\"tenant_id\":");
  if (row.tenant_id.null)
    out->append("null");
  else
    AppendCanonicalString(row.tenant_id.value, o.escapes, out);
  out->append(",\"timestamp\":\"");
  ts(row.timestamp_us);
  out->push_back('"');
  static const std::string kWireVersionDefault = "1";
  str(",\"wire_version\":", row.wire_version.empty() ? kWireVersionDefault : row.wire_version);
  out->push_back('}');
  return true;
}

}  // namespace fasten
