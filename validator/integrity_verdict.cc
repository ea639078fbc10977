#include "validator/integrity_verdict.h"

#include <algorithm>

#include "store/reader.h"
#include "store/timestamp.h"
#include "validator/verify_store.h"

namespace fasten {
namespace {

Micros FloorMinute(Micros t) {
  Micros r = t % kMicrosPerMinute;
  if (r < 0) r += kMicrosPerMinute;
  return t - r;
}

Micros CeilMinute(Micros t) {
  const Micros f = FloorMinute(t);
  return f == t ? t : f + kMicrosPerMinute;
}

// "2026-11-20T14:02:00Z" -> date "2026-11-20", time "14:02" (or "14:02:05.5" when not whole).
void SplitInstant(Micros t, std::string* date, std::string* time) {
  const std::string s = CanonicalTimestamp(t);  // YYYY-MM-DDTHH:MM:SS[.ffffff]Z
  const size_t tpos = s.find('T');
  *date = s.substr(0, tpos);
  std::string rest = s.substr(tpos + 1);
  if (!rest.empty() && rest.back() == 'Z') rest.pop_back();
  if (t % kMicrosPerMinute == 0 && rest.size() >= 5) rest.resize(5);
  *time = rest;
}

std::string JoinNodes(const std::vector<const NodeIntegrity*>& nodes) {
  std::string s;
  for (const NodeIntegrity* n : nodes) {
    if (!s.empty()) s += ", ";
    s += n->source_node_id;
  }
  return s;
}

void FillNode(const NodeReport& r, const NodeSeqSpan* span, NodeIntegrity* n) {
  n->source_node_id = r.source_node_id;
  n->present = true;
  n->ok = r.ok;
  n->sealed = r.sealed;
  n->valid = r.valid();
  n->unsealed = r.unsealed;
  n->invalid = r.invalid;
  n->first_break = r.first_break;
  if (span) {
    n->from_seq = span->first_seq;
    n->to_seq = span->last_seq;
    n->rows_in_window = span->rows;
  } else {
    n->from_seq = r.first_seq;
    n->to_seq = r.last_seq;
    n->rows_in_window = r.total_rows;
  }
}

// Verifies the window (one node, or all); *budget is what is left of kMaxVerdictSeqs. Sets
// *too_large (and *seqs) instead of verifying when the window exceeds it.
Status VerifyWindow(AuditReader* reader, const TenantScope& tenant, const IntegrityScope& scope,
                    const std::string* node, int64_t* budget, bool* too_large, int64_t* seqs,
                    std::vector<NodeIntegrity>* out) {
  VerifyStoreOptions options;
  options.since = scope.since;
  options.until = scope.until;
  options.threads = 1;
  options.max_window_seqs = std::max<int64_t>(*budget, 1);
  if (node) options.range.source_node_id = *node;
  VerifyStoreResult result;
  Status st = VerifyStore(tenant, reader, options, &result);
  int64_t used = 0;
  for (const NodeSeqSpan& s : result.spans) used += s.last_seq - s.first_seq + 1;
  *seqs += used;
  if (st.code() == StatusCode::kResourceExhausted) {
    *too_large = true;
    return Status::Ok();
  }
  FASTEN_RETURN_IF_ERROR(st);
  *budget -= used;
  for (const NodeReport& r : result.report.nodes) {
    if (node && r.source_node_id != *node) continue;
    const NodeSeqSpan* span = nullptr;
    for (const NodeSeqSpan& s : result.spans) {
      if (s.source_node_id == r.source_node_id) span = &s;
    }
    NodeIntegrity n;
    FillNode(r, span, &n);
    out->push_back(std::move(n));
  }
  return Status::Ok();
}

}  // namespace

std::optional<Micros> ParseIntegrityMargin(std::string_view text) {
  if (text == "0") return Micros{0};
  if (text.size() < 2 || text.size() > 8) return std::nullopt;
  const char unit = text.back();
  const Micros scale = unit == 's'   ? 1000000
                       : unit == 'm' ? kMicrosPerMinute
                       : unit == 'h' ? 60 * kMicrosPerMinute
                                     : 0;
  if (scale == 0) return std::nullopt;
  Micros n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n * scale > kMaxIntegrityMargin) return std::nullopt;
  return n * scale;
}

