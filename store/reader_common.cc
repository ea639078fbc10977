#include "store/reader_common.h"

#include "util/json_text.h"

namespace fasten {

const char* const kAuditColNames[kNumAuditCols] = {"id",
                                                   "origin_id",
                                                   "monotonic_seq",
                                                   "timestamp",
                                                   "code",
                                                   "action",
                                                   "severity",
                                                   "service_id",
                                                   "source_node_id",
                                                   "tenant_id",
                                                   "actor",
                                                   "actor_kind",
                                                   "target",
                                                   "category",
                                                   "domain",
                                                   "method",
                                                   "request_id",
                                                   "detail",
                                                   "pii_in_detail",
                                                   "shipped_at",
                                                   "wire_version",
                                                   "hash",
                                                   "prev_hash",
                                                   "canonical_form_id",
                                                   "detail_salt",
                                                   "detail_commitment"};

bool RequiredAuditCol(int c) {
  return c <= kDetail && c != kTenant;
}

std::string DescribeAuditColumns(const bool present[kNumAuditCols], WriterProfile* profile) {
  std::string missing_required;
  profile->missing.clear();
  for (int c = 0; c < kNumAuditCols; ++c) {
    if (present[c]) continue;
    if (RequiredAuditCol(c)) {
      missing_required += std::string(missing_required.empty() ? "" : ", ") + kAuditColNames[c];
    } else {
      profile->missing.push_back(kAuditColNames[c]);
    }
  }
  auto missing = [&](int c) { return !present[c]; };
  if (missing(kHash) && missing(kPrevHash))
    profile->guess = "cpp-header (no hash columns: rows are unsealed)";
  else if (missing(kPii) && missing(kWireVersion))
    profile->guess = "python-sqlite-store";
  else if (!missing(kSalt))
    profile->guess = "spec-ddl, migrated for form 2";
  else if (missing(kFormId))
    profile->guess = "older-go (no canonical_form_id)";
  else
    profile->guess = "spec-ddl";
  return missing_required;
}

std::pair<std::string, std::string> TextSearchPatterns(const std::string& term) {
  auto lower = [](std::string s) {
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
  };
  auto like = [](const std::string& s) {
    std::string p = "%";
    for (char c : s) {
      if (c == '%' || c == '_' || c == '\\') p.push_back('\\');
      p.push_back(c);
    }
    return p + "%";
  };
  std::string escaped;
  const char* p = term.data();
  const char* end = p + term.size();
  static constexpr char kHex[] = "0123456789abcdef";
  while (p < end) {
    char32_t cp = json_text::NextCodePoint(p, end);
    auto u4 = [&](char32_t v) {
      escaped += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) escaped.push_back(kHex[(v >> shift) & 15]);
    };
    if (cp < 0x80) {
      escaped.push_back(static_cast<char>(cp));
    } else if (cp < 0x10000) {
      u4(cp);
    } else {
      u4(0xD800 + ((cp - 0x10000) >> 10));
      u4(0xDC00 + ((cp - 0x10000) & 0x3FF));
    }
  }
  return {like(lower(term)), like(lower(escaped))};
}

Micros NextSecond(Micros t) {
  const Micros sec = 1000000;
  return (t / sec + (t % sec < 0 ? 0 : 1)) * sec;
}

std::string JoinNames(const std::vector<std::string>& names) {
  if (names.empty()) return "(none)";
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace fasten
