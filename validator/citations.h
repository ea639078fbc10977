// The post-loop citation validator (docs/validation.md): deterministic, no LLM judge, fail-closed.
//
// An Answer is a list of claims; each claim carries citations {stream, seq, hash}. For
// stream "audit", seq is monotonic_seq and hash the row's chain hash; for "sys"/"api", seq is the
// stream row's seq and hash its content digest (validator/digest.h), exactly the `digest` that
// row_get and the query tools report.
//
// Per citation, in this order (the first failure of (a)/(b) ends that citation's checks):
//   (a) resolves    exactly one row matches: 0 -> not_found, more than one -> ambiguous;
//   (b) tenant      a row of another tenant is reported exactly like a row that does not exist
//                   (same reason code not_found, same message, no row fields): nothing leaks;
//   (c) ledger      when a ledger is given, the row was returned to the model -> not_shown;
//   (d) integrity   audit: the hash recomputes under the row's canonical form (RowChecker, with
//                   the labelled fallbacks of docs/format.md §5.5); sys/api: the content digest of
//                   the stored payload equals the cited one -> hash_mismatch;
//   (e) link        audit: prev_hash equals the hash of the nearest preceding sealed row of the
//                   same node ("genesis" when there is none) -> chain_break.
// Per claim: at least one citation (uncited), and grounding (ungrounded): every value the claim
// quotes (validator/grounding.h) must appear in at least one of its cited rows that passed
// (a) and (b). An answer without claims is rejected (no_claims). A citation whose hash is not 64
// lowercase hex or whose seq is below 1 is rejected without a lookup (malformed).
//
// Store round trips: every audit citation of the answer is fetched in ONE statement
// (AuditReader::FindBySeqHashBatchWithLinks), which also returns the rows one seq below the cited
// ones whose hash is a cited row's prev_hash: the predecessors that confirm the links. Only a
// link that this does not confirm (a seq gap, an unsealed predecessor, a break, "genesis" above
// seq 1) costs one FindPredecessor each. sys/api citations cost one FindBySeq per distinct
// (stream, seq) (the stream reader has no batch lookup yet). So a clean answer citing audit rows
// takes ONE round trip, whatever the number of citations.
//
// Fail-closed: a store error (or a stream without a store) makes the verdict "not accepted" with
// the error; nothing is ever accepted that was not checked.
// Not thread-safe (readers are not); one validation per thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "store/row.h"
#include "store/store_set.h"
#include "store/tenant_scope.h"
#include "util/status.h"
#include "validator/grounding.h"
#include "validator/integrity_language.h"
#include "validator/integrity_verdict.h"

namespace fasten {

class AuditReader;
class StreamReader;

enum class CitationStream { kAudit, kSys, kApi };
const char* CitationStreamName(CitationStream stream);  // "audit", "sys", "api"

struct Citation {
  CitationStream stream = CitationStream::kAudit;
  int64_t seq = 0;
  std::string hash;  // audit: row hash; sys/api: content digest
};

// A claim's explicit integrity scope: each bound, when unset, comes from the claim's cited rows
// (their span widened by the margin); nodes empty: every node.
struct ClaimScope {
  std::optional<Micros> since, until;
  std::vector<std::string> nodes;
};

struct Claim {
  Claim() = default;
  Claim(std::string text_in, std::vector<Citation> citations_in,
        IntegrityPolarity integrity_in = IntegrityPolarity::kNone,
        std::optional<ClaimScope> scope_in = std::nullopt)
      : text(std::move(text_in)),
        citations(std::move(citations_in)),
        integrity(integrity_in),
        scope(std::move(scope_in)) {}

  std::string text;
  std::vector<Citation> citations;
  // "intact" / "tampered" (kIntact / kTampered); kNone when the claim asserts neither.
  IntegrityPolarity integrity = IntegrityPolarity::kNone;
  std::optional<ClaimScope> scope;  // only with an integrity value
};

struct Answer {
  Answer() = default;
  explicit Answer(std::vector<Claim> claims_in) : claims(std::move(claims_in)) {}

  std::vector<Claim> claims;
  std::string prose;  // the `answer` text: checked for integrity statements only
  // A window the answer states ({"window": {"since", "until"}}): the integrity verdict's window
  // instead of the cited rows' span.
  std::optional<std::pair<Micros, Micros>> window;
};

// Most nodes a claim's scope may name.
inline constexpr size_t kMaxScopeNodes = 64;

// Most citations one answer may carry (the batch lookup takes at most 10000 pairs).
inline constexpr size_t kMaxCitationsPerAnswer = 1000;

// The rows the tools returned to the model during one investigate run (docs/validation.md).
class CitationLedger {
 public:
  void Add(CitationStream stream, int64_t seq, std::string hash);
  bool Contains(const Citation& c) const;
  size_t size() const { return rows_.size(); }

