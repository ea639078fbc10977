#include "tools/schema.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <vector>

namespace fasten {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// The message of a failed validation; records a failure when the value passes or the code is
// not InvalidArgument.
std::string Error(const json& schema, const json& value) {
  Status s = ValidateJson(schema, value);
  EXPECT_FALSE(s.ok()) << "accepted " << value.dump() << " for " << schema.dump();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  return s.message();
}

std::string Error(const JsonSchema& schema, const json& value) {
  Status s = schema.Validate(value);
  EXPECT_FALSE(s.ok()) << "accepted " << value.dump();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  return s.message();
}

// The message of a schema that does not compile; records a failure unless FailedPrecondition.
std::string SchemaError(const json& schema) {
  Status s = ValidateJson(schema, json::object());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString() << " for " << schema.dump();
  return s.message();
}

#define EXPECT_VALID(schema, value)                                         \
  do {                                                                      \
    Status _s = ValidateJson((schema), (value));                            \
    EXPECT_TRUE(_s.ok()) << _s.ToString() << " for " << json(value).dump(); \
  } while (0)

// An audit-query-like tool schema, kept in author order.
ordered_json QuerySchema() {
  return ordered_json::parse(R"({
    "type": "object",
    "description": "Search the audit log.",
    "properties": {
      "request_id": {"type": "string", "minLength": 1, "maxLength": 64, "title": "Request"},
      "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
      "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
      "cursor": {"type": "string", "description": "next_cursor of the previous page"}
    },
    "required": ["request_id"],
    "additionalProperties": false
  })");
}

JsonSchema Compiled(const ordered_json& schema) {
  Result<JsonSchema> compiled = JsonSchema::Compile(schema);
  EXPECT_TRUE(compiled.ok()) << compiled.status().ToString();
  return std::move(compiled).value();
}

TEST(SchemaValidation, AcceptsConformingArguments) {
  JsonSchema schema = Compiled(QuerySchema());
  EXPECT_TRUE(schema.Validate(json{{"request_id", "r-1"}}).ok());
  EXPECT_TRUE(
      schema
          .Validate(json{
              {"request_id", "r-1"}, {"code", "LOGIN_FAILED"}, {"limit", 200}, {"cursor", "abc"}})
          .ok());
}

TEST(SchemaValidation, ExactMessagesForTheCommonMistakes) {
  JsonSchema schema = Compiled(QuerySchema());
  EXPECT_EQ(Error(schema, json{{"request_id", "r"}, {"limit", 5000}}),
            "limit: must be an integer from 1 to 200; got 5000");
  EXPECT_EQ(Error(schema, json{{"request_id", "r"}, {"tenant_id", "globex"}}),
            "tenant_id: unknown argument; allowed: request_id, code, limit, cursor");
  EXPECT_EQ(Error(schema, json{{"request_id", 42}}), "request_id: expected a string, got number");
  json severity = {{"type", "string"}, {"enum", {"debug", "info", "warn", "error", "critical"}}};
  json args_schema = {{"type", "object"}, {"properties", {{"severity", severity}}}};
  EXPECT_EQ(Error(args_schema, json{{"severity", "fatal"}}),
            "severity: must be one of debug, info, warn, error, critical; got 'fatal'");
}

TEST(SchemaValidation, PlainJsonSchemaUsesSortedPropertyOrder) {
  json schema = json::parse(QuerySchema().dump());
  EXPECT_EQ(Error(schema, json{{"request_id", "r"}, {"tenant_id", "globex"}}),
            "tenant_id: unknown argument; allowed: code, cursor, limit, request_id");
}

TEST(SchemaValidation, ValidateJsonAndCompiledSchemaAgree) {
  json schema = json::parse(QuerySchema().dump());
  Result<JsonSchema> compiled = JsonSchema::Compile(schema);
  ASSERT_TRUE(compiled.ok());
  for (const json& args : {json{{"request_id", "r"}}, json{{"limit", 0}}, json::array(),
                           json{{"request_id", "r"}, {"code", "lower"}}}) {
    EXPECT_EQ(ValidateJson(schema, args).ToString(), compiled->Validate(args).ToString());
  }
}

