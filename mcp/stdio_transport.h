// MCP over stdio: one JSON-RPC message per line on stdin and stdout, logs on stderr.
//
// Nothing but complete JSON-RPC messages is ever written to `out`, one per line, each written
// whole under a lock. Tool calls run through the shared CallRunner (mcp/call_runner.h): cheap
// point lookups on the reading thread, the rest on a small pool of worker threads (each with its
// own StoreSet), so a slow query never delays a ping or a cancellation; responses may come out
// of order. `notifications/cancelled` stops the named call's query and suppresses its response.
// A call running longer than call_timeout is stopped and answered with a tool error naming
// --call-timeout, as over HTTP. A store that cannot be opened (or was found unavailable) is
// reopened before a later call. Malformed lines get a JSON-RPC error (-32700 with "id": null;
// -32600 for a line over the size limit, a message nested deeper than the depth limit, or an
// invalid request) and are otherwise ignored. At end of input, queued work finishes, then RunStdio
// returns 0.
#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>

#include "mcp/dispatcher.h"
#include "mcp/log.h"
#include "store/store_set.h"

namespace fasten::mcp {

struct StdioOptions {
  // The bound scope, issued by the launch configuration (app/launch_scopes.h: --tenant or
  // --all-tenants). First, so that the options are made as StdioOptions{scope}.
  TenantScope scope;
  StoreConfig stores{};
  int workers = 2;
  std::chrono::milliseconds call_timeout{60000};  // --call-timeout
  std::chrono::milliseconds store_retry{1000};    // reopen a failed store at most this often
  // Longer lines are refused (and drained), not buffered; a message is also held to
  // util/json_parse.h's depth limit (kMaxJsonDepth).
  size_t max_line_bytes = 4 << 20;
  using LogLevel = mcp::LogLevel;
  LogLevel log_level = LogLevel::kInfo;
};

int RunStdio(const Dispatcher& dispatcher, const StdioOptions& options, std::istream& in,
             std::ostream& out, std::ostream& log);

}  // namespace fasten::mcp
