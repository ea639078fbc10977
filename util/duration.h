// Durations as users type and read them: seconds with up to 3 decimals ("60", "0.5", "1.25").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fasten {

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
