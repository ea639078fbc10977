// Writes an evidence pack (pack/pack_format.h, docs/evidence.md "Evidence packs"): one tenant's
// audit rows of a time window with what a reviewer needs to check them offline.
//
// Streaming, one pass over the store, in one of two plans:
//   storage order  one scan of the whole table (or of --node's rows) in the order the rows are
//                  stored, each node's rows restored to seq order by the reader: no index is
//                  needed and no page is read twice. Rows outside the window are read too.
//   per node       SeqSpans first (the window per node, through the timestamp index), then one
//                  scan per node in seq order from the row below the window's first to the
//                  anchoring checkpoint: reads only the window's seqs, at random-access cost.
// kAuto takes storage order unless the window covers under a quarter of the time between the
// store's oldest and newest rows (AuditReader::TimeBounds), and falls back to per node when the
// rows are stored too far out of seq order. Both plans write the same pack, byte for byte.
// Each node's rows go through a NodeBuilder (pack_writer.cc) to its members' streams in a
// temporary spool file and to the window's chain verifier; memory does not grow with rows. The
// members are then copied into the archive, manifest first, written to a temporary file beside
// `out_path` and renamed over it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "anchor/keys.h"
#include "store/reader.h"
#include "util/status.h"

namespace fasten::pack {

enum class PackPlan { kAuto, kStorageOrder, kPerNode };
const char* PackPlanName(PackPlan plan);  // "auto", "storage order", "per node"

struct PackOptions {
  AuditReader* reader = nullptr;  // required
  // When given, the tenant's rows of the window of these streams go in (sys.ndjson, api.ndjson).
  StreamReader* sys = nullptr;
  StreamReader* api = nullptr;
  std::string store_identity;  // e.g. the DSN as displayed
  // Required, and of exactly one tenant (a pack is one tenant's): issued by the launch
  // configuration (app/launch_scopes.h, --tenant).
  std::optional<TenantScope> scope;
  Micros since = 0, until = 0;  // inclusive
  std::optional<std::string> node;
  std::string name;                         // ValidPackName
  std::string checkpoints_path;             // the checkpoint log; empty: no checkpoints
  const anchor::PrivateKey* key = nullptr;  // signs the manifest; checkpoints must verify with it
  // An investigation record (record::RecordJson of it) already checked to be the tenant's; empty:
  // none. Its id for the manifest.
  std::string investigation_json, investigation_id;
  std::string tool = "fasten-mcp";
  std::string out_path;
  std::optional<int64_t> now_unix;  // the creation time written (default: now)
  int64_t max_stream_rows = 10'000'000;
  // Called with the number of rows read so far, every 4096 rows. May be empty.
  std::function<void(int64_t rows)> progress;
  PackPlan plan = PackPlan::kAuto;  // tests and benches force one
};

struct PackNodeSummary {
  std::string node;
  int64_t first_seq = 0, last_seq = 0;  // the tenant's rows in the window
  int64_t from_seq = 0, to_seq = 0;     // the records in the pack
  int64_t rows = 0, links = 0;
  bool anchored = false;
  int64_t checkpoint_index = 0, anchor_seq = 0;
};

struct PackSummary {
  std::vector<PackNodeSummary> nodes;
  int64_t audit_rows = 0, links = 0, checkpoints = 0, sys_rows = 0, api_rows = 0;
  int64_t rows_scanned = 0;         // store rows read
  PackPlan plan = PackPlan::kAuto;  // the plan that ran
  int64_t bytes = 0;                // of the pack file
  bool chain_ok = true;             // the verify report of the window
  std::string manifest_sha256;
  // Checkpoint log lines that did not parse or verify with the key (skipped).
  int64_t checkpoints_skipped = 0;
};

// InvalidArgument for bad options, FailedPrecondition when the tenant has no row in the window,
// NotFound for a missing checkpoint log, and the reader's or the file system's errors. A broken
// chain is not an error: the pack is written and verify.json (and verify-pack) say so.
Status WritePack(const PackOptions& options, PackSummary* summary);

}  // namespace fasten::pack
