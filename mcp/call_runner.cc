#include "mcp/call_runner.h"

#include <algorithm>
#include <utility>

#include "tools/row_json.h"
#include "util/duration.h"
#include "util/json_parse.h"

namespace fasten::mcp {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// How often the watchdog looks at the running calls: a tenth of the timeout, within 10 ms..1 s.
std::chrono::milliseconds WatchPeriod(std::chrono::milliseconds timeout) {
  return std::clamp(timeout / 10, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
}

const std::string& ToolName(const json& request) {
  static const std::string kNone;
  auto params = request.find("params");
  if (params == request.end() || !params->is_object()) return kNone;
  auto name = params->find("name");
  return name != params->end() && name->is_string() ? name->get_ref<const std::string&>() : kNone;
}

}  // namespace

StoreSet* CallRunner::StoreSlot::Get(const StoreConfig& config, std::chrono::milliseconds interval,
                                     Log& log, const char* who) {
  if (open_) return &stores_;
  const Clock::time_point now = Clock::now();
  if (last_try_ != Clock::time_point{} && now - last_try_ < interval) return nullptr;
  last_try_ = now;
  StoreSet fresh;
  Status st = OpenStoreSet(config, /*need_streams=*/true, &fresh);
  if (!st.ok()) {
    log.Write(LogLevel::kError, std::string(who) + ": cannot open the store: " + st.ToString());
    return nullptr;
  }
  stores_ = std::move(fresh);
  open_ = true;
  return &stores_;
}

CallRunner::CallRunner(const Dispatcher& dispatcher, CallRunnerOptions options, Log& log)
    : dispatcher_(dispatcher), options_(std::move(options)), log_(log) {
  for (int i = 0; i < std::max(1, options_.workers); ++i)
    workers_.emplace_back([this, i] { Work(i); });
  watchdog_ = std::thread([this] { Watch(); });
}

CallRunner::~CallRunner() {
  Stop();
}

void CallRunner::Stop() {
  if (!watchdog_.joinable()) return;  // stopped already (Stop runs on the owner's thread)
  queue_.Close();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  {
    // Only now: the calls that ran to the end of the queue were still held to their deadline.
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  watchdog_.join();
}

bool CallRunner::RunsInline(const json& request) {
  // row_get: one indexed lookup of a cited row, a small result.
  return request.value("method", "") == "tools/call" && ToolName(request) == "row_get";
}

std::shared_ptr<RunningCall> CallRunner::Register(const std::string& key) {
  auto call = std::make_shared<RunningCall>();
  call->key = key;
  call->deadline = Clock::now() + options_.call_timeout;
  in_flight_.fetch_add(1);
  std::lock_guard<std::mutex> lock(mu_);
  running_[key] = call;  // a reused key replaces the older entry
  return call;
}

void CallRunner::Unregister(const std::shared_ptr<RunningCall>& call) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(call->key);
    if (it != running_.end() && it->second == call) running_.erase(it);
  }
  in_flight_.fetch_sub(1);
}

bool CallRunner::Cancel(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(key);
  if (it == running_.end()) return false;
  it->second->cancelled.store(true);
  return true;
}

void CallRunner::CancelAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, call] : running_) call->cancelled.store(true);
}

CallOutcome CallRunner::Run(const json& request, CallSpec& spec, RunningCall& call,
                            StoreSlot& slot) {
  Connection fresh;
  CallContext ctx{spec.scope};
  if (spec.connection) {
    ctx.connection = spec.connection;
  } else {
    if (spec.legacy_version) fresh.SetLegacy(*spec.legacy_version);
    ctx.connection = &fresh;
  }
  ctx.stores = slot.Get(options_.stores, options_.reopen_interval, log_, "worker");
  ctx.cancelled = &call.cancelled;
  if (spec.notify) {
    ctx.notify = [&](const json& n) {
      if (!call.cancelled.load()) spec.notify(n);
    };
  }
  CallOutcome out;
  if (spec.count_rows) ctx.rows_returned = &out.rows;
  if (ctx.stores) ctx.stores->SetInterrupt(&call.cancelled);
  ResponseShape shape;
  try {
    out.text = dispatcher_.HandleRequestText(request, ctx, &shape);
  } catch (const std::exception& e) {
    log_.Write(LogLevel::kError, std::string("request failed: ") + e.what());
    out.text = DumpJson(ErrorResponse(&request["id"], kInternalError, "internal error"));
    shape = ResponseShape{kInternalError, false};
  }
  if (ctx.stores) ctx.stores->SetInterrupt(nullptr);
  if (ctx.store_unavailable) slot.MarkFailed();  // reopened before the next call
  out.error_code = shape.error_code;
  out.is_error = shape.is_error;
  out.cancelled = call.cancelled.load();
  out.timed_out = call.timed_out.load();
  if (out.timed_out && out.error_code == 0) {
    out.text = DeadlineResult(out.text, ToolName(request), options_.call_timeout);
    out.is_error = true;
  }
  return out;
}

CallOutcome CallRunner::RunInline(const json& request, CallSpec spec) {
  std::shared_ptr<RunningCall> call = Register(spec.key);
  CallOutcome out = Run(request, spec, *call, inline_stores_);
  Unregister(call);
  return out;
}

std::shared_ptr<RunningCall> CallRunner::Post(json request, CallSpec spec, Done done) {
  std::shared_ptr<RunningCall> call = Register(spec.key);
  queue_.Push(Task{std::move(request), std::move(spec), call, std::move(done), nullptr});
  return call;
}

void CallRunner::PostJob(Job job) {
  queue_.Push(Task{json(), std::nullopt, nullptr, nullptr, std::move(job)});
}

void CallRunner::Work(int index) {
  StoreSlot slot;
  const std::string who = "worker " + std::to_string(index);
  Task task;
  while (queue_.Pop(&task)) {
    if (task.job) {
      task.job(slot.Get(options_.stores, options_.reopen_interval, log_, who.c_str()));
    } else {
      CallOutcome out = Run(task.request, *task.spec, *task.call, slot);
      Unregister(task.call);
      task.done(task.request, std::move(out));
    }
    task = Task();  // a task may hold its caller's session open: release it now
    queue_.Done();
  }
}

void CallRunner::Watch() {
  const std::chrono::milliseconds period = WatchPeriod(options_.call_timeout);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    watch_cv_.wait_for(lock, period);
    const Clock::time_point now = Clock::now();
    for (auto& [key, call] : running_) {
      if (now >= call->deadline && !call->timed_out.load()) {
        call->timed_out.store(true);
        call->cancelled.store(true);
      }
    }
  }
}

std::string CallRunner::DeadlineResult(const std::string& response, const std::string& tool,
                                       std::chrono::milliseconds timeout) {
  json r;
  if (!ParseJson(response, JsonLimits{response.size() + 1, kMaxJsonDepth}, &r).ok() ||
      !r.is_object() || !r.contains("result")) {
    return response;
  }
  json& result = r["result"];
  result["isError"] = true;
  result["content"] = json::array(
      {{{"type", "text"},
        {"text", tool + ": stopped after " + FormatSeconds(timeout) +
                     " s (the server's --call-timeout); narrow the query, e.g. a shorter time "
                     "window or one node"}}});
  result.erase("structuredContent");
  return DumpJson(r);
}

}  // namespace fasten::mcp
