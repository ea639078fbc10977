// Helpers for the libFuzzer drivers in tests/fuzz/ (docs/fuzzing.md).
//
// Every driver defines LLVMFuzzerTestOneInput. Under the fuzz build (-DFASTEN_FUZZ=ON, clang)
// libFuzzer supplies main(); under the normal build replay_main.cc does, running every file of the
// driver's corpus and crashes directories once, so ctest replays all seeds and past crashes.
//
// A driver states the properties it checks with FUZZ_CHECK: a failed check prints the condition
// and aborts, which libFuzzer reports as a crash (and keeps the input) and ctest as a failure.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace fasten::fuzz {

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* what,
                                     const std::string& detail) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s%s%s\n", file, line, what,
               detail.empty() ? "" : "\n  ", detail.c_str());
  std::abort();
}

// How deep the containers of JSON text nest: brackets outside string literals. The drivers'
// references judge depth limits on the text, as the parsers do (a deep value that a later
// duplicate key replaces still counts).
inline int TextDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// The input as text (any bytes, including NUL).
inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// Splits `text` at the first `parts - 1` occurrences of `separator`; the last part holds the rest
// (separators included). Fewer parts come back when the separator runs out.
inline std::vector<std::string_view> SplitFirst(std::string_view text, char separator,
                                                size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    size_t at = text.find(separator);
    if (at == std::string_view::npos) break;
    out.push_back(text.substr(0, at));
    text.remove_prefix(at + 1);
  }
  out.push_back(text);
  return out;
}

inline bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace fasten::fuzz

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) ::fasten::fuzz::CheckFailed(__FILE__, __LINE__, #cond, std::string()); \
  } while (0)

// The same, printing `detail` (a std::string expression) when the check fails.
#define FUZZ_CHECK_MSG(cond, detail)                                               \
  do {                                                                             \
    if (!(cond)) ::fasten::fuzz::CheckFailed(__FILE__, __LINE__, #cond, (detail)); \
  } while (0)