IntegrityScope WidenedScope(Micros first, Micros last, Micros margin) {
  if (last < first) std::swap(first, last);
  IntegrityScope s;
  s.since = FloorMinute(first - margin);
  s.until = CeilMinute(last + margin);
  return s;
}

bool ScopeCovers(const IntegrityScope& outer, const IntegrityScope& inner,
                 const std::vector<std::string>& inner_nodes_seen) {
  if (outer.since > inner.since || outer.until < inner.until) return false;
  if (!outer.nodes_listed()) return true;
  const std::vector<std::string>& needed = inner.nodes_listed() ? inner.nodes : inner_nodes_seen;
  for (const std::string& n : needed) {
    if (std::find(outer.nodes.begin(), outer.nodes.end(), n) == outer.nodes.end()) return false;
  }
  return true;
}

bool IntegrityVerdict::empty() const {
  return std::none_of(nodes.begin(), nodes.end(), [](const NodeIntegrity& n) { return n.present; });
}

const NodeIntegrity* IntegrityVerdict::FirstBreak() const {
  for (const NodeIntegrity& n : nodes) {
    if (n.present && !n.ok) return &n;
  }
  return nullptr;
}

const NodeIntegrity* IntegrityVerdict::FirstUnanchored() const {
  for (const NodeIntegrity& n : nodes) {
    if (n.present && n.sealed > 0 && !n.anchored) return &n;
  }
  return nullptr;
}

void AnchorTips::Add(AnchorTip tip) {
  ++count_;
  by_node_[tip.node].push_back(std::move(tip));
}

void AnchorTips::Finish() {
  for (auto& [node, tips] : by_node_) {
    std::stable_sort(tips.begin(), tips.end(),
                     [](const AnchorTip& a, const AnchorTip& b) { return a.seq < b.seq; });
  }
}

const AnchorTip* AnchorTips::NewestIn(const std::string& node, int64_t from_seq,
                                      int64_t to_seq) const {
  auto it = by_node_.find(node);
  if (it == by_node_.end()) return nullptr;
  const std::vector<AnchorTip>& tips = it->second;
  auto upper = std::upper_bound(tips.begin(), tips.end(), to_seq,
                                [](int64_t seq, const AnchorTip& t) { return seq < t.seq; });
  if (upper == tips.begin()) return nullptr;
  const AnchorTip& t = *std::prev(upper);
  return t.seq >= from_seq ? &t : nullptr;
}

const AnchorTip* AnchorTips::FirstAbove(const std::string& node, int64_t seq) const {
  auto it = by_node_.find(node);
  if (it == by_node_.end()) return nullptr;
  const std::vector<AnchorTip>& tips = it->second;
  auto upper = std::upper_bound(tips.begin(), tips.end(), seq,
                                [](int64_t s, const AnchorTip& t) { return s < t.seq; });
  return upper == tips.end() ? nullptr : &*upper;
}

