// Verifies the chains of a store: the reader's scan feeding a ChainVerifier, as `fasten-mcp
// verify` and the chain_verify tool run it. Reads in physical order first (fast) and, when a
// node's rows are stored too far out of seq order for that, starts again in seq order.
// A window (range.from_seq) has its first link checked against the row below it.
// Thread-safety: uses `reader` from a second thread while it runs; nothing else may use the
// reader until it returns.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "store/reader.h"
#include "util/status.h"
#include "validator/chain.h"

namespace fasten {

struct VerifyStoreOptions {
  ScanRange range;
  // Called with the number of rows read so far, every 4096 rows. May be empty.
  std::function<void(int64_t rows)> progress;
  // 2: the scan runs on its own thread and hashing on the calling one (full scans; a window
  // runs on one thread). 1: everything on the calling thread.
  int threads = 2;
  // Report only this tenant's rows (ChainVerifier::Options::visible_tenant).
  std::optional<std::string> visible_tenant;
};

struct VerifyStoreResult {
  VerifyReport report;
  int64_t rows_scanned = 0;
  bool rescanned_in_seq_order = false;
};

// Fails only when the store could not be read; a broken chain is a finding in the report.
Status VerifyStore(AuditReader* reader, const VerifyStoreOptions& options, VerifyStoreResult* out);

}  // namespace fasten
