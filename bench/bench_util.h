// Shared by the round-trip benchmarks: CPU pinning, child processes on pipes, percentiles.
#pragma once

#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace fasten::bench {

// Runs a command (posix_spawnp: the child does not inherit this process's resident pages) with
// its stdout on a pipe appended to *out; returns its exit status (-1 when it could not run or did
// not exit) and sets *max_rss_kb to its peak RSS (wait4).
inline int SpawnAndWait(const std::vector<std::string>& argv, long* max_rss_kb, std::string* out) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  posix_spawn_file_actions_addclose(&actions, pipefd[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    return -1;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(pipefd[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  close(pipefd[0]);
  int status = 0;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  *max_rss_kb = ru.ru_maxrss;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Pins the calling thread's process to `cpu`; -1 allows every CPU again.
inline void Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < CPU_SETSIZE; ++i) {
    if (cpu < 0 || i == cpu) CPU_SET(i, &set);
  }
  sched_setaffinity(0, sizeof set, &set);  // the kernel clamps to online CPUs
}

// CPU seconds (user + system, all threads) the process `pid` has used so far; 0 if unreadable.
inline double ProcessCpuSeconds(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return 0;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
  if (!p) return 0;
  unsigned long long utime = 0, stime = 0;
  // Fields after the name: state(3) ... utime(14) stime(15).
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
      2) {
    return 0;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds all CPUs of the machine have spent busy (not idle or waiting for I/O) so far.
inline double MachineBusySeconds() {
  FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return 0;
  unsigned long long v[8] = {};
  int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                        &v[3], &v[4], &v[5], &v[6], &v[7]);
  std::fclose(f);
  if (got != 8) return 0;
  const unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return static_cast<double>(busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Child {
  pid_t pid = -1;
  FILE* in = nullptr;   // the child's stdin
  FILE* out = nullptr;  // the child's stdout
  FILE* err = nullptr;  // the child's stderr, when piped
};

// Runs argv pinned to `cpu` (-1: any) with stdin and stdout on pipes, and stderr too when
// `pipe_stderr` (otherwise it is inherited).
inline Child Spawn(const std::vector<std::string>& argv, int cpu, bool pipe_stderr = false) {
  int to[2], from[2], err[2];
  if (pipe(to) != 0 || pipe(from) != 0 || pipe(err) != 0) std::exit(2);
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    Pin(cpu);
    dup2(to[0], 0);
    dup2(from[1], 1);
    if (pipe_stderr) dup2(err[1], 2);
    close(to[1]);
    close(from[0]);
    close(err[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(to[0]);
  close(from[1]);
  close(err[1]);
  c.in = fdopen(to[1], "w");
  c.out = fdopen(from[0], "r");
  if (pipe_stderr) {
    c.err = fdopen(err[0], "r");
  } else {
    close(err[0]);
  }
  return c;
}

// Closes the child's stdin, sends SIGTERM, waits for it, closes the pipes.
inline void Stop(Child& c) {
  if (c.in) fclose(c.in);
  kill(c.pid, SIGTERM);
  int status = 0;
  waitpid(c.pid, &status, 0);
  if (c.out) fclose(c.out);
  if (c.err) fclose(c.err);
  c = Child();
}

struct Stats {
  double p50 = 0, p99 = 0;
};

inline Stats Percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs one(i) 200 times to warm up, then `calls` times timed; microseconds.
template <typename F>
Stats Measure(int calls, F&& one) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> us;
  us.reserve(static_cast<size_t>(calls));
  for (int i = 0; i < 200; ++i) one(i);
  for (int i = 0; i < calls; ++i) {
    auto t0 = Clock::now();
    one(i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return Percentiles(std::move(us));
}

}  // namespace fasten::bench
