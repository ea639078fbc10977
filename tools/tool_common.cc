#include "tools/tool_common.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

#include "store/timestamp.h"
#include "tools/cursor.h"
#include "tools/json_out.h"

namespace fasten::tools_internal {

std::optional<std::string> Str(const json& a, const char* key) {
  auto it = a.find(key);
  if (it == a.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// An integer argument, read exactly. The schema's "integer" also admits 5.0 and magnitudes beyond
// int64 (1e300); those saturate, so a bound that far away reads as "no bound".
std::optional<int64_t> Int(const json& a, const char* key) {
  auto it = a.find(key);
  if (it == a.end() || !it->is_number()) return std::nullopt;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (it->is_number_unsigned())
    return static_cast<int64_t>(std::min<uint64_t>(it->get<uint64_t>(), kMax));
  if (it->is_number_integer()) return it->get<int64_t>();
  const double d = it->get<double>();
  if (!(d > -9223372036854775808.0)) return std::numeric_limits<int64_t>::min();
  if (d >= 9223372036854775808.0) return kMax;
  return static_cast<int64_t>(d);
}

WindowArgs ParseWindowArgs(const json& args) {
  return {Str(args, "since"), Str(args, "until")};
}

PageArgs ParsePageArgs(const json& args) {
  PageArgs page;
  page.limit = static_cast<int>(Int(args, "limit").value_or(kDefaultLimit));
  page.cursor = Str(args, "cursor");
  page.fingerprint = QueryFingerprint(args);
  return page;
}

Status Window(const WindowArgs& args, const ToolEnv& env, std::optional<Micros>* since,
              std::optional<Micros>* until, std::optional<std::string> default_since) {
  for (auto [key, text, out, edge] : {std::tuple{"since", args.since, since, TimeEdge::kSince},
                                      std::tuple{"until", args.until, until, TimeEdge::kUntil}}) {
    if (!text && edge == TimeEdge::kSince && default_since) text = default_since;
    if (!text) continue;
    std::string error;
    *out = ParseTimeBound(*text, env.now, edge, &error);
    if (!*out) return InvalidArgumentError(std::string(key) + ": " + error);
  }
  if (*since && *until && **since > **until) {
    return InvalidArgumentError("since is after until; swap them or widen the window");
  }
  return Status::Ok();
}

json WindowJson(std::optional<Micros> since, std::optional<Micros> until) {
  return {{"since", since ? json(CanonicalTimestamp(*since)) : json(nullptr)},
          {"until", until ? json(CanonicalTimestamp(*until)) : json(nullptr)}};
}

StreamReader* Stream(ToolEnv& env, StreamKind kind, Status* why) {
  StreamReader* r = kind == StreamKind::kSys ? env.stores->sys.get() : env.stores->api.get();
  if (!r) {
    const std::string& reason =
        kind == StreamKind::kSys ? env.stores->sys_missing_why : env.stores->api_missing_why;
    *why = FailedPreconditionError(std::string("the ") + StreamName(kind) +
                                   " stream has no store: " + reason);
  }
  return r;
}

// Maps store failures to messages a model and an operator can act on.
Status StoreError(const Status& st) {
  if (st.code() == StatusCode::kCancelled) return st;
  if (st.code() == StatusCode::kUnavailable) {
    return UnavailableError("the store is unavailable right now (" + st.message() +
                            "); retry shortly");
  }
  return st;
}

// Appends rows to `out` while the result stays within the byte budget. Returns how many fit.
size_t AppendWithinBudget(std::vector<json>& items, size_t budget, size_t used, json* out) {
  size_t n = 0;
  for (json& item : items) {
    size_t size = JsonDumpSize(item) + 1;  // as serialised, without serialising it
    if (n > 0 && used + size > budget) break;
    used += size;
    out->push_back(std::move(item));
    ++n;
  }
  return n;
}

json Hint(const std::string& what, std::optional<Micros> since, std::optional<Micros> until) {
  std::string h = "no " + what + " match these filters";
  if (since || until)
    h += " in the window; try widening since/until";
  else
    h += "; try fewer filters";
  return h;
}

Result<std::optional<std::string>> CursorPosition(const std::optional<std::string>& cursor,
                                                  const ToolEnv& env,
                                                  const std::string& fingerprint) {
  if (!cursor) return std::optional<std::string>();
  Result<std::string> pos = env.cursors->Verify(*cursor, env.scope.CursorKey(), fingerprint);
  if (!pos.ok()) return pos.status();
  return std::optional<std::string>(std::move(pos).value());
}

json ListPage(PageParts parts, const ToolEnv& env, const std::string& fingerprint,
              std::optional<Micros> since, std::optional<Micros> until, const std::string& what) {
  const size_t n = parts.items.size();
  json rows = json::array();
  const size_t fit = AppendWithinBudget(parts.items, env.byte_budget, 512, &rows);
  std::optional<std::string> next = parts.next;
  if (fit < n) next = parts.position_after(fit - 1);
  json out = {
      {"rows", std::move(rows)},
      {"count", fit},
      {"total_matched", parts.total},
      {"total_is_lower_bound", parts.lower_bound},
      {"truncated", parts.has_more || fit < n},
      {"next_cursor",
       next ? json(env.cursors->Sign(env.scope.CursorKey(), fingerprint, *next)) : json(nullptr)},
      {"window", WindowJson(since, until)}};
  if (n == 0) out["hint"] = Hint(what, since, until);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Schema pieces.

const json kSince = {{"type", "string"},
                     {"maxLength", 64},
                     {"description",
                      "start of the window, inclusive: RFC 3339 (2026-11-20T14:00:00Z) or relative "
                      "(now-1h, now-7d)"}};
const json kUntil = {{"type", "string"},
                     {"maxLength", 64},
                     {"description", "end of the window, inclusive: RFC 3339 or relative (now)"}};
const json kTime = {{"type", "string"}, {"maxLength", 64}};
const json kLimit = {{"type", "integer"},
                     {"minimum", 1},
                     {"maximum", kMaxLimit},
                     {"default", kDefaultLimit},
                     {"description", "rows per page (1-200, default 20)"}};
const json kCursor = {{"type", "string"},
                      {"minLength", 1},
                      {"maxLength", 4096},
                      {"description", "next_cursor from the previous page of the same query"}};

json Text(const char* description, int max) {
  return {{"type", "string"}, {"minLength", 1}, {"maxLength", max}, {"description", description}};
}

json InputSchema(json properties, std::vector<std::string> required) {
  json s = {
      {"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = required;
  return s;
}

json ListOutputSchema(const char* row_description) {
  return {{"type", "object"},
          {"properties",
           {{"rows", {{"type", "array"}, {"description", row_description}}},
            {"count", {{"type", "integer"}}},
            {"total_matched", {{"type", "integer"}}},
            {"total_is_lower_bound", {{"type", "boolean"}}},
            {"truncated", {{"type", "boolean"}}},
            {"next_cursor", {{"type", {"string", "null"}}}},
            {"window", {{"type", "object"}}},
            {"hint", {{"type", "string"}}}}},
          {"required", {"rows", "count", "total_matched", "truncated", "next_cursor", "window"}}};
}

}  // namespace fasten::tools_internal
