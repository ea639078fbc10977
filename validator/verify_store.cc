#include "validator/verify_store.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "util/batch_pipe.h"

namespace fasten {
namespace {

constexpr size_t kBatchRows = 512;
constexpr size_t kBatches = 6;  // bounds the rows in flight: kBatches * kBatchRows

// Batches move from the reader thread to the verifying thread and back, so rows are swapped,
// never copied, and memory stays bounded.
class BatchQueue : public BatchPipe<AuditRow> {
 public:
  BatchQueue() : BatchPipe<AuditRow>(kBatches, kBatchRows) {}
};
using Batch = BatchQueue::Batch;

// One pass with the scan on its own thread and hashing on this one. Full scans only: the
// predecessor lookups of a window would share the reader's connection across threads.
Status PipelinedPass(const TenantScope& scope, AuditReader* reader, const ScanRange& range,
                     const VerifyStoreOptions& options, VerifyStoreResult* out) {
  BatchQueue queue;
  Status scan_status;
  std::thread scanner([&] {
    std::unique_ptr<Batch> batch = queue.TakeFree();
    scan_status = reader->Scan(scope, range, [&](AuditRow& row) {
      std::swap(batch->items[batch->size++], row);
      if (batch->size == kBatchRows) {
        queue.PutFull(std::move(batch));
        batch = queue.TakeFree();
        batch->size = 0;
      }
      return true;
    });
    if (batch->size > 0) queue.PutFull(std::move(batch));
    queue.Close();
  });
  ChainVerifier::Options vo;
  if (!options.check_every_tenant) vo.scope = scope;
  ChainVerifier verifier(std::move(vo));
  int64_t rows = 0;
  while (std::unique_ptr<Batch> batch = queue.TakeFull()) {
    for (size_t i = 0; i < batch->size; ++i) {
      verifier.Add(batch->items[i]);
      if ((++rows & 4095) == 0 && options.progress) options.progress(rows);
    }
    batch->size = 0;
    queue.PutFree(std::move(batch));
  }
  scanner.join();
  FASTEN_RETURN_IF_ERROR(scan_status);
  out->report = verifier.Finish();
  out->rows_scanned = rows;
  return Status::Ok();
}

}  // namespace

Status ScanPipelined(const TenantScope& scope, AuditReader* reader,
                     const std::vector<ScanRange>& ranges,
                     const std::function<bool(AuditRow&)>& on_row) {
  BatchQueue queue;
  Status scan_status;
  std::atomic<bool> stop{false};
  std::thread scanner([&] {
    std::unique_ptr<Batch> batch = queue.TakeFree();
    for (const ScanRange& range : ranges) {
      scan_status = reader->Scan(scope, range, [&](AuditRow& row) {
        std::swap(batch->items[batch->size++], row);
        if (batch->size == kBatchRows) {
          queue.PutFull(std::move(batch));
          batch = queue.TakeFree();
          batch->size = 0;
        }
        return !stop.load(std::memory_order_relaxed);
      });
      if (!scan_status.ok() || stop.load(std::memory_order_relaxed)) break;
    }
    if (batch->size > 0) queue.PutFull(std::move(batch));
    queue.Close();
  });
  while (std::unique_ptr<Batch> batch = queue.TakeFull()) {
    for (size_t i = 0; i < batch->size && !stop.load(std::memory_order_relaxed); ++i) {
      if (!on_row(batch->items[i])) stop.store(true, std::memory_order_relaxed);
    }
    batch->size = 0;
    queue.PutFree(std::move(batch));
  }
  scanner.join();
  return scan_status;
}

namespace {

// One scan per range, every one feeding the same verifier (ranges of distinct nodes, or one
// range), on this thread: a window's predecessor lookups use the reader between the scans' rows.
Status SequentialPass(const TenantScope& scope, AuditReader* reader,
                      const std::vector<ScanRange>& ranges, const VerifyStoreOptions& options,
                      VerifyStoreResult* out) {
  Status lookup_status;
  ChainVerifier::Options vo;
  if (!options.check_every_tenant) vo.scope = scope;
  const bool window =
      std::any_of(ranges.begin(), ranges.end(), [](const ScanRange& r) { return r.from_seq; });
  if (window) {
    vo.predecessor = [&](const std::string& node, int64_t seq) {
      std::optional<Predecessor> pred;
      Status s = reader->FindPredecessor(scope, node, seq, &pred);
      if (!s.ok() && lookup_status.ok()) lookup_status = s;
      return pred;
    };
  }
  ChainVerifier verifier(std::move(vo));
  int64_t rows = 0;
  for (const ScanRange& range : ranges) {
    Status st = reader->Scan(scope, range, [&](AuditRow& row) {
      verifier.Add(row);
      if ((++rows & 4095) == 0 && options.progress) options.progress(rows);
      return true;
    });
    FASTEN_RETURN_IF_ERROR(st);
    FASTEN_RETURN_IF_ERROR(lookup_status);
  }
  out->report = verifier.Finish();
  out->rows_scanned = rows;
  return Status::Ok();
}

// The ranges a time window resolves to: per node, its seq span in the window.
Status TimeWindowRanges(const TenantScope& scope, AuditReader* reader,
                        const VerifyStoreOptions& options, std::vector<NodeSeqSpan>* spans,
                        std::vector<ScanRange>* ranges) {
  if (options.range.from_seq || options.range.to_seq) {
    return InvalidArgumentError(
        "a time window (since/until) and a seq window (from_seq/to_seq) cannot be combined");
  }
  SeqSpanQuery q;
  q.since = options.since;
  q.until = options.until;
  q.source_node_id = options.range.source_node_id;
  FASTEN_RETURN_IF_ERROR(reader->SeqSpans(scope, q, spans));
  ranges->clear();
  for (const NodeSeqSpan& span : *spans) {
    ScanRange r;
    r.source_node_id = span.source_node_id;
    r.from_seq = span.first_seq;
    r.to_seq = span.last_seq;
    r.order = options.range.order;
    ranges->push_back(std::move(r));
  }
  return Status::Ok();
}

}  // namespace

Status VerifyStore(const TenantScope& scope, AuditReader* reader, const VerifyStoreOptions& options,
                   VerifyStoreResult* out) {
  *out = VerifyStoreResult();
  std::vector<ScanRange> ranges = {options.range};
  std::vector<NodeSeqSpan> spans;
  if (IsTimeWindow(options)) {
    FASTEN_RETURN_IF_ERROR(TimeWindowRanges(scope, reader, options, &spans, &ranges));
    if (options.max_window_seqs > 0) {
      int64_t seqs = 0;
      for (const NodeSeqSpan& s : spans) seqs += s.last_seq - s.first_seq + 1;
      if (seqs > options.max_window_seqs) {
        out->spans = std::move(spans);
        return ResourceExhaustedError("the window spans " + std::to_string(seqs) +
                                      " seqs across its nodes, more than the limit of " +
                                      std::to_string(options.max_window_seqs));
      }
    }
  }
  const bool pipelined = options.threads >= 2 && !IsTimeWindow(options) && !options.range.from_seq;
  auto pass = [&] {
    return pipelined ? PipelinedPass(scope, reader, ranges[0], options, out)
                     : SequentialPass(scope, reader, ranges, options, out);
  };
  Status st = pass();
  if (st.code() == StatusCode::kAborted && options.range.order == ScanRange::Order::kPhysical) {
    // Stored too far out of seq order for the physical scan: start again, sorted.
    for (ScanRange& r : ranges) r.order = ScanRange::Order::kSeq;
    st = pass();
    out->rescanned_in_seq_order = true;
  }
  out->spans = std::move(spans);
  return st;
}

}  // namespace fasten
