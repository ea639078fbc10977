#include "tools/schema.h"

// GCC 12 with -fsanitize=address,undefined at -O1 and above reports a false
// -Wmaybe-uninitialized inside libstdc++'s <regex> (a std::function in its automaton), even for
// a one-line use of std::regex. Silence it for these headers only, included before any other.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <functional>
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fasten {

using nlohmann::json;

namespace {

bool IsClassChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Reads decimal digits at p[*i..]; false when there are none or the number is absurd.
bool ReadDecimal(std::string_view p, size_t* i, size_t* out) {
  size_t start = *i, n = 0;
  while (*i < p.size() && p[*i] >= '0' && p[*i] <= '9') {
    n = n * 10 + static_cast<size_t>(p[*i] - '0');
    if (n > 100000) return false;
    ++*i;
  }
  *out = n;
  return *i > start;
}

}  // namespace

std::optional<SimplePattern> SimplePattern::Compile(std::string_view p) {
  SimplePattern out;
  if (p.size() < 5 || p.front() != '^' || p.back() != '$' || p[1] != '[') return std::nullopt;
  size_t i = 2;
  bool any = false;
  while (i < p.size() && p[i] != ']') {
    if (!IsClassChar(p[i])) return std::nullopt;
    char lo = p[i], hi = p[i];
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      hi = p[i + 2];
      if (!IsClassChar(hi) || hi < lo) return std::nullopt;
      i += 3;
    } else {
      i += 1;
    }
    for (int c = static_cast<unsigned char>(lo); c <= static_cast<unsigned char>(hi); ++c) {
      out.allowed_.set(static_cast<size_t>(c));
    }
    any = true;
  }
  if (!any || i >= p.size()) return std::nullopt;
  ++i;  // past ']'
  const std::string_view quant = p.substr(i, p.size() - 1 - i);
  if (quant == "+") {
    out.min_ = 1;
    out.max_ = SIZE_MAX;
  } else if (quant == "*") {
    out.min_ = 0;
    out.max_ = SIZE_MAX;
  } else {
    size_t j = 0;
    if (quant.empty() || quant.front() != '{' || quant.back() != '}') return std::nullopt;
    std::string_view body = quant.substr(1, quant.size() - 2);
    if (!ReadDecimal(body, &j, &out.min_)) return std::nullopt;
    if (j == body.size()) {
      out.max_ = out.min_;
    } else {
      if (body[j] != ',') return std::nullopt;
      ++j;
      if (j == body.size()) {
        out.max_ = SIZE_MAX;
      } else if (!ReadDecimal(body, &j, &out.max_) || j != body.size() || out.max_ < out.min_) {
        return std::nullopt;
      }
    }
  }
  return out;
}

