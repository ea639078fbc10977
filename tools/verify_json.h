// A chain verification report as JSON: the shape `fasten-mcp verify --json` prints and the
// chain_verify tool returns. {"ok", "nodes":[{source_node_id, ok, total_rows, verified,
// unsealed, first_break_at, reason, tip:{seq,hash}, ...}], "summary", "upstream", "caveat"}.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <vector>

#include "store/reader.h"
#include "validator/chain.h"

namespace fasten {

nlohmann::json NodeReportJson(const NodeReport& node);
nlohmann::json VerifyReportJson(const VerifyReport& report);

// The time window a verification covered and what it resolved to:
// {"since", "until" (canonical spelling, or null), "source_node_id" (or null), "nodes":
// [{source_node_id, from_seq, to_seq, rows_in_window}]}.
nlohmann::json TimeWindowJson(std::optional<Micros> since, std::optional<Micros> until,
                              const std::optional<std::string>& source_node_id,
                              const std::vector<NodeSeqSpan>& spans);

}  // namespace fasten
