// Restores per-node (monotonic_seq, id) order of audit rows that arrive *almost* in that order:
// rows in physical storage order (allocation happens at insert, so each node's rows are stored in
// seq order) or lines of an NDJSON capture.
//
// A row that continues its node's sequence (seq == last + 1, or the expected first seq) is passed
// on at once, without a copy; others wait in a small per-node heap until the gap fills, or until
// `window` rows wait on that node (then the gap is accepted: a purged or deleted row). Push()
// returns false when a row arrives after a later row of its node was already passed on: the
// caller must then read again in seq order. Memory: at most `window` rows per node.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/row.h"

namespace fasten {

class SeqReorder {
 public:
  using Emit = std::function<void(AuditRow&)>;  // may take the row's contents

  // `first_seq` is the seq each node is expected to start at (1, or a window's start).
  SeqReorder(size_t window, int64_t first_seq, Emit emit);

  // Returns false (and passes nothing on) when `row` is out of order beyond repair.
  [[nodiscard]] bool Push(AuditRow& row);
  // Passes on every waiting row, in order.
  void Flush();

  size_t waiting() const { return waiting_; }

 private:
  struct Node {
    bool has_last = false;
    int64_t last_seq = 0;
    std::string last_id;
    std::vector<std::unique_ptr<AuditRow>> pending;  // a min-heap on (seq, id)
  };
  std::unique_ptr<AuditRow> PopMin(Node* n);
  bool InOrder(const Node& n, const AuditRow& row) const;
  bool Follows(const Node& n, const AuditRow& row) const;
  void Pass(Node* n, AuditRow& row);
  void Drain(Node* n);

  size_t window_;
  int64_t first_seq_;
  Emit emit_;
  std::unordered_map<std::string, Node> nodes_;
  size_t waiting_ = 0;
};

}  // namespace fasten
