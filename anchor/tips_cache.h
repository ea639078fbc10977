// The checkpointed tips of a log, for integrity verdicts (validator/integrity_verdict.h
// AnchorTips): only checkpoints whose signature (and TSA token, when present) verifies count.
// Re-read when the log file changes (size or modification time), so a server that appends
// checkpoints, or a cron job beside it, is seen at the next call. Thread-safe.
#pragma once

#include <memory>
#include <mutex>

#include "anchor/checkpoint.h"
#include "validator/integrity_verdict.h"

namespace fasten::anchor {

class AnchorTipsCache {
 public:
  explicit AnchorTipsCache(AnchorConfig config) : config_(std::move(config)) {}

  // The tips of the log's verified checkpoints as of now. An unreadable log is an error (the
  // caller decides: a verdict without anchors says "not yet anchored", never "anchored").
  Result<std::shared_ptr<const AnchorTips>> Get();

  const AnchorConfig& config() const { return config_; }

 private:
  AnchorConfig config_;
  std::mutex mu_;
  int64_t size_ = -1, mtime_ns_ = -1;
  std::shared_ptr<const AnchorTips> tips_;
};

}  // namespace fasten::anchor
