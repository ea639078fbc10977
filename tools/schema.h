// A validator for the JSON Schema subset that MCP tool input schemas use (docs/mcp.md §4.2), with
// error messages written for a model to act on.
//
// Keywords: `type` (string, integer, number, boolean, object, array, null, or an array of them),
// `properties`, `required`, `additionalProperties` (a boolean or a schema), `items` (one schema),
// `minItems`, `maxItems`, `uniqueItems`, `enum`, `const`, `minimum`, `maximum`, `minLength`,
// `maxLength`, `pattern`. Annotations are
// accepted and ignored: `description`, `default`, `title`, `examples`, `format`, `$schema`, `$id`,
// `$comment`, `readOnly`, `writeOnly`, `deprecated` and any `x-…` extension. A boolean schema
// (`true`, `false`) is accepted anywhere a schema is. Any other keyword (`$ref`, `anyOf`,
// `contains`, a tuple-form `items`…) makes the schema unsupported rather than silently ignored.
//
// Semantics follow draft-07 and 2020-12 where they agree:
// - "integer" accepts any number with a zero fractional part, so 5.0 is an integer; booleans are
//   never numbers. "number" accepts integers.
// - `enum`, `const` and `uniqueItems` compare numbers by value (1 == 1.0).
// - An array's item count (`maxItems`, `minItems`) is checked before its items are looked at.
// - `minLength`/`maxLength` count Unicode code points, not bytes.
// - `pattern` is an unanchored ECMAScript search (std::regex), matched against the UTF-8 bytes
//   (so `.` matches one byte, `\w` is ASCII). A string longer than kMaxPatternInputBytes is
//   refused rather than searched, because std::regex recurses once per character.
// - `format` is ignored: time arguments also take relative forms such as "now-1h", which no
//   standard format allows; the tool parses them.
//
// Errors. A value that does not conform yields InvalidArgument naming the JSON path and what to
// change, e.g. "limit: must be an integer from 1 to 200; got 5000". The root is called
// "arguments", its members "arguments" and deeper members "fields". Only the first error is
// reported, in a fixed order: at each object, `required` (in its order), then `properties` (in the
// schema object's iteration order), then the value's other members (sorted). A schema that is
// itself invalid or unsupported, or nested deeper than kMaxSchemaDepth, yields FailedPrecondition
// ("schema at properties.limit: minimum must be a number"): the caller cannot fix that.
//
// Property order. nlohmann::json keeps object members sorted, so with it "the schema's order" is
// alphabetical. Compile a nlohmann::ordered_json schema to keep the author's order in checks and
// in the "allowed: …" lists.
//
// Thread-safety: a JsonSchema is immutable once compiled; Validate may run on many threads. Copies
// share the compiled form.
#pragma once

#include <bitset>
#include <cstddef>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "util/status.h"

namespace fasten {

namespace schema_internal {
struct Node;  // the compiled form of one (sub)schema, defined in schema.cc
}  // namespace schema_internal

// Subschemas may nest at most this many levels below the root (so may enum/const literals).
inline constexpr int kMaxSchemaDepth = 32;
// Longest string, in bytes, that is searched with a `pattern`.
inline constexpr size_t kMaxPatternInputBytes = 1024;

// The one pattern shape the tool schemas use ("^[0-9a-f]{64}$" and its kin), matched with a
// byte table instead of std::regex, which costs about a microsecond per argument on the call
// path (docs/benchmarks.md). Compile accepts exactly `^[CLASS]QUANT$`: CLASS is letters, digits
// and '_', singly or as ranges such as a-f (no escapes, no negation); QUANT is {n}, {m,n}, {m,},
// + or *. Anything else yields nullopt and the caller keeps std::regex. For every accepted
// pattern, Matches(s) == std::regex_search(s, std::regex(pattern)) (tested on both).
class SimplePattern {
 public:
  static std::optional<SimplePattern> Compile(std::string_view pattern);
  bool Matches(std::string_view s) const;

 private:
  std::bitset<256> allowed_;
  size_t min_ = 0;
  size_t max_ = 0;  // inclusive; SIZE_MAX: unbounded
};

// A compiled schema: keywords checked and patterns compiled once, then used for many values.
class JsonSchema {
 public:
  // FailedPrecondition when `schema` is not a supported schema (see the file comment).
  static Result<JsonSchema> Compile(const nlohmann::json& schema);
  // The same, keeping the member order of `schema` for properties. (A braced list is ambiguous
  // between the two overloads: name the json type.)
  static Result<JsonSchema> Compile(const nlohmann::ordered_json& schema);

  // OK when `value` conforms; otherwise InvalidArgument with the first problem found.
  Status Validate(const nlohmann::json& value) const;

 private:
  explicit JsonSchema(std::shared_ptr<const schema_internal::Node> root) : root_(std::move(root)) {}

  std::shared_ptr<const schema_internal::Node> root_;  // never null
};

// Compiles `schema` and validates `value` against it: FailedPrecondition for a bad schema,
// InvalidArgument for a nonconforming value. Prefer a JsonSchema kept per tool when the same
// schema checks many values.
Status ValidateJson(const nlohmann::json& schema, const nlohmann::json& value);

}  // namespace fasten
