// Helpers for driving the dispatcher in-process.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "mcp/dispatcher.h"

namespace fasten::testing {

inline nlohmann::json ModernMeta() {
  return {{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
          {"io.modelcontextprotocol/clientCapabilities", nlohmann::json::object()}};
}

// A modern tools/call request.
inline nlohmann::json ToolCall(int64_t id, const std::string& name, nlohmann::json args) {
  return {{"jsonrpc", "2.0"},
          {"id", id},
          {"method", "tools/call"},
          {"params", {{"name", name}, {"arguments", std::move(args)}, {"_meta", ModernMeta()}}}};
}

}  // namespace fasten::testing
