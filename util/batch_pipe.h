// A bounded pipe of batches from one producer thread to one consumer thread. A fixed number of
// batches circulate between a free list and a full list, so memory stays bounded and the items'
// buffers are reused: the producer swaps items in, the consumer reads them in place, and nothing
// is copied.
//
//   BatchPipe<Row> pipe(6, 512);
//   producer:  auto b = pipe.TakeFree(); ... fill b->items[b->size++] ...; pipe.PutFull(move(b));
//              pipe.Close();  // when done: TakeFull returns null once the pipe is empty
//   consumer:  while (auto b = pipe.TakeFull()) { use b->items[0 .. b->size); b->size = 0;
//                                                 pipe.PutFree(move(b)); }
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace fasten {

template <typename Item>
class BatchPipe {
 public:
  struct Batch {
    explicit Batch(size_t items) : items(items) {}
    std::vector<Item> items;
    size_t size = 0;  // items in use
  };

  BatchPipe(size_t batches, size_t batch_items) : batch_items_(batch_items) {
    for (size_t i = 0; i < batches; ++i) free_.push_back(std::make_unique<Batch>(batch_items));
  }
  BatchPipe(const BatchPipe&) = delete;
  BatchPipe& operator=(const BatchPipe&) = delete;

  size_t batch_items() const { return batch_items_; }
  std::unique_ptr<Batch> TakeFree() { return Take(&free_); }
  void PutFree(std::unique_ptr<Batch> b) { Put(&free_, std::move(b)); }
  // The next full batch; null once Close() was called and every full batch was taken.
  std::unique_ptr<Batch> TakeFull() { return Take(&full_); }
  void PutFull(std::unique_ptr<Batch> b) { Put(&full_, std::move(b)); }
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

  const size_t batch_items_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Batch>> free_, full_;
  bool closed_ = false;
};

}  // namespace fasten
