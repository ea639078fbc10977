// Base64: base64url without padding (RFC 4648 §5) for opaque cursors and tokens, and standard
// base64 with padding (RFC 4648 §4) for the keys and signatures of signed notes (anchor/).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fasten {

std::string Base64UrlEncode(std::string_view bytes);
// nullopt when `text` holds a character outside the alphabet or has an impossible length.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Standard alphabet ("+/"), padded with '=' to a multiple of four characters.
std::string Base64Encode(std::string_view bytes);
// Strict: nullopt unless `text` is exactly what Base64Encode makes of some bytes (length a
// multiple of four, only the alphabet, '=' only as the one or two final characters, and the
// unused bits of the last character zero). No whitespace is skipped.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace fasten
