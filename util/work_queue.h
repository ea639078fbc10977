// A FIFO from the threads that read requests to a pool of threads that run them.
//
// Waking a thread that sleeps on a condition variable costs tens of microseconds on a VM, as much
// as a whole fast tool call. So a consumer that finds the queue empty first spins (yielding) for
// up to `spin` before it sleeps. How many may spin depends on the traffic:
//  - the pool is idle (no consumer runs an item): ONE consumer spins, so a client calling one
//    request at a time gets its next request picked up without a wake-up, while the other idle
//    threads leave the cores to the client and the database;
//  - items are running: every idle consumer may spin, because more requests are likely on the
//    way (calls in flight over one connection arrive back to back).
// Push wakes a sleeper only when no consumer is spinning (a spinner will take the item); a
// consumer that takes an item and sees more queued wakes the next sleeper, so a burst still fans
// out over the pool.
//
//   WorkQueue<Task> q;
//   q.Push(task);                                   // producer
//   for (Task t; q.Pop(&t); q.Done()) Run(t);        // consumers; Done() after each item
//   q.Close();  // queued items are still handed out, then Pop returns false
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "util/calls_running.h"

namespace fasten {

template <typename T>
class WorkQueue {
 public:
  explicit WorkQueue(std::chrono::microseconds spin = std::chrono::microseconds(500))
      : spin_(spin) {}
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Push(T item) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      items_.push_back(std::move(item));
      size_.fetch_add(1, std::memory_order_release);
      wake = spinners_ == 0;
    }
    if (wake) cv_.notify_one();
  }

  // The next item (true), waiting as described above; false once closed and empty.
  bool Pop(T* out) {
    bool spinner = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (TakeLocked(out)) return true;
      if (closed_) return false;
      if (spin_.count() > 0 && (spinners_ == 0 || busy_ > 0)) {
        ++spinners_;
        spinner = true;
      }
    }
    if (spinner) {
      const auto until = std::chrono::steady_clock::now() + spin_;
      while (size_.load(std::memory_order_acquire) == 0 &&
             !closed_.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (spinner) --spinners_;
    cv_.wait(lock, [&] { return closed_ || !items_.empty(); });
    return TakeLocked(out);
  }

  // The item the calling consumer took last has been handled.
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    --busy_;
    CallsRunningCounter().fetch_sub(1, std::memory_order_relaxed);
  }

  // No more items will be pushed; every consumer returns once the queue is empty.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
  }

 private:
  bool TakeLocked(T* out) {
    if (items_.empty()) return false;
    *out = std::move(items_.front());
    items_.pop_front();
    size_.fetch_sub(1, std::memory_order_release);
    ++busy_;
    CallsRunningCounter().fetch_add(1, std::memory_order_relaxed);
    if (!items_.empty() && spinners_ == 0) cv_.notify_one();  // more work: fan out
    return true;
  }

  const std::chrono::microseconds spin_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  std::atomic<size_t> size_{0};      // items_.size(), for the spinner to read without the lock
  int spinners_ = 0;                 // consumers spinning
  int busy_ = 0;                     // consumers between Pop and Done
  std::atomic<bool> closed_{false};  // written under mu_; the spinner reads it without
};

}  // namespace fasten
