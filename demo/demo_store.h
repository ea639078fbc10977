// A realistic demo store, sealed exactly as the fasten SDKs seal (docs/format.md §5).
//
// One SQLite file with the audit table (spec DDL, migrated for form 2), `api_log` and `syslog`.
// Writers are mixed as in the field: a newest-Python node (form "2", canonical timestamps,
// json.dumps detail), an older-Python node (form "1", isoformat timestamps), a Go node (form "1",
// RFC3339Nano timestamps with nanoseconds, json.Marshal detail) and a Rust-core drainer node whose
// rows are unsealed. Two tenants, several services, sys and api rows sharing request_ids, one
// redacted row with its AUDIT_ROW_REDACTED event, and two incidents to investigate:
//   - refund request 3a7b1c9e4d20 (tenant acme, 14:32): the Stripe webhook returns 502 and the
//     audit stream shows REFUND_ROLLED_BACK;
//   - a config change at 09:14 (tenant globex) lowers MQTT QoS on mqtt-bridge-1, followed by
//     message loss until it is reverted at 09:41.
// One scheduler run (request_id sched-5e1f0a7c) writes rows for both tenants.
// Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace fasten {

struct DemoOptions {
  std::string path;  // output file (written to a temporary file, then renamed)
  uint64_t seed = 42;
  int64_t audit_rows = 6000;  // approximate; at least this many audit rows
  bool tamper = false;        // alter one stored row after sealing
  bool overwrite = false;
};

struct DemoSummary {
  int64_t audit_rows = 0, sys_rows = 0, api_rows = 0, unsealed = 0;
  std::vector<std::string> nodes;
  // When tampering: what was changed.
  std::string tampered_node, tampered_id, tampered_what;
  int64_t tampered_seq = 0;
};

Status WriteDemoStore(const DemoOptions& options, DemoSummary* summary);

}  // namespace fasten
