// Streaming verification of fasten audit hash chains (docs/format.md §5.4-§6.2).
//
// Feed rows with Add() in any interleaving of nodes, but within one source_node_id in ascending
// (monotonic_seq, id) order — e.g. a scan ORDER BY monotonic_seq, source_node_id, id. State is one
// tip per node (plus one per (node, service) to recognise legacy per-service chains), so memory
// does not grow with the number of rows. Finish() returns the report.
//
// What counts as a break, per row, in this order:
//   unknown form     canonical_form_id is neither "1" nor "2";
//   commitment       form "2", detail non-null and detail_salt non-empty, and
//                    sha256(salt || canonical(detail)) differs from detail_commitment;
//   hash mismatch    the recomputed hash differs (form "1" first tries the upstream-accepted
//                    [LEGACY FALLBACK: form1-z-timestamp]; the extended verdict then tries the
//                    other labelled fallbacks of §5.5, which make a *labelled* pass, never a
//                    plain one);
//   link             the immediately preceding row of the node is sealed and its hash differs
//                    from this row's prev_hash (extended: the first row at seq 1 must say
//                    "genesis", and a window's first row is checked against its predecessor);
//   duplicate        two sealed rows share (source_node_id, monotonic_seq).
// Unsealed rows (hash == "") are counted, never verified and never broken.
//
// Two verdicts are produced: the upstream verdict (exactly what the newest Python verify_chain
// says: ok, total_rows, first_break_at, reason) and the extended per-node report.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/row.h"
#include "store/tenant_scope.h"

namespace fasten {

// Labels of docs/format.md §5.5 under which a row may verify.
inline constexpr const char* kFallbackForm1Z = "form1-z-timestamp";
inline constexpr const char* kFallbackPreFormId = "pre-form-id";
inline constexpr const char* kFallbackGoEscapes = "go-control-escapes";
inline constexpr const char* kFallbackShippedAfterSeal = "shipped-after-seal";
inline constexpr const char* kFallbackPgRounding = "pg-us-rounding";

struct ChainBreak {
  int64_t seq = 0;
  std::string id;
  std::string reason;    // exact upstream reason string
  std::string category;  // hash | link | commitment | unknown-form | duplicate
  std::string note;      // extra detail (e.g. "unparseable timestamp"), may be empty
};

struct NodeReport {
  std::string source_node_id;
  bool ok = true;
  int64_t total_rows = 0;  // rows examined (unsealed included)
  int64_t sealed = 0;
  int64_t verified = 0;                              // plain conformant passes (hash and link)
  std::map<std::string, int64_t> verified_fallback;  // label -> rows valid only under it
  int64_t unsealed = 0;
  int64_t invalid = 0;                      // sealed rows with at least one failure
  std::map<std::string, int64_t> failures;  // category -> count
  std::optional<ChainBreak> first_break;
  std::string classification;      // empty when ok
  std::optional<int64_t> tip_seq;  // last sealed row
  std::string tip_hash;
  int64_t first_seq = 0, last_seq = 0;
  // Informational findings (docs/verification.md).
  int64_t seq_gaps = 0;          // number of missing seqs between rows
  int64_t links_skipped = 0;     // sealed row preceded by an unsealed row
  int64_t null_commitments = 0;  // form-2 rows whose stored commitment is NULL
  int64_t redacted = 0;          // form-2 rows with null detail and salt
  int64_t legacy_restarts = 0;   // mid-chain prev_hash == "genesis" on a row that verifies
  std::vector<std::string> notes;

  int64_t valid() const;  // verified + labelled fallback passes
};

struct UpstreamVerdict {
  bool ok = true;
  int64_t total_rows = 0;
  std::optional<int64_t> first_break_at;
  std::optional<std::string> reason;
};

struct VerifyReport {
  bool ok = true;  // extended verdict: every node ok
  UpstreamVerdict upstream;
  std::vector<NodeReport> nodes;  // ascending source_node_id
  int64_t total_rows = 0, sealed = 0, valid = 0, unsealed = 0, invalid = 0;
  int64_t bytes_hashed = 0;
  std::string caveat;  // the tail-truncation caveat (format.md §6.1)
};

inline constexpr const char* kTailTruncationCaveat =
    "Tail truncation is not detectable without an external anchor: dropping the newest rows of a "
    "chain leaves a chain that verifies. Record each node's tip (seq, hash) out of band.";

// Looks up the predecessor of (node, seq). Returns nullopt when there is none.
using PredecessorLookup =
    std::function<std::optional<Predecessor>(const std::string& node, int64_t seq)>;

// The row-local checks (form, commitment, hash with fallbacks), without links.
struct RowCheck {
  bool sealed = true;
  bool unknown_form = false;
  bool commitment_checked = false;
  bool commitment_ok = true;
  bool hash_ok = false;      // verifies plainly or under `label`
  bool upstream_ok = false;  // the newest Python verifier accepts the hash
  std::string label;         // fallback label, "" for a plain pass
  std::string note;          // why rendering failed, when it did
  int64_t bytes_hashed = 0;

  bool ok() const { return !sealed || (!unknown_form && commitment_ok && hash_ok); }
  // "verified", "verified (form1-z-timestamp)", "unsealed", "hash mismatch", ...
  std::string Summary() const;
};

class RowChecker {
 public:
  RowChecker();
  ~RowChecker();
  RowChecker(const RowChecker&) = delete;
  RowChecker& operator=(const RowChecker&) = delete;
  RowCheck Check(const AuditRow& row);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ChainVerifier {
 public:
  struct Options {
    // When set, the first row of each node whose seq > 1 is link-checked against the row this
    // returns (window verification, docs/format.md §5.4).
    PredecessorLookup predecessor;
    // The caller's scope. Under a one-tenant scope only rows it Sees() are counted, checked and
    // named in the report; other rows still carry the chain (a link to one is checked, but the
    // row is never identified). Nodes without a row of the tenant are left out. Seq gaps are not
    // reported (they would count other tenants' rows). Unset (a verifier fed rows with no
    // caller, e.g. in tests) behaves as the all-tenants scope.
    std::optional<TenantScope> scope;
  };
  ChainVerifier();
  explicit ChainVerifier(Options options);
  ~ChainVerifier();
  ChainVerifier(const ChainVerifier&) = delete;
  ChainVerifier& operator=(const ChainVerifier&) = delete;

  void Add(const AuditRow& row);
  // Counts an unsealed row that has no place in the seq order (an NDJSON phase-1 line that was
  // never superseded by its sealed line).
  void AddDetachedUnsealed(const std::string& node);

  // Remembers `node`'s state (replacing an earlier mark of it); Rollback(node) returns the node
  // to it, as if the rows Add()ed since had never been, and Commit(node) forgets it. For a scan
  // that learns only later whether rows belong to the window (pack/pack_writer.cc). A mark costs
  // a copy of one node's state: a few strings, independent of the rows seen.
  void Mark(const std::string& node);
  void Commit(const std::string& node);
  void Rollback(const std::string& node);  // no mark: nothing happens
  VerifyReport Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Python repr() of a str, as used in the duplicate reason ('node' or "no'de").
std::string PythonRepr(const std::string& s);

}  // namespace fasten
