// The price table (docs/providers.md §6): configuration data, never code. USD per million tokens
// per
// "<provider>/<model>", and the cost of one model call from its usage.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "llm/provider.h"
#include "util/status.h"

namespace fasten::llm {

struct ModelPrice {  // USD per million tokens
  double input = 0, output = 0, cache_read = 0, cache_write_5m = 0, cache_write_1h = 0;
  // OpenAI: cached prompt tokens are priced at cached_input (our Usage.cache_read).
};

class PriceTable {
 public:
  // Parses the JSON document of docs/providers.md §6 ({pricing_version, currency, models: {...}}).
  static Result<PriceTable> Parse(const std::string& text, const std::string& origin);
  static Result<PriceTable> Load(const std::string& path);
  // The table shipped with the binary (data/prices.json), looked for in order: $FASTEN_PRICES (an
  // explicit path: its errors are reported, never replaced), <exe dir>/../share/fasten-mcp/
  // prices.json, <exe dir>/data/prices.json, the source tree's data/. NotFound names them all.
  static Result<PriceTable> Default();

  const std::string& version() const { return version_; }
  const std::string& currency() const { return currency_; }
  // "<provider>/<model>" exact, else "<provider>/*"; nullopt: unpriced.
  std::optional<ModelPrice> Find(const std::string& provider, const std::string& model) const;
  // USD for one call; nullopt ("unknown", never 0) when the model is unpriced or usage unknown.
  std::optional<double> Cost(const std::string& provider, const std::string& model,
                             const Usage& usage) const;

  // Where the table was read from (a path, or the `origin` given to Parse).
  const std::string& origin() const { return origin_; }
  size_t size() const { return models_.size(); }

 private:
  // A model's optional `long_context` block: these rates replace the base ones for a call whose
  // prompt (input + cache_read + cache writes) exceeds threshold_tokens.
  struct LongContext {
    int64_t threshold_tokens = 0;
    ModelPrice rates;
  };
  const std::string* FindKey(const std::string& provider, const std::string& model) const;

  std::string version_, currency_;
  std::map<std::string, ModelPrice> models_;
  std::map<std::string, LongContext> long_context_;
  std::string origin_;
};

}  // namespace fasten::llm
