#include "llm/prices.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "llm/config_json.h"
#include "util/state_db.h"

namespace fasten::llm {
namespace {

using nlohmann::json;

// The rate fields of a model entry (or of its long_context block) into *price. Fields absent from
// `entry` keep the value *price already has. *saw_cache_read says whether a cache-read rate was
// given.
Status ParseRates(const json& entry, const std::string& where, bool is_long_context,
                  ModelPrice* price, bool* saw_input, bool* saw_output, bool* saw_cache_read,
                  bool* saw_cw5m, bool* saw_cw1h, int64_t* threshold) {
  std::optional<double> cache_read, cached_input;
  for (const auto& [key, v] : entry.items()) {
    const std::string field = where + "." + key;
    if (key == "input_per_mtok") {
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &price->input));
      *saw_input = true;
    } else if (key == "output_per_mtok") {
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &price->output));
      *saw_output = true;
    } else if (key == "cache_read_per_mtok") {
      double d = 0;
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &d));
      cache_read = d;
    } else if (key == "cached_input_per_mtok") {  // OpenAI's name for the same thing
      double d = 0;
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &d));
      cached_input = d;
    } else if (key == "cache_write_5m_per_mtok") {
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &price->cache_write_5m));
      *saw_cw5m = true;
    } else if (key == "cache_write_1h_per_mtok") {
      FASTEN_RETURN_IF_ERROR(NonNegative(v, field, &price->cache_write_1h));
      *saw_cw1h = true;
    } else if (key == "threshold_tokens" && is_long_context) {
      if (!v.is_number_integer() || v.get<int64_t>() <= 0) {
        return InvalidArgumentError(field + " must be a positive integer, got " + v.dump());
      }
      *threshold = v.get<int64_t>();
    } else if (key == "long_context" && !is_long_context) {
      continue;  // parsed by the caller
    } else if (!IsCommentKey(key)) {
      return InvalidArgumentError(
          "unknown field " + field +
          " (known: input_per_mtok, output_per_mtok, cache_read_per_mtok or "
          "cached_input_per_mtok, cache_write_5m_per_mtok, cache_write_1h_per_mtok" +
          (is_long_context ? ", threshold_tokens" : ", long_context") + ")");
    }
  }
  if (cache_read && cached_input && *cache_read != *cached_input) {
    return InvalidArgumentError(where +
                                " gives both cache_read_per_mtok and cached_input_per_mtok "
                                "with different values: keep one");
  }
  if (cache_read || cached_input) {
    price->cache_read = cache_read ? *cache_read : *cached_input;
    *saw_cache_read = true;
  }
  return Status::Ok();
}

// A model key: "<provider>/<model>" or "<provider>/*".
Status CheckModelKey(const std::string& key) {
  size_t slash = key.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == key.size()) {
    return InvalidArgumentError("model key '" + key +
                                "' must be \"<provider>/<model>\" or \"<provider>/*\"");
  }
  std::string model = key.substr(slash + 1);
  if (model != "*" && model.find('*') != std::string::npos) {
    return InvalidArgumentError("model key '" + key +
                                "': '*' is only allowed as the whole model part (\"" +
                                key.substr(0, slash) + "/*\")");
  }
  return Status::Ok();
}

// The executable's directory, from /proc/self/exe; empty when unknown.
std::string ExecutableDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  return StateParentDir(buf);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PriceTable.

Result<PriceTable> PriceTable::Parse(const std::string& text, const std::string& origin) {
  Result<json> parsed = ParseJsonObject(text, "price table " + origin);
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  const std::string where = "price table " + origin;
  PriceTable table;
  table.origin_ = origin;
  for (const auto& [key, v] : doc.items()) {
    if (key == "pricing_version") {
      if (!v.is_string() || v.get<std::string>().empty()) {
        return InvalidArgumentError(where + ": pricing_version must be a non-empty string");
      }
      table.version_ = v.get<std::string>();
    } else if (key == "currency") {
      if (!v.is_string()) return InvalidArgumentError(where + ": currency must be a string");
      table.currency_ = v.get<std::string>();
    } else if (key == "effective_date") {
      if (!v.is_string()) return InvalidArgumentError(where + ": effective_date must be a string");
    } else if (key != "models" && !IsCommentKey(key)) {
      return InvalidArgumentError(where + ": unknown field '" + key +
                                  "' (known: pricing_version, effective_date, currency, models)");
    }
  }
  if (table.version_.empty()) {
    return InvalidArgumentError(where +
                                ": pricing_version is missing (every cost records the version "
                                "of the table it was computed with)");
  }
  if (table.currency_.empty()) return InvalidArgumentError(where + ": currency is missing");
  if (table.currency_ != "USD") {
    return InvalidArgumentError(where + ": currency '" + table.currency_ +
                                "' is not supported (costs and caps are in USD)");
  }
  auto models = doc.find("models");
  if (models == doc.end() || !models->is_object()) {
    return InvalidArgumentError(where +
                                ": models must be an object of \"<provider>/<model>\" "
                                "entries");
  }
  for (const auto& [key, entry] : models->items()) {
    if (IsCommentKey(key)) continue;
    Status st = CheckModelKey(key);
    if (!st.ok()) return st.WithContext(where);
    const std::string ew = "models[\"" + key + "\"]";
    if (!entry.is_object()) return InvalidArgumentError(where + ": " + ew + " must be an object");
    ModelPrice price;
    bool in = false, out = false, cr = false, cw5 = false, cw1 = false;
    int64_t unused = 0;
    st = ParseRates(entry, ew, false, &price, &in, &out, &cr, &cw5, &cw1, &unused);
    if (!st.ok()) return st.WithContext(where);
    if (!in || !out) {
      return InvalidArgumentError(where + ": " + ew +
                                  " needs input_per_mtok and output_per_mtok (0 for free models)");
    }
    // A cache rate the table does not give is charged at the input rate: never cheaper than
    // what the table says, never a silent $0.
    if (!cr) price.cache_read = price.input;
    if (!cw5) price.cache_write_5m = price.input;
    if (!cw1) price.cache_write_1h = price.input;
    auto lc = entry.find("long_context");
    if (lc != entry.end()) {
      const std::string lw = ew + ".long_context";
      if (!lc->is_object()) return InvalidArgumentError(where + ": " + lw + " must be an object");
      LongContext longc;
      longc.rates = price;  // rates it does not give are the base ones
      bool lin = false, lout = false, lcr = false, lcw5 = false, lcw1 = false;
      st = ParseRates(*lc, lw, true, &longc.rates, &lin, &lout, &lcr, &lcw5, &lcw1,
                      &longc.threshold_tokens);
      if (!st.ok()) return st.WithContext(where);
      if (longc.threshold_tokens <= 0) {
        return InvalidArgumentError(where + ": " + lw + " needs threshold_tokens");
      }
      table.long_context_[key] = longc;
    }
    table.models_[key] = price;
  }
  return table;
}

