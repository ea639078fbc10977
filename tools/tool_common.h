// What the tool families (tools/*_tools.cc) share: reading validated arguments, time windows,
// store errors, the byte budget, signed cursors and list pages, and the schema pieces several
// tools use. Internal to tools/: nothing outside it includes this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/reader.h"
#include "tools/registry.h"
#include "util/status.h"

namespace fasten::tools_internal {

using json = nlohmann::json;

constexpr int kDefaultLimit = 20;
constexpr int kMaxLimit = 200;
constexpr int kCountCap = 10000;

// ---------------------------------------------------------------------------------------------
// Argument helpers. Arguments were validated against the schema before a handler runs.

std::optional<std::string> Str(const json& a, const char* key);

// An integer argument, read exactly. The schema's "integer" also admits 5.0 and magnitudes beyond
// int64 (1e300); those saturate, so a bound that far away reads as "no bound".
std::optional<int64_t> Int(const json& a, const char* key);

// The time window arguments (since, until) as given: they are read against ToolEnv::now when the
// tool runs.
struct WindowArgs {
  std::optional<std::string> since, until;
};
WindowArgs ParseWindowArgs(const json& args);

// The paging arguments of a list tool, and the fingerprint of the query its cursors are bound to.
struct PageArgs {
  int limit = kDefaultLimit;
  std::optional<std::string> cursor;
  std::string fingerprint;  // QueryFingerprint of the whole arguments
};
PageArgs ParsePageArgs(const json& args);

// Runs `run` on the arguments `parse` makes of the validated JSON arguments.
template <typename Args>
ToolHandler TypedHandler(Result<Args> (*parse)(const json&),
                         Result<json> (*run)(const Args&, ToolEnv&)) {
  return [parse, run](const json& args, ToolEnv& env) -> Result<json> {
    Result<Args> typed = parse(args);
    if (!typed.ok()) return typed.status();
    return run(typed.value(), env);
  };
}

// ---------------------------------------------------------------------------------------------
// Running a tool.

Status Window(const WindowArgs& args, const ToolEnv& env, std::optional<Micros>* since,
              std::optional<Micros>* until, std::optional<std::string> default_since = {});

json WindowJson(std::optional<Micros> since, std::optional<Micros> until);

StreamReader* Stream(ToolEnv& env, StreamKind kind, Status* why);

// Maps store failures to messages a model and an operator can act on.
Status StoreError(const Status& st);

// Appends rows to `out` while the result stays within the byte budget. Returns how many fit.
size_t AppendWithinBudget(std::vector<json>& items, size_t budget, size_t used, json* out);

json Hint(const std::string& what, std::optional<Micros> since, std::optional<Micros> until);

// The position stored in the tool cursor `cursor`, if any, after checking that it was issued by
// this server for this tenant and this query.
Result<std::optional<std::string>> CursorPosition(const std::optional<std::string>& cursor,
                                                  const ToolEnv& env,
                                                  const std::string& fingerprint);

// One page of a list tool: the rows that fit the byte budget, the counts, and a cursor signed for
// this tenant and query. `position_after(i)` is the cursor position after row i; `next` the
// store's position after the whole page (when it has more).
struct PageParts {
  std::vector<json> items;
  bool has_more = false;
  std::optional<std::string> next;
  std::function<std::string(size_t)> position_after;
  int64_t total = -1;
  bool lower_bound = false;
};

json ListPage(PageParts parts, const ToolEnv& env, const std::string& fingerprint,
              std::optional<Micros> since, std::optional<Micros> until, const std::string& what);

// ---------------------------------------------------------------------------------------------
// Schema pieces. Every argument is bounded: strings by maxLength, arrays by maxItems.

extern const json kSince;
extern const json kUntil;
// A time bound inside validate_answer's nested objects (RFC 3339, a date, or now-relative),
// without the long description: tool definitions cost every conversation tokens.
extern const json kTime;
extern const json kLimit;
extern const json kCursor;

json Text(const char* description, int max = 256);

json InputSchema(json properties, std::vector<std::string> required = {});

json ListOutputSchema(const char* row_description);

}  // namespace fasten::tools_internal
