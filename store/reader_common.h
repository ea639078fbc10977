// What the SQLite and Postgres backends share: the audit column set, which columns a table must
// have, the writer-profile guess, and the patterns of a free-text search. INTERNAL to store/.
// Thread-safe (no state).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/reader.h"
#include "store/row.h"

namespace fasten {

// The audit columns in the SDK DDL's physical order (docs/format.md §2.1).
enum AuditCol {
  kId,
  kOriginId,
  kSeq,
  kTimestamp,
  kCode,
  kAction,
  kSeverity,
  kServiceId,
  kNode,
  kTenant,
  kActor,
  kActorKind,
  kTarget,
  kCategory,
  kDomain,
  kMethod,
  kRequestId,
  kDetail,
  kPii,
  kShippedAt,
  kWireVersion,
  kHash,
  kPrevHash,
  kFormId,
  kSalt,
  kCommitment,
  kNumAuditCols
};
extern const char* const kAuditColNames[kNumAuditCols];

// Assembling an AuditRow from selected columns, the same for every backend:
//   BeginAuditRow     the defaults for the columns a writer does not create (docs/format.md §2.1)
//   SetAuditColumn    one column's value from its text (is_null: SQL NULL)
//   FinishAuditRow    the parsed timestamps and their warnings
void BeginAuditRow(AuditRow* row);
void SetAuditColumn(int col, std::string_view text, bool is_null, AuditRow* row);
void FinishAuditRow(AuditRow* row);

// The parts of a batched (monotonic_seq, hash) lookup that do not depend on the backend: the
// size check, the distinct pairs and their seqs and hashes (for `seq IN … AND hash IN …`), and
// keeping only rows whose exact pair was asked for.
struct SeqHashBatch {
  std::set<std::pair<int64_t, std::string>> wanted;
  std::set<int64_t> seqs;
  std::set<std::string> hashes;

  // InvalidArgument above AuditReader::kMaxBatchPairs pairs.
  static Status Make(const std::vector<std::pair<int64_t, std::string>>& pairs, SeqHashBatch* out);
  // Appends to `out` the rows of `rows` whose (monotonic_seq, hash) is wanted.
  void KeepWanted(std::vector<AuditRow>& rows, std::vector<AuditRow>* out) const;
  // The seqs one below the wanted ones (>= 1), for the link half of FindBySeqHashBatchWithLinks.
  std::set<int64_t> PredecessorSeqs() const;
  // Splits the rows of a WithLinks statement (both halves, possibly repeating a row) into the
  // wanted rows (each once) and the link candidates (each once).
  void SplitWithLinks(std::vector<AuditRow>& rows, std::vector<AuditRow>* out,
                      std::vector<AuditRow>* links) const;
};

// Collects AuditReader::SeqSpans from the (node, seq) of each row in the window, in any order.
class SeqSpanBuilder {
 public:
  void Add(std::string_view node, int64_t seq);
  // The spans in ascending node order (byte order).
  void Finish(std::vector<NodeSeqSpan>* out);

 private:
  std::map<std::string, NodeSeqSpan, std::less<>> spans_;
};

// Columns without which a table is not a fasten audit table (the first 18 except tenant_id).
bool RequiredAuditCol(int c);

// Fills profile->missing and profile->guess from the columns present; returns the required
// columns that are absent ("" when none).
std::string DescribeAuditColumns(const bool present[kNumAuditCols], WriterProfile* profile);

// Rows a node may be stored out of seq order before a physical scan gives up (per node).
inline constexpr size_t kReorderWindow = 4096;

// The two LIKE patterns of a case-insensitive substring search (lower-cased, with '%', '_' and
// '\' escaped by '\'): the term as typed, and as a Python writer stores it (non-ASCII as \uXXXX
// escapes), so "José" finds "Jos\u00e9".
std::pair<std::string, std::string> TextSearchPatterns(const std::string& term);

// True when `t` lies in [since, until] (unset bounds do not filter); unparseable times (`ok`
// false) only pass when there is no bound.
inline bool InWindow(bool ok, Micros t, std::optional<Micros> since, std::optional<Micros> until) {
  if (!since && !until) return true;
  if (!ok) return false;
  return (!since || t >= *since) && (!until || t <= *until);
}

// The first instant of the second after `t` (for the exclusive upper bound of a window pushed
// into SQL at whole-second resolution).
Micros NextSecond(Micros t);

// "(none)" or "a, b, c".
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace fasten
