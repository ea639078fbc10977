// Appending signed checkpoints: once (`fasten-mcp checkpoint`) or every period while `serve`
// runs. The RFC 3161 request, when a TSA is configured, goes through the one HTTP client
// (llm/timestamp_client.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "anchor/checkpoint.h"
#include "store/dsn.h"
#include "util/status.h"

namespace fasten {

struct CheckpointerConfig {
  std::string log;
  const anchor::PrivateKey* key = nullptr;  // outlives the checkpointer
  std::string store_name;
  std::string tsa_url;  // empty: no timestamp
  int64_t tsa_timeout_ms = 10000;
};

// Reads the tips through `reader` and appends one checkpoint (anchor::AppendCheckpoint).
Status AppendOneCheckpoint(AuditReader* reader, const CheckpointerConfig& config,
                           anchor::CheckpointBody* out, std::vector<std::string>* warnings);

// Appends a checkpoint every `period` on its own thread with its own reader of `dsn` (reopened
// after a failure), the first one at once. Each outcome goes to `report` (one line). Stops, within
// a second, when destroyed.
class PeriodicCheckpointer {
 public:
  PeriodicCheckpointer(Dsn dsn, CheckpointerConfig config, std::chrono::milliseconds period,
                       std::function<void(const std::string& line)> report);
  ~PeriodicCheckpointer();
  PeriodicCheckpointer(const PeriodicCheckpointer&) = delete;
  PeriodicCheckpointer& operator=(const PeriodicCheckpointer&) = delete;

 private:
  void Run();

  Dsn dsn_;
  CheckpointerConfig config_;
  std::chrono::milliseconds period_;
  std::function<void(const std::string&)> report_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace fasten
