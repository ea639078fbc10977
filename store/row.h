// The rows fasten-mcp reads: audit rows (hash-chained) and sys/api stream rows (not chained).
//
// An AuditRow holds every audit column as read, after column introspection has filled in the
// defaults for columns a writer does not create (docs/format.md §2.1). Text is kept exactly as
// stored; `detail` stays JSON *text* so that number tokens survive to the canonical writer.
// Rows are plain values; a reader reuses one AuditRow while streaming (strings keep capacity).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/timestamp.h"

namespace fasten {

// A text value that may be SQL NULL. (Not std::optional: a reused row keeps its capacity.)
struct NullableText {
  std::string value;
  bool null = true;

  void Set(std::string_view v) {
    value.assign(v.data(), v.size());
    null = false;
  }
  void SetNull() {
    value.clear();
    null = true;
  }
  bool has_value() const { return !null; }
};

struct AuditRow {
  std::string id;
  std::string origin_id;
  int64_t monotonic_seq = 0;
  std::string timestamp;  // raw text (or the canonical spelling of a TIMESTAMPTZ value)
  std::string code;
  std::string action;
  std::string severity;
  std::string service_id;
  std::string source_node_id;
  NullableText tenant_id;
  std::string actor;
  std::string actor_kind;
  std::string target;
  std::string category;
  std::string domain;
  std::string method;
  std::string request_id;
  NullableText detail;  // JSON text; null = SQL NULL (the text "null" is kept as text)
  int pii_in_detail = 0;
  NullableText shipped_at;
  std::string wire_version = "1";
  std::string hash;
  std::string prev_hash = "genesis";
  std::string canonical_form_id = "1";
  NullableText detail_salt;
  NullableText detail_commitment;

  // Derived at read time.
  bool timestamp_ok = false;  // `timestamp` parsed
  Micros timestamp_us = 0;    // valid when timestamp_ok
  bool shipped_at_ok = false;
  Micros shipped_at_us = 0;
  bool from_timestamptz = false;      // read from a Postgres TIMESTAMPTZ column
  std::vector<std::string> warnings;  // per-row read problems (e.g. non-integer seq)

  bool sealed() const { return !hash.empty(); }
  // Detail is null when the column is SQL NULL or holds the JSON text `null` (redacted).
  bool detail_is_null() const;
};

// A reference to a sealed audit row: what the chain links to.
struct Predecessor {
  int64_t seq = 0;
  std::string id;
  std::string hash;
};

enum class StreamKind { kSys, kApi };
const char* StreamName(StreamKind kind);  // "sys" / "api"

// A sys or api row: rebuilt from `payload`; the lifted columns only drive filters.
struct StreamRow {
  StreamKind kind = StreamKind::kSys;
  int64_t seq = 0;
  std::string payload;  // the stored JSON text, exactly as read
  // Lifted columns (empty when NULL).
  std::string request_id;
  std::string timestamp;
  bool timestamp_ok = false;
  Micros timestamp_us = 0;
  std::string level, service_id, event;  // sys
  std::string method, path;              // api
  bool has_status = false;
  int64_t status = 0;
};

}  // namespace fasten
