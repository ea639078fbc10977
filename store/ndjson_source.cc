#include "store/ndjson_source.h"

#include <deque>
#include <unordered_map>

#include "store/json_row.h"
#include "store/seq_reorder.h"
#include "util/json_text.h"
#include "util/line_reader.h"

namespace fasten {
namespace {

// Returns the decoded value of the top-level "shape" key, or "" when absent.
std::string ShapeOf(const std::vector<json_text::Member>& members) {
  for (const auto& m : members) {
    if (m.key == "shape" && !m.raw.empty() && m.raw.front() == '"') {
      std::string out;
      const char* p = m.raw.data();
      if (json_text::ReadString(p, m.raw.data() + m.raw.size(), &out, nullptr)) return out;
    }
  }
  return "";
}

}  // namespace

Status ReadNdjsonAudit(std::istream& in, const NdjsonOptions& options,
                       const std::function<void(AuditRow&)>& on_row,
                       const std::function<void(const std::string& node)>& on_unsealed,
                       NdjsonStats* stats) {
  *stats = NdjsonStats();
  // Pending phase-1 rows: id -> node, in arrival order for eviction.
  std::unordered_map<std::string, std::string> pending;
  std::deque<std::string> pending_order;
  std::vector<json_text::Member> members;
  std::string line, error;
  SeqReorder reorder(options.reorder_window, 1, on_row);

  auto malformed = [&](const std::string& why) {
    ++stats->malformed;
    if (stats->malformed_examples.size() < 5) {
      stats->malformed_examples.push_back("line " + std::to_string(stats->lines) + ": " + why);
    }
  };

  AuditRow row;
  bool too_long = false;
  while (ReadBoundedLine(in, options.max_line_bytes, &line, &too_long)) {
    ++stats->lines;
    if (too_long) {
      malformed("line longer than " + std::to_string(options.max_line_bytes) + " bytes");
      continue;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!json_text::ObjectMembers(line, &members, &error)) {
      malformed("not a JSON object (" + error + ")");
      continue;
    }
    std::string shape = ShapeOf(members);
    if (!shape.empty() && shape != "audit") {
      ++stats->other_shapes;
      continue;
    }
    Status st = AuditRowFromJson(line, &row);
    if (!st.ok()) {
      malformed(st.message());
      continue;
    }
    ++stats->audit_lines;
    if (options.source_node_id && row.source_node_id != *options.source_node_id) continue;
    if (!row.sealed()) {
      if (pending.emplace(row.id, row.source_node_id).second) {
        pending_order.push_back(row.id);
        if (pending.size() > options.max_pending_unsealed) {
          // Too old to be superseded now: count it as unsealed.
          const std::string& oldest = pending_order.front();
          auto it = pending.find(oldest);
          if (it != pending.end()) {
            on_unsealed(it->second);
            pending.erase(it);
          }
          pending_order.pop_front();
        }
      }
      continue;
    }
    if (pending.erase(row.id) > 0) ++stats->superseded;
    if (!reorder.Push(row)) {
      return InvalidArgumentError(
          "line " + std::to_string(stats->lines) + ": rows of node '" + row.source_node_id +
          "' are out of seq order beyond the reorder window of " +
          std::to_string(options.reorder_window) + " rows (seq " +
          std::to_string(row.monotonic_seq) + " arrives late); sort the file by monotonic_seq");
    }
    if (pending_order.size() > 2 * options.max_pending_unsealed + 1024) {
      // Drop ids that were superseded, so the queue stays bounded.
      std::deque<std::string> live;
      for (auto& id : pending_order) {
        if (pending.count(id)) live.push_back(std::move(id));
      }
      pending_order.swap(live);
    }
  }
  reorder.Flush();
  for (const std::string& id : pending_order) {
    auto it = pending.find(id);
    if (it != pending.end()) on_unsealed(it->second);
  }
  if (in.bad()) return UnavailableError("read error on NDJSON input");
  return Status::Ok();
}

}  // namespace fasten
