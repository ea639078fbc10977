#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <tuple>

#include "app/commands.h"
#include "app/launch_scopes.h"
#include "app/store_config.h"
#include "store/request_id.h"
#include "tools/row_json.h"
#include "tools/trace.h"
#include "util/base64.h"
#include "util/crypto.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/digest.h"

namespace fasten {

const char kQueryHelp[] =
    R"(Usage: fasten-mcp query audit|sys|api [filters] [--limit N] [--cursor C] [--json]
                        [--store DSN] [--sys-store DSN] [--api-store DSN]

Lists rows of one stream, newest first, with bound-parameter filters. Audit rows show their
monotonic_seq, node, hash and row-hash status; sys/api rows show their seq and content digest
(content-addressed, not chained).

Filters (exact match):
  audit:  --request-id --code --domain --actor --target --node --service --severity --method
          --actor-kind --category --tenant
  sys:    --request-id --level --event --service --tenant
  api:    --request-id --method --path --status --service --tenant
  all:    --since T --until T   (RFC 3339, now, now-15m, now-2h, now-7d, or a date: the whole
                                 UTC day, --since from its start, --until through its end;
                                 inclusive)
--request-id also takes a prefix of 6 or more characters that begins exactly one request id
(audit, sys or api) of the tenant; an exact id always wins, and a prefix of several ids lists
them.
Paging:
  --limit N    rows per page (default 20, 1..1000)
  --offset N   audit: skip the first N matches (0..100000; not with --cursor)
  --cursor C   continue from the cursor printed by the previous page
Output:
  --json       machine-readable page on stdout
Stores: --store DSN (default $FASTEN_AUDIT_DSN); stream tables default to the same SQLite file
(api_log, syslog), or --sys-store / --api-store ($FASTEN_SYSLOG_DSN, $FASTEN_API_DSN).
)";

const char kTraceHelp[] =
    R"(Usage: fasten-mcp trace REQUEST_ID [--tenant T] [--limit N] [--json] [--store DSN]
                        [--sys-store DSN] [--api-store DSN]

Shows the audit, sys and api rows of one request on one timeline (oldest first), with per-stream
counts and truncation flags, then the waterfall: each api call's offset from the request's first
event, its duration and a bar, with the audit and sys rows it holds indented under it. A stream
without a store is reported, never shown as empty.
REQUEST_ID may be a prefix of 6 or more characters that begins exactly one request id (audit,
sys or api) of the tenant: the trace says which id it resolved to. An exact id always wins; a
prefix of several ids is an error listing them.

Options:
  --tenant T   only rows of tenant T (audit tenant_id; sys/api payload tenant_id)
  --limit N    rows per stream (default 200, 1..1000)
  --json       machine-readable trace on stdout
)";

