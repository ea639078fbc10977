#include "tools/row_json.h"

#include <nlohmann/json.hpp>

#include "tools/json_out.h"
#include "tools/route_template.h"
#include "util/json_parse.h"
#include "validator/chain.h"
#include "validator/digest.h"

namespace fasten {
namespace {

using nlohmann::json;

json Nullable(const NullableText& t) {
  return t.null ? json(nullptr) : json(t.value);
}

// Parses stored JSON text for display, held to the depth limit every document is held to;
// nullopt with *why when it cannot be shown as JSON (NaN, invalid UTF-8, garbage, too deep).
std::optional<json> ParseForDisplay(const std::string& text, std::string* why) {
  json j;
  JsonParseResult r = ParseJson(text, JsonLimits{text.size(), kMaxJsonDepth}, &j);
  if (r.ok()) return j;
  *why = r.error == JsonParseError::kTooDeep ? r.message : "not valid JSON";
  return std::nullopt;
}

// A top-level member of a stored JSON object, or null when the text is not such an object.
json PayloadMember(const std::string& payload, const char* key) {
  json p;
  if (!ParseJson(payload, JsonLimits{payload.size(), kMaxJsonDepth}, &p).ok() || !p.is_object()) {
    return nullptr;
  }
  auto it = p.find(key);
  return it == p.end() ? json(nullptr) : std::move(*it);
}

std::string DisplayTime(bool ok, Micros t, const std::string& raw) {
  return ok ? CanonicalTimestamp(t) : raw;
}

}  // namespace

std::string DumpJson(const json& value, int indent) {
  if (indent >= 0) return value.dump(indent, ' ', false, json::error_handler_t::replace);
  std::string out;
  AppendJson(value, &out);  // the same bytes, faster
  return out;
}

json AuditRowJson(const AuditRow& row, const RowCheck* check) {
  json j = json::object();
  std::string why;
  std::vector<std::string> warnings = row.warnings;
  j["monotonic_seq"] = row.monotonic_seq;
  j["hash"] = row.hash;
  j["source_node_id"] = row.source_node_id;
  j["id"] = row.id;
  j["origin_id"] = row.origin_id;
  j["timestamp"] = DisplayTime(row.timestamp_ok, row.timestamp_us, row.timestamp);
  if (row.timestamp_ok && row.timestamp != j["timestamp"].get<std::string>()) {
    j["timestamp_stored"] = row.timestamp;
  }
  j["code"] = row.code;
  j["action"] = row.action;
  j["severity"] = row.severity;
  j["service_id"] = row.service_id;
  j["tenant_id"] = Nullable(row.tenant_id);
  j["actor"] = row.actor;
  j["actor_kind"] = row.actor_kind;
  j["target"] = row.target;
  j["category"] = row.category;
  j["domain"] = row.domain;
  j["method"] = row.method;
  j["request_id"] = row.request_id;
  if (row.detail_is_null()) {
    j["detail"] = nullptr;
    if (row.canonical_form_id == "2" && row.detail_salt.null) j["redacted"] = true;
  } else if (auto d = ParseForDisplay(row.detail.value, &why)) {
    j["detail"] = std::move(*d);
  } else {
    j["detail"] = nullptr;
    j["detail_raw"] = row.detail.value;
    warnings.push_back("detail is " + why + ": shown as text in detail_raw");
  }
  j["shipped_at"] =
      row.shipped_at.null
          ? json(nullptr)
          : json(DisplayTime(row.shipped_at_ok, row.shipped_at_us, row.shipped_at.value));
  j["wire_version"] = row.wire_version;
  j["canonical_form_id"] = row.canonical_form_id;
  j["prev_hash"] = row.prev_hash;
  if (!row.detail_commitment.null) j["detail_commitment"] = row.detail_commitment.value;
  if (check) {
    json c = {{"status", check->Summary()}};
    if (!check->label.empty()) c["fallback"] = check->label;
    c["scope"] = "row hash only; run verify for links";
    j["chain"] = c;
  }
  if (!warnings.empty()) j["warnings"] = std::move(warnings);
  return j;
}

json StreamRowJson(const StreamRow& row, const ContentDigest& digest) {
  json j = json::object();
  j["stream"] = StreamName(row.kind);
  j["seq"] = row.seq;
  j["digest"] = digest.hex;
  j["digest_kind"] = digest.canonical ? kStreamDigestLabel
                                      : "content-addressed over raw bytes (payload is not JSON), "
                                        "not chained";
  j["timestamp"] = DisplayTime(row.timestamp_ok, row.timestamp_us, row.timestamp);
  j["request_id"] = row.request_id;
  // The route the row counts under in red_metrics (ids in the path as {id}); the raw path stays
  // in the payload.
  if (row.kind == StreamKind::kApi && !row.path.empty())
    j["route"] = ApiRoute(row.method, row.path);
  std::string why;
  if (auto p = ParseForDisplay(row.payload, &why)) {
    j["payload"] = std::move(*p);
  } else {
    j["payload"] = nullptr;
    j["payload_raw"] = row.payload;
    j["warnings"] = json::array({"payload is " + why});
  }
  return j;
}

std::string AuditRowSummary(const AuditRow& row) {
  std::string s = row.code + " " + row.severity + " actor=" + row.actor;
  if (!row.target.empty()) s += " target=" + row.target;
  return s;
}

std::string StreamRowSummary(const StreamRow& row) {
  if (row.kind == StreamKind::kApi) {
    std::string s = row.method + " " + row.path;
    if (row.has_status) s += " -> " + std::to_string(row.status);
    json duration = PayloadMember(row.payload, "duration_ms");
    if (duration.is_number()) s += " (" + DumpJson(duration) + " ms)";
    return s;
  }
  std::string s = row.level + " " + row.event;
  json message = PayloadMember(row.payload, "message");
  if (message.is_string()) s += ": " + message.get<std::string>();
  return s;
}

}  // namespace fasten
