// Bounded JSON parsing: the one way untrusted JSON text becomes an nlohmann::json document.
//
// Every document fasten-mcp builds from outside input (JSON-RPC lines and HTTP bodies, tool
// arguments and _meta inside them, stored audit details and stream payloads shown to callers,
// model provider responses and the tool-call arguments inside them, JWT headers and claims,
// price/cap files, answer files) goes through ParseJson. It enforces two limits while parsing:
//
//   size   the text is refused before parsing when longer than `max_bytes`;
//   depth  at most `max_depth` containers (objects and arrays) nest inside each other; a
//          scalar or an empty container at the top is depth 0, `[[]]` is depth 2.
//
// Parsing never recurses: nlohmann's SAX parser is iterative, and the document is assembled by
// an explicit stack of open containers. Because no document ever holds more than max_depth
// levels, the library's recursive routines on it (copy, dump, compare) stay shallow, and its
// destructor is iterative anyway.
//
// Lone surrogate escapes ("\ud800"), which RFC 8259's grammar allows and JavaScript and Python
// produce but nlohmann rejects, are read as U+FFFD (the replacement character), so such text
// parses and the request it carries can be answered with its id. Invalid UTF-8 bytes, NaN and
// trailing characters are syntax errors.
//
// Thread-safe (no state).
#pragma once

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "util/status.h"

namespace fasten {

struct JsonLimits {
  size_t max_bytes = 1 << 20;
  int max_depth = 64;
};

// The depth every document from outside input is held to (JSON-RPC messages, provider
// responses, stored details and payloads shown to callers, files).
inline constexpr int kMaxJsonDepth = 64;

// Limits for one MCP message (a stdio line or an HTTP body), whose byte limit the transport also
// enforces while reading.
inline constexpr JsonLimits kMessageJsonLimits{1 << 20, kMaxJsonDepth};

// How a parse went.
enum class JsonParseError {
  kNone,
  kSyntax,    // not JSON text (message says what and where)
  kTooLarge,  // longer than max_bytes: nothing was parsed
  kTooDeep,   // nested deeper than max_depth: see ParseJson
};

struct JsonParseResult {
  JsonParseError error = JsonParseError::kNone;
  std::string message;  // empty when error == kNone; names the limit when one was hit
  bool ok() const { return error == JsonParseError::kNone; }
};

// Parses `text` as one JSON value into *out.
// - kNone: *out holds the value.
// - kSyntax, kTooLarge: *out is null.
// - kTooDeep: *out holds the document with every container nested deeper than the limit
//   replaced by null. It is for error reporting only (e.g. to echo a JSON-RPC request's id);
//   never act on it.
JsonParseResult ParseJson(std::string_view text, const JsonLimits& limits, nlohmann::json* out);

// The same as a Status: InvalidArgument for syntax, ResourceExhausted for a limit; `what` names
// the input in the message ("prices file /etc/x.json"). *out is null on error.
Status ParseJsonStatus(std::string_view text, const JsonLimits& limits, const std::string& what,
                       nlohmann::json* out);

// Rewrites every lone surrogate escape (\uD800-\uDFFF not part of a high-low pair) inside the
// string literals of JSON text `text` as \ufffd, in place (the length does not change). Text
// outside string literals is left alone. Returns how many were rewritten.
size_t ReplaceLoneSurrogateEscapes(std::string* text);

}  // namespace fasten