TEST(SchemaValidation, TypeString) {
  json s = {{"type", "string"}};
  EXPECT_VALID(s, "x");
  EXPECT_VALID(s, "");
  EXPECT_EQ(Error(s, 1), "arguments: expected a string, got number");
  EXPECT_EQ(Error(s, nullptr), "arguments: expected a string, got null");
}

TEST(SchemaValidation, TypeIntegerAcceptsWholeFloatsButNeverBooleans) {
  json s = {{"type", "integer"}};
  EXPECT_VALID(s, 5);
  EXPECT_VALID(s, -5);
  EXPECT_VALID(s, 18446744073709551615ull);
  EXPECT_VALID(s, json::parse("5.0"));
  EXPECT_VALID(s, json::parse("1e3"));
  EXPECT_VALID(s, json::parse("-0.0"));
  EXPECT_EQ(Error(s, json::parse("5.5")), "arguments: expected an integer, got 5.5");
  EXPECT_EQ(Error(s, true), "arguments: expected an integer, got boolean");
  EXPECT_EQ(Error(s, "5"), "arguments: expected an integer, got string");
}

TEST(SchemaValidation, TypeNumberAcceptsIntegersAndFloats) {
  json s = {{"type", "number"}};
  EXPECT_VALID(s, 5);
  EXPECT_VALID(s, 5.25);
  EXPECT_VALID(s, 18446744073709551615ull);
  EXPECT_EQ(Error(s, false), "arguments: expected a number, got boolean");
  EXPECT_EQ(Error(s, "1.5"), "arguments: expected a number, got string");
}

TEST(SchemaValidation, TypeBooleanObjectArrayNull) {
  EXPECT_VALID(json({{"type", "boolean"}}), true);
  EXPECT_EQ(Error(json{{"type", "boolean"}}, 0), "arguments: expected a boolean, got number");
  EXPECT_EQ(Error(json{{"type", "boolean"}}, "true"), "arguments: expected a boolean, got string");
  EXPECT_VALID(json({{"type", "object"}}), json::object());
  EXPECT_EQ(Error(json{{"type", "object"}}, json::array()),
            "arguments: expected an object, got array");
  EXPECT_VALID(json({{"type", "array"}}), json::array());
  EXPECT_EQ(Error(json{{"type", "array"}}, json::object()),
            "arguments: expected an array, got object");
  EXPECT_VALID(json({{"type", "null"}}), nullptr);
  EXPECT_EQ(Error(json{{"type", "null"}}, 0), "arguments: expected null, got number");
}

TEST(SchemaValidation, TypeArrayAcceptsAnyListedType) {
  json s = {{"type", {"string", "null"}}};
  EXPECT_VALID(s, "x");
  EXPECT_VALID(s, nullptr);
  EXPECT_EQ(Error(s, 1), "arguments: expected a string or null, got number");
  json three = {{"type", {"null", "integer", "string"}}};
  EXPECT_VALID(three, 3);
  EXPECT_EQ(Error(three, 2.5), "arguments: expected a string, an integer or null, got 2.5");
  EXPECT_EQ(Error(three, true), "arguments: expected a string, an integer or null, got boolean");
}

TEST(SchemaValidation, NoTypeAcceptsEveryType) {
  json s = {{"description", "anything"}};
  for (const json& v :
       {json(nullptr), json(true), json(1), json(1.5), json("x"), json::array(), json::object()}) {
    EXPECT_VALID(s, v);
  }
}

TEST(SchemaValidation, RequiredIsReportedFirstInItsOrder) {
  ordered_json schema = QuerySchema();
  schema["required"] = {"request_id", "code"};
  JsonSchema compiled = Compiled(schema);
  EXPECT_EQ(Error(compiled, json::object()), "request_id: missing required argument");
  EXPECT_EQ(Error(compiled, json{{"request_id", "r"}}), "code: missing required argument");
  // A missing required argument outranks a bad one.
  EXPECT_EQ(Error(compiled, json{{"limit", 5000}, {"tenant_id", "x"}}),
            "request_id: missing required argument");
}

