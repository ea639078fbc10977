#include "mcp/protocol.h"

#include "tools/row_json.h"

namespace fasten::mcp {

using json = nlohmann::json;

bool IsLegacyVersion(std::string_view version) {
  for (const char* v : kLegacyVersions) {
    if (version == v) return true;
  }
  return false;
}

json ErrorResponse(const json* id, int code, const std::string& message, json data) {
  json err = {{"code", code}, {"message", message}};
  if (!data.is_null()) err["data"] = std::move(data);
  return {{"jsonrpc", "2.0"}, {"id", id ? *id : json(nullptr)}, {"error", std::move(err)}};
}

std::optional<json> CheckModernVersion(const json& id, const json& version) {
  if (!version.is_string()) {
    return ErrorResponse(&id, kInvalidParams, std::string(kMetaVersion) + " must be a string");
  }
  if (version != kModernVersion) {
    return ErrorResponse(&id, kUnsupportedProtocolVersion,
                         "unsupported protocol version " + DumpJson(version),
                         {{"supported", {kModernVersion}}, {"requested", version}});
  }
  return std::nullopt;
}

std::optional<json> CheckModernCapabilities(const json& id, const json& meta) {
  auto caps = meta.find(kMetaCapabilities);
  if (caps == meta.end() || !caps->is_object()) {
    return ErrorResponse(&id, kInvalidParams,
                         std::string("missing _meta[\"") + kMetaCapabilities + "\"] (an object)");
  }
  return std::nullopt;
}

std::optional<json> CheckModernEnvelope(const json& id, const json& params) {
  const json& meta = params["_meta"];
  if (auto error = CheckModernVersion(id, meta[kMetaVersion])) return error;
  return CheckModernCapabilities(id, meta);
}

}  // namespace fasten::mcp
