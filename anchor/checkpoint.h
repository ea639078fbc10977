// Signed checkpoints of the chains' tips, kept in a log outside the store (docs/evidence.md).
//
// A checkpoint is a C2SP signed note (anchor/signed_note.h) whose text is:
//
//   fasten-mcp checkpoint v1
//   store <store identity>
//   index <n>                       1 for the first checkpoint of the log, then +1 each
//   time <RFC 3339 UTC, seconds>    when the tips were read
//   prev <hex SHA-256 of the previous checkpoint's text, or "genesis" for index 1>
//   node <node> <seq> <hash> <sealed>    one per node, ascending node (byte order)
//
// <node> and <store identity> are percent-encoded: bytes outside '!'..'~' and '%' become %XX, so
// a field never holds a space or a newline. <sealed> is the number of sealed rows of the node with
// monotonic_seq <= seq, counted from the previous checkpoint's figure plus the new rows (only the
// first checkpoint of a node counts all of its rows). The text chains the log: `prev` commits to
// every earlier checkpoint, so editing, removing or reordering one breaks the links after it.
//
// The log is a file of NDJSON lines, one per checkpoint, appended and never rewritten:
//   {"note": "<the signed note>", "tsa_token": "<base64 DER RFC 3161 token over the text>"}
// (tsa_token absent when no TSA was used). A line is at most kMaxLogLineBytes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "anchor/keys.h"
#include "anchor/signed_note.h"
#include "store/reader.h"
#include "util/status.h"
#include "validator/chain.h"

namespace fasten::anchor {

inline constexpr size_t kMaxLogLineBytes = 4 << 20;
inline constexpr size_t kMaxCheckpointNodes = 10000;

struct NodeTip {
  std::string node;
  int64_t seq = 0;
  std::string hash;
  int64_t sealed = 0;
};

struct CheckpointBody {
  std::string store;
  int64_t index = 0;
  std::string time;  // RFC 3339 UTC, seconds, "Z"
  std::string prev;  // 64 hex or "genesis"
  std::vector<NodeTip> nodes;

