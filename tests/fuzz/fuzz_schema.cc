// Fuzzes tools/schema: the real tool input schemas against fuzzed arguments, and fuzzed schemas.
//
// Input: JSON text. Every input value is validated against the compiled input schema of each of
// the eleven tools; an input of the form [SCHEMA, VALUE] also compiles SCHEMA (when it has no
// `pattern`: schemas are ours, and std::regex's recursive compiler is not the subject here) and
// validates VALUE against it. Checks:
// - a tool schema never reports itself broken (FailedPrecondition); a refusal is InvalidArgument
//   whose message names a path ("arguments", a member, or "x[i]");
// - Validate agrees with a small reference validator written independently here for the
//   keywords the tools use (type, properties, required, additionalProperties, items, enum, const,
//   minimum, maximum, minLength, maxLength, pattern), wherever the reference can decide;
// - Validate is deterministic, and ValidateJson (compile + validate) gives the same answer;
// - a fuzzed schema compiles or fails with FailedPrecondition, never anything else.
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "tools/registry.h"
#include "tools/schema.h"

namespace {

using fasten::JsonSchema;
using fasten::StatusCode;
using fasten::fuzz::AsText;
using nlohmann::json;

enum class Verdict { kValid, kInvalid, kUnknown };

Verdict And(Verdict a, Verdict b) {
  if (a == Verdict::kInvalid || b == Verdict::kInvalid) return Verdict::kInvalid;
  if (a == Verdict::kUnknown || b == Verdict::kUnknown) return Verdict::kUnknown;
  return Verdict::kValid;
}

bool TypeMatches(const std::string& type, const json& v) {
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

// A number as a double, when the conversion is exact.
std::optional<double> Exact(const json& v) {
  if (v.is_number_float()) return v.get<double>();
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u <= (uint64_t{1} << 53)) return static_cast<double>(u);
    return std::nullopt;
  }
  int64_t i = v.get<int64_t>();
  if (i <= (int64_t{1} << 53) && i >= -(int64_t{1} << 53)) return static_cast<double>(i);
  return std::nullopt;
}

size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The reference: decides what it can for the tool schemas' keywords, kUnknown otherwise.
Verdict Reference(const json& s, const json& v) {
  if (s.is_boolean()) return s.get<bool>() ? Verdict::kValid : Verdict::kInvalid;
  if (!s.is_object()) return Verdict::kUnknown;
  Verdict verdict = Verdict::kValid;
  for (const auto& [key, k] : s.items()) {
    if (key == "type") {
      bool any = false;
      if (k.is_string()) {
        any = TypeMatches(k.get<std::string>(), v);
      } else if (k.is_array()) {
        for (const json& t : k)
          any = any || (t.is_string() && TypeMatches(t.get<std::string>(), v));
      } else {
        return Verdict::kUnknown;
      }
      if (!any) return Verdict::kInvalid;
    } else if (key == "enum") {
      if (!k.is_array()) return Verdict::kUnknown;
      bool found = false;
      for (const json& option : k) found = found || option == v;
      if (!found) verdict = And(verdict, Verdict::kInvalid);
    } else if (key == "const") {
      if (k != v) verdict = And(verdict, Verdict::kInvalid);
    } else if (key == "minimum" || key == "maximum") {
      if (!v.is_number() || !k.is_number()) continue;
      std::optional<double> a = Exact(v), b = Exact(k);
      if (!a || !b || std::isnan(*a) || std::isnan(*b)) {
        verdict = And(verdict, Verdict::kUnknown);
      } else if (key == "minimum" ? *a < *b : *a > *b) {
        verdict = And(verdict, Verdict::kInvalid);
      }
    } else if (key == "minLength" || key == "maxLength") {
      if (!v.is_string()) continue;
      if (!k.is_number_unsigned()) return Verdict::kUnknown;
      size_t n = CodePoints(v.get<std::string>()), bound = k.get<uint64_t>();
      if (key == "minLength" ? n < bound : n > bound) verdict = And(verdict, Verdict::kInvalid);
    } else if (key == "pattern") {
      if (!v.is_string()) continue;
      const std::string& text = v.get_ref<const std::string&>();
      if (!k.is_string() || text.size() > fasten::kMaxPatternInputBytes) {
        verdict = And(verdict, Verdict::kUnknown);
        continue;
      }
      if (!std::regex_search(text, std::regex(k.get<std::string>(), std::regex::ECMAScript))) {
        verdict = And(verdict, Verdict::kInvalid);
      }
    } else if (key == "required") {
      if (!v.is_object()) continue;
      if (!k.is_array()) return Verdict::kUnknown;
      for (const json& name : k) {
        if (!name.is_string()) return Verdict::kUnknown;
        if (!v.contains(name.get<std::string>())) verdict = And(verdict, Verdict::kInvalid);
      }
    } else if (key == "properties" || key == "additionalProperties") {
      if (!v.is_object() || key == "additionalProperties") continue;
      if (!k.is_object()) return Verdict::kUnknown;
      const json extra =
          s.contains("additionalProperties") ? s["additionalProperties"] : json(true);
      for (const auto& [name, member] : v.items()) {
        auto sub = k.find(name);
        verdict = And(verdict, Reference(sub != k.end() ? *sub : extra, member));
      }
    } else if (key == "items") {
      if (!v.is_array()) continue;
      for (const json& element : v) verdict = And(verdict, Reference(k, element));
    } else if (key != "description" && key != "default" && key != "title" && key != "format") {
      return Verdict::kUnknown;
    }
  }
  if (s.contains("additionalProperties") && !s.contains("properties") && v.is_object()) {
    for (const auto& [name, member] : v.items()) {
      verdict = And(verdict, Reference(s["additionalProperties"], member));
    }
  }
  return verdict;
}

