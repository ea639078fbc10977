// Fuzzes the NDJSON audit source (store/ndjson_source.h ReadNdjsonAudit, store/json_row.h).
//
// Input: an NDJSON capture (any bytes). It is read three times: with a reorder window and a
// pending-unsealed limit of 3 (so eviction and gap acceptance are reached by small inputs), with
// the defaults, and filtered to the node "node-a". Checks:
// - the result is OK or InvalidArgument (rows out of order beyond the window), never a crash;
// - every line is counted once: audit + other shapes + malformed + blank lines == lines, and at
//   most five malformed examples are kept;
// - only sealed rows are delivered, each node's rows in non-decreasing (seq, id) order, and, when
//   the read succeeds, every sealed audit line of the selected nodes exactly once (counted here
//   line by line with AuditRowFromJson);
// - unsealed rows reported never outnumber the unsealed lines, superseded ones neither;
// - a row that AuditRowFromJson accepts has an id, and its parsed timestamps match
//   ParseTimestamp of its text.
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "store/json_row.h"
#include "store/ndjson_source.h"
#include "tests/fuzz/fuzz_util.h"
#include "util/json_text.h"

namespace {

using fasten::AuditRow;
using fasten::NdjsonOptions;
using fasten::NdjsonStats;
using fasten::fuzz::AsText;
namespace jt = fasten::json_text;

struct Expected {
  int64_t lines = 0, blank = 0, sealed = 0, unsealed = 0;
};

// What the reader should see, line by line (std::getline's split).
Expected Count(std::string_view text, const std::optional<std::string>& node) {
  Expected e;
  std::istringstream in{std::string(text)};
  std::string line;
  std::vector<jt::Member> members;
  std::string error;
  while (std::getline(in, line)) {
    ++e.lines;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      ++e.blank;
      continue;
    }
    if (!jt::ObjectMembers(line, &members, &error)) continue;
    bool other_shape = false;
    for (const jt::Member& m : members) {
      if (m.key != "shape" || m.raw.empty() || m.raw.front() != '"') continue;
      std::string shape;
      const char* p = m.raw.data();
      if (jt::ReadString(p, m.raw.data() + m.raw.size(), &shape, nullptr)) {
        other_shape = !shape.empty() && shape != "audit";
        break;
      }
    }
    if (other_shape) continue;
    AuditRow row;
    if (!fasten::AuditRowFromJson(line, &row).ok()) continue;
    FUZZ_CHECK(!row.id.empty());
    fasten::Micros t = 0;
    FUZZ_CHECK(row.timestamp_ok == fasten::ParseTimestamp(row.timestamp, &t));
    if (row.timestamp_ok) FUZZ_CHECK(t == row.timestamp_us);
    if (node && row.source_node_id != *node) continue;
    ++(row.sealed() ? e.sealed : e.unsealed);
  }
  return e;
}

void Read(std::string_view text, const NdjsonOptions& options) {
  const Expected expected = Count(text, options.source_node_id);
  std::map<std::string, std::pair<int64_t, std::string>> last;  // node -> (seq, id)
  int64_t delivered = 0, unsealed_reported = 0;
  auto on_row = [&](AuditRow& row) {
    FUZZ_CHECK(row.sealed());
    if (options.source_node_id) FUZZ_CHECK(row.source_node_id == *options.source_node_id);
    auto key = std::make_pair(row.monotonic_seq, row.id);
    auto it = last.find(row.source_node_id);
    if (it != last.end()) FUZZ_CHECK_MSG(it->second <= key, "node " + row.source_node_id);
    last[row.source_node_id] = key;
    ++delivered;
  };
  auto on_unsealed = [&](const std::string&) { ++unsealed_reported; };
  std::istringstream in{std::string(text)};
  NdjsonStats stats;
  fasten::Status st = fasten::ReadNdjsonAudit(in, options, on_row, on_unsealed, &stats);
  FUZZ_CHECK_MSG(st.ok() || st.code() == fasten::StatusCode::kInvalidArgument, st.ToString());
  FUZZ_CHECK(static_cast<int64_t>(stats.malformed_examples.size()) ==
             std::min<int64_t>(stats.malformed, 5));
  FUZZ_CHECK(unsealed_reported <= expected.unsealed);
  FUZZ_CHECK(stats.superseded <= expected.unsealed);
  FUZZ_CHECK(delivered <= expected.sealed);
  if (!st.ok()) return;
  FUZZ_CHECK(stats.lines == expected.lines);
  FUZZ_CHECK_MSG(
      stats.audit_lines + stats.other_shapes + stats.malformed + expected.blank == stats.lines,
      std::to_string(stats.audit_lines) + "+" + std::to_string(stats.other_shapes) + "+" +
          std::to_string(stats.malformed) + "+" + std::to_string(expected.blank) +
          " != " + std::to_string(stats.lines));
  FUZZ_CHECK_MSG(delivered == expected.sealed,
                 std::to_string(delivered) + " delivered of " + std::to_string(expected.sealed));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);
  NdjsonOptions small;
  small.reorder_window = 3;
  small.max_pending_unsealed = 3;
  Read(text, small);
  Read(text, NdjsonOptions());
  NdjsonOptions one_node = small;
  one_node.source_node_id = "node-a";
  Read(text, one_node);
  return 0;
}