namespace {

// True when `node` holds the row (tip.seq, tip.hash).
// Whoever's row the tip is: a chain-linkage lookup (store/reader.h), only the outcome is used.
Status TipMatches(const TenantScope& tenant, AuditReader* reader, const std::string& node,
                  const AnchorTip& tip, bool* out) {
  std::optional<Predecessor> row;  // the highest sealed row of `node` at or below tip.seq
  FASTEN_RETURN_IF_ERROR(reader->FindPredecessor(tenant, node, tip.seq + 1, &row));
  *out = row && row->seq == tip.seq && row->hash == tip.hash;
  return Status::Ok();
}

// Anchors `n` (verified ok) by a checkpoint: inside its span, else the first above it with the
// rows in between verified (taken from *budget).
Status AnchorNode(AuditReader* reader, const TenantScope& tenant, const AnchorTips& anchors,
                  int64_t* budget, NodeIntegrity* n) {
  if (const AnchorTip* tip = anchors.NewestIn(n->source_node_id, n->from_seq, n->to_seq)) {
    bool matches = false;
    FASTEN_RETURN_IF_ERROR(TipMatches(tenant, reader, n->source_node_id, *tip, &matches));
    if (matches) {
      n->anchored = *tip;
    } else {
      n->ok = false;
      ChainBreak b;
      b.seq = tip->seq;
      b.category = "checkpoint";
      b.reason = "the row does not match checkpoint #" + std::to_string(tip->checkpoint_index) +
                 " (" + tip->time + "): changed and re-sealed after it was anchored";
      n->first_break = b;
    }
    return Status::Ok();
  }
  const AnchorTip* tip = anchors.FirstAbove(n->source_node_id, n->to_seq);
  if (!tip) {
    n->anchor_note = "no checkpoint at or after the window's rows yet";
    return Status::Ok();
  }
  const int64_t extra = tip->seq - n->to_seq;
  if (extra > *budget) {
    n->anchor_note = "the next checkpoint (#" + std::to_string(tip->checkpoint_index) + ") is " +
                     std::to_string(extra) +
                     " seqs later, beyond this verdict's bound (run fasten-mcp verify "
                     "--checkpoints)";
    return Status::Ok();
  }
  *budget -= extra;
  VerifyStoreOptions options;
  options.range.source_node_id = n->source_node_id;
  options.range.from_seq = n->to_seq + 1;
  options.range.to_seq = tip->seq;
  options.threads = 1;
  // Every row of the stretch carries the chain, whoever's it is: verify them all (only the
  // outcome is used, no row is named), so another tenant's altered row cannot pass unseen.
  options.check_every_tenant = true;
  VerifyStoreResult result;
  FASTEN_RETURN_IF_ERROR(VerifyStore(tenant, reader, options, &result));
  bool linked = result.report.ok;
  bool matches = false;
  if (linked) FASTEN_RETURN_IF_ERROR(TipMatches(tenant, reader, n->source_node_id, *tip, &matches));
  if (linked && matches) {
    n->anchored = *tip;
  } else {
    n->anchor_note = "the rows between the window and checkpoint #" +
                     std::to_string(tip->checkpoint_index) +
                     " do not verify against it (run fasten-mcp verify --checkpoints)";
  }
  return Status::Ok();
}

}  // namespace

Status ComputeIntegrityVerdict(AuditReader* reader, const TenantScope& tenant,
                               const IntegrityScope& scope, IntegrityVerdict* out, int64_t max_seqs,
                               const AnchorTips* anchors) {
  std::string basis = std::move(out->basis);
  *out = IntegrityVerdict();
  out->basis = std::move(basis);
  out->scope = scope;
  if (scope.until < scope.since) {
    return InvalidArgumentError("the window ends (" + CanonicalTimestamp(scope.until) +
                                ") before it starts (" + CanonicalTimestamp(scope.since) + ")");
  }
  int64_t budget = max_seqs;
  out->max_seqs = max_seqs;
  if (!scope.nodes_listed()) {
    FASTEN_RETURN_IF_ERROR(VerifyWindow(reader, tenant, scope, nullptr, &budget, &out->too_large,
                                        &out->window_seqs, &out->nodes));
  } else {
    std::vector<std::string> nodes = scope.nodes;
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    for (const std::string& node : nodes) {
      if (out->too_large) break;
      const size_t before = out->nodes.size();
      FASTEN_RETURN_IF_ERROR(VerifyWindow(reader, tenant, scope, &node, &budget, &out->too_large,
                                          &out->window_seqs, &out->nodes));
      if (out->nodes.size() == before) {
        NodeIntegrity absent;
        absent.source_node_id = node;
        absent.present = false;
        absent.ok = false;
        out->nodes.push_back(std::move(absent));
      }
    }
  }
  std::sort(out->nodes.begin(), out->nodes.end(),
            [](const NodeIntegrity& a, const NodeIntegrity& b) {
              return a.source_node_id < b.source_node_id;
            });
  if (out->too_large) {
    out->nodes.clear();
    out->ok = false;
    out->line = DoctorLine(*out);
    return Status::Ok();
  }
  if (anchors) {
    out->anchors_checked = true;
    for (NodeIntegrity& n : out->nodes) {
      if (!n.present || n.sealed == 0 || !n.ok) continue;
      FASTEN_RETURN_IF_ERROR(AnchorNode(reader, tenant, *anchors, &budget, &n));
    }
  }
  // Ok needs something verified: a window of unsealed rows only proves nothing.
  out->ok = false;
  for (const NodeIntegrity& n : out->nodes) {
    if (n.present && n.sealed > 0) out->ok = true;
  }
  for (const NodeIntegrity& n : out->nodes) {
    out->unsealed += n.unsealed;
    if (!n.ok) out->ok = false;
  }
  out->line = DoctorLine(*out);
  return Status::Ok();
}

