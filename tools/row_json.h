// Rows as JSON for people and agents: every audit row carries monotonic_seq, hash,
// source_node_id and its chain status; every stream row carries seq and its content digest, so
// any row can be cited. Row text is data: it is returned as JSON values, never interpreted.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "store/row.h"

namespace fasten {

struct RowCheck;
struct ContentDigest;

// `check` may be null (status omitted).
nlohmann::json AuditRowJson(const AuditRow& row, const RowCheck* check);
nlohmann::json StreamRowJson(const StreamRow& row, const ContentDigest& digest);

// Serialises JSON safely: invalid UTF-8 in row text is replaced (U+FFFD), never thrown.
std::string DumpJson(const nlohmann::json& value, int indent = -1);

// A one-line human summary of a row.
std::string AuditRowSummary(const AuditRow& row);
std::string StreamRowSummary(const StreamRow& row);

}  // namespace fasten