namespace {

using nlohmann::json;

constexpr const char* kSeverities[] = {"debug", "info", "warn", "error", "critical"};

std::string Short(const std::string& hash) {
  return hash.size() > 12 ? hash.substr(0, 12) + "…" : hash;
}

std::string EncodeStreamCursor(int64_t seq) {
  return Base64UrlEncode("s1:" + std::to_string(seq));
}

std::optional<int64_t> DecodeStreamCursor(const std::string& text) {
  auto raw = Base64UrlDecode(text);
  if (!raw || raw->rfind("s1:", 0) != 0) return std::nullopt;
  try {
    size_t used = 0;
    int64_t v = std::stoll(raw->substr(3), &used);
    if (used != raw->size() - 3) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

int Fail(CommandIo& io, const char* cmd, const Status& st) {
  io.err << "fasten-mcp " << cmd << ": " << st.message() << "\n";
  return kExitUsage;
}

}  // namespace

int RunQuery(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  for (const char* f :
       {"request-id", "code",     "domain", "actor", "target", "node",   "service",
        "severity",   "tenant",   "level",  "event", "method", "path",   "status",
        "actor-kind", "category", "since",  "until", "limit",  "offset", "cursor"}) {
    specs.push_back({f, true});
  }
  specs.push_back({"json", false});
  Result<Args> args = Args::Parse("query", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, "query", args.status());
  if (args->Has("help")) {
    io.out << kQueryHelp;
    return kExitOk;
  }
  if (args->positionals().size() != 1) {
    return Fail(io, "query",
                InvalidArgumentError("name one stream: audit, sys or api (see "
                                     "fasten-mcp query --help)"));
  }
  const std::string stream = args->positionals()[0];
  if (stream != "audit" && stream != "sys" && stream != "api") {
    return Fail(io, "query",
                InvalidArgumentError("unknown stream '" + stream + "': use audit, sys or api"));
  }
  // Flags that do not belong to the chosen stream are mistakes, not silent no-ops.
  const std::vector<std::string> allowed =
      stream == "audit"
          ? std::vector<std::string>{"request-id", "code",     "domain",   "actor",  "target",
                                     "node",       "service",  "severity", "method", "tenant",
                                     "actor-kind", "category", "offset"}
      : stream == "sys"
          ? std::vector<std::string>{"request-id", "level", "event", "service", "tenant"}
          : std::vector<std::string>{"request-id", "method", "path", "status", "service", "tenant"};
  for (const char* f :
       {"request-id", "code", "domain", "actor", "target", "node", "service", "severity", "tenant",
        "level", "event", "method", "path", "status", "actor-kind", "category", "offset"}) {
    if (args->Has(f) && std::find(allowed.begin(), allowed.end(), f) == allowed.end()) {
      return Fail(io, "query",
                  InvalidArgumentError("--" + std::string(f) + " does not apply to the " + stream +
                                       " stream (see fasten-mcp query --help)"));
    }
  }
  std::optional<int64_t> limit, status, offset;
  Status st = args->GetInt("limit", 1, 1000, &limit);
  if (st.ok()) st = args->GetInt("status", 100, 599, &status);
  if (st.ok()) st = args->GetInt("offset", 0, 100000, &offset);
  if (!st.ok()) return Fail(io, "query", st);
  if (offset && args->Has("cursor")) {
    return Fail(io, "query",
                InvalidArgumentError("--offset and --cursor cannot be combined: the cursor "
                                     "already continues after the last row shown"));
  }
  std::optional<Micros> since, until;
  const Micros now = NowMicros();
  for (auto [flag, target, edge] : {std::tuple{"since", &since, TimeEdge::kSince},
                                    std::tuple{"until", &until, TimeEdge::kUntil}}) {
    if (auto v = args->Get(flag)) {
      std::string error;
      *target = ParseTimeBound(*v, now, edge, &error);
      if (!*target)
        return Fail(io, "query", InvalidArgumentError("--" + std::string(flag) + ": " + error));
    }
  }
  if (since && until && *since > *until) {
    return Fail(io, "query", InvalidArgumentError("--since is after --until"));
  }
  if (auto sev = args->Get("severity")) {
    if (std::find(std::begin(kSeverities), std::end(kSeverities), *sev) == std::end(kSeverities)) {
      return Fail(io, "query",
                  InvalidArgumentError("--severity must be one of debug, info, "
                                       "warn, error, critical; got '" +
                                       *sev + "'"));
    }
  }
  // A request id prefix resolves against all three streams: open them too.
  std::optional<std::string> request_id = args->Get("request-id");
  StoreSet stores;
  st = OpenStoresFromArgs(
      *args, io.env, stream != "audit" || (request_id && request_id->size() >= kMinRequestIdPrefix),
      &stores);
  if (!st.ok()) return Fail(io, "query", st);
  const TenantScope scope = app::LaunchScopes::FromFlag(args->Get("tenant"));
  const bool want_json = args->Has("json");
  json page_json = {{"stream", stream}};
  if (request_id) {
    RequestIdResolution resolved;
    st = ResolveRequestId(scope, stores.view(), *request_id, &resolved);
    if (!st.ok()) return Fail(io, "query", st);
    if (resolved.ambiguous) {
      return Fail(io, "query", AmbiguousRequestIdError("--request-id", *request_id, resolved));
    }
    if (resolved.from_prefix) {
      page_json["request_id"] = resolved.request_id;
      page_json["request_id_resolved_from"] = *request_id;
      if (!want_json)
        io.out << "request id " << *request_id << " resolved to " << resolved.request_id << "\n";
    }
    request_id = resolved.request_id;
  }
  page_json["window"] = {{"since", since ? json(CanonicalTimestamp(*since)) : json(nullptr)},
                         {"until", until ? json(CanonicalTimestamp(*until)) : json(nullptr)}};

  if (stream == "audit") {
    AuditQuery q;
    q.request_id = request_id;
    q.code = args->Get("code");
    q.domain = args->Get("domain");
    q.actor = args->Get("actor");
    q.target = args->Get("target");
    q.source_node_id = args->Get("node");
    q.service_id = args->Get("service");
    q.severity = args->Get("severity");
    q.method = args->Get("method");
    q.actor_kind = args->Get("actor-kind");
    q.category = args->Get("category");
    q.offset = offset.value_or(0);
    q.since = since;
    q.until = until;
    q.limit = static_cast<int>(limit.value_or(20));
    if (auto c = args->Get("cursor")) {
      q.after = AuditKey::Decode(*c);
      if (!q.after) {
        return Fail(io, "query",
                    InvalidArgumentError("--cursor is not an audit cursor printed "
                                         "by a previous 'query audit' page"));
      }
    }
    AuditPage page;
    st = stores.audit->Query(scope, q, &page);
    if (!st.ok()) return Fail(io, "query", st);
    RowChecker checker;
    json rows = json::array();
    for (const AuditRow& r : page.rows) {
      RowCheck c = checker.Check(r);
      if (want_json) {
        rows.push_back(AuditRowJson(r, &c));
        continue;
      }
      io.out << (r.timestamp_ok ? CanonicalTimestamp(r.timestamp_us) : r.timestamp) << "  "
             << r.source_node_id << " #" << r.monotonic_seq << "  " << AuditRowSummary(r)
             << "  req=" << r.request_id
             << "  tenant=" << (r.tenant_id.null ? "-" : r.tenant_id.value) << "  [" << c.Summary()
             << "] hash " << Short(r.hash) << "\n";
    }
    page_json["rows"] = rows;
    page_json["count"] = page.rows.size();
    page_json["total_matched"] = page.total_matched;
    page_json["total_is_lower_bound"] = page.total_is_lower_bound;
    page_json["truncated"] = page.has_more;
    page_json["next_cursor"] = page.next ? json(page.next->Encode()) : json(nullptr);
  } else {
    StreamReader* reader = stream == "sys" ? stores.sys.get() : stores.api.get();
    if (!reader) {
      const std::string& why = stream == "sys" ? stores.sys_missing_why : stores.api_missing_why;
      return Fail(io, "query", NotFoundError("the " + stream + " stream has no store: " + why));
    }
    StreamQuery q;
    q.request_id = request_id;
    q.level = args->Get("level");
    q.event = args->Get("event");
    q.service_id = args->Get("service");
    q.method = args->Get("method");
    q.path = args->Get("path");
    q.status = status;
    q.since = since;
    q.until = until;
    q.limit = static_cast<int>(limit.value_or(20));
    if (auto c = args->Get("cursor")) {
      q.before_seq = DecodeStreamCursor(*c);
      if (!q.before_seq) {
        return Fail(io, "query",
                    InvalidArgumentError("--cursor is not a " + stream +
                                         " cursor printed by a previous page"));
      }
    }
    StreamPage page;
    st = reader->Query(scope, q, &page);
    if (!st.ok()) return Fail(io, "query", st);
    Canonicalizer canon;
    Sha256 sha;
    json rows = json::array();
    for (const StreamRow& r : page.rows) {
      ContentDigest d = StreamContentDigest(r.payload, &canon, &sha);
      if (want_json) {
        rows.push_back(StreamRowJson(r, d));
        continue;
      }
      io.out << (r.timestamp_ok ? CanonicalTimestamp(r.timestamp_us) : r.timestamp) << "  "
             << stream << " #" << r.seq << "  " << StreamRowSummary(r) << "  req=" << r.request_id
             << "  digest " << Short(d.hex) << "\n";
    }
    page_json["rows"] = rows;
    page_json["count"] = page.rows.size();
    page_json["total_matched"] = page.total_matched;
    page_json["total_is_lower_bound"] = page.total_is_lower_bound;
    page_json["truncated"] = page.has_more;
    page_json["next_cursor"] =
        page.next_before_seq ? json(EncodeStreamCursor(*page.next_before_seq)) : json(nullptr);
    page_json["digest_kind"] = kStreamDigestLabel;
  }
  if (want_json) {
    io.out << DumpJson(page_json, 2) << "\n";
    return kExitOk;
  }
  const int64_t count = page_json["count"].get<int64_t>();
  const int64_t total = page_json["total_matched"].get<int64_t>();
  if (count == 0) {
    io.out << "no " << stream << " rows match (check the filters and the time window)\n";
  } else {
    io.out << count << " row(s) shown, newest first; "
           << (page_json["total_is_lower_bound"].get<bool>() ? "more than " : "") << total
           << " match\n";
  }
  if (!page_json["next_cursor"].is_null()) {
    io.out << "next page: --cursor " << page_json["next_cursor"].get<std::string>() << "\n";
  }
  return kExitOk;
}

// "+12.3 ms" below a second, "+10.001 s" above.
std::string FormatOffset(const json& ms, bool sign) {
  if (!ms.is_number()) return "?";
  const double v = ms.get<double>();
  char buf[48];
  if (std::abs(v) < 1000) {
    std::snprintf(buf, sizeof buf, sign ? "%+.1f ms" : "%.1f ms", v);
  } else {
    std::snprintf(buf, sizeof buf, sign ? "%+.3f s" : "%.3f s", v / 1000);
  }
  return buf;
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

void PrintWaterfallEvent(const json& e, const char* indent, std::ostream& out) {
  const std::string stream = e.value("stream", "");
  out << indent << Pad(FormatOffset(e["offset_ms"], true), 12) << "  " << stream
      << std::string(stream.size() < 6 ? 6 - stream.size() : 1, ' ') << e.value("summary", "");
  if (stream == "audit") {
    out << "  [" << e.value("source_node_id", "") << " #" << e.value("monotonic_seq", int64_t{0})
        << "]";
  } else {
    out << "  [" << stream << " #" << e.value("seq", int64_t{0}) << "]";
  }
  out << "\n";
}

// The trace's waterfall as text: one line per api span (offset, duration, a bar on a common
// scale, method path status service), the events it holds indented under it, then the events
// outside every span.
void PrintWaterfall(const json& wf, std::ostream& out) {
  if (!wf.is_object() || !wf["origin"].is_string()) return;
  constexpr int kBar = 24;
  double total = 0;
  for (const json& s : wf["spans"]) {
    total =
        std::max(total, s["offset_ms"].get<double>() +
                            (s["duration_ms"].is_number() ? s["duration_ms"].get<double>() : 0));
    for (const json& e : s["events"]) {
      if (e["offset_ms"].is_number()) total = std::max(total, e["offset_ms"].get<double>());
    }
  }
  for (const json& e : wf["outside_spans"]) {
    if (e["offset_ms"].is_number()) total = std::max(total, e["offset_ms"].get<double>());
  }
  if (total <= 0) total = 1;
  out << "waterfall (offsets from " << wf["origin"].get<std::string>()
      << "; bar = " << FormatOffset(total, false) << "):\n";
  if (wf["spans"].empty()) out << "  no api spans\n";
  for (const json& s : wf["spans"]) {
    const double at = s["offset_ms"].get<double>();
    const double dur = s["duration_ms"].is_number() ? s["duration_ms"].get<double>() : 0;
    const int from = std::clamp(static_cast<int>(at / total * kBar), 0, kBar - 1);
    const int len = std::clamp(static_cast<int>(std::lround(dur / total * kBar)), 1, kBar - from);
    std::string bar(kBar, ' ');
    bar.replace(static_cast<size_t>(from), static_cast<size_t>(len), static_cast<size_t>(len), '#');
    out << "  " << Pad(FormatOffset(s["offset_ms"], true), 12) << "  "
        << Pad(s["duration_ms"].is_number() ? FormatOffset(s["duration_ms"], false) : "? ms", 12)
        << "  |" << bar << "|  " << s.value("method", "") << " " << s.value("path", "") << " "
        << (s["status"].is_number() ? DumpJson(s["status"]) : std::string("-"));
    if (!s.value("service_id", "").empty()) out << "  " << s.value("service_id", "");
    out << "  [api #" << s.value("seq", int64_t{0}) << "]\n";
    for (const json& e : s["events"]) PrintWaterfallEvent(e, "      ", out);
  }
  if (!wf["outside_spans"].empty()) {
    out << "outside every span:\n";
    for (const json& e : wf["outside_spans"]) {
      if (e.value("stream", "") == "api") {  // an api row whose time does not parse
        out << "  " << Pad("?", 12) << "  api   " << e.value("method", "") << " "
            << e.value("path", "") << "  [api #" << e.value("seq", int64_t{0}) << "]\n";
      } else {
        PrintWaterfallEvent(e, "  ", out);
      }
    }
  }
}

int RunTrace(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  specs.push_back({"tenant", true});
  specs.push_back({"limit", true});
  specs.push_back({"json", false});
  Result<Args> args = Args::Parse("trace", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, "trace", args.status());
  if (args->Has("help")) {
    io.out << kTraceHelp;
    return kExitOk;
  }
  if (args->positionals().size() != 1 || args->positionals()[0].empty()) {
    return Fail(io, "trace",
                InvalidArgumentError("give exactly one REQUEST_ID (see fasten-mcp "
                                     "trace --help)"));
  }
  std::optional<int64_t> limit;
  Status st = args->GetInt("limit", 1, 1000, &limit);
  if (!st.ok()) return Fail(io, "trace", st);
  StoreSet stores;
  st = OpenStoresFromArgs(*args, io.env, true, &stores);
  if (!st.ok()) return Fail(io, "trace", st);
  const TenantScope scope = app::LaunchScopes::FromFlag(args->Get("tenant"));
  const std::string& given = args->positionals()[0];
  RequestIdResolution resolved;
  st = ResolveRequestId(scope, stores.view(), given, &resolved);
  if (!st.ok()) return Fail(io, "trace", st);
  if (resolved.ambiguous)
    return Fail(io, "trace", AmbiguousRequestIdError("REQUEST_ID", given, resolved));
  TraceOptions o;
  o.request_id = resolved.request_id;
  o.limit_per_stream = static_cast<int>(limit.value_or(200));
  json trace;
  st = BuildTrace(scope, stores.view(), o, &trace);
  if (!st.ok()) return Fail(io, "trace", st);
  if (resolved.from_prefix) trace["request_id_resolved_from"] = given;
  if (args->Has("json")) {
    io.out << DumpJson(trace, 2) << "\n";
    return kExitOk;
  }
  const json& tl = trace["timeline"];
  if (resolved.from_prefix)
    io.out << "request id " << given << " resolved to " << o.request_id << "\n";
  if (tl.empty()) {
    io.out << "no rows for request " << o.request_id << "\n";
  }
  for (const json& e : tl) {
    const json& row = e["row"];
    std::string stream = e["stream"].get<std::string>();
    io.out << e["t"].get<std::string>() << "  " << stream << std::string(6 - stream.size(), ' ')
           << e["summary"].get<std::string>();
    if (stream == "audit") {
      io.out << "  [" << row["source_node_id"].get<std::string>() << " #"
             << row["monotonic_seq"].get<int64_t>() << " " << Short(row["hash"].get<std::string>())
             << " " << row["chain"]["status"].get<std::string>() << "]";
    } else {
      io.out << "  [" << stream << " #" << row["seq"].get<int64_t>() << " digest "
             << Short(row["digest"].get<std::string>()) << "]";
    }
    io.out << "\n";
  }
  io.out << "counts:";
  for (const char* s : {"audit", "sys", "api"}) {
    io.out << " " << s << "="
           << (trace["counts"][s].is_null() ? std::string("n/a") : DumpJson(trace["counts"][s]));
    if (trace["truncated"].contains(s) && trace["truncated"][s].get<bool>())
      io.out << " (truncated)";
  }
  io.out << "\n";
  PrintWaterfall(trace["waterfall"], io.out);
  if (trace.contains("errors")) {
    for (const auto& [s, msg] : trace["errors"].items())
      io.out << "note: " << s << ": " << msg.get<std::string>() << "\n";
  }
  return kExitOk;
}

}  // namespace fasten
