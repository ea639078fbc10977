#include "anchor/tips_cache.h"

#include <sys/stat.h>

namespace fasten::anchor {

Result<std::shared_ptr<const AnchorTips>> AnchorTipsCache::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  struct stat st;
  if (stat(config_.log.c_str(), &st) != 0) {
    return NotFoundError("checkpoint log " + config_.log + " not found");
  }
  const int64_t mtime_ns =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (tips_ && st.st_size == size_ && mtime_ns == mtime_ns_) return tips_;
  AnchorReport report;
  std::vector<CheckpointBody> good;
  FASTEN_RETURN_IF_ERROR(CheckLog(config_.log, config_.check, &report, &good));
  auto tips = std::make_shared<AnchorTips>();
  for (const CheckpointBody& b : good) {
    for (const NodeTip& t : b.nodes) {
      AnchorTip tip;
      tip.node = t.node;
      tip.seq = t.seq;
      tip.hash = t.hash;
      tip.checkpoint_index = b.index;
      tip.time = b.time;
      tips->Add(std::move(tip));
    }
  }
  tips->Finish();
  tips_ = std::move(tips);
  size_ = st.st_size;
  mtime_ns_ = mtime_ns;
  return tips_;
}

}  // namespace fasten::anchor
