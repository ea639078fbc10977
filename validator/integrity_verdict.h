// The integrity verdict (issue 13): what the hash chain itself says about a time window, node by
// node, computed by fasten from the store. It is the only source of the "doctor:" line of an
// answer and of every integrity statement the validator accepts; a model's words never produce
// it.
//
// A scope is a time window [since, until] (both inclusive) and optionally a list of nodes. The
// verdict covers every node that has rows of the caller's tenant in the window (all tenants in
// the operator's all-tenants mode), or exactly the listed nodes. Per node the window is verified
// exactly as `verify --since/--until` verifies it (validator/verify_store.h): the seq span of the
// node's rows timestamped in the window, first link checked against the row below it. The
// result per node is ok, or its first break (seq, reason), with the unsealed rows counted (never
// verified, never a break). A listed node without rows in the window is reported as absent and
// makes the verdict not ok: nothing there was verified.
//
// Windows derived from rows (an answer's or a claim's cited rows) are the rows' time span widened
// by a margin on both sides (default 30 min) and then to whole minutes, so the rendered window
// ("14:02–15:03Z") is exactly the verified one, never narrower.
//
// Rendering (DoctorLine):
//   doctor: chain OK in window 14:02–15:03Z on edge-eu-1, edge-us-1 · no tampering
//   doctor: BREAK on edge-us-1 at seq 1239 (hash mismatch) · in window 14:02–15:03Z; chain OK on
//           core-1, edge-eu-1
//   doctor: no audit rows in window 14:02–15:03Z · nothing to verify
// A window that does not lie within one UTC day is written with dates
// (2026-11-20T23:40Z–2026-11-21T00:40Z); ` · N unsealed rows not verified (nodes with nothing
// else)` is appended when the window holds unsealed rows; a node with unsealed rows only is not
// called OK (nothing of it was verified), and a verdict is ok only when at least one sealed row
// was verified; a scope naming nodes adds "only" ("on edge-eu-1 only").
//
// Cost: one indexed query for the window's seq spans plus one scan of those spans per node
// (bench/validate_bench: verdict mode). Not thread-safe (readers are not).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/row.h"
#include "util/status.h"
#include "validator/chain.h"

namespace fasten {

class AuditReader;

inline constexpr Micros kMicrosPerMinute = 60 * int64_t{1000000};
inline constexpr Micros kDefaultIntegrityMargin = 30 * kMicrosPerMinute;
// The most seqs (summed over the nodes' spans in the window, every tenant's rows included: they
// all carry the chain) one verdict verifies: at most ~2 s (a 245 k-seq window of the 250 k-row
// demo store: 1.9 s). A larger window is reported as too large to verify (not ok, never
// "intact"), so one answer cannot make a shared server verify the whole store; `fasten-mcp
// verify --since --until` has no such limit.
inline constexpr int64_t kMaxVerdictSeqs = 250000;
// The largest margin accepted (a day either side).
inline constexpr Micros kMaxIntegrityMargin = 24 * 60 * kMicrosPerMinute;

struct IntegrityScope {
  Micros since = 0, until = 0;     // inclusive
  std::vector<std::string> nodes;  // empty: every node with rows in the window
  bool nodes_listed() const { return !nodes.empty(); }
};

// "30m", "1h", "90s", "0": a margin of N seconds, minutes or hours, at most
// kMaxIntegrityMargin; nullopt otherwise (a bare number without a unit is refused: ambiguous).
std::optional<Micros> ParseIntegrityMargin(std::string_view text);

// [first - margin, last + margin], widened to whole minutes.
IntegrityScope WidenedScope(Micros first, Micros last, Micros margin);

// True when `outer` covers `inner`: its window contains inner's, and it names no nodes (every
// node) or every node inner names (or, for an inner scope over every node, every node in
// `inner_nodes_seen`).
bool ScopeCovers(const IntegrityScope& outer, const IntegrityScope& inner,
                 const std::vector<std::string>& inner_nodes_seen);

// A node's tip as a signed checkpoint recorded it (anchor/checkpoint.h), from a log whose
// signatures verified: what makes a verdict "anchored".
struct AnchorTip {
  std::string node;
  int64_t seq = 0;
  std::string hash;
  int64_t checkpoint_index = 0;
  std::string time;  // the checkpoint's time, RFC 3339
};

// The checkpointed tips of a log, per node in seq order. Built once (per log version), read by
// any number of verdicts. Immutable after Finish(); then thread-safe.
class AnchorTips {
 public:
  void Add(AnchorTip tip);
  void Finish();
  // The checkpointed tip of `node` with the highest seq in [from_seq, to_seq], or null.
  const AnchorTip* NewestIn(const std::string& node, int64_t from_seq, int64_t to_seq) const;
  // The checkpointed tip of `node` with the lowest seq above `seq`, or null.
  const AnchorTip* FirstAbove(const std::string& node, int64_t seq) const;
  size_t size() const { return count_; }