TEST(SchemaValidation, PropertiesAreCheckedInSchemaOrderThenUnknownOnes) {
  JsonSchema compiled = Compiled(QuerySchema());
  // "code" comes before "limit" in the schema, and both before the unknown "aaa".
  EXPECT_EQ(Error(compiled, json{{"request_id", "r"}, {"aaa", 1}, {"limit", 0}, {"code", "x"}}),
            "code: must match the pattern ^[A-Z][A-Z0-9_]*$; got 'x'");
  EXPECT_EQ(Error(compiled, json{{"request_id", "r"}, {"aaa", 1}, {"limit", 0}}),
            "limit: must be an integer from 1 to 200; got 0");
  // With plain json the schema order is alphabetical.
  json sorted =
      json::parse(R"({"properties": {"b": {"type": "integer"}, "a": {"type": "integer"}}})");
  EXPECT_EQ(Error(sorted, json{{"a", "x"}, {"b", "y"}}), "a: expected an integer, got string");
  ordered_json kept = ordered_json::parse(
      R"({"properties": {"b": {"type": "integer"}, "a": {"type": "integer"}}})");
  EXPECT_EQ(Error(Compiled(kept), json{{"a", "x"}, {"b", "y"}}),
            "b: expected an integer, got string");
}

TEST(SchemaValidation, AdditionalPropertiesFalseNamesTheAllowedOnes) {
  json none = {{"type", "object"}, {"additionalProperties", false}};
  EXPECT_VALID(none, json::object());
  EXPECT_EQ(Error(none, json{{"x", 1}}), "x: unknown argument; no arguments are accepted");
  // Unknown members are reported in sorted order.
  json two = {{"properties", {{"a", json::object()}}}, {"additionalProperties", false}};
  EXPECT_EQ(Error(two, json{{"z", 1}, {"b", 2}}), "b: unknown argument; allowed: a");
}

TEST(SchemaValidation, AdditionalPropertiesSchemaChecksTheOthers) {
  json s = {{"type", "object"},
            {"properties", {{"limit", {{"type", "integer"}}}}},
            {"additionalProperties", {{"type", "string"}, {"maxLength", 3}}}};
  EXPECT_VALID(s, json({{"limit", 1}, {"x", "abc"}}));
  EXPECT_EQ(Error(s, json{{"limit", 1}, {"x", 1}}), "x: expected a string, got number");
  EXPECT_EQ(Error(s, json{{"x", "abcd"}}), "x: must be at most 3 characters long; got 4");
}

TEST(SchemaValidation, AdditionalPropertiesTrueOrAbsentAllowsAnything) {
  EXPECT_VALID(json({{"properties", {{"a", {{"type", "string"}}}}}}), json({{"b", 1}}));
  EXPECT_VALID(
      json({{"properties", {{"a", {{"type", "string"}}}}}, {"additionalProperties", true}}),
      json({{"b", 1}}));
}

TEST(SchemaValidation, NestedPathsUseDotsAndIndexes) {
  json s = json::parse(R"({
    "type": "object",
    "properties": {
      "filter": {
        "type": "object",
        "properties": {"level": {"enum": ["info", "error"]}},
        "required": ["level"],
        "additionalProperties": false
      },
      "ids": {"type": "array", "items": {"type": "string"}}
    }
  })");
  EXPECT_VALID(s, json({{"filter", {{"level", "info"}}}, {"ids", {"a", "b"}}}));
  EXPECT_EQ(Error(s, json{{"filter", json::object()}}), "filter.level: missing required field");
  EXPECT_EQ(Error(s, json{{"filter", {{"level", "info"}, {"tenant", "x"}}}}),
            "filter.tenant: unknown field; allowed: level");
  EXPECT_EQ(Error(s, json{{"filter", {{"level", "warn"}}}}),
            "filter.level: must be one of info, error; got 'warn'");
  EXPECT_EQ(Error(s, json{{"ids", {"a", 2}}}), "ids[1]: expected a string, got number");
  EXPECT_EQ(Error(json{{"items", {{"type", "integer"}}}}, json{1, "2"}),
            "arguments[1]: expected an integer, got string");
}

TEST(SchemaValidation, ItemsChecksEveryElement) {
  json s = {{"type", "array"}, {"items", {{"type", "integer"}, {"minimum", 0}}}};
  EXPECT_VALID(s, json::array());
  EXPECT_VALID(s, json({0, 1, 2}));
  EXPECT_EQ(Error(s, json{0, 1, -2}), "arguments[2]: must be at least 0; got -2");
  // Without items any element goes.
  EXPECT_VALID(json({{"type", "array"}}), json({1, "x", nullptr}));
}

