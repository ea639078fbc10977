#include "mcp/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace fasten::mcp {
namespace {

constexpr int kMaxRetryAfterSeconds = 86400;
// Above this many buckets, full ones (idle long enough to refill) are dropped: a full bucket is
// indistinguishable from a new one, so forgetting it changes nothing. The threshold then becomes
// twice what is left, so pruning costs amortised O(1) per new tenant.
constexpr size_t kPruneAbove = 4096;

}  // namespace

RateLimiter::RateLimiter(double requests_per_second, double burst)
    : rate_(requests_per_second), burst_(std::max(1.0, burst)), prune_above_(kPruneAbove) {}

bool RateLimiter::Allow(const std::string& tenant, std::chrono::steady_clock::time_point now,
                        int* retry_after_seconds) {
  if (!(rate_ > 0)) return true;
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() >= prune_above_ && buckets_.find(tenant) == buckets_.end()) {
    std::erase_if(buckets_, [&](const auto& kv) {
      double elapsed = std::chrono::duration<double>(now - kv.second.last).count();
      return elapsed > 0 && kv.second.tokens + elapsed * rate_ >= burst_;
    });
    prune_above_ = std::max(kPruneAbove, 2 * buckets_.size());
  }
  auto [it, inserted] = buckets_.try_emplace(tenant, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!inserted && now > b.last) {
    double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
    b.last = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  double wait = std::ceil((1.0 - b.tokens) / rate_);
  *retry_after_seconds =
      static_cast<int>(std::clamp(wait, 1.0, static_cast<double>(kMaxRetryAfterSeconds)));
  return false;
}

size_t RateLimiter::bucket_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

}  // namespace fasten::mcp
