// Fuzzes validator/canonical: the canonical JSON of `detail` values and of whole rows.
//
// Input: any bytes, read as JSON text (a detail value, and, when it is an object with an "id", an
// NDJSON-style audit row). Checks:
// - AppendJson accepts exactly the texts json_text::SkipValue accepts as one whole value;
// - accepted ⇒ the output is pure ASCII, has no whitespace outside strings, and is a fixed point
//   (canonicalising it again gives the same bytes), in both escape styles;
// - for text nlohmann/json also accepts: the output parses back to the same value (duplicate keys:
//   the last one wins, as in CPython), and when it holds no fractional or exponent numbers and no
//   -0 its bytes equal nlohmann's sorted, ensure_ascii dump (an independent renderer of rules
//   C1-C6);
// - DetailBytes is AppendJson for a non-null detail and `null` for a null one;
// - RowBytes, under each verifier option: keys strictly ascending, 22 of them (21 without the form
//   id), `detail` in form 1 and `detail_commitment` in form 2, ASCII output, text fields and
//   monotonic_seq rendered from the row, timestamps that parse back to the row's instant.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/json_row.h"
#include "tests/fuzz/fuzz_util.h"
#include "util/json_text.h"
#include "validator/canonical.h"

namespace {

using fasten::AuditRow;
using fasten::Canonicalizer;
using fasten::EscapeStyle;
using fasten::RowHashOptions;
using fasten::fuzz::AsText;
using fasten::fuzz::IsAscii;
using nlohmann::json;
namespace jt = fasten::json_text;

// nlohmann's reading of `text`, discarded when it is not JSON. (nlohmann takes a NUL byte for the
// end of the input; JSON text never holds one.)
json ParseOrDiscard(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return json(json::value_t::discarded);
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

// True when `s` has whitespace outside its string literals.
bool SpaceOutsideStrings(std::string_view s) {
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return true;
    }
  }
  return false;
}

// True when `v` holds a number nlohmann would not print with the input's token (a float).
bool HasFloat(const json& v) {
  if (v.is_number_float()) return true;
  if (v.is_structured()) {
    for (const json& child : v) {
      if (HasFloat(child)) return true;
    }
  }
  return false;
}

void CheckDetail(std::string_view text, Canonicalizer& canon) {
  std::string skip_error;
  const char* p = text.data();
  const char* end = p + text.size();
  bool skip_ok = jt::SkipValue(p, end, &skip_error);
  if (skip_ok) {
    jt::SkipSpace(p, end);
    skip_ok = p == end;
  }
  const json theirs = ParseOrDiscard(text);
  for (EscapeStyle style : {EscapeStyle::kPython, EscapeStyle::kGo}) {
    std::string out, error;
    const bool ok = canon.AppendJson(text, style, &out, &error);
    FUZZ_CHECK_MSG(ok == skip_ok,
                   "AppendJson and SkipValue disagree: " + error + " / " + skip_error);
    if (!ok) {
      FUZZ_CHECK(!error.empty());
      continue;
    }
    FUZZ_CHECK(IsAscii(out));
    FUZZ_CHECK(!SpaceOutsideStrings(out));
    std::string again;
    FUZZ_CHECK_MSG(canon.AppendJson(out, style, &again, &error), error);
    FUZZ_CHECK_MSG(again == out, "not a fixed point:\n  " + out + "\n  " + again);

    fasten::AuditRow row;
    row.detail.Set(text);
    std::string detail;
    FUZZ_CHECK(canon.DetailBytes(row, style, &detail, &error));
    FUZZ_CHECK(detail == out);

    if (theirs.is_discarded()) continue;
    FUZZ_CHECK_MSG(ParseOrDiscard(out) == theirs, "the canonical form changed the value: " + out);
    if (style == EscapeStyle::kPython && !HasFloat(theirs) && out.find("-0") == std::string::npos) {
      std::string reference = theirs.dump(-1, ' ', /*ensure_ascii=*/true);
      FUZZ_CHECK_MSG(out == reference, "canonical " + out + "\n  nlohmann  " + reference);
    }
  }
  fasten::AuditRow null_row;
  std::string null_out, error;
  FUZZ_CHECK(canon.DetailBytes(null_row, EscapeStyle::kPython, &null_out, &error));
  FUZZ_CHECK(null_out == "null");
}

