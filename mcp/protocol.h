// MCP protocol constants and the checks every transport shares, in one place: the protocol
// versions, the _meta keys and HTTP header names of the modern era, the JSON-RPC error codes,
// and the modern envelope checks (the dispatcher's and the HTTP transport's).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace fasten::mcp {

inline constexpr const char* kModernVersion = "2026-07-28";
inline constexpr const char* kLatestLegacyVersion = "2025-11-25";
// The legacy versions served, newest first.
inline constexpr const char* kLegacyVersions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                  "2024-11-05", "2024-10-07"};
// The legacy version of an HTTP request without an MCP-Protocol-Version header (docs/mcp.md §6).
inline constexpr const char* kDefaultLegacyVersion = "2025-03-26";

inline constexpr const char* kMetaVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr const char* kMetaCapabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr const char* kMetaServerInfo = "io.modelcontextprotocol/serverInfo";

// HTTP header fields of the modern era.
inline constexpr const char* kHeaderProtocolVersion = "MCP-Protocol-Version";
inline constexpr const char* kHeaderMethod = "Mcp-Method";
inline constexpr const char* kHeaderName = "Mcp-Name";

enum ErrorCode : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kHeaderMismatch = -32020,
  kMissingRequiredClientCapability = -32021,
  kUnsupportedProtocolVersion = -32022,
};

bool IsLegacyVersion(std::string_view version);

// {"jsonrpc":"2.0","id":id,"error":{...}}; a null `id` pointer gives "id": null (JSON-RPC 2.0
// §5: the id of a request whose id could not be determined, e.g. a parse error).
nlohmann::json ErrorResponse(const nlohmann::json* id, int code, const std::string& message,
                             nlohmann::json data = nullptr);

// The modern envelope (params._meta of a request that names a protocol version there), each
// check the error response or nullopt:
//   the version a string (-32602) and 2026-07-28 (-32022);
std::optional<nlohmann::json> CheckModernVersion(const nlohmann::json& id,
                                                 const nlohmann::json& version);
//   clientCapabilities present and an object (-32602);
std::optional<nlohmann::json> CheckModernCapabilities(const nlohmann::json& id,
                                                      const nlohmann::json& meta);
//   both, in that order (what every modern request is held to on every transport).
std::optional<nlohmann::json> CheckModernEnvelope(const nlohmann::json& id,
                                                  const nlohmann::json& params);

}  // namespace fasten::mcp