 private:
  std::map<std::string, std::vector<AnchorTip>> by_node_;
  size_t count_ = 0;
};

struct NodeIntegrity {
  std::string source_node_id;
  bool present = true;  // false: a listed node without rows in the window
  bool ok = true;
  int64_t from_seq = 0, to_seq = 0;  // the seq span verified
  int64_t rows_in_window = 0;
  int64_t sealed = 0, valid = 0, unsealed = 0, invalid = 0;
  std::optional<ChainBreak> first_break;
  // With anchors: the checkpointed tip that anchors the window's rows: the newest one inside the
  // verified span, else the first one above it when the rows from the span up to it (at most
  // what is left of the verdict's seq budget) also verify and link; the store holds that row with
  // that hash. Unset otherwise (anchor_note says why). A tip inside the span that the store does
  // NOT match is a break (category "checkpoint").
  std::optional<AnchorTip> anchored;
  std::string anchor_note;
};

struct IntegrityVerdict {
  IntegrityScope scope;
  std::string basis;  // how the window was chosen, e.g. "cited rows ± 30 min", "stated window"
  bool ok = false;    // at least one sealed row verified, and every node ok
  // The window held more than kMaxVerdictSeqs seqs: nothing was verified (ok is false).
  bool too_large = false;
  int64_t window_seqs = 0;             // when too_large: how many
  int64_t max_seqs = kMaxVerdictSeqs;  // the bound it was computed with
  std::vector<NodeIntegrity> nodes;    // ascending source_node_id
  int64_t unsealed = 0;
  bool anchors_checked = false;  // checkpoints were given: each node says whether it is anchored
  std::string line;              // DoctorLine(*this)

  bool empty() const;  // no node has rows in the window
  // The first broken node, or null.
  const NodeIntegrity* FirstBreak() const;
  // The first node with sealed rows that no checkpoint anchors, or null (meaningful when
  // anchors_checked; nodes holding only unsealed rows have no chain to anchor).
  const NodeIntegrity* FirstUnanchored() const;
};

// Verifies `scope` for the caller's `tenant` scope and fills *out (reset first; `basis` is
// kept). Fails only when the store could not be read. `max_seqs` bounds the work (too_large).
// With `anchors` (non-null), each verified node is also checked against the newest checkpointed
// tip inside its span (one indexed lookup per node), else the first one above it (the rows in
// between verified too, within the budget): "anchored" when the store holds that row with that
// hash, a break when a tip inside the span does not match.
Status ComputeIntegrityVerdict(AuditReader* reader, const TenantScope& tenant,
                               const IntegrityScope& scope, IntegrityVerdict* out,
                               int64_t max_seqs = kMaxVerdictSeqs,
                               const AnchorTips* anchors = nullptr);

// "14:02–15:03Z" within one UTC day, else "2026-11-20T23:40Z–2026-11-21T00:40Z" (seconds shown
// only when a bound is not a whole minute).
std::string FormatWindow(Micros since, Micros until);

// "hash mismatch", "broken link", "commitment mismatch", "unknown canonical form",
// "duplicate seq" from a break's category.
std::string BreakPhrase(const ChainBreak& b);

// The rendered line (see above).
std::string DoctorLine(const IntegrityVerdict& verdict);

}  // namespace fasten
