// The access record of one MCP tools/call over HTTP (docs/investigations.md): who called which
// tool, a SHA-256 commitment to its arguments (never the arguments themselves), how many rows
// came back and how the call ended. The transport offers it to a record::RecordWriter after the
// response has been handed to the network, so recording never delays an answer.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "record/record_log.h"
#include "store/tenant_scope.h"

namespace fasten::mcp {

// The record of `request` (a tools/call) answered with `response`, for the caller's scope
// (TenantScope::RecordTenant: the tenant, or "*" for a server serving every tenant) and
// credential label. The content:
//   credential        the token's label ("local" without authentication, "jwt:SUB" for JWTs)
//   tool              params.name
//   arguments_sha256  SHA-256 of the canonical JSON of params.arguments ({} when absent),
//                     computed when the record is appended
//   rows              `rows` (the dispatcher's CallContext::rows_returned; 0 for errors)
//   status            "ok", "tool_error" (result.isError) or "rpc_error" (with error_code)
record::NewRecord AccessRecord(const TenantScope& scope, const std::string& credential,
                               const nlohmann::json& request, const nlohmann::json& response,
                               int64_t rows);

// Rows a tool's result holds: the length of its "rows", "timeline" or "matches" array (the
// first present), else 1 when it holds a "row" object, else 0.
int64_t RowsReturned(const nlohmann::json& tool_result);

}  // namespace fasten::mcp
