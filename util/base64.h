// Base64url without padding (RFC 4648 §5), for opaque cursors and tokens.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fasten {

std::string Base64UrlEncode(std::string_view bytes);
// nullopt when `text` holds a character outside the alphabet or has an impossible length.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace fasten
