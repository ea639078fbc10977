// Verifies an evidence pack offline, with no store (docs/evidence.md, "Evidence packs").
//
// Checks: the manifest's signed note verifies with one of the keys and names the manifest's
// SHA-256; every member's size and SHA-256 equal the manifest's, no member missing, unlisted or
// repeated; every audit row is the manifest's tenant's, timestamped in the window, on a manifest
// node, and its hash recomputes (validator/chain.h RowChecker); per node, in seq order, each
// record's prev_hash is the hash of the record before it (own rows and links alike); every
// checkpoint's signed note verifies with one of the keys (and its TSA token, when present), and
// the record at each checkpointed seq of a pack node has the checkpointed hash; every sys/api row's
// digest recomputes; the investigation record (when packed) is the manifest's and its hash
// recomputes; the counts equal the manifest's.
//
// Streaming: the archive is read once for the small members and the digests, then audit.ndjson
// and links.ndjson are merged by (node, seq) with one reader each; memory does not grow with rows.
// Every problem is a finding (the report's verdict), never an error: a file that is not a pack at
// all is a finding too.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "anchor/keys.h"

namespace fasten::pack {

// Kinds of finding.
inline constexpr char kNotAPack[] = "not_a_pack";
inline constexpr char kManifestInvalid[] = "manifest_invalid";
inline constexpr char kSignature[] = "signature";
inline constexpr char kMemberMissing[] = "member_missing";
inline constexpr char kMemberUnlisted[] = "member_unlisted";
inline constexpr char kMemberDigest[] = "member_digest";
inline constexpr char kLimit[] = "limit";
inline constexpr char kRowInvalid[] = "row_invalid";
inline constexpr char kRowOutside[] = "row_outside";
inline constexpr char kRowHash[] = "row_hash";
inline constexpr char kLinkBroken[] = "link_broken";
inline constexpr char kOrder[] = "order";
inline constexpr char kCheckpointInvalid[] = "checkpoint_invalid";
inline constexpr char kCheckpointMismatch[] = "checkpoint_mismatch";
inline constexpr char kCountMismatch[] = "count_mismatch";
inline constexpr char kStreamDigest[] = "stream_digest";
inline constexpr char kInvestigationInvalid[] = "investigation_invalid";

struct PackFinding {
  std::string kind;
  std::string member;  // empty when about the pack as a whole
  std::string node;
  std::optional<int64_t> seq;
  int64_t line = 0;  // 1-based line of the member, when any
  std::string reason;
};

struct PackNodeReport {
  std::string node;
  int64_t from_seq = 0, to_seq = 0;  // as the manifest says
  int64_t rows = 0, links = 0;       // as read
  bool anchored = false;
  int64_t checkpoint_index = 0, anchor_seq = 0;
  bool anchor_verified = false;  // the record at anchor_seq has the checkpoint's hash
};

struct PackReport {
  std::string path;
  std::string name, tool, created, store, tenant, since, until;
  std::optional<std::string> node;
  std::string manifest_sha256;
  std::vector<std::string> signed_by;  // "name+id" of the keys that verified the manifest
  struct Member {
    std::string name;
    int64_t size = 0;
    std::string sha256;
  };
  std::vector<Member> members;  // as read
  std::vector<PackNodeReport> nodes;
  int64_t audit_rows = 0, links = 0, rows_verified = 0, unsealed = 0;
  int64_t checkpoints = 0, checkpoints_verified = 0, tsa_tokens = 0, tsa_verified = 0,
          tsa_trusted = 0;
  int64_t sys_rows = 0, api_rows = 0;
  bool investigation = false;
  bool investigation_verified = false;  // it is the manifest's and its hash recomputes
  std::vector<PackFinding> findings;    // the first kMaxFindings
  int64_t findings_total = 0;
  static constexpr size_t kMaxFindings = 1000;

  bool ok() const { return findings_total == 0; }
};

struct VerifyPackOptions {
  std::vector<anchor::PublicKey> keys;  // one must verify the manifest and every checkpoint
  std::string tsa_ca;                   // PEM of trusted TSA roots; empty: tokens not trusted
};

PackReport VerifyPack(const std::string& path, const VerifyPackOptions& options);
// The same over a pack held in memory (the fuzz driver).
PackReport VerifyPackBytes(std::string_view bytes, const VerifyPackOptions& options);

// {"ok", "pack", "name", "tenant", "store", "window", "manifest_sha256", "signed_by", "members",
//  "nodes", "counts", "checkpoints", "findings", "findings_total"}.
nlohmann::json PackReportJson(const PackReport& report);

}  // namespace fasten::pack
