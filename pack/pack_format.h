// The evidence pack format, shared by the writer and the verifier (docs/evidence.md, "Evidence
// packs"): member names and bounds, the line shapes of audit.ndjson and links.ndjson, the text of
// the manifest's signed note, and a streaming SHA-256.
//
// A pack is an uncompressed POSIX pax tar whose members are, in this order:
//   manifest.json        window, store, tenant, tool, counts, per-node spans, every member's digest
//   manifest.sig         C2SP signed note over ManifestNoteText(name, sha256(manifest.json))
//   audit.ndjson         the tenant's rows of the window, fasten NDJSON shape, by (node, seq)
//   links.ndjson         {"node","seq","hash","prev_hash"} of every other row needed, by (node,
//   seq) verify.json          the verify report of the window for the tenant checkpoints.ndjson the
//   covering checkpoint log lines sys.ndjson, api.ndjson, investigation.json   optional
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/row.h"
#include "util/crypto.h"
#include "util/status.h"

namespace fasten::pack {

inline constexpr char kFormat[] = "fasten-mcp evidence pack v1";

inline constexpr char kManifest[] = "manifest.json";
inline constexpr char kManifestSig[] = "manifest.sig";
inline constexpr char kAudit[] = "audit.ndjson";
inline constexpr char kLinks[] = "links.ndjson";
inline constexpr char kVerify[] = "verify.json";
inline constexpr char kCheckpoints[] = "checkpoints.ndjson";
inline constexpr char kSys[] = "sys.ndjson";
inline constexpr char kApi[] = "api.ndjson";
inline constexpr char kInvestigation[] = "investigation.json";

// Bounds the verifier holds a pack to (a member or line beyond them is a finding).
inline constexpr size_t kMaxMembers = 16;
inline constexpr int64_t kMaxManifestBytes = 16 << 20;
inline constexpr int64_t kMaxSmallMemberBytes = 64 << 20;  // verify.json, investigation.json
inline constexpr size_t kMaxRowLineBytes = 16 << 20;
inline constexpr size_t kMaxLinkLineBytes = 64 << 10;
inline constexpr size_t kMaxNodes = 10000;

// True when `name` is one of the member names above.
bool KnownMember(std::string_view name);

// The text of manifest.sig's note: "fasten-mcp evidence pack v1\nname <name>\nmanifest <hex>\n".
std::string ManifestNoteText(std::string_view name, std::string_view manifest_sha256);
// True when `name` can be a pack name: 1..200 bytes of '!'..'~' or space, not starting or ending
// with a space.
bool ValidPackName(std::string_view name);

// One audit row as a line of audit.ndjson (no newline): {"shape":"audit", every column}, the
// detail as its stored JSON text. A detail that is not one JSON value on one line goes as the
// string "detail_text" (with "detail": null); a row read from a TIMESTAMPTZ column carries
// "timestamptz": true. PackRowFromLine reads it back to the row that was written, so the hash
// recomputes (text that is not valid UTF-8 is the exception: it is written with U+FFFD).
void AppendPackRowLine(const AuditRow& row, std::string* out);
Status PackRowFromLine(std::string_view line, AuditRow* row);

struct LinkRecord {
  std::string node;
  int64_t seq = 0;
  std::string hash, prev_hash;
};
void AppendLinkLine(std::string_view node, int64_t seq, std::string_view hash,
                    std::string_view prev_hash, std::string* out);
// Exactly the four keys, node/hash/prev_hash strings, seq an integer >= 0.
Status ParseLinkLine(std::string_view line, LinkRecord* out);

}  // namespace fasten::pack