Result<PriceTable> PriceTable::Load(const std::string& path) {
  std::string text;
  FASTEN_RETURN_IF_ERROR(ReadSmallFile(path, "price table", &text));
  return Parse(text, path);
}

Result<PriceTable> PriceTable::Default() {
  std::vector<std::string> searched;
  if (const char* env = std::getenv("FASTEN_PRICES"); env != nullptr && *env != '\0') {
    // An explicit choice: its errors are reported, never silently replaced by another table.
    Result<PriceTable> t = Load(env);
    if (!t.ok()) return t.status().WithContext("FASTEN_PRICES");
    return t;
  }
  searched.push_back("$FASTEN_PRICES (unset)");
  std::vector<std::string> candidates;
  std::string exe = ExecutableDir();
  if (!exe.empty()) {
    candidates.push_back(exe + "/../share/fasten-mcp/prices.json");
    candidates.push_back(exe + "/data/prices.json");
  }
#ifdef FASTEN_DATA_DIR
  candidates.push_back(std::string(FASTEN_DATA_DIR) + "/prices.json");
#endif
  for (const std::string& c : candidates) {
    if (StatePathExists(c)) return Load(c);
    searched.push_back(c);
  }
  std::string list;
  for (const std::string& s : searched) list += (list.empty() ? "" : ", ") + s;
  return NotFoundError("no price table found (looked in: " + list +
                       "); set FASTEN_PRICES to a prices.json (format: data/prices.json in the "
                       "fasten-mcp sources)");
}

const std::string* PriceTable::FindKey(const std::string& provider,
                                       const std::string& model) const {
  auto it = models_.find(provider + "/" + model);
  if (it == models_.end()) it = models_.find(provider + "/*");
  return it == models_.end() ? nullptr : &it->first;
}

std::optional<ModelPrice> PriceTable::Find(const std::string& provider,
                                           const std::string& model) const {
  if (provider.empty() || model.empty()) return std::nullopt;
  const std::string* key = FindKey(provider, model);
  if (!key) return std::nullopt;
  return models_.at(*key);
}

std::optional<double> PriceTable::Cost(const std::string& provider, const std::string& model,
                                       const Usage& u) const {
  if (!u.known) return std::nullopt;
  if (u.input < 0 || u.output < 0 || u.cache_read < 0 || u.cache_write_5m < 0 ||
      u.cache_write_1h < 0) {
    return std::nullopt;
  }
  if (provider.empty() || model.empty()) return std::nullopt;
  const std::string* key = FindKey(provider, model);
  if (!key) return std::nullopt;
  ModelPrice p = models_.at(*key);
  auto lc = long_context_.find(*key);
  if (lc != long_context_.end()) {
    const int64_t prompt = u.input + u.cache_read + u.cache_write_5m + u.cache_write_1h;
    if (prompt > lc->second.threshold_tokens) p = lc->second.rates;
  }
  // Anthropic and OpenAI-style usage share one formula: `input` is the uncached prompt (OpenAI:
  // prompt_tokens - cached_tokens), cache_read the cached prompt (OpenAI: cached_tokens, priced
  // at cached_input), and OpenAI reports no cache writes.
  double micro = static_cast<double>(u.input) * p.input +
                 static_cast<double>(u.cache_write_5m) * p.cache_write_5m +
                 static_cast<double>(u.cache_write_1h) * p.cache_write_1h +
                 static_cast<double>(u.cache_read) * p.cache_read +
                 static_cast<double>(u.output) * p.output;
  return micro / 1e6;
}

}  // namespace fasten::llm
