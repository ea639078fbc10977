// Token-level JSON reading that keeps what generic JSON libraries lose.
//
// These routines read JSON text without building a document: they decode strings, skip values
// and hand back the exact source span of each value, so numbers keep their original tokens
// (75.0 stays 75.0, 1e+20 stays 1e+20). They accept what CPython's json module emits beyond
// RFC 8259: the tokens NaN, Infinity and -Infinity, and lone surrogate escapes such as \ud800.
//
// Decoded strings are WTF-8: UTF-8, except that a lone surrogate escape is kept as the three-byte
// generalised encoding of that surrogate, so it survives a round trip. Bytes of the input that are
// not valid UTF-8 decode to U+FFFD, one per byte (Go's behaviour).
//
// All functions take a cursor `p` into [p, end) and advance it past what they consumed; on
// failure they return false and leave `*error` describing the problem. Thread-safe (no state).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fasten::json_text {

// Skips JSON whitespace (space, tab, CR, LF).
void SkipSpace(const char*& p, const char* end);

// Reads the string literal starting at *p == '"' and appends its decoded WTF-8 bytes to *out.
bool ReadString(const char*& p, const char* end, std::string* out, std::string* error);

// Reads a number token (or NaN / Infinity / -Infinity) and returns its exact spelling.
bool ReadNumberToken(const char*& p, const char* end, std::string_view* token, std::string* error);

// Skips one complete value (validating it). `depth` limits nesting.
bool SkipValue(const char*& p, const char* end, std::string* error, int depth = 0);

// Maximum nesting accepted anywhere (CPython's default recursion limit is of the same order).
inline constexpr int kMaxDepth = 512;

// Decodes the next code point of WTF-8/UTF-8 text at [p, end). Invalid bytes yield U+FFFD and
// advance by one byte. Lone surrogates in generalised encoding yield 0xD800..0xDFFF.
char32_t NextCodePoint(const char*& p, const char* end);

// Appends the WTF-8 encoding of `cp` (which may be a lone surrogate).
void AppendCodePoint(char32_t cp, std::string* out);

}  // namespace fasten::json_text

namespace fasten::json_text {

struct Member {
  std::string key;       // decoded
  std::string_view raw;  // exact source text of the value
};

// Splits a JSON object into its members (in source order), validating every value.
bool ObjectMembers(std::string_view text, std::vector<Member>* members, std::string* error);

// Splits a JSON array into the exact source text of its elements.
bool ArrayElements(std::string_view text, std::vector<std::string_view>* elements,
                   std::string* error);

}  // namespace fasten::json_text
