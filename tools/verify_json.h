// A chain verification report as JSON: the shape `fasten-mcp verify --json` prints and the
// chain_verify tool returns. {"ok", "nodes":[{source_node_id, ok, total_rows, verified,
// unsealed, first_break_at, reason, tip:{seq,hash}, ...}], "summary", "upstream", "caveat"}.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "validator/chain.h"

namespace fasten {

nlohmann::json NodeReportJson(const NodeReport& node);
nlohmann::json VerifyReportJson(const VerifyReport& report);

}  // namespace fasten
