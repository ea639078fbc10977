// The list tools: audit_query, sys_query and api_query. Newest first, exact-match filters, a time
// window, pages within the byte budget and signed cursors.
#include <optional>
#include <string>
#include <utility>

#include "store/reader.h"
#include "store/request_id.h"
#include "tools/cursor.h"
#include "tools/row_json.h"
#include "tools/tool_common.h"
#include "tools/tool_defs.h"
#include "util/crypto.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/digest.h"

namespace fasten::tools_internal {
namespace {

// ---------------------------------------------------------------------------------------------
// audit_query

// The largest audit_query offset: deeper pages are reached with the cursor, which costs nothing
// per page skipped.
constexpr int64_t kMaxOffset = 100000;

struct AuditQueryArgs {
  std::optional<std::string> request_id, code, domain, actor, target, source_node_id, service_id,
      severity, method, actor_kind, category;
  int64_t offset = 0;
  WindowArgs window;
  PageArgs page;
};

Result<AuditQueryArgs> ParseAuditQueryArgs(const json& args) {
  AuditQueryArgs a;
  a.request_id = Str(args, "request_id");
  a.code = Str(args, "code");
  a.domain = Str(args, "domain");
  a.actor = Str(args, "actor");
  a.target = Str(args, "target");
  a.source_node_id = Str(args, "source_node_id");
  a.service_id = Str(args, "service_id");
  a.severity = Str(args, "severity");
  a.method = Str(args, "method");
  a.actor_kind = Str(args, "actor_kind");
  a.category = Str(args, "category");
  a.offset = Int(args, "offset").value_or(0);
  a.window = ParseWindowArgs(args);
  a.page = ParsePageArgs(args);
  if (a.offset < 0 || a.offset > kMaxOffset) {
    return InvalidArgumentError("offset: must be an integer from 0 to " +
                                std::to_string(kMaxOffset) + "; got " + std::to_string(a.offset));
  }
  if (a.offset > 0 && a.page.cursor) {
    return InvalidArgumentError(
        "offset and cursor cannot be combined: a cursor already continues after the last row "
        "shown; pass either offset (from the first match) or cursor, not both");
  }
  return a;
}

Result<json> AuditQueryTool(const AuditQueryArgs& args, ToolEnv& env) {
  AuditQuery q;
  RequestIdResolution resolved;
  q.request_id = args.request_id;
  q.code = args.code;
  q.domain = args.domain;
  q.actor = args.actor;
  q.target = args.target;
  q.source_node_id = args.source_node_id;
  q.service_id = args.service_id;
  q.severity = args.severity;
  q.method = args.method;
  q.actor_kind = args.actor_kind;
  q.category = args.category;
  q.offset = args.offset;
  q.limit = args.page.limit;
  q.count_cap = kCountCap;
  FASTEN_RETURN_IF_ERROR(Window(args.window, env, &q.since, &q.until));
  const std::string& fingerprint = args.page.fingerprint;
  Result<std::optional<std::string>> pos = CursorPosition(args.page.cursor, env, fingerprint);
  if (!pos.ok()) return pos.status();
  if (*pos) {
    q.after = AuditKey::Decode(**pos);
    if (!q.after) return InvalidArgumentError("cursor is malformed; start again without a cursor");
  }
  AuditPage page;
  Status st = env.stores->audit->Query(env.scope, q, &page);
  if (!st.ok()) return StoreError(st);
  // The id as given is looked up first (the common case costs no prefix lookups); only when it
  // finds nothing is it tried as a prefix (store/request_id.h: an exact match always wins).
  if (args.request_id && page.rows.empty() && args.request_id->size() >= kMinRequestIdPrefix) {
    st = ResolveRequestId(env.scope, env.stores->view(), *args.request_id, &resolved);
    if (!st.ok()) return StoreError(st);
    if (resolved.ambiguous) {
      return AmbiguousRequestIdError("request_id", *args.request_id, resolved);
    }
    if (resolved.from_prefix) {
      q.request_id = resolved.request_id;
      page = AuditPage();
      st = env.stores->audit->Query(env.scope, q, &page);
      if (!st.ok()) return StoreError(st);
    }
  }
  RowChecker checker;
  PageParts parts;
  for (const AuditRow& r : page.rows) {
    RowCheck c = checker.Check(r);
    parts.items.push_back(AuditRowJson(r, &c));
  }
  parts.has_more = page.has_more;
  if (page.next) parts.next = page.next->Encode();
  parts.position_after = [&page](size_t i) { return AuditKey::Of(page.rows[i]).Encode(); };
  parts.total = page.total_matched;
  parts.lower_bound = page.total_is_lower_bound;
  json out = ListPage(std::move(parts), env, fingerprint, q.since, q.until, "audit rows");
  if (resolved.from_prefix) {
    out["request_id"] = resolved.request_id;
    out["request_id_resolved_from"] = *args.request_id;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// sys_query and api_query: one handler, the stream fixed by the tool.

struct StreamQueryArgs {
  StreamKind kind = StreamKind::kSys;
  std::optional<std::string> request_id, level, event, service_id, method, path;
  std::optional<int64_t> status;
  WindowArgs window;
  PageArgs page;
};

StreamQueryArgs ParseStreamQueryArgs(StreamKind kind, const json& args) {
  StreamQueryArgs a;
  a.kind = kind;
  a.request_id = Str(args, "request_id");
  a.level = Str(args, "level");
  a.event = Str(args, "event");
  a.service_id = Str(args, "service_id");
  a.method = Str(args, "method");
  a.path = Str(args, "path");
  a.status = Int(args, "status");
  a.window = ParseWindowArgs(args);
  a.page = ParsePageArgs(args);
  return a;
}

Result<StreamQueryArgs> ParseSysQueryArgs(const json& args) {
  return ParseStreamQueryArgs(StreamKind::kSys, args);
}

Result<StreamQueryArgs> ParseApiQueryArgs(const json& args) {
  return ParseStreamQueryArgs(StreamKind::kApi, args);
}

Result<json> StreamQueryTool(const StreamQueryArgs& args, ToolEnv& env) {
  const StreamKind kind = args.kind;
  Status missing;
  StreamReader* reader = Stream(env, kind, &missing);
  if (!reader) return missing;
  StreamQuery q;
  q.request_id = args.request_id;
  q.level = args.level;
  q.event = args.event;
  q.service_id = args.service_id;
  q.method = args.method;
  q.path = args.path;
  q.status = args.status;
  q.limit = args.page.limit;
  q.count_cap = kCountCap;
  FASTEN_RETURN_IF_ERROR(Window(args.window, env, &q.since, &q.until));
  const std::string& fingerprint = args.page.fingerprint;
  Result<std::optional<std::string>> pos = CursorPosition(args.page.cursor, env, fingerprint);
  if (!pos.ok()) return pos.status();
  if (*pos) {
    try {
      q.before_seq = std::stoll(**pos);
    } catch (...) {
      return InvalidArgumentError("cursor is malformed; start again without a cursor");
    }
  }
  StreamPage page;
  Status st = reader->Query(env.scope, q, &page);
  if (!st.ok()) return StoreError(st);
  Canonicalizer canon;
  Sha256 sha;
  PageParts parts;
  for (const StreamRow& r : page.rows) {
    parts.items.push_back(StreamRowJson(r, StreamContentDigest(r.payload, &canon, &sha)));
  }
  parts.has_more = page.has_more;
  if (page.next_before_seq) parts.next = std::to_string(*page.next_before_seq);
  parts.position_after = [&page](size_t i) { return std::to_string(page.rows[i].seq); };
  parts.total = page.total_matched;
  parts.lower_bound = page.total_is_lower_bound;
  json out = ListPage(std::move(parts), env, fingerprint, q.since, q.until,
                      std::string(StreamName(kind)) + " rows");
  out["digest_kind"] = kStreamDigestLabel;
  return out;
}

json AuditQueryOutputSchema() {
  json s = ListOutputSchema("audit rows");
  s["properties"]["request_id"] = {{"type", "string"}};
  s["properties"]["request_id_resolved_from"] = {{"type", "string"}};
  return s;
}

}  // namespace

ToolDef AuditQueryToolDef() {
  const json severity = {{"type", "string"},
                         {"enum", {"debug", "info", "warn", "error", "critical"}}};
  return {"audit_query",
          "Query audit rows",
          "Lists hash-chained audit rows (who did what, when, where, to whom, how), newest first, "
          "with exact-match filters and a time window. Each row carries monotonic_seq, hash, "
          "source_node_id and its row-hash status, so it can be cited. Paged: pass next_cursor "
          "back as cursor, or skip rows with offset. Limit 1-200 (default 20).",
          InputSchema({{"request_id", Text("request id, or a unique prefix of 6+ chars")},
                       {"code", Text("event code, e.g. REFUND_ROLLED_BACK")},
                       {"domain", Text("domain, e.g. billing")},
                       {"actor", Text("who acted")},
                       {"target", Text("what was acted on")},
                       {"source_node_id", Text("node that wrote the row")},
                       {"service_id", Text("service that wrote the row")},
                       {"severity", severity},
                       {"method", Text("how it arrived, e.g. http", 64)},
                       {"actor_kind", Text("kind of actor, e.g. user", 64)},
                       {"category", Text("category, e.g. payment", 64)},
                       {"since", kSince},
                       {"until", kUntil},
                       {"limit", kLimit},
                       {"offset",
                        {{"type", "integer"},
                         {"minimum", 0},
                         {"maximum", kMaxOffset},
                         {"description", "matches to skip (not with cursor)"}}},
                       {"cursor", kCursor}}),
          AuditQueryOutputSchema(),
          TypedHandler(ParseAuditQueryArgs, AuditQueryTool),
          nullptr};
}

ToolDef SysQueryToolDef() {
  return {"sys_query",
          "Query sys logs",
          "Lists structured sys log rows (level, event, message), newest first, with exact-match "
          "filters and a time window. Rows carry seq and a content digest (content-addressed, not "
          "chained). Paged with cursor. Limit 1-200 (default 20).",
          InputSchema({{"level", Text("log level, e.g. error", 32)},
                       {"event", Text("event name, e.g. stripe_webhook_failed")},
                       {"request_id", Text("request id")},
                       {"service_id", Text("service")},
                       {"since", kSince},
                       {"until", kUntil},
                       {"limit", kLimit},
                       {"cursor", kCursor}}),
          ListOutputSchema("sys rows"),
          TypedHandler(ParseSysQueryArgs, StreamQueryTool),
          nullptr};
}

ToolDef ApiQueryToolDef() {
  return {"api_query",
          "Query API access rows",
          "Lists API access rows (method, path, status, duration), newest first, with exact-match "
          "filters and a time window. Rows carry seq and a content digest. Paged with cursor. "
          "Limit 1-200 (default 20).",
          InputSchema({{"method", Text("HTTP method, e.g. POST", 16)},
                       {"path", Text("request path, e.g. /v1/orders", 1024)},
                       {"status",
                        {{"type", "integer"},
                         {"minimum", 100},
                         {"maximum", 599},
                         {"description", "HTTP status, e.g. 502"}}},
                       {"request_id", Text("request id")},
                       {"service_id", Text("service")},
                       {"since", kSince},
                       {"until", kUntil},
                       {"limit", kLimit},
                       {"cursor", kCursor}}),
          ListOutputSchema("api rows"),
          TypedHandler(ParseApiQueryArgs, StreamQueryTool),
          nullptr};
}

}  // namespace fasten::tools_internal
