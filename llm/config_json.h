// The JSON configuration files of llm/: the price table (llm/prices.h) and the cost caps
// (llm/spend_ledger.h). Both are small operator-written objects that may carry comment keys.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

#include "util/status.h"

namespace fasten::llm {

inline constexpr size_t kMaxConfigBytes = 4 << 20;

// Reads a whole (small) configuration file; `what` names it in errors.
Status ReadSmallFile(const std::string& path, const std::string& what, std::string* out);

// `text` as a JSON object; `origin` names it in errors.
Result<nlohmann::json> ParseJsonObject(const std::string& text, const std::string& origin);

// Keys a human may add for documentation: "comment", or anything starting with '_'.
bool IsCommentKey(const std::string& key);

// A price or cap: a finite number >= 0.
Status NonNegative(const nlohmann::json& v, const std::string& where, double* out);

}  // namespace fasten::llm
