#include "pack/pack_format.h"

#include <charconv>
#include <cstdlib>
#include <vector>

#include "store/json_row.h"
#include "tools/json_out.h"
#include "util/crypto.h"
#include "util/json_text.h"

namespace fasten::pack {
namespace {

namespace jt = json_text;

void Key(const char* key, std::string* out) {
  out->push_back(',');
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

void Text(const char* key, std::string_view value, std::string* out) {
  Key(key, out);
  AppendJsonString(value, out);
}

void Nullable(const char* key, const NullableText& value, std::string* out) {
  Key(key, out);
  if (value.null) {
    out->append("null");
  } else {
    AppendJsonString(value.value, out);
  }
}

// True when `text` is exactly one JSON value on one line, with no space around it, that reads
// back as the same text (the text "null" would read back as SQL NULL).
bool OneLineJsonValue(std::string_view text) {
  if (text.empty() || text == "null" || text.find_first_of("\n\r") != std::string_view::npos) {
    return false;
  }
  const char* p = text.data();
  const char* end = p + text.size();
  std::string error;
  if (*p == ' ' || *p == '\t' || !jt::SkipValue(p, end, &error)) return false;
  return p == end;
}

bool ReadText(std::string_view raw, std::string* out) {
  out->clear();
  if (raw.empty() || raw.front() != '"') return false;
  const char* p = raw.data();
  return jt::ReadString(p, raw.data() + raw.size(), out, nullptr) && p == raw.data() + raw.size();
}

}  // namespace

bool KnownMember(std::string_view name) {
  for (const char* m : {kManifest, kManifestSig, kAudit, kLinks, kVerify, kCheckpoints, kSys, kApi,
                        kInvestigation}) {
    if (name == m) return true;
  }
  return false;
}

std::string ManifestNoteText(std::string_view name, std::string_view manifest_sha256) {
  std::string text = kFormat;
  text += "\nname ";
  text.append(name);
  text += "\nmanifest ";
  text.append(manifest_sha256);
  text += "\n";
  return text;
}

bool ValidPackName(std::string_view name) {
  if (name.empty() || name.size() > 200 || name.front() == ' ' || name.back() == ' ') return false;
  for (char c : name) {
    if (c < ' ' || c > '~') return false;
  }
  return true;
}

void AppendPackRowLine(const AuditRow& row, std::string* out) {
  out->append("{\"shape\":\"audit\"");
  Text("id", row.id, out);
  Text("origin_id", row.origin_id, out);
  Key("monotonic_seq", out);
  out->append(std::to_string(row.monotonic_seq));
  Text("timestamp", row.timestamp, out);
  Text("code", row.code, out);
  Text("action", row.action, out);
  Text("severity", row.severity, out);
  Text("service_id", row.service_id, out);
  Text("source_node_id", row.source_node_id, out);
  Nullable("tenant_id", row.tenant_id, out);
  Text("actor", row.actor, out);
  Text("actor_kind", row.actor_kind, out);
  Text("target", row.target, out);
  Text("category", row.category, out);
  Text("domain", row.domain, out);
  Text("method", row.method, out);
  Text("request_id", row.request_id, out);
  Key("detail", out);
  const bool detail_inline = row.detail.null || OneLineJsonValue(row.detail.value);
  if (!detail_inline || row.detail.null) {
    out->append("null");
  } else {
    out->append(row.detail.value);
  }
  if (!detail_inline) Text("detail_text", row.detail.value, out);
  Key("pii_in_detail", out);
  out->append(std::to_string(row.pii_in_detail));
  Nullable("shipped_at", row.shipped_at, out);
  Text("wire_version", row.wire_version, out);
  Text("hash", row.hash, out);
  Text("prev_hash", row.prev_hash, out);
  Text("canonical_form_id", row.canonical_form_id, out);
  Nullable("detail_salt", row.detail_salt, out);
  Nullable("detail_commitment", row.detail_commitment, out);
  if (row.from_timestamptz) out->append(",\"timestamptz\":true");
  out->push_back('}');
}

Status PackRowFromLine(std::string_view line, AuditRow* row) {
  FASTEN_RETURN_IF_ERROR(AuditRowFromJson(line, row));
  // The two keys of the pack's own: looked for only when their text is in the line.
  if (line.find("\"detail_text\"") == std::string_view::npos &&
      line.find("\"timestamptz\"") == std::string_view::npos) {
    return Status::Ok();
  }
  std::vector<jt::Member> members;
  std::string error;
  if (!jt::ObjectMembers(line, &members, &error)) return InvalidArgumentError(error);
  for (const jt::Member& m : members) {
    if (m.key == "detail_text") {
      std::string text;
      if (!ReadText(m.raw, &text)) return InvalidArgumentError("'detail_text' is not a string");
      row->detail.Set(text);
    } else if (m.key == "timestamptz") {
      if (m.raw != "true" && m.raw != "false") {
        return InvalidArgumentError("'timestamptz' is not a boolean");
      }
      row->from_timestamptz = m.raw == "true";
    }
  }
  return Status::Ok();
}

void AppendLinkLine(std::string_view node, int64_t seq, std::string_view hash,
                    std::string_view prev_hash, std::string* out) {
  out->append("{\"node\":");
  AppendJsonString(node, out);
  out->append(",\"seq\":");
  out->append(std::to_string(seq));
  Text("hash", hash, out);
  Text("prev_hash", prev_hash, out);
  out->push_back('}');
}

Status ParseLinkLine(std::string_view line, LinkRecord* out) {
  std::vector<jt::Member> members;
  std::string error;
  if (line.size() > kMaxLinkLineBytes) return InvalidArgumentError("link line too long");
  if (!jt::ObjectMembers(line, &members, &error)) {
    return InvalidArgumentError("not a JSON object: " + error);
  }
  bool node = false, seq = false, hash = false, prev = false;
  for (const jt::Member& m : members) {
    bool ok = true;
    bool* seen = nullptr;
    if (m.key == "node") {
      seen = &node;
      ok = ReadText(m.raw, &out->node);
    } else if (m.key == "seq") {
      seen = &seq;
      auto r = std::from_chars(m.raw.data(), m.raw.data() + m.raw.size(), out->seq);
      ok = r.ec == std::errc() && r.ptr == m.raw.data() + m.raw.size() && out->seq >= 0;
    } else if (m.key == "hash") {
      seen = &hash;
      ok = ReadText(m.raw, &out->hash);
    } else if (m.key == "prev_hash") {
      seen = &prev;
      ok = ReadText(m.raw, &out->prev_hash);
    } else {
      return InvalidArgumentError("unexpected key '" + m.key +
                                  "' (a link holds node, seq, hash, "
                                  "prev_hash only)");
    }
    if (*seen) return InvalidArgumentError("key '" + m.key + "' given twice");
    *seen = true;
    if (!ok) return InvalidArgumentError("'" + m.key + "' has an unexpected value");
  }
  if (!node || !seq || !hash || !prev) {
    return InvalidArgumentError("a link needs node, seq, hash and prev_hash");
  }
  return Status::Ok();
}

}  // namespace fasten::pack
