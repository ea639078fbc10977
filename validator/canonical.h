// The canonical bytes of fasten's hash chain (docs/format.md §5.1-§5.3).
//
// The reference is CPython json.dumps(d, sort_keys=True, separators=(',', ':')) with the default
// ensure_ascii=True. Byte rules, all implemented here by hand (no JSON library on this path):
//   C1  object keys sorted ascending by Unicode code point, recursively; a duplicated key keeps
//       its last value (as json.loads does);
//   C2  no whitespace; separators exactly ',' and ':';
//   C3  '"' -> \"   '\' -> \\   LF -> \n   CR -> \r   TAB -> \t   BS -> \b   FF -> \f;
//   C4  every other code point below U+0020, and U+007F, -> \u00xx (lowercase hex);
//   C5  every non-ASCII code point -> \uxxxx (lowercase); above U+FFFF a surrogate pair;
//       a lone surrogate (from a \udxxx escape) is re-emitted as that same escape;
//   C6  '/', '<', '>', '&' stay literal;
//   C7  numbers keep their original tokens (75.0, 1e+20, -0.0, NaN); monotonic_seq is decimal;
//   C8  null/true/false literals; absent tenant_id / shipped_at -> null;
//   C9  the output is pure ASCII.
// Invalid UTF-8 in a stored value is read as U+FFFD per byte (Go's behaviour).
//
// Form "1" hashes 22 keys including `detail` (timestamps as Python isoformat, +00:00);
// form "2" replaces `detail` by `detail_commitment` (timestamps in the canonical Z spelling) and
// commits the detail separately: sha256(ascii(detail_salt) || canonical_json(detail)).
//
// A Canonicalizer reuses its buffers between rows; not thread-safe (one per thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/row.h"

namespace fasten {

// How U+0008 and U+000C are escaped: CPython (\b, \f) or Go's encoder (\u0008, \u000c) for
// [LEGACY FALLBACK: go-control-escapes].
enum class EscapeStyle { kPython, kGo };

// Appends `text` (UTF-8/WTF-8) as a JSON string literal under rules C3-C6.
void AppendCanonicalString(std::string_view text, EscapeStyle style, std::string* out);

// The variations of the hashed object that the verifier may need (docs/format.md §5.5 fallbacks).
struct RowHashOptions {
  enum class Timestamps { kFormDefault, kCanonicalZ };
  Timestamps timestamps = Timestamps::kFormDefault;  // kCanonicalZ = form1-z-timestamp
  bool include_form_id = true;                       // false = pre-form-id
  EscapeStyle escapes = EscapeStyle::kPython;        // kGo = go-control-escapes
  bool null_shipped_at = false;                      // shipped-after-seal
  Micros timestamp_shift_us = 0;                     // -1 = pg-us-rounding
};

class Canonicalizer {
 public:
  Canonicalizer() = default;
  Canonicalizer(const Canonicalizer&) = delete;
  Canonicalizer& operator=(const Canonicalizer&) = delete;

  // Appends the canonical rendering of the JSON `text` to *out. Returns false (with *error set)
  // when the text is not JSON; *out is then unspecified.
  bool AppendJson(std::string_view text, EscapeStyle style, std::string* out, std::string* error);

  // Renders the hashed object of `row` under form "1" or "2" into *out (cleared first).
  // Returns false with *error when the row cannot be rendered (unparseable timestamp, detail that
  // is not JSON, unknown form id).
  bool RowBytes(const AuditRow& row, const RowHashOptions& options, std::string* out,
                std::string* error);

  // Renders canonical_json(detail) into *out (cleared first): the commitment input after the
  // salt. A null detail renders as `null`.
  bool DetailBytes(const AuditRow& row, EscapeStyle style, std::string* out, std::string* error);

 private:
  struct Member {
    size_t key_begin, key_end;  // decoded key in keys_
    size_t val_begin, val_end;  // rendered "key":value in *out
  };
  // An object or array being rendered.
  struct Frame {
    bool object;
    size_t member_frame;  // object: its first member in members_
    size_t key_frame;     // object: where its keys start in keys_
    size_t out_begin;     // object: where its rendering starts in *out ('{' not yet written)
    Member member;        // object: the member being read
  };
  // Renders one JSON value, iteratively (nesting is held in frames_, not on the stack).
  bool Value(const char*& p, const char* end, EscapeStyle style, std::string* out);
  // Reads an object member's key and ':' and renders `"key":` into *out.
  bool BeginMember(const char*& p, const char* end, EscapeStyle style, std::string* out);
  // Replaces the object's members in *out by the sorted, deduplicated object.
  void FinishObject(const Frame& f, std::string* out);

  std::vector<Frame> frames_;
  std::vector<Member> members_;
  std::vector<size_t> order_;
  std::string keys_;
  std::string scratch_;
  std::string text_;
  std::string error_;
};

}  // namespace fasten
