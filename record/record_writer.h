// A background writer for the investigation record log: callers hand records over without ever
// waiting for the database, one thread appends them in batches.
//
// Offer() takes a mutex for a push onto a bounded queue and returns; it never blocks on I/O and
// never wakes the writer unless the queue holds a full batch. The writer thread wakes every
// `flush_interval` (or on a full batch), takes everything queued and appends it in one
// transaction (RecordLog::Append: one fsync per batch, the chain computed there).
//
// Queue policy: when `capacity` records are queued, Offer() drops the record (returns false) and
// counts it. Before the next batch the writer appends a `records_dropped` record (tenant "*",
// content {"dropped": N, "first_dropped_at", "last_dropped_at"}) so that the gap is in the log
// itself, and calls `warn` once per such batch. A batch the database refuses is also counted as
// dropped (with `warn` naming the error). Stop() (also the destructor) appends everything
// queued, then joins the thread.
//
// Thread-safe: Offer from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "record/record_log.h"

namespace fasten::record {

struct RecordWriterOptions {
  size_t capacity = 8192;   // records queued at most; more are dropped. Default 8192.
  size_t batch_size = 512;  // records per transaction at most; a full batch wakes the writer.
  std::chrono::milliseconds flush_interval{100};  // the writer's wake-up period. Default 100 ms.
  // Called (from the writer thread) when records were dropped or an append failed. May be empty.
  std::function<void(const std::string& message)> warn;
};

class RecordWriter {
 public:
  // `log` must outlive the writer. Starts the thread.
  RecordWriter(RecordLog* log, RecordWriterOptions options);
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // Queues `record`; false when the queue is full (the record is dropped and counted) or the
  // writer is stopped.
  bool Offer(NewRecord record);
  // Appends everything queued so far, then returns (tests, benchmarks).
  void Flush();
  // Appends everything queued and stops the thread. Idempotent.
  void Stop();

  // Records appended, and dropped (queue full or append failed), so far.
  uint64_t appended() const;
  uint64_t dropped() const;

 private:
  void Run();
  // Appends `batch` (and a records_dropped marker first, when records were dropped).
  // REQUIRES: mu_ not held.
  void Write(std::deque<NewRecord>* batch, uint64_t dropped_now, const std::string& first,
             const std::string& last);

  RecordLog* const log_;
  const RecordWriterOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;                    // the writer waits on it
  std::condition_variable flushed_;                 // Flush waits on it
  std::deque<NewRecord> queue_;                     // guarded by mu_
  uint64_t pending_dropped_ = 0;                    // guarded by mu_: dropped since the last marker
  std::string first_dropped_at_, last_dropped_at_;  // guarded by mu_
  uint64_t appended_ = 0, dropped_ = 0;             // guarded by mu_
  uint64_t flush_requests_ = 0, flushes_done_ = 0;  // guarded by mu_
  bool stopping_ = false;                           // guarded by mu_
  std::thread thread_;
};

}  // namespace fasten::record
