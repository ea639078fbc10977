// RateLimiter: one token bucket per tenant, for the HTTP transport's per-client limit (429 with
// Retry-After). A tenant's bucket holds at most `burst` requests and refills at
// `requests_per_second`; each allowed request takes one. Buckets are independent: one tenant
// exhausting its budget never slows another.
//
// Thread-safe: Allow may be called from any thread. Time is passed in (steady_clock), so tests
// need no sleeps and the transport reads the clock once per request.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace fasten::mcp {

class RateLimiter {
 public:
  // `requests_per_second` <= 0 disables limiting (Allow always returns true). `burst` is
  // clamped to at least 1. A new tenant starts with a full bucket.
  RateLimiter(double requests_per_second, double burst);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // True when `tenant` may make a request at `now` (and takes one from its bucket). Otherwise
  // false and *retry_after_seconds is set to the whole seconds (>= 1, rounded up, at most one
  // day) until one request's worth has refilled: the value of a Retry-After header. A `now`
  // earlier than the tenant's previous call counts as no time elapsed.
  bool Allow(const std::string& tenant, std::chrono::steady_clock::time_point now,
             int* retry_after_seconds);

  // Tenants currently remembered (full buckets of idle tenants are forgotten once there are
  // more than a few thousand).
  size_t bucket_count() const;

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };

  // Constant after construction.
  const double rate_;
  const double burst_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
  size_t prune_above_;                               // guarded by mu_
};

}  // namespace fasten::mcp
