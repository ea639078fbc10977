// Verifies the chains of a store: the reader's scan feeding a ChainVerifier, as `fasten-mcp
// verify` and the chain_verify tool run it. Reads in physical order first (fast) and, when a
// node's rows are stored too far out of seq order for that, starts again in seq order.
// A window (range.from_seq) has its first link checked against the row below it.
//
// A time window [since, until] (both inclusive, either may be unset) is a seq window per node:
// from the lowest to the highest monotonic_seq of the node's rows whose timestamp lies in it
// (AuditReader::SeqSpans; timestamps need not grow with seq, so rows in between whose clock says
// otherwise are verified too). Each node's window is then verified exactly as the seq window
// range {node, first_seq, last_seq} is, first link included, into one report: the result of a
// time window equals that of the seq windows it resolves to. Nodes without a row in the window
// are not in the report.
// Thread-safety: uses `reader` from a second thread while it runs; nothing else may use the
// reader until it returns.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/reader.h"
#include "util/status.h"
#include "validator/chain.h"

namespace fasten {

struct VerifyStoreOptions {
  ScanRange range;
  // A time window instead of a seq window: range.from_seq and range.to_seq must then be unset
  // (InvalidArgument otherwise); range.source_node_id still picks one node. With
  // a one-tenant scope, only that tenant's rows place the window.
  std::optional<Micros> since, until;
  // Called with the number of rows read so far, every 4096 rows. May be empty.
  std::function<void(int64_t rows)> progress;
  // 2: the scan runs on its own thread and hashing on the calling one (full scans; a window
  // runs on one thread). 1: everything on the calling thread.
  int threads = 2;
  // A time window whose seq spans hold more than this many seqs in total (all nodes, every
  // tenant's rows: they all carry the chain) is not scanned: ResourceExhausted naming the count.
  // 0: no limit. Bounds what one request can cost a shared server.
  int64_t max_window_seqs = 0;
  // Count and check every tenant's rows whatever the scope (only the outcome may be used: no row
  // of the report may be shown to the caller). For a stretch that must verify as a whole.
  bool check_every_tenant = false;
};

struct VerifyStoreResult {
  VerifyReport report;
  int64_t rows_scanned = 0;
  bool rescanned_in_seq_order = false;
  // A time window: what it resolved to, per node (ascending), each verified as the seq window
  // {source_node_id, first_seq, last_seq}. Empty otherwise.
  std::vector<NodeSeqSpan> spans;
};

// True when `options` asks for a time window.
inline bool IsTimeWindow(const VerifyStoreOptions& options) {
  return options.since.has_value() || options.until.has_value();
}

// Runs the ranges' scans, in order, on a second thread and hands every row to `on_row` on the
// calling thread, in scan order, through a bounded queue of batches whose rows are swapped, never
// copied (at most a few thousand rows in flight). `on_row` may take the row's contents; when it
// returns false no further row is passed and the scan stops soon after. Nothing else may use
// `reader` until it returns (e.g. look predecessors up before). For work that formats or hashes
// every row of a scan (packs).
// `scope` is passed to AuditReader::Scan (chain linkage: every tenant's rows come back).
Status ScanPipelined(const TenantScope& scope, AuditReader* reader,
                     const std::vector<ScanRange>& ranges,
                     const std::function<bool(AuditRow&)>& on_row);

// Fails only when the store could not be read; a broken chain is a finding in the report. Every
// tenant's rows carry the chain; only rows `scope` sees are counted, checked and named
// (ChainVerifier::Options::scope), and only they place a time window.
Status VerifyStore(const TenantScope& scope, AuditReader* reader, const VerifyStoreOptions& options,
                   VerifyStoreResult* out);

}  // namespace fasten
