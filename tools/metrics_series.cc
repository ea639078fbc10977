#include "tools/metrics_series.h"

namespace fasten {
namespace {

constexpr Micros kMinute = 60 * int64_t{1000000};

struct Bucket {
  const char* name;
  Micros width;
};
constexpr Bucket kBuckets[] = {{"1m", kMinute},      {"5m", 5 * kMinute},   {"15m", 15 * kMinute},
                               {"1h", 60 * kMinute}, {"6h", 360 * kMinute}, {"1d", 1440 * kMinute}};

}  // namespace

const std::vector<std::string>& BucketNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Bucket& b : kBuckets) v.emplace_back(b.name);
    return v;
  }();
  return names;
}

std::optional<Micros> BucketWidth(std::string_view name) {
  for (const Bucket& b : kBuckets) {
    if (name == b.name) return b.width;
  }
  return std::nullopt;
}

Micros BucketStart(Micros t, Micros width) {
  Micros q = t / width;
  if (t % width != 0 && t < 0) --q;  // C++ division truncates toward zero
  return q * width;
}

int64_t BucketCount(Micros since, Micros until, Micros width) {
  if (until < since) return 0;
  return (BucketStart(until, width) - BucketStart(since, width)) / width + 1;
}

}  // namespace fasten
