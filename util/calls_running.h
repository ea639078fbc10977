// How many calls the process is running right now, across every worker pool: a hint for code
// that spins. Spinning for an answer pays only when nothing else of the process needs the CPU;
// with several calls running, a spinning thread takes the core from the others and from the
// database that has to produce the answer (2 cores: measured in docs/benchmarks.md).
//
// WorkQueue counts an item from the moment a consumer takes it until Done(); readers of the
// hint (the Postgres round-trip loop) busy-poll only while it is at most 1.
#pragma once

#include <atomic>

namespace fasten {

inline std::atomic<int>& CallsRunningCounter() {
  static std::atomic<int> n{0};
  return n;
}

inline int CallsRunning() {
  return CallsRunningCounter().load(std::memory_order_relaxed);
}

}  // namespace fasten
