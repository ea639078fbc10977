#include "store/reader.h"

#include <charconv>
#include <climits>

#include "util/base64.h"

namespace fasten {

AuditKey AuditKey::Of(const AuditRow& row) {
  AuditKey k;
  k.ts_prefix = row.timestamp.substr(0, 19);
  k.ts_us = row.timestamp_ok ? row.timestamp_us : LLONG_MIN;
  k.seq = row.monotonic_seq;
  k.node = row.source_node_id;
  k.id = row.id;
  return k;
}

bool AuditKey::Before(const AuditKey& a, const AuditKey& b) {
  if (a.ts_prefix != b.ts_prefix) return a.ts_prefix > b.ts_prefix;
  if (a.ts_us != b.ts_us) return a.ts_us > b.ts_us;
  if (a.seq != b.seq) return a.seq > b.seq;
  if (a.node != b.node) return a.node < b.node;
  return a.id < b.id;
}

namespace {
void PutField(std::string_view s, std::string* out) {
  out->append(std::to_string(s.size()));
  out->push_back(':');
  out->append(s);
}
bool GetField(std::string_view* in, std::string* out) {
  size_t colon = in->find(':');
  if (colon == std::string_view::npos) return false;
  size_t n = 0;
  auto r = std::from_chars(in->data(), in->data() + colon, n);
  if (r.ec != std::errc() || r.ptr != in->data() + colon || colon + 1 + n > in->size())
    return false;
  out->assign(in->substr(colon + 1, n));
  in->remove_prefix(colon + 1 + n);
  return true;
}
bool GetInt(std::string_view* in, int64_t* out) {
  std::string s;
  if (!GetField(in, &s)) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
}  // namespace

std::string AuditKey::Encode() const {
  std::string raw = "a1";
  PutField(ts_prefix, &raw);
  PutField(std::to_string(ts_us), &raw);
  PutField(std::to_string(seq), &raw);
  PutField(node, &raw);
  PutField(id, &raw);
  return Base64UrlEncode(raw);
}

std::optional<AuditKey> AuditKey::Decode(std::string_view text) {
  std::optional<std::string> raw = Base64UrlDecode(text);
  if (!raw || raw->rfind("a1", 0) != 0) return std::nullopt;
  std::string_view in(*raw);
  in.remove_prefix(2);
  AuditKey k;
  if (!GetField(&in, &k.ts_prefix) || !GetInt(&in, &k.ts_us) || !GetInt(&in, &k.seq) ||
      !GetField(&in, &k.node) || !GetField(&in, &k.id) || !in.empty()) {
    return std::nullopt;
  }
  return k;
}

}  // namespace fasten