TEST(SchemaValidation, ItemCountsAndUniqueness) {
  const json s = {{"type", "array"},
                  {"items", {{"type", "string"}, {"enum", {"audit", "sys", "api"}}}},
                  {"minItems", 1},
                  {"maxItems", 3},
                  {"uniqueItems", true}};
  EXPECT_VALID(s, json({"audit"}));
  EXPECT_VALID(s, json({"api", "sys", "audit"}));
  EXPECT_EQ(Error(s, json::array()), "arguments: must hold at least 1 item; got 0");
  EXPECT_EQ(Error(s, json({"audit", "sys", "api", "audit"})),
            "arguments: must hold at most 3 items; got 4");
  EXPECT_EQ(Error(s, json({"sys", "audit", "sys"})),
            "arguments: must not repeat an item; 'sys' is both item 0 and item 2");
  // The count is judged before any item: 10,000 bad items give the count error, at once.
  EXPECT_EQ(Error(s, json(std::vector<int>(10000, 7))),
            "arguments: must hold at most 3 items; got 10000");
  // uniqueItems compares numbers by value and containers deeply.
  EXPECT_NE(Error(json{{"uniqueItems", true}}, json::parse("[1, 1.0]")).find("must not repeat"),
            std::string::npos);
  const json unique = {{"uniqueItems", true}}, repeats = {{"uniqueItems", false}};
  EXPECT_VALID(unique, json::parse(R"([{"a":1},{"a":2},[1],[1,1]])"));
  EXPECT_VALID(repeats, json::parse("[1, 1]"));
  EXPECT_EQ(Error(json{{"properties", {{"ids", {{"maxItems", 1}}}}}}, json{{"ids", {1, 2}}}),
            "ids: must hold at most 1 item; got 2");
}

TEST(SchemaValidation, Enum) {
  json s = {{"enum", {"a", 1, nullptr}}};
  EXPECT_VALID(s, "a");
  EXPECT_VALID(s, 1);
  EXPECT_VALID(s, json::parse("1.0"));  // numbers compare by value
  EXPECT_VALID(s, nullptr);
  EXPECT_EQ(Error(s, "b"), "arguments: must be one of a, 1, null; got 'b'");
  EXPECT_EQ(Error(s, 2), "arguments: must be one of a, 1, null; got 2");
  EXPECT_EQ(Error(s, json{{"k", "v"}}), R"(arguments: must be one of a, 1, null; got {"k":"v"})");
}

TEST(SchemaValidation, EnumEchoesLongValuesShortened) {
  json s = {{"enum", {"a"}}};
  std::string long_value(100, 'x');
  EXPECT_EQ(Error(s, long_value),
            "arguments: must be one of a; got '" + std::string(64, 'x') + "...'");
}

TEST(SchemaValidation, Const) {
  json s = {{"properties", {{"version", {{"const", "v1"}}}, {"one", {{"const", 1}}}}}};
  EXPECT_VALID(s, json({{"version", "v1"}, {"one", 1.0}}));
  EXPECT_EQ(Error(s, json{{"version", "v2"}}), "version: must be 'v1'; got 'v2'");
  EXPECT_EQ(Error(s, json{{"one", 2}}), "one: must be 1; got 2");
  EXPECT_EQ(Error(json{{"const", {1, 2}}}, json{1}), "arguments: must be [1,2]; got [1]");
}

TEST(SchemaValidation, MinimumAndMaximum) {
  json both = {{"type", "number"}, {"minimum", 0.5}, {"maximum", 1.5}};
  EXPECT_VALID(both, 0.5);
  EXPECT_VALID(both, 1);
  EXPECT_VALID(both, 1.5);
  EXPECT_EQ(Error(both, 2.0), "arguments: must be a number from 0.5 to 1.5; got 2.0");
  EXPECT_EQ(Error(both, 0), "arguments: must be a number from 0.5 to 1.5; got 0");
  json min = {{"type", "integer"}, {"minimum", 1}};
  EXPECT_VALID(min, 1);
  EXPECT_EQ(Error(min, 0), "arguments: must be at least 1; got 0");
  EXPECT_EQ(Error(min, json::parse("0.0")), "arguments: must be at least 1; got 0.0");
  json max = {{"maximum", 200}};
  EXPECT_VALID(max, 200);
  EXPECT_VALID(max, "not a number");  // range keywords constrain numbers only
  EXPECT_EQ(Error(max, 200.5), "arguments: must be at most 200; got 200.5");
}

