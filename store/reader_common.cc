#include "store/reader_common.h"

#include <algorithm>
#include <charconv>
#include <tuple>

#include "store/timestamp.h"
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

void BeginAuditRow(AuditRow* row) {
  row->warnings.clear();
  row->tenant_id.SetNull();
  row->pii_in_detail = 0;
  row->shipped_at.SetNull();
  row->wire_version.assign("1");
  row->hash.clear();
  row->prev_hash.assign("genesis");
  row->canonical_form_id.assign("1");
  row->detail_salt.SetNull();
  row->detail_commitment.SetNull();
}

namespace {
bool ParseWholeInt(std::string_view text, int64_t* out) {
  auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && !text.empty();
}
}  // namespace

void SetAuditColumn(int col, std::string_view text, bool is_null, AuditRow* row) {
  auto set = [&](std::string* s) { s->assign(text.data(), text.size()); };
  auto set_nullable = [&](NullableText* s) {
    if (is_null)
      s->SetNull();
    else
      s->Set(text);
  };
  switch (col) {
    case kId:
      set(&row->id);
      break;
    case kOriginId:
      set(&row->origin_id);
      break;
    case kSeq:
      if (is_null || !ParseWholeInt(text, &row->monotonic_seq)) {
        row->monotonic_seq = 0;
        row->warnings.push_back("monotonic_seq is not an integer: '" + std::string(text) + "'");
      }
      break;
    case kTimestamp:
      set(&row->timestamp);
      break;
    case kCode:
      set(&row->code);
      break;
    case kAction:
      set(&row->action);
      break;
    case kSeverity:
      set(&row->severity);
      break;
    case kServiceId:
      set(&row->service_id);
      break;
    case kNode:
      set(&row->source_node_id);
      break;
    case kTenant:
      set_nullable(&row->tenant_id);
      break;
    case kActor:
      set(&row->actor);
      break;
    case kActorKind:
      set(&row->actor_kind);
      break;
    case kTarget:
      set(&row->target);
      break;
    case kCategory:
      set(&row->category);
      break;
    case kDomain:
      set(&row->domain);
      break;
    case kMethod:
      set(&row->method);
      break;
    case kRequestId:
      set(&row->request_id);
      break;
    case kDetail:
      set_nullable(&row->detail);
      break;
    case kPii: {
      int64_t v = 0;
      row->pii_in_detail = ParseWholeInt(text, &v) ? static_cast<int>(v) : 0;
      break;
    }
    case kShippedAt:
      set_nullable(&row->shipped_at);
      break;
    case kWireVersion:
      set(&row->wire_version);
      if (row->wire_version.empty()) row->wire_version.assign("1");
      break;
    case kHash:
      set(&row->hash);
      break;
    case kPrevHash:
      if (is_null)
        row->prev_hash.assign("genesis");
      else
        set(&row->prev_hash);
      break;
    case kFormId:
      if (is_null)
        row->canonical_form_id.assign("1");
      else
        set(&row->canonical_form_id);
      break;
    case kSalt:
      set_nullable(&row->detail_salt);
      break;
    case kCommitment:
      set_nullable(&row->detail_commitment);
      break;
  }
}

void FinishAuditRow(AuditRow* row) {
  row->timestamp_ok = ParseTimestamp(row->timestamp, &row->timestamp_us);
  if (!row->timestamp_ok) {
    row->warnings.push_back("unparseable timestamp '" + row->timestamp + "'");
  }
  row->shipped_at_ok =
      !row->shipped_at.null && ParseTimestamp(row->shipped_at.value, &row->shipped_at_us);
}

Status SeqHashBatch::Make(const std::vector<std::pair<int64_t, std::string>>& pairs,
                          SeqHashBatch* out) {
  *out = SeqHashBatch();
  if (pairs.size() > AuditReader::kMaxBatchPairs) {
    return InvalidArgumentError(
        "too many (seq, hash) pairs in one lookup: " + std::to_string(pairs.size()) + " (at most " +
        std::to_string(AuditReader::kMaxBatchPairs) + ")");
  }
  out->wanted.insert(pairs.begin(), pairs.end());
  for (const auto& [seq, hash] : out->wanted) {
    out->seqs.insert(seq);
    out->hashes.insert(hash);
  }
  return Status::Ok();
}

void SeqHashBatch::KeepWanted(std::vector<AuditRow>& rows, std::vector<AuditRow>* out) const {
  for (AuditRow& r : rows) {
    if (wanted.count({r.monotonic_seq, r.hash})) out->push_back(std::move(r));
  }
}

std::set<int64_t> SeqHashBatch::PredecessorSeqs() const {
  std::set<int64_t> out;
  for (int64_t s : seqs) {
    if (s > 1) out.insert(s - 1);
  }
  return out;
}

void SeqHashBatch::SplitWithLinks(std::vector<AuditRow>& rows, std::vector<AuditRow>* out,
                                  std::vector<AuditRow>* links) const {
  std::set<std::tuple<std::string, int64_t, std::string, std::string>> seen;
  std::vector<AuditRow> unique;
  for (AuditRow& r : rows) {
    if (seen.emplace(r.source_node_id, r.monotonic_seq, r.hash, r.id).second) {
      unique.push_back(std::move(r));
    }
  }
  for (const AuditRow& r : unique) {
    if (wanted.count({r.monotonic_seq, r.hash})) out->push_back(r);
  }
  *links = std::move(unique);
}

void SeqSpanBuilder::Add(std::string_view node, int64_t seq) {
  auto it = spans_.find(node);
  if (it == spans_.end()) {
    NodeSeqSpan span;
    span.source_node_id = std::string(node);
    span.first_seq = span.last_seq = seq;
    it = spans_.emplace(span.source_node_id, std::move(span)).first;
  }
  NodeSeqSpan& span = it->second;
  span.first_seq = std::min(span.first_seq, seq);
  span.last_seq = std::max(span.last_seq, seq);
  ++span.rows;
}

void SeqSpanBuilder::Finish(std::vector<NodeSeqSpan>* out) {
  out->clear();
  for (auto& [node, span] : spans_) out->push_back(std::move(span));
  spans_.clear();
}

}  // namespace fasten
