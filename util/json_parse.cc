#include "util/json_parse.h"

#include <nlohmann/json.hpp>
#include <vector>

namespace fasten {
namespace {

using nlohmann::json;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code unit of the \uXXXX escape starting at text[i] (text[i] == '\\'), or -1.
int EscapedUnit(const std::string& text, size_t i) {
  if (i + 6 > text.size() || text[i] != '\\' || text[i + 1] != 'u') return -1;
  int v = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    int h = HexDigit(text[k]);
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}

// Builds the document from nlohmann's (iterative) SAX events, holding the open containers on a
// stack of its own and eliding every container deeper than the limit.
class BoundedDomBuilder final : public nlohmann::json_sax<json> {
 public:
  BoundedDomBuilder(int max_depth, json* root) : max_depth_(max_depth), root_(root) {}

  bool null() override { return Scalar(json()); }
  bool boolean(bool v) override { return Scalar(json(v)); }
  bool number_integer(number_integer_t v) override { return Scalar(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Scalar(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return Scalar(json(v)); }
  bool string(string_t& v) override { return Scalar(json(std::move(v))); }
  bool binary(binary_t&) override { return Scalar(json()); }  // never produced by text input

  bool start_object(std::size_t) override { return Open(json::value_t::object); }
  bool start_array(std::size_t) override { return Open(json::value_t::array); }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }

  bool key(string_t& k) override {
    if (skip_ == 0) key_ = std::move(k);
    return true;
  }

  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    position_ = position;
    message_ = ex.what();
    return false;
  }

  bool too_deep() const { return too_deep_; }
  size_t position() const { return position_; }
  const std::string& message() const { return message_; }

 private:
  // Places `v` where the next value goes and returns it.
  json* Put(json&& v) {
    if (open_.empty()) {
      *root_ = std::move(v);
      return root_;
    }
    json& top = *open_.back();
    if (top.is_array()) {
      top.get_ref<json::array_t&>().push_back(std::move(v));
      return &top.get_ref<json::array_t&>().back();
    }
    json& slot = top.get_ref<json::object_t&>()[std::move(key_)];  // a later duplicate wins
    slot = std::move(v);
    return &slot;
  }

  bool Scalar(json&& v) {
    if (skip_ == 0) Put(std::move(v));
    return true;
  }

  bool Open(json::value_t type) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    if (static_cast<int>(open_.size()) >= max_depth_) {
      too_deep_ = true;
      Put(json());  // the elided container reads as null
      skip_ = 1;
      return true;
    }
    open_.push_back(Put(json(type)));
    return true;
  }

  bool Close() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    open_.pop_back();
    return true;
  }

  const int max_depth_;
  json* const root_;
  std::vector<json*> open_;  // the containers being filled, innermost last
  std::string key_;          // the key of the next object member
  size_t skip_ = 0;          // > 0 while inside an elided container: its nesting level
  bool too_deep_ = false;
  size_t position_ = 0;
  std::string message_;
};

JsonParseResult ParseOnce(std::string_view text, const JsonLimits& limits, json* out) {
  JsonParseResult r;
  BoundedDomBuilder builder(limits.max_depth, out);
  const bool ok = json::sax_parse(text.begin(), text.end(), &builder, json::input_format_t::json,
                                  /*strict=*/true);
  if (!ok) {
    *out = nullptr;
    r.error = JsonParseError::kSyntax;
    std::string detail = builder.message();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
    if (size_t colon = detail.find(": "); colon != std::string::npos) {
      detail = detail.substr(colon + 2);
    }
    r.message = "not valid JSON at byte " + std::to_string(builder.position()) + ": " + detail;
    return r;
  }
  if (builder.too_deep()) {
    r.error = JsonParseError::kTooDeep;
    r.message =
        "JSON nested deeper than the limit of " + std::to_string(limits.max_depth) + " levels";
  }
  return r;
}

}  // namespace

size_t ReplaceLoneSurrogateEscapes(std::string* text) {
  std::string& t = *text;
  size_t replaced = 0;
  bool in_string = false;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (!in_string) {
      if (c == '"') in_string = true;
      continue;
    }
    if (c == '"') {
      in_string = false;
      continue;
    }
    if (c != '\\') continue;
    const int unit = EscapedUnit(t, i);
    if (unit < 0) {
      ++i;  // a two-character escape (or a bad one the parser will report)
      continue;
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const int low = EscapedUnit(t, i + 6);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        i += 11;  // a proper pair
        continue;
      }
    }
    if (unit >= 0xD800 && unit <= 0xDFFF) {
      t.replace(i, 6, "\\ufffd");
      ++replaced;
    }
    i += 5;
  }
  return replaced;
}

JsonParseResult ParseJson(std::string_view text, const JsonLimits& limits, json* out) {
  *out = nullptr;
  if (text.size() > limits.max_bytes) {
    JsonParseResult r;
    r.error = JsonParseError::kTooLarge;
    r.message = "JSON text of " + std::to_string(text.size()) + " bytes is over the limit of " +
                std::to_string(limits.max_bytes) + " bytes";
    return r;
  }
  // nlohmann's lexer takes a NUL byte for the end of the input, so "{}\0anything" would parse
  // as {}. JSON text never holds one (not even inside a string): a syntax error.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    JsonParseResult r;
    r.error = JsonParseError::kSyntax;
    r.message = "not valid JSON at byte " + std::to_string(nul + 1) + ": a NUL byte";
    return r;
  }
  JsonParseResult r = ParseOnce(text, limits, out);
  if (r.error != JsonParseError::kSyntax || text.find("\\u") == std::string_view::npos) return r;
  // nlohmann rejects lone surrogate escapes, which the JSON grammar allows: read them as U+FFFD.
  std::string copy(text);
  if (ReplaceLoneSurrogateEscapes(&copy) == 0) return r;
  JsonParseResult again = ParseOnce(copy, limits, out);
  return again.error == JsonParseError::kSyntax ? r : again;
}

Status ParseJsonStatus(std::string_view text, const JsonLimits& limits, const std::string& what,
                       json* out) {
  JsonParseResult r = ParseJson(text, limits, out);
  if (r.ok()) return Status::Ok();
  *out = nullptr;
  if (r.error == JsonParseError::kSyntax) return InvalidArgumentError(what + ": " + r.message);
  return ResourceExhaustedError(what + ": " + r.message);
}

}  // namespace fasten