TEST(SchemaValidation, NumberBoundsCompareExactly) {
  // 2^53 + 1 is not representable as a double; a double comparison would call it equal.
  json max = {{"maximum", 9007199254740992LL}};
  EXPECT_VALID(max, 9007199254740992LL);
  EXPECT_FALSE(ValidateJson(max, 9007199254740993LL).ok());
  json negative = {{"maximum", -1}};
  EXPECT_FALSE(ValidateJson(negative, 18446744073709551615ull).ok());
  EXPECT_VALID(json({{"minimum", -1}}), 18446744073709551615ull);
  EXPECT_VALID(json({{"maximum", 18446744073709551615ull}}), -9223372036854775807LL - 1);
  EXPECT_FALSE(ValidateJson(json{{"maximum", 1e300}}, json::parse("1e301")).ok());
  EXPECT_VALID(json({{"maximum", 1e300}}), 18446744073709551615ull);
  EXPECT_FALSE(ValidateJson(json{{"minimum", 1}}, 0.999).ok());
  EXPECT_FALSE(ValidateJson(json{{"maximum", 1}}, 1.001).ok());
  EXPECT_FALSE(ValidateJson(json{{"minimum", -1.5}}, -2).ok());
  EXPECT_VALID(json({{"minimum", -1.5}}), -1);
}

TEST(SchemaValidation, StringLengthsCountCodePoints) {
  json max = {{"type", "string"}, {"maxLength", 3}};
  EXPECT_VALID(max, "\xC3\xA9\xC3\xA9\xC3\xA9");  // "ééé": 6 bytes, 3 code points
  EXPECT_VALID(max,
               "a\xF0\x9F\x98\x80"
               "b");  // one emoji is one code point
  EXPECT_EQ(Error(max, "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"),
            "arguments: must be at most 3 characters long; got 4");
  json min = {{"type", "string"}, {"minLength", 1}};
  EXPECT_VALID(min, "\xC3\xA9");
  EXPECT_EQ(Error(min, ""), "arguments: must be at least 1 character long; got 0");
  json both = {{"properties", {{"request_id", {{"minLength", 1}, {"maxLength", 64}}}}}};
  EXPECT_EQ(Error(both, json{{"request_id", std::string(70, 'r')}}),
            "request_id: must be from 1 to 64 characters long; got 70");
  EXPECT_VALID(json({{"maxLength", 1}}), 12345);  // length keywords constrain strings only
}

TEST(SchemaValidation, PatternSearchesUnanchored) {
  json digit = {{"pattern", "[0-9]"}};
  EXPECT_VALID(digit, "ab1cd");
  EXPECT_VALID(digit, 7);  // pattern constrains strings only
  EXPECT_EQ(Error(digit, "abc"), "arguments: must match the pattern [0-9]; got 'abc'");
  json code = {{"properties", {{"code", {{"type", "string"}, {"pattern", "^[A-Z]+$"}}}}}};
  EXPECT_VALID(code, json({{"code", "ABC"}}));
  EXPECT_EQ(Error(code, json{{"code", "abc"}}), "code: must match the pattern ^[A-Z]+$; got 'abc'");
}

TEST(SchemaValidation, PatternRefusesOverlongStrings) {
  json s = {{"pattern", "^a*$"}};
  EXPECT_VALID(s, std::string(kMaxPatternInputBytes, 'a'));
  EXPECT_EQ(Error(s, std::string(100000, 'a')),
            "arguments: is too long to check against its pattern (at most 1024 bytes); got "
            "100000 bytes");
}

TEST(SchemaValidation, CompiledSchemaIsReusable) {
  Result<JsonSchema> compiled =
      JsonSchema::Compile(json{{"type", "string"}, {"pattern", "^r-[0-9]+$"}});
  ASSERT_TRUE(compiled.ok());
  JsonSchema copy = *compiled;
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(copy.Validate("r-" + std::to_string(i)).ok());
    EXPECT_FALSE(copy.Validate("q-" + std::to_string(i)).ok());
  }
}