std::string FormatWindow(Micros since, Micros until) {
  std::string d1, t1, d2, t2;
  SplitInstant(since, &d1, &t1);
  SplitInstant(until, &d2, &t2);
  // 15:00 of the same day, or 00:00 of the next day written as 24:00 would both be "one day";
  // only the same date counts.
  if (d1 == d2) return t1 + "–" + t2 + "Z";
  return d1 + "T" + t1 + "Z–" + d2 + "T" + t2 + "Z";
}

std::string BreakPhrase(const ChainBreak& b) {
  if (b.category == "hash") return "hash mismatch";
  if (b.category == "link") return "broken link";
  if (b.category == "commitment") return "commitment mismatch";
  if (b.category == "unknown-form") return "unknown canonical form";
  if (b.category == "duplicate") return "duplicate seq";
  if (b.category == "checkpoint") return "checkpoint mismatch";
  return b.category.empty() ? "break" : b.category;
}

std::string DoctorLine(const IntegrityVerdict& v) {
  const std::string window = FormatWindow(v.scope.since, v.scope.until);
  const std::string only = v.scope.nodes_listed() ? " only" : "";
  std::vector<const NodeIntegrity*> ok, absent, unsealed_only;
  std::string breaks;
  for (const NodeIntegrity& n : v.nodes) {
    if (!n.present) {
      absent.push_back(&n);
    } else if (n.ok && n.sealed == 0) {
      unsealed_only.push_back(&n);
    } else if (n.ok) {
      ok.push_back(&n);
    } else {
      if (!breaks.empty()) breaks += "; ";
      breaks += "BREAK on " + n.source_node_id;
      if (n.first_break) {
        breaks += " at seq " + std::to_string(n.first_break->seq) + " (" +
                  BreakPhrase(*n.first_break) + ")";
      }
    }
  }
  std::string line = "doctor: ";
  if (v.too_large) {
    return line + "window " + window + " spans " + std::to_string(v.window_seqs) +
           " audit rows, more than the " + std::to_string(v.max_seqs) +
           " an answer's verdict verifies · not verified (run fasten-mcp verify --since " +
           CanonicalTimestamp(v.scope.since) + " --until " + CanonicalTimestamp(v.scope.until) +
           ")";
  }
  if (v.empty()) {
    line += "no audit rows in window " + window;
    if (!absent.empty()) line += " on " + JoinNodes(absent) + only;
    line += " · nothing to verify";
    return line;
  }
  if (!breaks.empty()) {
    line += breaks + " · in window " + window;
    if (!ok.empty()) line += "; chain OK on " + JoinNodes(ok);
  } else if (!ok.empty()) {
    line += "chain OK in window " + window + " on " + JoinNodes(ok) + only;
  } else {
    line += "no sealed audit rows in window " + window;
  }
  if (!absent.empty()) line += " · no audit rows on " + JoinNodes(absent) + " (not verified)";
  if (breaks.empty() && absent.empty())
    line += ok.empty() ? " · nothing verified" : " · no tampering";
  if (v.unsealed > 0) {
    line += " · " + std::to_string(v.unsealed) + " unsealed row" + (v.unsealed == 1 ? "" : "s") +
            " not verified";
    if (!unsealed_only.empty()) line += " (" + JoinNodes(unsealed_only) + ")";
  }
  if (v.anchors_checked && breaks.empty()) {
    // Which verified nodes a signed checkpoint inside the window anchors (the newest one named).
    std::vector<const NodeIntegrity*> anchored, not_anchored;
    const AnchorTip* newest = nullptr;
    for (const NodeIntegrity* n : ok) {
      if (n->anchored) {
        anchored.push_back(n);
        if (!newest || n->anchored->checkpoint_index > newest->checkpoint_index) {
          newest = &*n->anchored;
        }
      } else {
        not_anchored.push_back(n);
      }
    }
    if (!anchored.empty()) {
      line += " · anchored";
      if (!not_anchored.empty()) line += " on " + JoinNodes(anchored);
      line +=
          " (checkpoint #" + std::to_string(newest->checkpoint_index) + ", " + newest->time + ")";
    }
    if (!not_anchored.empty()) {
      line += std::string(anchored.empty() ? " · " : "; ") + "not anchored" +
              (anchored.empty() ? "" : " on " + JoinNodes(not_anchored)) + " (" +
              not_anchored.front()->anchor_note + ")";
    }
  }
  return line;
}

}  // namespace fasten
