// The one call runner behind both transports (stdio and HTTP): it runs requests that read stores
// and answers them as JSON-RPC text. No transport code in here (no Beast, no streams).
//
//   - Worker pool: Post() queues a call for a pool of threads, each with its own StoreSet.
//   - Inline: RunInline() runs a call on the caller's thread (the transport's reading thread)
//     with the runner's inline StoreSet, for the cheap point lookups RunsInline() names: no
//     hand-off, no thread wake-up, no copy of the request. Only one thread may call it.
//   - Stores: a StoreSet that failed to open, or whose last call found the store unavailable, is
//     reopened before the next call (at most once per reopen_interval).
//   - Cancellation: every call is registered under its key until it ends; Cancel(key) (from
//     notifications/cancelled) and CancelAll() (shutdown) stop its query.
//   - Deadline: a call running longer than call_timeout is stopped; its response is a tool
//     error naming --call-timeout (DeadlineResult). One watchdog thread checks the running calls
//     a few times per timeout, so starting a call wakes nothing.
//   - Errors: an exception from the dispatcher becomes -32603 "internal error" (logged).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "mcp/dispatcher.h"
#include "mcp/log.h"
#include "store/store_set.h"
#include "util/work_queue.h"

namespace fasten::mcp {

struct CallRunnerOptions {
  StoreConfig stores;
  int workers = 2;
  std::chrono::milliseconds call_timeout{60000};  // --call-timeout
  std::chrono::milliseconds reopen_interval{1000};
};

// What the transport knows about one call besides the request.
struct CallSpec {
  // The scope the call runs in (the transport's credential or launch binding): copied into
  // CallContext::scope, nowhere else. First, so that a spec is made as CallSpec{scope}.
  TenantScope scope;
  // The cancellation key: unique among the caller's calls in flight (stdio: the id; HTTP: the
  // principal and the id). A reused key replaces the older entry.
  std::string key{};
  // The connection's protocol state (stdio); null: a fresh one, legacy when legacy_version.
  Connection* connection = nullptr;
  std::optional<std::string> legacy_version{};
  // Notifications on the call's stream (progress); dropped once the call is cancelled.
  std::function<void(const nlohmann::json& notification)> notify{};
  bool count_rows = false;  // fill CallOutcome::rows (RowsReturned)
};

// The state of a call while it runs: transports set `cancelled` (client gone) through it.
struct RunningCall {
  std::atomic<bool> cancelled{false};
  std::atomic<bool> timed_out{false};
  std::chrono::steady_clock::time_point deadline;
  std::string key;
};

struct CallOutcome {
  std::string text;       // the response: one line of compact JSON
  int error_code = 0;     // its JSON-RPC error code; 0 for a result
  bool is_error = false;  // a result with isError
  bool cancelled = false;
  bool timed_out = false;
  int64_t rows = 0;  // with CallSpec::count_rows
};

class CallRunner {
 public:
  using Done = std::function<void(const nlohmann::json& request, CallOutcome outcome)>;
  using Job = std::function<void(StoreSet* stores)>;  // null stores: cannot be opened

  CallRunner(const Dispatcher& dispatcher, CallRunnerOptions options, Log& log);
  ~CallRunner();
  CallRunner(const CallRunner&) = delete;
  CallRunner& operator=(const CallRunner&) = delete;

  // True for tools/calls cheap enough to answer on the reading thread (indexed point lookups).
  static bool RunsInline(const nlohmann::json& request);

  // Runs `request` now, on this thread (see above).
  CallOutcome RunInline(const nlohmann::json& request, CallSpec spec);
  // Queues `request` for a worker; `done` runs on that worker with the outcome. The returned
  // handle stays valid while the caller holds it.
  std::shared_ptr<RunningCall> Post(nlohmann::json request, CallSpec spec, Done done);
  // Queues other work that needs a worker's stores (readiness, investigations).
  void PostJob(Job job);

  // notifications/cancelled: true when a call was running under `key`.
  bool Cancel(const std::string& key);
  void CancelAll();
  int in_flight() const { return in_flight_.load(); }

  // Runs what is queued, then joins the workers. Idempotent.
  void Stop();

  // The response of a call stopped by the deadline: `response` (the dispatcher's) with its
  // result replaced by a tool error naming --call-timeout; JSON-RPC errors stay as they are.
  static std::string DeadlineResult(const std::string& response, const std::string& tool,
                                    std::chrono::milliseconds timeout);

 private:
  // A StoreSet opened lazily and reopened after a failure.
  class StoreSlot {
   public:
    StoreSet* Get(const StoreConfig& config, std::chrono::milliseconds interval, Log& log,
                  const char* who);
    void MarkFailed() { open_ = false; }

   private:
    StoreSet stores_;
    bool open_ = false;
    std::chrono::steady_clock::time_point last_try_{};
  };
  struct Task {
    nlohmann::json request;
    std::optional<CallSpec> spec;  // unset for a job
    std::shared_ptr<RunningCall> call;
    Done done;
    Job job;
  };

  std::shared_ptr<RunningCall> Register(const std::string& key);
  void Unregister(const std::shared_ptr<RunningCall>& call);
  CallOutcome Run(const nlohmann::json& request, CallSpec& spec, RunningCall& call,
                  StoreSlot& slot);
  void Work(int index);
  void Watch();

  const Dispatcher& dispatcher_;
  const CallRunnerOptions options_;
  Log& log_;
  StoreSlot inline_stores_;
  WorkQueue<Task> queue_;
  std::atomic<int> in_flight_{0};

  std::mutex mu_;  // guards running_, stopping_
  std::unordered_map<std::string, std::shared_ptr<RunningCall>> running_;
  bool stopping_ = false;
  std::condition_variable watch_cv_;
  std::vector<std::thread> workers_;
  std::thread watchdog_;
};

}  // namespace fasten::mcp
