#include "store/seq_reorder.h"

#include <algorithm>
#include <limits>

namespace fasten {

namespace {
bool Later(const std::unique_ptr<AuditRow>& a, const std::unique_ptr<AuditRow>& b) {
  if (a->monotonic_seq != b->monotonic_seq) return a->monotonic_seq > b->monotonic_seq;
  return a->id > b->id;
}
}  // namespace

std::unique_ptr<AuditRow> SeqReorder::PopMin(Node* n) {
  std::pop_heap(n->pending.begin(), n->pending.end(), Later);
  std::unique_ptr<AuditRow> top = std::move(n->pending.back());
  n->pending.pop_back();
  --waiting_;
  return top;
}

SeqReorder::SeqReorder(size_t window, int64_t first_seq, Emit emit)
    : window_(window), first_seq_(first_seq), emit_(std::move(emit)) {}

// True when nothing already passed on for this node comes after `row`.
bool SeqReorder::InOrder(const Node& n, const AuditRow& row) const {
  if (!n.has_last) return true;
  if (row.monotonic_seq != n.last_seq) return row.monotonic_seq > n.last_seq;
  return row.id > n.last_id;  // a duplicate seq must come in id order
}

// True when `row` can be passed on now: it continues the node's sequence.
bool SeqReorder::Follows(const Node& n, const AuditRow& row) const {
  if (!n.has_last) return row.monotonic_seq <= first_seq_;
  return (n.last_seq < std::numeric_limits<int64_t>::max() &&
          row.monotonic_seq == n.last_seq + 1) ||
         (row.monotonic_seq == n.last_seq && row.id > n.last_id);
}

void SeqReorder::Pass(Node* n, AuditRow& row) {
  n->has_last = true;
  n->last_seq = row.monotonic_seq;
  n->last_id = row.id;
  emit_(row);
}

void SeqReorder::Drain(Node* n) {
  while (!n->pending.empty() && Follows(*n, *n->pending.front())) {
    std::unique_ptr<AuditRow> top = PopMin(n);
    Pass(n, *top);
  }
}

bool SeqReorder::Push(AuditRow& row) {
  auto it = nodes_.find(row.source_node_id);
  if (it == nodes_.end()) it = nodes_.emplace(row.source_node_id, Node()).first;
  Node& n = it->second;
  if (!InOrder(n, row)) return false;
  if (n.pending.empty() && Follows(n, row)) {
    Pass(&n, row);
    return true;
  }
  n.pending.push_back(std::make_unique<AuditRow>(row));
  std::push_heap(n.pending.begin(), n.pending.end(), Later);
  ++waiting_;
  Drain(&n);
  while (n.pending.size() > window_) {
    // The gap is not going to fill: accept it (a purged or deleted row) and move on.
    std::unique_ptr<AuditRow> top = PopMin(&n);
    Pass(&n, *top);
    Drain(&n);
  }
  return true;
}

void SeqReorder::Flush() {
  for (auto& [id, n] : nodes_) {
    while (!n.pending.empty()) {
      std::unique_ptr<AuditRow> top = PopMin(&n);
      Pass(&n, *top);
    }
  }
}

}  // namespace fasten
