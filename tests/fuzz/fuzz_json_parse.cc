// Fuzzes the bounded JSON parser (util/json_parse.h ParseJson, ParseJsonStatus,
// ReplaceLoneSurrogateEscapes): the one way outside JSON text becomes a document.
//
// Input: JSON text (any bytes). It is parsed with depth limits 0, 1, 2, 3 and kMaxJsonDepth, and
// with a byte limit one short of its size. Checks, against nlohmann's own unbounded parser as the
// reference (on the text with its lone surrogate escapes read as U+FFFD; a text with a NUL byte,
// which nlohmann takes for the end of the input, is not JSON):
// - the byte limit: a text longer than max_bytes is kTooLarge, with a null document;
// - text the reference accepts parses: OK with the same document when the text nests no deeper
//   than the limit, else kTooDeep with the reference document whose containers below the limit
//   are null;
//   text the reference refuses is kSyntax with a null document;
// - the document never nests deeper than the limit; a limit's message names it;
// - ParseJsonStatus agrees (InvalidArgument for syntax, ResourceExhausted for limits, null out);
// - ReplaceLoneSurrogateEscapes keeps the length, is idempotent, and changes nothing in text
//   nlohmann accepts as it is (proper pairs and escaped backslashes stay).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/fuzz/fuzz_util.h"
#include "util/json_parse.h"

namespace {

using fasten::JsonLimits;
using fasten::JsonParseError;
using fasten::JsonParseResult;
using fasten::fuzz::AsText;
using nlohmann::json;

// Containers nested inside each other in a document: a scalar is 0.
int Depth(const json& v) {
  if (!v.is_structured()) return 0;
  int deepest = 0;
  for (const json& child : v) deepest = std::max(deepest, Depth(child));
  return deepest + 1;
}

// `v` with every container nested deeper than `levels` replaced by null.
json Elide(const json& v, int levels) {
  if (!v.is_structured()) return v;
  if (levels == 0) return nullptr;
  json out = v.is_array() ? json::array() : json::object();
  if (v.is_array()) {
    for (const json& child : v) out.push_back(Elide(child, levels - 1));
  } else {
    for (const auto& [key, child] : v.items()) out[key] = Elide(child, levels - 1);
  }
  return out;
}

void CheckLimit(std::string_view text, const json& reference, bool reference_ok, int max_depth) {
  json out;
  const JsonParseResult r = fasten::ParseJson(text, JsonLimits{text.size(), max_depth}, &out);
  FUZZ_CHECK(r.ok() == r.message.empty());
  if (!reference_ok) {
    FUZZ_CHECK_MSG(r.error == JsonParseError::kSyntax, "the reference refuses; got " + out.dump());
    FUZZ_CHECK(out.is_null());
  } else if (fasten::fuzz::TextDepth(text) <= max_depth) {
    FUZZ_CHECK_MSG(r.ok(), r.message);
    FUZZ_CHECK(out == reference);
  } else {
    FUZZ_CHECK_MSG(r.error == JsonParseError::kTooDeep, r.message);
    FUZZ_CHECK(r.message.find(std::to_string(max_depth)) != std::string::npos);
    FUZZ_CHECK_MSG(out == Elide(reference, max_depth), out.dump());
  }
  if (r.error != JsonParseError::kSyntax) FUZZ_CHECK(Depth(out) <= max_depth);

  json status_out = 1;
  fasten::Status st =
      fasten::ParseJsonStatus(text, JsonLimits{text.size(), max_depth}, "input", &status_out);
  FUZZ_CHECK(st.ok() == r.ok());
  if (!st.ok()) {
    FUZZ_CHECK(status_out.is_null());
    FUZZ_CHECK(st.code() == (r.error == JsonParseError::kSyntax
                                 ? fasten::StatusCode::kInvalidArgument
                                 : fasten::StatusCode::kResourceExhausted));
  } else {
    FUZZ_CHECK(status_out == out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);

  std::string replaced(text);
  const size_t n = fasten::ReplaceLoneSurrogateEscapes(&replaced);
  FUZZ_CHECK(replaced.size() == text.size());
  FUZZ_CHECK((n == 0) == (replaced == text));
  std::string twice = replaced;
  FUZZ_CHECK(fasten::ReplaceLoneSurrogateEscapes(&twice) == 0 && twice == replaced);
  // nlohmann reads a NUL byte as the end of the input; JSON text never holds one.
  const bool has_nul = text.find('\0') != std::string_view::npos;
  if (!has_nul && json::accept(text.begin(), text.end())) FUZZ_CHECK_MSG(n == 0, replaced);

  json reference = json::parse(replaced, nullptr, /*allow_exceptions=*/false);
  const bool reference_ok = !has_nul && !reference.is_discarded();
  for (int depth : {0, 1, 2, 3, fasten::kMaxJsonDepth}) {
    CheckLimit(text, reference, reference_ok, depth);
  }
  if (!text.empty()) {
    json out = 1;
    JsonParseResult r = fasten::ParseJson(text, JsonLimits{text.size() - 1, 64}, &out);
    FUZZ_CHECK(r.error == JsonParseError::kTooLarge && out.is_null());
    FUZZ_CHECK(r.message.find(std::to_string(text.size() - 1)) != std::string::npos);
  }
  return 0;
}
