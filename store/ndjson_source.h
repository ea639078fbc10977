// Audit rows from the SDK's NDJSON stdout capture (docs/format.md §5.7).
//
// Lines are {"shape":"audit", ...} objects or bare rows; lines of other shapes (sys, api) are
// skipped and counted. Two-phase output (§5.7): a line with an empty hash is superseded by the
// sealed line with the same id; one that never is stays an unsealed row. Sealed rows are delivered
// per node in ascending seq order through a bounded reorder window (store/seq_reorder.h), so
// memory does not grow with the file. Malformed lines are counted and reported with their line
// numbers, never fatal.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "store/row.h"
#include "util/status.h"

namespace fasten {

struct NdjsonOptions {
  std::optional<std::string> source_node_id;  // only this node
  size_t reorder_window = 4096;               // rows per node held to restore seq order
  size_t max_pending_unsealed = 65536;        // phase-1 lines awaiting their sealed line
  size_t max_line_bytes = 16 << 20;
};

struct NdjsonStats {
  int64_t lines = 0;
  int64_t audit_lines = 0;
  int64_t other_shapes = 0;
  int64_t superseded = 0;  // phase-1 lines replaced by their sealed line
  int64_t malformed = 0;
  std::vector<std::string> malformed_examples;  // "line N: why", first few
};

// Reads every line of `in`. `on_row` gets sealed rows in per-node seq order;
// `on_unsealed` gets the node of each unsealed row that was never superseded.
// Returns InvalidArgument when rows of one node arrive further out of order than the window.
Status ReadNdjsonAudit(std::istream& in, const NdjsonOptions& options,
                       const std::function<void(AuditRow&)>& on_row,
                       const std::function<void(const std::string& node)>& on_unsealed,
                       NdjsonStats* stats);

}  // namespace fasten
