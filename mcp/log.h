// Server logs: one line per event on a stream (stderr), each written whole under a lock, filtered
// by level. Never pass tokens or row contents here.
#pragma once

#include <mutex>
#include <ostream>
#include <string>

namespace fasten::mcp {

enum class LogLevel { kError, kWarn, kInfo, kDebug };

class Log {
 public:
  Log(std::ostream& out, LogLevel level) : out_(out), level_(level) {}
  bool Enabled(LogLevel level) const { return level <= level_; }
  void Write(LogLevel level, const std::string& message) {
    if (!Enabled(level)) return;
    static const char* kNames[] = {"error", "warn", "info", "debug"};
    std::lock_guard<std::mutex> lock(mu_);
    out_ << "fasten-mcp " << kNames[static_cast<int>(level)] << ": " << message << '\n';
    out_.flush();
  }

 private:
  std::mutex mu_;
  std::ostream& out_;
  LogLevel level_;
};

}  // namespace fasten::mcp