bool HasKey(const json& v, const std::string& key) {
  if (v.is_object()) {
    if (v.contains(key)) return true;
    for (const auto& [k, child] : v.items()) {
      if (HasKey(child, key)) return true;
    }
  } else if (v.is_array()) {
    for (const json& child : v) {
      if (HasKey(child, key)) return true;
    }
  }
  return false;
}

void CheckOne(const JsonSchema& compiled, const json& schema, const json& value, bool ours) {
  fasten::Status st = compiled.Validate(value);
  if (!st.ok()) {
    FUZZ_CHECK_MSG(st.code() == StatusCode::kInvalidArgument, st.ToString());
    FUZZ_CHECK(!st.message().empty());
  }
  fasten::Status again = compiled.Validate(value);
  FUZZ_CHECK(again.code() == st.code() && again.message() == st.message());
  fasten::Status direct = fasten::ValidateJson(schema, value);
  FUZZ_CHECK(direct.code() == st.code());
  Verdict ref = Reference(schema, value);
  if (ref == Verdict::kValid) FUZZ_CHECK_MSG(st.ok(), "reference accepts; " + st.ToString());
  if (ref == Verdict::kInvalid) FUZZ_CHECK_MSG(!st.ok(), "reference rejects; schema accepted");
  if (ours && !st.ok()) {
    const std::string& m = st.message();
    FUZZ_CHECK_MSG(m.find(": ") != std::string::npos, m);
  }
}

struct ToolSchemas {
  std::vector<std::pair<json, JsonSchema>> schemas;
  ToolSchemas() {
    fasten::ToolRegistry registry = fasten::ToolRegistry::Default();
    for (const fasten::ToolDef& t : registry.tools()) {
      auto compiled = JsonSchema::Compile(t.input_schema);
      FUZZ_CHECK_MSG(compiled.ok(), t.name + ": " + compiled.status().ToString());
      schemas.emplace_back(t.input_schema, *compiled);
    }
    FUZZ_CHECK(schemas.size() == 11);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ToolSchemas* tools = new ToolSchemas();
  std::string_view text = AsText(data, size);
  json value = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return 0;
  for (const auto& [schema, compiled] : tools->schemas) CheckOne(compiled, schema, value, true);

  if (value.is_array() && value.size() == 2 && !HasKey(value[0], "pattern")) {
    auto compiled = JsonSchema::Compile(value[0]);
    if (!compiled.ok()) {
      FUZZ_CHECK_MSG(compiled.status().code() == StatusCode::kFailedPrecondition,
                     compiled.status().ToString());
      return 0;
    }
    CheckOne(*compiled, value[0], value[1], false);
    CheckOne(*compiled, value[0], value[0], false);
  }
  return 0;
}
