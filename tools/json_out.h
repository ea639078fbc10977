// Compact JSON text, byte for byte what nlohmann's dump(-1, ' ', false, replace) writes (and so
// what DumpJson writes), without its per-byte escaping loop, and with what a response needs on top:
// the size of a dump without building it, and splicing text already serialised into a larger
// document so that no value is serialised twice.
//
// Strings that are not valid UTF-8 are handed to nlohmann (which replaces the bad bytes with
// U+FFFD), as are floating-point numbers (its shortest round-trip spelling), so the output never
// differs from nlohmann's. Thread-safe (no state).
#pragma once

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>

namespace fasten {

// Appends DumpJson(value) to *out.
void AppendJson(const nlohmann::json& value, std::string* out);

// A value of a document to be written as `bytes` (already JSON text) instead of being serialised.
// `node` is the address of that value inside the document being written.
struct JsonSplice {
  const nlohmann::json* node = nullptr;
  std::string_view bytes;
};
// Appends DumpJson(value) to *out, except that each spliced node is written as its bytes.
void AppendJson(const nlohmann::json& value, std::string* out, std::span<const JsonSplice> splices);

// DumpJson(value).size(), without building the text.
size_t JsonDumpSize(const nlohmann::json& value);

// Appends `text` as a JSON string literal (quotes included), as DumpJson writes a string value.
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace fasten
