// Durations as users type and read them: seconds with up to 3 decimals ("60", "0.5", "1.25").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fasten {

// "60" -> 60000 ms, "0.5" -> 500 ms, "1.25" -> 1250 ms; nullopt unless the text is 1-9 digits,
// optionally followed by '.' and 1-3 digits (no sign, exponent or spaces).
inline std::optional<std::chrono::milliseconds> ParseSeconds(std::string_view text) {
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  auto digits = [](std::string_view s) {
    return s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (whole.empty() || whole.size() > 9 || !digits(whole) || !digits(frac) || frac.size() > 3 ||
      (dot != std::string_view::npos && frac.empty())) {
    return std::nullopt;
  }
  int64_t ms = 0;
  for (char c : whole) ms = ms * 10 + (c - '0');
  ms *= 1000;
  int64_t scale = 100;
  for (char c : frac) {
    ms += (c - '0') * scale;
    scale /= 10;
  }
  return std::chrono::milliseconds(ms);
}

// 60000 ms -> "60", 500 ms -> "0.5", 1250 ms -> "1.25".
inline std::string FormatSeconds(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  std::string s = std::to_string(ms / 1000);
  if (const int64_t frac = ms % 1000) {
    std::string f = std::to_string(frac < 0 ? -frac : frac);
    f.insert(0, 3 - f.size(), '0');
    while (f.back() == '0') f.pop_back();
    s += "." + f;
  }
  return s;
}

}  // namespace fasten
