#include "validator/verify_store.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace fasten {
namespace {

constexpr size_t kBatchRows = 512;
constexpr size_t kBatches = 6;  // bounds the rows in flight: kBatches * kBatchRows

struct Batch {
  std::vector<AuditRow> rows = std::vector<AuditRow>(kBatchRows);
  size_t size = 0;
};

// Batches move from the reader thread to the verifying thread and back, so rows are swapped,
// never copied, and memory stays bounded.
class BatchQueue {
 public:
  BatchQueue() {
    for (size_t i = 0; i < kBatches; ++i) free_.push_back(std::make_unique<Batch>());
  }
  std::unique_ptr<Batch> TakeFree() { return Take(&free_); }
  void PutFree(std::unique_ptr<Batch> b) { Put(&free_, std::move(b)); }
  std::unique_ptr<Batch> TakeFull() { return Take(&full_); }
  void PutFull(std::unique_ptr<Batch> b) { Put(&full_, std::move(b)); }
  // The reader is done: TakeFull returns null once the queue is empty.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  std::unique_ptr<Batch> Take(std::deque<std::unique_ptr<Batch>>* q) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !q->empty() || (q == &full_ && closed_); });
    if (q->empty()) return nullptr;
    std::unique_ptr<Batch> b = std::move(q->front());
    q->pop_front();
    return b;
  }
  void Put(std::deque<std::unique_ptr<Batch>>* q, std::unique_ptr<Batch> b) {
    std::lock_guard<std::mutex> lock(mu_);
    q->push_back(std::move(b));
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Batch>> free_, full_;
  bool closed_ = false;
};

// One pass with the scan on its own thread and hashing on this one. Full scans only: the
// predecessor lookups of a window would share the reader's connection across threads.
Status PipelinedPass(AuditReader* reader, const ScanRange& range, const VerifyStoreOptions& options,
                     VerifyStoreResult* out) {
  BatchQueue queue;
  Status scan_status;
  std::thread scanner([&] {
    std::unique_ptr<Batch> batch = queue.TakeFree();
    scan_status = reader->Scan(range, [&](AuditRow& row) {
      std::swap(batch->rows[batch->size++], row);
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
  vo.visible_tenant = options.visible_tenant;
  ChainVerifier verifier(std::move(vo));
  int64_t rows = 0;
  while (std::unique_ptr<Batch> batch = queue.TakeFull()) {
    for (size_t i = 0; i < batch->size; ++i) {
      verifier.Add(batch->rows[i]);
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

Status SequentialPass(AuditReader* reader, const ScanRange& range,
                      const VerifyStoreOptions& options, VerifyStoreResult* out) {
  Status lookup_status;
  ChainVerifier::Options vo;
  vo.visible_tenant = options.visible_tenant;
  if (range.from_seq) {
    vo.predecessor = [&](const std::string& node, int64_t seq) {
      std::optional<Predecessor> pred;
      Status s = reader->FindPredecessor(node, seq, &pred);
      if (!s.ok() && lookup_status.ok()) lookup_status = s;
      return pred;
    };
  }
  ChainVerifier verifier(std::move(vo));
  int64_t rows = 0;
  Status st = reader->Scan(range, [&](AuditRow& row) {
    verifier.Add(row);
    if ((++rows & 4095) == 0 && options.progress) options.progress(rows);
    return true;
  });
  FASTEN_RETURN_IF_ERROR(st);
  FASTEN_RETURN_IF_ERROR(lookup_status);
  out->report = verifier.Finish();
  out->rows_scanned = rows;
  return Status::Ok();
}

}  // namespace

Status VerifyStore(AuditReader* reader, const VerifyStoreOptions& options, VerifyStoreResult* out) {
  *out = VerifyStoreResult();
  ScanRange range = options.range;
  const bool pipelined = options.threads >= 2 && !range.from_seq;
  Status st = pipelined ? PipelinedPass(reader, range, options, out)
                        : SequentialPass(reader, range, options, out);
  if (st.code() == StatusCode::kAborted && range.order == ScanRange::Order::kPhysical) {
    // Stored too far out of seq order for the physical scan: start again, sorted.
    range.order = ScanRange::Order::kSeq;
    st = pipelined ? PipelinedPass(reader, range, options, out)
                   : SequentialPass(reader, range, options, out);
    out->rescanned_in_seq_order = true;
  }
  return st;
}

}  // namespace fasten
