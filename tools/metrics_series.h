// The time buckets of red_metrics' series: a bounded set of widths, aligned to the UTC epoch
// (a 5m bucket starts at a multiple of five minutes since 1970-01-01T00:00:00Z, a 1d bucket at
// midnight UTC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/row.h"

namespace fasten {

// At most this many buckets in one series.
constexpr int64_t kMaxSeriesBuckets = 1440;

// The accepted bucket names, narrowest first: 1m 5m 15m 1h 6h 1d.
const std::vector<std::string>& BucketNames();

// The width of a named bucket, or nullopt for a name outside the set.
std::optional<Micros> BucketWidth(std::string_view name);

// The start of the bucket of width `width` holding `t` (floor, also before the epoch).
Micros BucketStart(Micros t, Micros width);

// How many buckets of width `width` the window [since, until] touches (both ends inclusive, the
// first and last possibly partial); 0 when until < since.
int64_t BucketCount(Micros since, Micros until, Micros width);

}  // namespace fasten