 private:
  std::set<std::tuple<int, int64_t, std::string>> rows_;
};

// Reason codes (machine-readable; stable).
inline constexpr const char* kReasonNotFound = "not_found";
inline constexpr const char* kReasonAmbiguous = "ambiguous";
inline constexpr const char* kReasonNotShown = "not_shown";
inline constexpr const char* kReasonHashMismatch = "hash_mismatch";
inline constexpr const char* kReasonChainBreak = "chain_break";
inline constexpr const char* kReasonMalformed = "malformed";
inline constexpr const char* kReasonUncited = "uncited";
inline constexpr const char* kReasonUngrounded = "ungrounded";
inline constexpr const char* kReasonNoClaims = "no_claims";
// Integrity (issue 13): an "intact" claim whose scope the chain verdict does not find ok, or a
// "tampered" claim citing an audit row that verifies.
inline constexpr const char* kReasonIntegrityContradicted = "integrity_contradicted";
// A claim or the answer text asserts integrity or tampering without the claim's integrity field
// (or the answer text without an accepted claim of that polarity covering the answer's window).
inline constexpr const char* kReasonIntegrityUnmarked = "integrity_unmarked";

struct CitationProblem {
  std::string reason;   // one of the kReason* codes
  std::string message;  // what is wrong and how to fix it, for a person or a model
  std::string value;    // ungrounded: the quoted value; empty otherwise
};

struct CitationResult {
  Citation citation;
  bool ok = false;
  std::vector<CitationProblem> problems;
  // Set only when the row resolved for this caller (never for not_found).
  std::string row_summary;
  std::string integrity;  // "verified", "verified (pre-form-id)", "digest matches", ...
  // A "tampered" claim's audit citation that fails verification: why ("hash mismatch", "broken
  // link: ..."); such a row is accepted as evidence of tampering. Empty otherwise.
  std::string tamper_evidence;
};

// What the validator decided about a claim's integrity field.
struct ClaimIntegrity {
  IntegrityPolarity field = IntegrityPolarity::kNone;
  bool scope_explicit = false;
  std::optional<IntegrityVerdict> verdict;  // "intact": the verdict over the claim's scope
};

struct ClaimResult {
  std::string text;
  bool ok = false;
  std::vector<CitationResult> citations;
  std::vector<CitationProblem> problems;  // uncited, ungrounded
  std::vector<std::string> grounded;      // quoted values found in the cited rows
  ClaimIntegrity integrity;
};

struct Verdict {
  bool accepted = false;
  Status error;  // non-OK: the check could not run (store error); never accepted then
  bool ledger_checked = false;
  std::vector<ClaimResult> claims;
  std::vector<CitationProblem> problems;  // answer-level (no_claims, integrity_unmarked)
  int64_t citations = 0, citations_ok = 0, claims_ok = 0;
  std::map<std::string, int64_t> rejections;  // reason -> count
  int store_round_trips = 0;   // the citation lookups (integrity verdicts not included)
  int integrity_verdicts = 0;  // windows verified (one per distinct scope; each a windowed verify)
  // The integrity verdict over the answer's window (validator/integrity_verdict.h): set when the
  // answer cites audit rows, states a window, marks a claim's integrity or states integrity.
  std::optional<IntegrityVerdict> integrity;
};

struct CitationCheckOptions {
  const CitationLedger* ledger = nullptr;
  // The margin that widens cited rows' time span into an integrity window (each side).
  Micros integrity_margin = kDefaultIntegrityMargin;
  // false: no verdict over the answer's whole window (claims marked "intact" still get theirs,
  // and answer text stating integrity is then never backed). For callers that show no doctor
  // line and count only the citation lookups.
  bool answer_verdict = true;
  // Checkpointed tips (a verified checkpoint log): integrity verdicts then also say whether each
  // node is anchored, and a row that does not match its checkpoint is a break. Null: none.
  const AnchorTips* anchors = nullptr;
};

// Validates `answer` for a caller of `scope` against `stores` (store/store_set.h: `audit` is
// required; a missing stream reader makes a citation of that stream a store error, its
// `*_missing_why` saying why) and fills *out (reset first). A row `scope` does not see is
// reported exactly like a row that does not exist.
void ValidateAnswer(const TenantScope& scope, const Answer& answer, const StoreView& stores,
                    const CitationCheckOptions& options, Verdict* out);

// A claim's integrity marking for people: "integrity: intact · doctor: chain OK in window
// 14:02–15:03Z on edge-eu-1 only · no tampering", "integrity: tampered · evidence: seq 1239 hash
// mismatch"; empty for a claim without the field.
std::string DescribeClaimIntegrity(const ClaimResult& claim);

// A plain-text list of every rejection with how to fix it; empty when accepted.
std::string RepairText(const Verdict& verdict);
}  // namespace fasten