// The decoded string member `key` of the rendered object.
std::string Member(const std::vector<jt::Member>& members, const std::string& key) {
  for (const jt::Member& m : members) {
    if (m.key != key) continue;
    std::string out, error;
    const char* p = m.raw.data();
    FUZZ_CHECK_MSG(jt::ReadString(p, m.raw.data() + m.raw.size(), &out, &error), key);
    return out;
  }
  FUZZ_CHECK_MSG(false, "no member " + key);
  return "";
}

// `s` as the canonical writer reads it: valid UTF-8 unchanged (invalid bytes become U+FFFD).
bool ValidUtf8(std::string_view s) {
  const char* p = s.data();
  const char* end = p + s.size();
  while (p < end) {
    const char* at = p;
    char32_t cp = jt::NextCodePoint(p, end);
    if (cp == 0xFFFD && p - at != 3) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  }
  return true;
}

void CheckRow(std::string_view text, Canonicalizer& canon) {
  AuditRow row;
  if (!fasten::AuditRowFromJson(text, &row).ok()) return;
  for (int variant = 0; variant < 6; ++variant) {
    RowHashOptions o;
    o.timestamps = variant & 1 ? RowHashOptions::Timestamps::kCanonicalZ
                               : RowHashOptions::Timestamps::kFormDefault;
    o.include_form_id = variant != 2;
    o.escapes = variant == 3 ? EscapeStyle::kGo : EscapeStyle::kPython;
    o.null_shipped_at = variant == 4;
    o.timestamp_shift_us = variant == 5 ? -1 : 0;
    std::string out, error;
    if (!canon.RowBytes(row, o, &out, &error)) {
      FUZZ_CHECK(!error.empty());
      continue;
    }
    FUZZ_CHECK(row.canonical_form_id == "1" || row.canonical_form_id == "2");
    FUZZ_CHECK(row.timestamp_ok);
    FUZZ_CHECK(IsAscii(out));
    FUZZ_CHECK(!SpaceOutsideStrings(out));
    std::vector<jt::Member> members;
    FUZZ_CHECK_MSG(jt::ObjectMembers(out, &members, &error), error + ": " + out);
    FUZZ_CHECK(members.size() == (o.include_form_id ? 22u : 21u));
    for (size_t i = 1; i < members.size(); ++i) {
      FUZZ_CHECK_MSG(members[i - 1].key < members[i].key, "keys out of order: " + out);
    }
    const bool form2 = row.canonical_form_id == "2";
    bool has_detail = false, has_commitment = false;
    for (const jt::Member& m : members) {
      has_detail = has_detail || m.key == "detail";
      has_commitment = has_commitment || m.key == "detail_commitment";
      if (m.key == "monotonic_seq") FUZZ_CHECK(m.raw == std::to_string(row.monotonic_seq));
      if (m.key == "detail" && !row.detail.null) {
        std::string detail;
        FUZZ_CHECK(canon.AppendJson(row.detail.value, o.escapes, &detail, &error));
        FUZZ_CHECK(m.raw == detail);
      }
    }
    FUZZ_CHECK(has_detail == !form2 && has_commitment == form2);
    for (const auto& [key, value] :
         {std::pair<std::string, const std::string*>{"action", &row.action},
          {"actor", &row.actor},
          {"id", &row.id},
          {"prev_hash", &row.prev_hash},
          {"source_node_id", &row.source_node_id},
          {"target", &row.target}}) {
      if (ValidUtf8(*value)) FUZZ_CHECK_MSG(Member(members, key) == *value, key);
    }
    // The rendered timestamp reads back as the row's instant (shifted), within the years that
    // have a four-digit spelling.
    fasten::Micros lo = 0, hi = 0, t = 0;
    FUZZ_CHECK(fasten::ParseTimestamp("0000-01-01T00:00:00Z", &lo));
    FUZZ_CHECK(fasten::ParseTimestamp("9999-12-31T23:59:59.999999Z", &hi));
    const fasten::Micros want = row.timestamp_us + o.timestamp_shift_us;
    if (want >= lo && want <= hi) {
      FUZZ_CHECK(fasten::ParseTimestamp(Member(members, "timestamp"), &t));
      FUZZ_CHECK(t == want);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);
  static Canonicalizer* canon = new Canonicalizer();  // reused, as the verifier reuses one
  CheckDetail(text, *canon);
  CheckRow(text, *canon);
  return 0;
}