TEST(SchemaValidation, FormatAndAnnotationsAreIgnored) {
  json s = json::parse(R"({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:x", "$comment": "c", "title": "T", "description": "D", "examples": [1],
    "default": "now-1h", "readOnly": false, "writeOnly": false, "deprecated": false,
    "x-mcp-header": "Since",
    "type": "string", "format": "date-time"
  })");
  EXPECT_VALID(s, "now-1h");
  EXPECT_VALID(s, "2026-01-02T03:04:05Z");
}

TEST(SchemaValidation, BooleanSchemas) {
  EXPECT_VALID(json(true), json({{"anything", 1}}));
  EXPECT_EQ(Error(json(false), 1), "arguments: no value is allowed here; remove it");
  json s = {{"properties", {{"legacy", false}, {"free", true}}}};
  EXPECT_VALID(s, json({{"free", {1, 2}}}));
  EXPECT_EQ(Error(s, json{{"legacy", 1}}), "legacy: no value is allowed here; remove it");
  EXPECT_EQ(Error(json{{"items", false}}, json{1}),
            "arguments[0]: no value is allowed here; remove it");
  EXPECT_VALID(json({{"items", false}}), json::array());
}

TEST(SchemaValidation, ChecksApplyInOrderTypeEnumThenRange) {
  json s = {{"type", "integer"}, {"enum", {1, 2, 300}}, {"maximum", 200}};
  EXPECT_EQ(Error(s, "1"), "arguments: expected an integer, got string");
  EXPECT_EQ(Error(s, 3), "arguments: must be one of 1, 2, 300; got 3");
  EXPECT_EQ(Error(s, 300), "arguments: must be at most 200; got 300");
}

TEST(SchemaValidation, RejectsInvalidOrUnsupportedSchemas) {
  EXPECT_EQ(SchemaError(json("string")), "schema at /: a schema must be an object or a boolean");
  EXPECT_EQ(SchemaError(json{{"type", "text"}}),
            "schema at /: type must be one of string, integer, number, boolean, object, array, "
            "null, or a non-empty array of them");
  SchemaError(json{{"type", json::array()}});
  SchemaError(json{{"type", {"string", 1}}});
  EXPECT_EQ(SchemaError(json{{"properties", {{"limit", {{"minimum", "1"}}}}}}),
            "schema at /properties/limit: minimum must be a number");
  EXPECT_EQ(SchemaError(json{{"properties", {{"a/b", {{"anyOf", json::array()}}}}}}),
            "schema at /properties/a~1b: unsupported keyword 'anyOf'");
  SchemaError(json{{"$ref", "#/definitions/x"}});
  SchemaError(json{{"contains", {{"type", "string"}}}});
  EXPECT_EQ(SchemaError(json{{"maxItems", -1}}),
            "schema at /: maxItems must be a non-negative integer");
  EXPECT_EQ(SchemaError(json{{"minItems", 1.5}}),
            "schema at /: minItems must be a non-negative integer");
  EXPECT_EQ(SchemaError(json{{"uniqueItems", 1}}), "schema at /: uniqueItems must be a boolean");
  SchemaError(json{{"properties", json::array()}});
  SchemaError(json{{"properties", {{"a", 1}}}});
  SchemaError(json{{"required", "a"}});
  SchemaError(json{{"required", {1}}});
  SchemaError(json{{"additionalProperties", 1}});
  EXPECT_EQ(SchemaError(json{{"items", {json::object()}}}),
            "schema at /: tuple-form items (an array of schemas) is not supported");
  SchemaError(json{{"enum", json::array()}});
  SchemaError(json{{"enum", "a"}});
  SchemaError(json{{"maximum", true}});
  EXPECT_EQ(SchemaError(json{{"minLength", -1}}),
            "schema at /: minLength must be a non-negative integer");
  SchemaError(json{{"maxLength", 1.5}});
  SchemaError(json{{"pattern", 1}});
  SchemaError(json{{"format", 1}});
  EXPECT_EQ(SchemaError(json{{"pattern", "([a-z"}})
                .rfind("schema at /: pattern is not a valid ECMAScript regular expression: ", 0),
            0u);
  EXPECT_EQ(SchemaError(json{{"properties", {{"a", json::object()}}},
                             {"required", {"a", "b"}},
                             {"additionalProperties", false}}),
            "schema at /: required 'b' is not in properties, and additionalProperties is false");
}

// {"type":"array","items":{"type":"array","items":…}} with `levels` nested item schemas.
json NestedItems(int levels) {
  json s = {{"type", "integer"}};
  for (int i = 0; i < levels; ++i) s = json{{"type", "array"}, {"items", std::move(s)}};
  return s;
}