  std::string Text() const;  // the note text (ends in "\n")
  // Parses note text. InvalidArgument naming the line that is wrong.
  static Result<CheckpointBody> Parse(std::string_view text);
};

// Hex SHA-256 of a checkpoint's text: what the next checkpoint's `prev` holds.
std::string CheckpointDigest(std::string_view text);

// One line of the log.
struct LogEntry {
  int64_t line = 0;       // 1-based line number in the file
  std::string note;       // the signed note as stored
  std::string tsa_token;  // DER; empty when none
  Note parsed;            // ParseNote(note)
  CheckpointBody body;    // CheckpointBody::Parse(parsed.text)
};

// The line of a log entry (no trailing newline).
std::string LogLine(const std::string& signed_note, const std::string& tsa_token);
// Parses one log line. InvalidArgument saying what is wrong.
Result<LogEntry> ParseLogLine(std::string_view line, int64_t line_number);

// Reads every line of the log file at `path`, in order. A line that does not parse is passed to
// `on_bad` (with its error) and reading goes on; NotFound when the file does not exist.
Status ReadLog(const std::string& path, const std::function<void(LogEntry&&)>& on_entry,
               const std::function<void(int64_t line, const Status&)>& on_bad);

// What the store holds now, per node: the tip (last sealed row) and the sealed count, read
// through indexes (AuditReader::NodeTips/CountSealed). `previous` (the log's last checkpoint,
// when there is one) lets the count add only the rows after its tips.
//
// Checkpoints anchor every tenant's chains: every function here reads the store under the
// all-tenants scope it is given (issued by the launch configuration that names the log,
// AnchorConfig::scope); a tenant's view is cut down afterwards (RestrictToNodes, AnchorReportJson).
Status ReadTips(const TenantScope& scope, AuditReader* reader, const CheckpointBody* previous,
                std::vector<NodeTip>* out);

struct AppendOptions {
  std::string store;  // identity written into the body
  const PrivateKey* key = nullptr;
  // Obtains a TSA token over the text; empty function: no TSA. Its error fails the append.
  std::function<Result<std::string>(std::string_view text)> timestamp;
  // For tests: the time written (default: now).
  std::optional<int64_t> now_unix;
};

// Reads the tips and appends one signed checkpoint to the log at `path` (created when absent),
// holding an exclusive lock on the file (flock) from reading its last entry to the fsync of the
// new line, so a cron job and `serve` can share one log. The log's last line must parse
// (FailedPrecondition otherwise: fix or move the log). *out gets the body written. The previous
// checkpoint's tips are looked up first (one batched query): a tip that is gone or changed is
// reported in *warnings ("run fasten-mcp verify --checkpoints"), and the checkpoint is still
// written (the earlier checkpoint keeps the evidence).
Status AppendCheckpoint(const TenantScope& scope, AuditReader* reader, const std::string& path,
                        const AppendOptions& options, CheckpointBody* out,
                        std::vector<std::string>* warnings);

// Findings of checkpoint verification; each is a failure (exit 1).
inline constexpr const char* kCheckpointMismatch = "checkpoint_mismatch";
inline constexpr const char* kTruncatedAfterCheckpoint = "truncated_after_checkpoint";
inline constexpr const char* kNodeMissing = "node_missing";
inline constexpr const char* kCheckpointLogBroken = "checkpoint_log_broken";

struct AnchorFinding {
  std::string kind;              // one of the four above
  std::string node;              // empty for log-level findings
  std::optional<int64_t> seq;    // the checkpointed seq concerned, when any
  int64_t checkpoint_index = 0;  // 0 when no checkpoint could be named
  int64_t line = 0;              // line of the log, when any
  std::string reason;            // one sentence, exact
};

struct NodeAnchor {
  std::string node;
  // "anchored", or the kind of the node's first finding.
  std::string status;
  int64_t anchored_seq = 0;  // the newest checkpointed seq that matched the store
  std::string anchored_hash;
  int64_t checkpoint_index = 0;
  std::string checkpoint_time;
  // Seqs above anchored_seq up to the node's current tip: not yet anchored (never a failure).
  int64_t not_yet_anchored = 0;
};

struct AnchorReport {
  std::string log;
  int64_t checkpoints = 0;  // entries read
  int64_t signatures_verified = 0;
  std::vector<std::string> keys;  // "name+id" of the keys that verified at least one entry
  int64_t tsa_tokens = 0, tsa_verified = 0, tsa_trusted = 0;
  std::string first_time, last_time;  // of the checkpoints
  std::vector<NodeAnchor> nodes;      // ascending node
  std::vector<AnchorFinding> findings;
  bool ok() const { return findings.empty() && checkpoints > 0; }
};

struct LogCheckOptions {
  std::vector<PublicKey> keys;  // at least one must verify every entry
  std::string tsa_ca;           // PEM file of trusted TSA roots; empty: tokens untrusted
  // A TSA time more than this far from the note's `time` is a finding (a backdated checkpoint).
  int64_t max_tsa_skew_s = 300;
};

// Checks the log alone: every line parses, every note has a verifying signature of a known key
// and no bad one, indexes run 1, 2, ..., each `prev` is the digest of the entry before it, times
// do not go backwards, and each TSA token (when present) verifies over the text. Log findings
// (kCheckpointLogBroken) go to report->findings; the entries that passed go to *good (in order).
Status CheckLog(const std::string& path, const LogCheckOptions& options, AnchorReport* report,
                std::vector<CheckpointBody>* good);

// Checks the store against the checkpoints that passed CheckLog: for each node of each
// checkpoint, the row at the checkpointed seq exists on that node with the checkpointed hash
// (one batched, indexed lookup per 10,000 tips). `chain` (the verify report of the same run,
// may be null) supplies each node's current tip for not_yet_anchored; that the rows after a
// checkpointed row still link is the chain verification's finding, not repeated here.
Status CheckStore(const TenantScope& scope, AuditReader* reader,
                  const std::vector<CheckpointBody>& good, const VerifyReport* chain,
                  AnchorReport* report);

// Where the checkpoints are and whom to trust: what `verify --checkpoints`, the chain_verify tool
// (on a server configured with a log) and `pack` check against.
struct AnchorConfig {
  std::string log;
  LogCheckOptions check;
  // The scope the store is checked under: all tenants (a checkpoint covers every tenant's
  // chains), issued where the log is configured (app/anchor_flags.cc). Required by VerifyAnchors.
  std::optional<TenantScope> scope;
};

// CheckLog, then CheckStore with the entries that passed.
Status VerifyAnchors(AuditReader* reader, const AnchorConfig& config, const VerifyReport* chain,
                     AnchorReport* report);

// Keeps only the nodes (and their findings) of `nodes`; log-level findings stay. For a tenant's
// view: the nodes its rows are on.
void RestrictToNodes(AnchorReport* report, const std::set<std::string>& nodes);

// The JSON of a report. `tenant_view`: leave out seqs and hashes (they may be other tenants'
// rows) and say only per node whether it is anchored and by which checkpoint.
nlohmann::json AnchorReportJson(const AnchorReport& report, bool tenant_view);

// The human lines of a report (no trailing newline on the last), as `verify` prints them.
std::string AnchorReportText(const AnchorReport& report);

}  // namespace fasten::anchor
