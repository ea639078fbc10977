#include "mcp/access_record.h"

namespace fasten::mcp {

using nlohmann::json;

int64_t RowsReturned(const json& content) {
  if (!content.is_object()) return 0;
  for (const char* key : {"rows", "timeline", "matches"}) {
    auto it = content.find(key);
    if (it != content.end() && it->is_array()) return static_cast<int64_t>(it->size());
  }
  auto row = content.find("row");
  return row != content.end() && row->is_object() ? 1 : 0;
}

record::NewRecord AccessRecord(const TenantScope& scope, const std::string& credential,
                               const json& request, const json& response, int64_t rows) {
  record::NewRecord rec;
  rec.kind = record::kKindAccess;
  rec.tenant = scope.RecordTenant();
  const json* params = nullptr;
  if (auto p = request.find("params"); p != request.end() && p->is_object()) params = &*p;
  json tool = params ? params->value("name", json("")) : json("");
  rec.content = {
      {"credential", credential}, {"tool", tool.is_string() ? tool : json("")}, {"rows", rows}};
  auto error = response.find("error");
  if (error != response.end() && error->is_object()) {
    rec.content["status"] = "rpc_error";
    rec.content["error_code"] = error->value("code", json(0));
  } else {
    auto result = response.find("result");
    const bool is_error = result != response.end() && result->is_object() &&
                          result->value("isError", json(false)) == json(true);
    rec.content["status"] = is_error ? "tool_error" : "ok";
  }
  json arguments = json::object();
  if (params) {
    if (auto a = params->find("arguments"); a != params->end()) arguments = *a;
  }
  rec.digest_only = std::move(arguments);
  rec.digest_field = "arguments_sha256";
  return rec;
}

}  // namespace fasten::mcp
