#include "app/checkpointer.h"

#include <memory>

#include "app/launch_scopes.h"
#include "llm/timestamp_client.h"

namespace fasten {

Status AppendOneCheckpoint(AuditReader* reader, const CheckpointerConfig& config,
                           anchor::CheckpointBody* out, std::vector<std::string>* warnings) {
  anchor::AppendOptions options;
  options.store = config.store_name;
  options.key = config.key;
  if (!config.tsa_url.empty()) {
    options.timestamp = [&config](std::string_view text) {
      return llm::RequestTimestamp(config.tsa_url, text, config.tsa_timeout_ms);
    };
  }
  // The operator's checkpoint covers every tenant's chains.
  return anchor::AppendCheckpoint(app::LaunchScopes::AllTenants(), reader, config.log, options, out,
                                  warnings);
}

PeriodicCheckpointer::PeriodicCheckpointer(Dsn dsn, CheckpointerConfig config,
                                           std::chrono::milliseconds period,
                                           std::function<void(const std::string& line)> report)
    : dsn_(std::move(dsn)),
      config_(std::move(config)),
      period_(period),
      report_(std::move(report)),
      thread_([this] { Run(); }) {}

PeriodicCheckpointer::~PeriodicCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PeriodicCheckpointer::Run() {
  std::unique_ptr<AuditReader> reader;
  while (true) {
    Status st;
    if (!reader) st = AuditReader::Open(dsn_, &reader);
    if (st.ok()) {
      anchor::CheckpointBody body;
      std::vector<std::string> warnings;
      st = AppendOneCheckpoint(reader.get(), config_, &body, &warnings);
      for (const std::string& w : warnings) report_("checkpoint: warning: " + w);
      if (st.ok()) {
        report_("checkpoint #" + std::to_string(body.index) + " appended to " + config_.log + " (" +
                std::to_string(body.nodes.size()) + " nodes)");
      }
    }
    if (!st.ok()) {
      report_("checkpoint: failed: " + st.ToString() + " (retrying at the next period)");
      if (st.code() == StatusCode::kUnavailable) reader.reset();
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, period_, [this] { return stop_; })) return;
  }
}

}  // namespace fasten
