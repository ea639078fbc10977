#include "tools/row_json.h"

#include <nlohmann/json.hpp>

#include "tools/json_out.h"
#include "validator/chain.h"
#include "validator/digest.h"

namespace fasten {
namespace {

using nlohmann::json;

json Nullable(const NullableText& t) {
  return t.null ? json(nullptr) : json(t.value);
}

// Parses JSON text for display; nullopt when nlohmann cannot (NaN, lone surrogates, garbage).
std::optional<json> ParseForDisplay(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
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
  } else if (auto d = ParseForDisplay(row.detail.value)) {
    j["detail"] = *d;
  } else {
    j["detail"] = nullptr;
    j["detail_raw"] = row.detail.value;
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
  if (!row.warnings.empty()) j["warnings"] = row.warnings;
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
  if (auto p = ParseForDisplay(row.payload)) {
    j["payload"] = *p;
  } else {
    j["payload"] = nullptr;
    j["payload_raw"] = row.payload;
    j["warnings"] = json::array({"payload is not valid JSON"});
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
    json p = json::parse(row.payload, nullptr, false);
    if (!p.is_discarded() && p.is_object() && p.contains("duration_ms") &&
        p["duration_ms"].is_number()) {
      s += " (" + DumpJson(p["duration_ms"]) + " ms)";
    }
    return s;
  }
  std::string s = row.level + " " + row.event;
  json p = json::parse(row.payload, nullptr, false);
  if (!p.is_discarded() && p.is_object() && p.contains("message") && p["message"].is_string()) {
    s += ": " + p["message"].get<std::string>();
  }
  return s;
}

}  // namespace fasten