TEST(SchemaValidation, RefusesSchemasNestedTooDeeply) {
  json value = 1;
  for (int i = 0; i < kMaxSchemaDepth; ++i) value = json::array({std::move(value)});
  EXPECT_VALID(NestedItems(kMaxSchemaDepth), value);
  std::string message = SchemaError(NestedItems(kMaxSchemaDepth + 1));
  EXPECT_NE(message.find("nested deeper than 32 levels"), std::string::npos) << message;
  EXPECT_EQ(message.rfind("schema at /items/items/", 0), 0u) << message;

  json deep_const = 1;
  for (int i = 0; i < kMaxSchemaDepth + 1; ++i) deep_const = json::array({std::move(deep_const)});
  EXPECT_EQ(SchemaError(json{{"const", deep_const}}), "schema at /: const is nested too deeply");
  EXPECT_EQ(SchemaError(json{{"enum", {deep_const}}}), "schema at /: enum is nested too deeply");
}

TEST(SchemaValidation, DeepValuesAreWalkedOnlyAsFarAsTheSchemaGoes) {
  json value = 1;
  for (int i = 0; i < 100000; ++i) value = json::array({std::move(value)});
  EXPECT_VALID(json({{"type", "array"}}), value);
  EXPECT_EQ(Error(json{{"enum", {json::array({json::array({1})})}}}, value),
            "arguments: must be one of [[1]]; got an array nested deeper than 8 levels");
  EXPECT_EQ(Error(NestedItems(2), value), "arguments[0][0]: expected an integer, got array");
}

}  // namespace
}  // namespace fasten

// SimplePattern replaces std::regex for one pattern shape; it must accept exactly what the regex
// accepts, for the patterns it compiles, and compile nothing it cannot match exactly.
TEST(SimplePattern, AgreesWithStdRegexOnEveryCompiledPattern) {
  const std::vector<std::string> patterns = {"^[0-9a-f]{64}$", "^[0-9a-f]{2,4}$", "^[a-zA-Z_]+$",
                                             "^[x]*$",         "^[0-9]{3,}$",     "^[ab]{0}$",
                                             "^[A-F0-9]{1,1}$"};
  std::vector<std::string> inputs = {"",
                                     "a",
                                     "ab",
                                     "abc",
                                     "abcd",
                                     "abcde",
                                     "0",
                                     "09",
                                     "xyz",
                                     "x",
                                     "xx",
                                     "_",
                                     "Z_z",
                                     "A",
                                     "a-b",
                                     "a\nb",
                                     "ab\n",
                                     "\nab",
                                     std::string(64, 'e'),
                                     std::string(63, 'e'),
                                     std::string(65, 'e'),
                                     std::string(64, 'E'),
                                     std::string(63, 'e') + "g",
                                     "abc\xc3\xa9",
                                     "123",
                                     "1234"};
  std::mt19937 rng(7);
  const std::string alphabet = "0189afgAFZ_x-\n\xff";
  for (int i = 0; i < 400; ++i) {
    std::string s(rng() % 8, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    inputs.push_back(s);
  }
  for (const std::string& p : patterns) {
    std::optional<fasten::SimplePattern> simple = fasten::SimplePattern::Compile(p);
    ASSERT_TRUE(simple.has_value()) << p;
    std::regex re(p, std::regex::ECMAScript);
    for (const std::string& s : inputs) {
      EXPECT_EQ(simple->Matches(s), std::regex_search(s, re)) << p << " on '" << s << "'";
    }
  }
}

TEST(SimplePattern, LeavesEveryOtherShapeToStdRegex) {
  for (const char* p :
       {"[0-9a-f]{64}", "^[0-9a-f]{64}", "[0-9a-f]{64}$", "^[^0-9]+$", "^[\\d]+$", "^[a-]$",
        "^[f-a]+$", "^[a-f]{4,2}$", "^[a-f]{,2}$", "^[a-f]{2}x$", "^[a.b]+$", "^[]+$", "^[a-f]?$",
        "^([a-f])+$", "^[a-f]{99999999}$", "^a+$"}) {
    EXPECT_FALSE(fasten::SimplePattern::Compile(p).has_value()) << p;
  }
}
