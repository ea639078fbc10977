#include "store/json_row.h"

#include <charconv>

#include "util/json_text.h"

namespace fasten {
namespace {

// Reads a JSON string (or the token of a number) as text.
bool TextValue(std::string_view raw, std::string* out) {
  out->clear();
  if (!raw.empty() && raw.front() == '"') {
    const char* p = raw.data();
    return json_text::ReadString(p, raw.data() + raw.size(), out, nullptr);
  }
  if (!raw.empty() && (raw.front() == '-' || (raw.front() >= '0' && raw.front() <= '9'))) {
    out->assign(raw);
    return true;
  }
  return false;
}

bool NullableValue(std::string_view raw, NullableText* out) {
  if (raw == "null") {
    out->SetNull();
    return true;
  }
  out->null = false;
  return TextValue(raw, &out->value);
}

}  // namespace

void ParseRowTimestamps(AuditRow* row) {
  row->timestamp_ok = ParseTimestamp(row->timestamp, &row->timestamp_us);
  row->shipped_at_ok =
      !row->shipped_at.null && ParseTimestamp(row->shipped_at.value, &row->shipped_at_us);
}

Status AuditRowFromJson(std::string_view text, AuditRow* row) {
  *row = AuditRow();
  std::vector<json_text::Member> members;
  std::string error;
  if (!json_text::ObjectMembers(text, &members, &error)) {
    return InvalidArgumentError("not a JSON object: " + error);
  }
  for (const json_text::Member& m : members) {
    const std::string& k = m.key;
    bool ok = true;
    std::string* text_field = nullptr;
    NullableText* nullable = nullptr;
    if (k == "id")
      text_field = &row->id;
    else if (k == "origin_id")
      text_field = &row->origin_id;
    else if (k == "timestamp")
      text_field = &row->timestamp;
    else if (k == "code")
      text_field = &row->code;
    else if (k == "action")
      text_field = &row->action;
    else if (k == "severity")
      text_field = &row->severity;
    else if (k == "service_id")
      text_field = &row->service_id;
    else if (k == "source_node_id")
      text_field = &row->source_node_id;
    else if (k == "actor")
      text_field = &row->actor;
    else if (k == "actor_kind")
      text_field = &row->actor_kind;
    else if (k == "target")
      text_field = &row->target;
    else if (k == "category")
      text_field = &row->category;
    else if (k == "domain")
      text_field = &row->domain;
    else if (k == "method")
      text_field = &row->method;
    else if (k == "request_id")
      text_field = &row->request_id;
    else if (k == "wire_version")
      text_field = &row->wire_version;
    else if (k == "hash")
      text_field = &row->hash;
    else if (k == "prev_hash")
      text_field = &row->prev_hash;
    else if (k == "canonical_form_id")
      text_field = &row->canonical_form_id;
    else if (k == "tenant_id")
      nullable = &row->tenant_id;
    else if (k == "shipped_at")
      nullable = &row->shipped_at;
    else if (k == "detail_salt")
      nullable = &row->detail_salt;
    else if (k == "detail_commitment")
      nullable = &row->detail_commitment;
    else if (k == "detail") {
      if (m.raw == "null")
        row->detail.SetNull();
      else
        row->detail.Set(m.raw);
    } else if (k == "monotonic_seq") {
      auto r = std::from_chars(m.raw.data(), m.raw.data() + m.raw.size(), row->monotonic_seq);
      ok = r.ec == std::errc() && r.ptr == m.raw.data() + m.raw.size();
    } else if (k == "pii_in_detail") {
      row->pii_in_detail = (m.raw == "1" || m.raw == "true") ? 1 : 0;
    }
    if (text_field) {
      // Go omits empty optional strings; a JSON null in a text field reads as its default.
      if (m.raw == "null") continue;
      ok = TextValue(m.raw, text_field);
    } else if (nullable) {
      ok = NullableValue(m.raw, nullable);
    }
    if (!ok) return InvalidArgumentError("field '" + k + "' has an unexpected value");
  }
  if (row->id.empty()) return InvalidArgumentError("row has no 'id'");
  if (row->wire_version.empty()) row->wire_version = "1";
  ParseRowTimestamps(row);
  return Status::Ok();
}

}  // namespace fasten
