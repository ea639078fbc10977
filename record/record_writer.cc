#include "record/record_writer.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace fasten::record {

RecordWriter::RecordWriter(RecordLog* log, RecordWriterOptions options)
    : log_(log), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

RecordWriter::~RecordWriter() {
  Stop();
}

bool RecordWriter::Offer(NewRecord record) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    if (queue_.size() >= options_.capacity) {
      // Never block a call: count it, and let the writer put a marker in the log.
      ++dropped_;
      const std::string now = RecordTimeNow();
      if (pending_dropped_++ == 0) first_dropped_at_ = now;
      last_dropped_at_ = now;
      return false;
    }
    queue_.push_back(std::move(record));
    wake = queue_.size() == options_.batch_size;
  }
  if (wake) wake_.notify_one();
  return true;
}

void RecordWriter::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return;
  const uint64_t target = ++flush_requests_;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return flushes_done_ >= target || stopping_; });
}

void RecordWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

uint64_t RecordWriter::appended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return appended_;
}

uint64_t RecordWriter::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

void RecordWriter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait_for(lock, options_.flush_interval, [&] {
      return stopping_ || queue_.size() >= options_.batch_size || flush_requests_ > flushes_done_;
    });
    const uint64_t flush_target = flush_requests_;
    while (!queue_.empty() || pending_dropped_ > 0) {
      std::deque<NewRecord> batch;
      const size_t n = std::min(queue_.size(), options_.batch_size);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      const uint64_t dropped_now = pending_dropped_;
      pending_dropped_ = 0;
      const std::string first = first_dropped_at_, last = last_dropped_at_;
      lock.unlock();
      Write(&batch, dropped_now, first, last);
      lock.lock();
    }
    flushes_done_ = flush_target;
    flushed_.notify_all();
    if (stopping_ && queue_.empty()) break;
  }
}

void RecordWriter::Write(std::deque<NewRecord>* batch, uint64_t dropped_now,
                         const std::string& first, const std::string& last) {
  std::vector<NewRecord> records;
  records.reserve(batch->size() + 1);
  if (dropped_now > 0) {
    NewRecord marker;
    marker.kind = kKindDropped;
    marker.tenant = kAllTenants;
    marker.content = {{"dropped", dropped_now},
                      {"first_dropped_at", first},
                      {"last_dropped_at", last},
                      {"reason", "the record queue was full (" + std::to_string(options_.capacity) +
                                     " records)"}};
    records.push_back(std::move(marker));
  }
  const size_t calls = batch->size();
  for (NewRecord& r : *batch) records.push_back(std::move(r));
  Result<std::vector<std::string>> ids = log_->Append(records);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ids.ok()) {
      appended_ += calls;
    } else {
      dropped_ += calls;
    }
  }
  if (!options_.warn) return;
  if (dropped_now > 0) {
    options_.warn(std::to_string(dropped_now) +
                  " access record(s) dropped: the record queue was full; a records_dropped "
                  "record marks the gap");
  }
  if (!ids.ok()) {
    options_.warn(
        std::to_string(calls) +
        " record(s) not appended to the investigation record log: " + ids.status().message());
  }
}

}  // namespace fasten::record
