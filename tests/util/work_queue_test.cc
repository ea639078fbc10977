#include "util/work_queue.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <ctime>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace fasten {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(WorkQueue, OneConsumerGetsItemsInOrderAndCloseDrainsFirst) {
  WorkQueue<int> q;
  for (int i = 0; i < 5; ++i) q.Push(i);
  q.Close();
  std::vector<int> got;
  int v = -1;
  for (; q.Pop(&v); q.Done()) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(q.Pop(&v));  // closed and empty: stays so
}

TEST(WorkQueue, CallsRunningCountsItemsFromPopUntilDoneAcrossQueues) {
  const int base = CallsRunning();
  WorkQueue<int> a, b;
  a.Push(1);
  a.Push(2);
  b.Push(3);
  int v = 0;
  ASSERT_TRUE(a.Pop(&v));
  EXPECT_EQ(CallsRunning(), base + 1);
  ASSERT_TRUE(b.Pop(&v));
  EXPECT_EQ(CallsRunning(), base + 2);  // the hint is process-wide, not per queue
  b.Done();
  EXPECT_EQ(CallsRunning(), base + 1);
  ASSERT_TRUE(a.Pop(&v));
  EXPECT_EQ(CallsRunning(), base + 2);
  a.Done();
  a.Done();
  EXPECT_EQ(CallsRunning(), base);
}

TEST(WorkQueue, CloseWakesSleepingAndSpinningConsumers) {
  WorkQueue<int> q(milliseconds(200));
  std::atomic<int> returned{0};
  std::vector<std::thread> consumers;
  for (int i = 0; i < 3; ++i) {
    consumers.emplace_back([&] {
      int v;
      while (q.Pop(&v)) q.Done();
      returned.fetch_add(1);
    });
  }
  std::this_thread::sleep_for(milliseconds(20));  // one spins, two sleep
  q.Close();
  for (std::thread& t : consumers) t.join();
  EXPECT_EQ(returned.load(), 3);
}

// Every item is handed out exactly once, with and without spinning, under many producers.
TEST(WorkQueue, EveryItemIsDeliveredExactlyOnce) {
  for (microseconds spin : {microseconds(0), microseconds(500)}) {
    WorkQueue<int> q(spin);
    constexpr int kProducers = 3, kPerProducer = 2000;
    std::mutex mu;
    std::multiset<int> seen;
    std::vector<std::thread> consumers;
    for (int i = 0; i < 4; ++i) {
      consumers.emplace_back([&] {
        int v;
        for (; q.Pop(&v); q.Done()) {
          std::lock_guard<std::mutex> lock(mu);
          seen.insert(v);
        }
      });
    }
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, p] {
        for (int i = 0; i < kPerProducer; ++i) q.Push(p * kPerProducer + i);
      });
    }
    for (std::thread& t : producers) t.join();
    q.Close();
    for (std::thread& t : consumers) t.join();
    ASSERT_EQ(seen.size(), static_cast<size_t>(kProducers * kPerProducer)) << spin.count();
    int expect = 0;
    for (int v : seen) EXPECT_EQ(v, expect++) << spin.count();
  }
}

// A burst pushed while one consumer spins (so Push wakes nobody) still runs on every consumer
// at once: each taker wakes the next sleeper while items remain.
TEST(WorkQueue, ABurstFansOutOverThePool) {
  WorkQueue<int> q(std::chrono::seconds(10));  // the spinner would outlast the test
  constexpr int kConsumers = 4;
  std::atomic<int> running{0}, max_running{0};
  std::vector<std::thread> consumers;
  for (int i = 0; i < kConsumers; ++i) {
    consumers.emplace_back([&] {
      int v;
      for (; q.Pop(&v); q.Done()) {
        int now = running.fetch_add(1) + 1;
        int seen = max_running.load();
        while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
        }
        // Hold the item until all consumers hold one (or give up after 5 s).
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (max_running.load() < kConsumers && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(microseconds(100));
        }
        running.fetch_sub(1);
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(50));  // all idle: one spinning, three asleep
  for (int i = 0; i < kConsumers; ++i) q.Push(i);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  while (max_running.load() < kConsumers && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_EQ(max_running.load(), kConsumers);
  q.Close();
  for (std::thread& t : consumers) t.join();
}

// CPU time a thread has used so far.
std::chrono::microseconds ThreadCpu(std::thread& t) {
  clockid_t id;
  timespec ts{};
  if (pthread_getcpuclockid(t.native_handle(), &id) != 0 || clock_gettime(id, &ts) != 0) {
    ADD_FAILURE() << "no thread CPU clock";
  }
  return std::chrono::microseconds(ts.tv_sec * 1000000LL + ts.tv_nsec / 1000);
}

// Idle, ONE consumer spins (the others leave the cores to the client and the database); while
// items run, an idle consumer may spin too; either way for at most `spin`.
TEST(WorkQueue, OneSpinnerWhenIdleAndNoSpinningBeyondTheBudget) {
  WorkQueue<int> q(std::chrono::milliseconds(250));
  std::atomic<bool> release{false};
  std::vector<std::thread> consumers;
  for (int i = 0; i < 3; ++i) {
    consumers.emplace_back([&] {
      for (int v; q.Pop(&v); q.Done()) {
        while (v == 1 && !release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  auto total_cpu = [&] {
    std::chrono::microseconds sum{0};
    for (std::thread& t : consumers) sum += ThreadCpu(t);
    return sum;
  };
  // Idle for 400 ms: one spinner for 250 ms (three would use 750 ms), then everyone sleeps.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_LT(total_cpu().count(), 350000) << "more than one consumer spun, or for too long";
  // Item 1 is held until released; item 2 is done at once, and its consumer comes back to an
  // empty queue while item 1 still runs: it may spin, but not past the budget.
  q.Push(1);
  q.Push(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto before = total_cpu();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_LT((total_cpu() - before).count(), 50000) << "a consumer spun past the budget";
  release = true;
  q.Close();
  for (std::thread& t : consumers) t.join();
}

}  // namespace
}  // namespace fasten