bool SimplePattern::Matches(std::string_view s) const {
  if (s.size() < min_ || s.size() > max_) return false;
  for (char c : s) {
    if (!allowed_.test(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

namespace schema_internal {

struct Node {
  bool never = false;  // the `false` schema: nothing conforms
  unsigned types = 0;  // a set of TypeBit (below); 0 accepts every type

  bool has_enum = false;
  std::vector<json> enum_values;
  std::optional<json> const_value;

  std::optional<json> minimum, maximum;
  std::optional<size_t> min_length, max_length;  // code points
  std::optional<std::regex> pattern;
  std::optional<SimplePattern> simple_pattern;  // the same language, matched without std::regex
  std::string pattern_text;

  std::vector<std::string> required;
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> properties;  // schema order
  enum class Extra { kAllow, kDeny, kSchema } extra = Extra::kAllow;
  std::unique_ptr<Node> extra_schema;  // when extra == kSchema

  std::unique_ptr<Node> items;  // null: any items
  std::optional<size_t> min_items, max_items;
  bool unique_items = false;

  const Node* FindProperty(const std::string& name) const {
    for (const auto& [key, node] : properties) {
      if (key == name) return node.get();
    }
    return nullptr;
  }
};

}  // namespace schema_internal

namespace {

using schema_internal::Node;

enum TypeBit : unsigned {
  kString = 1u << 0,
  kInteger = 1u << 1,
  kNumber = 1u << 2,
  kBoolean = 1u << 3,
  kObject = 1u << 4,
  kArray = 1u << 5,
  kNull = 1u << 6,
};

struct TypeName {
  const char* name;
  const char* with_article;
  unsigned bit;
};
constexpr TypeName kTypeNames[] = {
    {"string", "a string", kString},  {"integer", "an integer", kInteger},
    {"number", "a number", kNumber},  {"boolean", "a boolean", kBoolean},
    {"object", "an object", kObject}, {"array", "an array", kArray},
    {"null", "null", kNull},
};

constexpr const char* kIgnoredKeywords[] = {
    "description", "default",  "title",    "examples",  "format",     "$schema",
    "$id",         "$comment", "readOnly", "writeOnly", "deprecated",
};

// ---------------------------------------------------------------------------------------------
// Compiling

// JSON Pointer (RFC 6901) escaping for schema locations in error messages.
std::string PointerToken(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// True when `v` nests no deeper than `levels` (a scalar has depth 0). Stops descending at the
// limit, so the recursion is bounded whatever `v` holds.
template <typename J>
bool DepthAtMost(const J& v, int levels) {
  if (!v.is_structured()) return true;
  if (levels == 0) return false;
  for (const auto& child : v) {
    if (!DepthAtMost(child, levels - 1)) return false;
  }
  return true;
}

template <typename J>
std::optional<size_t> ReadCount(const J& v) {
  if (v.is_number_unsigned()) return static_cast<size_t>(v.template get<uint64_t>());
  if (v.is_number_integer()) {
    int64_t n = v.template get<int64_t>();
    if (n >= 0) return static_cast<size_t>(n);
    return std::nullopt;
  }
  if (v.is_number_float()) {
    double d = v.template get<double>();
    if (d >= 0 && d <= 1e15 && d == std::floor(d)) return static_cast<size_t>(d);
  }
  return std::nullopt;
}

template <typename J>
class Compiler {
 public:
  Status CompileNode(const J& s, const std::string& where, int depth, Node* out) {
    if (depth > kMaxSchemaDepth) {
      return Fail(where, "nested deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
    }
    if (s.is_boolean()) {
      out->never = !s.template get<bool>();
      return Status::Ok();
    }
    if (!s.is_object()) return Fail(where, "a schema must be an object or a boolean");

    for (const auto& [key, v] : s.items()) {
      if (key == "type") {
        FASTEN_RETURN_IF_ERROR(CompileType(v, where, out));
      } else if (key == "properties") {
        if (!v.is_object()) return Fail(where, "properties must be an object");
        for (const auto& [name, sub] : v.items()) {
          auto node = std::make_unique<Node>();
          FASTEN_RETURN_IF_ERROR(
              CompileNode(sub, where + "/properties/" + PointerToken(name), depth + 1, node.get()));
          out->properties.emplace_back(name, std::move(node));
        }
      } else if (key == "required") {
        if (!v.is_array()) return Fail(where, "required must be an array of strings");
        for (const auto& name : v) {
          if (!name.is_string()) return Fail(where, "required must be an array of strings");
          out->required.push_back(name.template get<std::string>());
        }
      } else if (key == "additionalProperties") {
        if (v.is_boolean()) {
          out->extra = v.template get<bool>() ? Node::Extra::kAllow : Node::Extra::kDeny;
        } else {
          out->extra = Node::Extra::kSchema;
          out->extra_schema = std::make_unique<Node>();
          FASTEN_RETURN_IF_ERROR(
              CompileNode(v, where + "/additionalProperties", depth + 1, out->extra_schema.get()));
        }
      } else if (key == "items") {
        if (v.is_array())
          return Fail(where, "tuple-form items (an array of schemas) is not supported");
        out->items = std::make_unique<Node>();
        FASTEN_RETURN_IF_ERROR(CompileNode(v, where + "/items", depth + 1, out->items.get()));
      } else if (key == "enum") {
        if (!v.is_array() || v.empty()) return Fail(where, "enum must be a non-empty array");
        if (!DepthAtMost(v, kMaxSchemaDepth + 1)) return Fail(where, "enum is nested too deeply");
        out->has_enum = true;
        for (const auto& option : v) out->enum_values.emplace_back(json(option));
      } else if (key == "const") {
        if (!DepthAtMost(v, kMaxSchemaDepth)) return Fail(where, "const is nested too deeply");
        out->const_value = json(v);
      } else if (key == "minimum" || key == "maximum") {
        if (!v.is_number()) return Fail(where, key + " must be a number");
        (key == "minimum" ? out->minimum : out->maximum) = json(v);
      } else if (key == "minItems" || key == "maxItems") {
        std::optional<size_t> n = ReadCount(v);
        if (!n) return Fail(where, key + " must be a non-negative integer");
        (key == "minItems" ? out->min_items : out->max_items) = n;
      } else if (key == "uniqueItems") {
        if (!v.is_boolean()) return Fail(where, "uniqueItems must be a boolean");
        out->unique_items = v.template get<bool>();
      } else if (key == "minLength" || key == "maxLength") {
        std::optional<size_t> n = ReadCount(v);
        if (!n) return Fail(where, key + " must be a non-negative integer");
        (key == "minLength" ? out->min_length : out->max_length) = n;
      } else if (key == "pattern") {
        if (!v.is_string()) return Fail(where, "pattern must be a string");
        out->pattern_text = v.template get<std::string>();
        try {
          out->pattern.emplace(out->pattern_text, std::regex::ECMAScript);
          out->simple_pattern = SimplePattern::Compile(out->pattern_text);
        } catch (const std::regex_error& e) {
          return Fail(where, "pattern is not a valid ECMAScript regular expression: " +
                                 std::string(e.what()));
        }
      } else if (key == "format") {
        if (!v.is_string()) return Fail(where, "format must be a string");
      } else if (!Ignored(key)) {
        return Fail(where, "unsupported keyword '" + key + "'");
      }
    }

    if (out->extra == Node::Extra::kDeny) {
      for (const std::string& name : out->required) {
        if (!out->FindProperty(name)) {
          return Fail(where, "required '" + name +
                                 "' is not in properties, and additionalProperties is false");
        }
      }
    }
    return Status::Ok();
  }

 private:
  static Status Fail(const std::string& where, const std::string& what) {
    return FailedPreconditionError("schema at " + (where.empty() ? std::string("/") : where) +
                                   ": " + what);
  }

  static bool Ignored(const std::string& key) {
    if (key.rfind("x-", 0) == 0) return true;
    for (const char* k : kIgnoredKeywords) {
      if (key == k) return true;
    }
    return false;
  }

  static Status CompileType(const J& v, const std::string& where, Node* out) {
    auto add = [&](const J& name) {
      if (!name.is_string()) return false;
      for (const TypeName& t : kTypeNames) {
        if (name.template get<std::string>() == t.name) {
          out->types |= t.bit;
          return true;
        }
      }
      return false;
    };
    bool ok = v.is_array() ? !v.empty() : true;
    if (v.is_array()) {
      for (const auto& name : v) ok = ok && add(name);
    } else {
      ok = add(v);
    }
    if (!ok) {
      return Fail(where,
                  "type must be one of string, integer, number, boolean, object, array, null, or "
                  "a non-empty array of them");
    }
    return Status::Ok();
  }
};

template <typename J>
Result<std::shared_ptr<const Node>> CompileRoot(const J& schema) {
  auto root = std::make_shared<Node>();
  Compiler<J> compiler;
  FASTEN_RETURN_IF_ERROR(compiler.CompileNode(schema, "", 0, root.get()));
  return std::shared_ptr<const Node>(std::move(root));
}

// ---------------------------------------------------------------------------------------------
// Numbers, compared exactly across int64, uint64 and double

struct Int {
  bool negative;  // never true for zero
  uint64_t magnitude;
};

int CompareInts(Int a, Int b) {
  if (a.negative != b.negative) return a.negative ? -1 : 1;
  if (a.magnitude == b.magnitude) return 0;
  bool a_smaller = a.magnitude < b.magnitude;
  return (a_smaller != a.negative) ? -1 : 1;
}

Int ToInt(const json& v) {
  if (v.is_number_unsigned()) return {false, v.get<uint64_t>()};
  int64_t n = v.get<int64_t>();
  if (n < 0) return {true, uint64_t{0} - static_cast<uint64_t>(n)};
  return {false, static_cast<uint64_t>(n)};
}

// Compares an integer with a double; nullopt when `d` is NaN.
std::optional<int> CompareIntDouble(Int i, double d) {
  if (std::isnan(d)) return std::nullopt;
  constexpr double kTwo64 = 18446744073709551616.0;
  double t = std::trunc(d);
  if (t >= kTwo64) return -1;
  if (t <= -kTwo64) return 1;
  Int ti{t < 0, static_cast<uint64_t>(std::fabs(t))};
  if (ti.magnitude == 0) ti.negative = false;
  int c = CompareInts(i, ti);
  if (c != 0) return c;
  if (d > t) return -1;
  if (d < t) return 1;
  return 0;
}

// <0, 0 or >0 as a is less than, equal to or greater than b; nullopt when unordered (NaN).
std::optional<int> CompareNumbers(const json& a, const json& b) {
  bool a_int = a.is_number_integer(), b_int = b.is_number_integer();
  if (a_int && b_int) return CompareInts(ToInt(a), ToInt(b));
  if (a_int) return CompareIntDouble(ToInt(a), b.get<double>());
  if (b_int) {
    std::optional<int> c = CompareIntDouble(ToInt(b), a.get<double>());
    if (!c) return std::nullopt;
    return -*c;
  }
  double x = a.get<double>(), y = b.get<double>();
  if (std::isnan(x) || std::isnan(y)) return std::nullopt;
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool IsIntegral(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  double d = v.get<double>();
  return std::isfinite(d) && d == std::floor(d);
}

// ---------------------------------------------------------------------------------------------
// Describing values in messages

constexpr size_t kShownCodePoints = 64;

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

size_t CountCodePoints(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += IsContinuationByte(c) ? 0 : 1;
  return n;
}

// At most kShownCodePoints code points of `s`, with "..." when cut.
std::string Shorten(const std::string& s) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (IsContinuationByte(s[i])) continue;
    if (seen == kShownCodePoints) return s.substr(0, i) + "...";
    ++seen;
  }
  return s;
}

constexpr int kShownDepth = 8;

// A string as 'text'; anything else as compact JSON, unless nested too deeply to print safely.
std::string Show(const json& v) {
  if (v.is_string()) return "'" + Shorten(v.get_ref<const std::string&>()) + "'";
  if (!DepthAtMost(v, kShownDepth)) {
    return std::string(v.is_array() ? "an array" : "an object") + " nested deeper than " +
           std::to_string(kShownDepth) + " levels";
  }
  return Shorten(v.dump(-1, ' ', true, json::error_handler_t::replace));
}

// An enum option as listed: strings bare, anything else as JSON.
std::string ShowOption(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', true, json::error_handler_t::replace);
}

std::string ExpectedTypes(unsigned types) {
  std::vector<const char*> names;
  for (const TypeName& t : kTypeNames) {
    if (types & t.bit) names.push_back(t.with_article);
  }
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += (i + 1 == names.size()) ? " or " : ", ";
    out += names[i];
  }
  return out;
}

bool MatchesType(unsigned types, const json& v) {
  if (types == 0) return true;
  switch (v.type()) {
    case json::value_t::string:
      return types & kString;
    case json::value_t::boolean:
      return types & kBoolean;
    case json::value_t::object:
      return types & kObject;
    case json::value_t::array:
      return types & kArray;
    case json::value_t::null:
      return types & kNull;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return (types & kNumber) || ((types & kInteger) && IsIntegral(v));
    default:
      return false;
  }
}

std::string Plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// ---------------------------------------------------------------------------------------------
// Validating

// `path` is "" for the root, "limit", "filter.level", "ids[2]"…
std::string Label(const std::string& path) {
  return path.empty() ? "arguments" : path;
}
std::string MemberPath(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}
const char* MemberNoun(const std::string& path) {
  return path.empty() ? "argument" : "field";
}

Status Problem(const std::string& path, const std::string& what) {
  return InvalidArgumentError(Label(path) + ": " + what);
}

Status CheckNumber(const Node& n, const json& v, const std::string& path) {
  if (!n.minimum && !n.maximum) return Status::Ok();
  auto below = [&](const json& bound) {
    std::optional<int> c = CompareNumbers(v, bound);
    return !c || *c < 0;
  };
  auto above = [&](const json& bound) {
    std::optional<int> c = CompareNumbers(v, bound);
    return !c || *c > 0;
  };
  bool too_small = n.minimum && below(*n.minimum);
  bool too_big = n.maximum && above(*n.maximum);
  if (!too_small && !too_big) return Status::Ok();
  std::string got = "; got " + Show(v);
  if (n.minimum && n.maximum) {
    const char* kind = (n.types & kInteger) && !(n.types & kNumber) ? "an integer" : "a number";
    return Problem(path, std::string("must be ") + kind + " from " + n.minimum->dump() + " to " +
                             n.maximum->dump() + got);
  }
  if (too_small) return Problem(path, "must be at least " + n.minimum->dump() + got);
  return Problem(path, "must be at most " + n.maximum->dump() + got);
}

Status CheckString(const Node& n, const json& v, const std::string& path) {
  const std::string& s = v.get_ref<const std::string&>();
  if (n.min_length || n.max_length) {
    size_t len = CountCodePoints(s);
    bool too_short = n.min_length && len < *n.min_length;
    bool too_long = n.max_length && len > *n.max_length;
    if (too_short || too_long) {
      std::string got = "; got " + std::to_string(len);
      if (n.min_length && n.max_length) {
        return Problem(path, "must be from " + std::to_string(*n.min_length) + " to " +
                                 Plural(*n.max_length, "character") + " long" + got);
      }
      if (too_short) {
        return Problem(path,
                       "must be at least " + Plural(*n.min_length, "character") + " long" + got);
      }
      return Problem(path, "must be at most " + Plural(*n.max_length, "character") + " long" + got);
    }
  }
  if (n.pattern) {
    if (s.size() > kMaxPatternInputBytes) {
      return Problem(path, "is too long to check against its pattern (at most " +
                               std::to_string(kMaxPatternInputBytes) + " bytes); got " +
                               std::to_string(s.size()) + " bytes");
    }
    bool matched = false;
    try {
      matched = n.simple_pattern ? n.simple_pattern->Matches(s) : std::regex_search(s, *n.pattern);
    } catch (const std::regex_error&) {
      return Problem(path, "could not be checked against the pattern " + n.pattern_text +
                               "; use a shorter or simpler value");
    }
    if (!matched) {
      return Problem(path, "must match the pattern " + n.pattern_text + "; got " + Show(v));
    }
  }
  return Status::Ok();
}

Status Check(const Node& n, const json& v, const std::string& path);

// Item count first (so a huge array is refused before anything looks at its items), then
// uniqueness, then each item.
Status CheckArray(const Node& n, const json& v, const std::string& path) {
  const size_t size = v.size();
  if (n.max_items && size > *n.max_items) {
    return Problem(path, "must hold at most " + Plural(*n.max_items, "item") + "; got " +
                             std::to_string(size));
  }
  if (n.min_items && size < *n.min_items) {
    return Problem(path, "must hold at least " + Plural(*n.min_items, "item") + "; got " +
                             std::to_string(size));
  }
  if (n.unique_items) {
    for (size_t i = 1; i < size; ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (v[i] == v[j]) {
          return Problem(path, "must not repeat an item; " + Show(v[i]) + " is both item " +
                                   std::to_string(j) + " and item " + std::to_string(i));
        }
      }
    }
  }
  if (!n.items) return Status::Ok();
  for (size_t i = 0; i < size; ++i) {
    FASTEN_RETURN_IF_ERROR(Check(*n.items, v[i], Label(path) + "[" + std::to_string(i) + "]"));
  }
  return Status::Ok();
}

Status CheckObject(const Node& n, const json& v, const std::string& path) {
  for (const std::string& name : n.required) {
    if (!v.contains(name)) {
      return Problem(MemberPath(path, name), std::string("missing required ") + MemberNoun(path));
    }
  }
  for (const auto& [name, sub] : n.properties) {
    auto it = v.find(name);
    if (it != v.end()) FASTEN_RETURN_IF_ERROR(Check(*sub, *it, MemberPath(path, name)));
  }
  if (n.extra == Node::Extra::kAllow) return Status::Ok();
  for (const auto& [name, member] : v.items()) {
    if (n.FindProperty(name)) continue;
    if (n.extra == Node::Extra::kSchema) {
      FASTEN_RETURN_IF_ERROR(Check(*n.extra_schema, member, MemberPath(path, name)));
      continue;
    }
    std::string allowed;
    for (const auto& [known, unused] : n.properties) {
      allowed += allowed.empty() ? "" : ", ";
      allowed += known;
    }
    std::string noun = MemberNoun(path);
    return Problem(MemberPath(path, name),
                   "unknown " + noun + "; " +
                       (allowed.empty() ? "no " + noun + "s are accepted" : "allowed: " + allowed));
  }
  return Status::Ok();
}

Status Check(const Node& n, const json& v, const std::string& path) {
  if (n.never) return Problem(path, "no value is allowed here; remove it");
  if (!MatchesType(n.types, v)) {
    bool wanted_integer = v.is_number() && (n.types & kInteger);
    return Problem(path, "expected " + ExpectedTypes(n.types) + ", got " +
                             (wanted_integer ? v.dump() : std::string(v.type_name())));
  }
  if (n.const_value && v != *n.const_value) {
    return Problem(path, "must be " + Show(*n.const_value) + "; got " + Show(v));
  }
  if (n.has_enum) {
    bool found = false;
    for (const json& option : n.enum_values) found = found || v == option;
    if (!found) {
      std::string options;
      for (const json& option : n.enum_values) {
        options += options.empty() ? "" : ", ";
        options += ShowOption(option);
      }
      return Problem(path, "must be one of " + options + "; got " + Show(v));
    }
  }
  if (v.is_number()) FASTEN_RETURN_IF_ERROR(CheckNumber(n, v, path));
  if (v.is_string()) FASTEN_RETURN_IF_ERROR(CheckString(n, v, path));
  if (v.is_object()) FASTEN_RETURN_IF_ERROR(CheckObject(n, v, path));
  if (v.is_array()) FASTEN_RETURN_IF_ERROR(CheckArray(n, v, path));
  return Status::Ok();
}

}  // namespace

Result<JsonSchema> JsonSchema::Compile(const nlohmann::json& schema) {
  auto root = CompileRoot(schema);
  if (!root.ok()) return root.status();
  return JsonSchema(std::move(root).value());
}

Result<JsonSchema> JsonSchema::Compile(const nlohmann::ordered_json& schema) {
  auto root = CompileRoot(schema);
  if (!root.ok()) return root.status();
  return JsonSchema(std::move(root).value());
}

Status JsonSchema::Validate(const nlohmann::json& value) const {
  return Check(*root_, value, "");
}

Status ValidateJson(const nlohmann::json& schema, const nlohmann::json& value) {
  Result<JsonSchema> compiled = JsonSchema::Compile(schema);
  if (!compiled.ok()) return compiled.status();
  return compiled->Validate(value);
}

}  // namespace fasten
