#include "tools/trace.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "tools/route_template.h"
#include "tools/row_json.h"
#include "util/crypto.h"
#include "util/json_parse.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/digest.h"

namespace fasten {

using nlohmann::json;

namespace {

// What the waterfall needs of one timeline row.
struct WaterfallPart {
  bool span = false;  // an api row: a span [t, t + duration]
  std::optional<double> duration_ms;
  std::string service, node;  // empty when the row does not say
  json ref;                   // the entry without its offset (and, for a span, its events)
};

struct Event {
  bool ok;
  Micros t;
  int stream_rank;  // api, sys, audit at equal instants
  int64_t seq;
  json entry;
  WaterfallPart part;
};

// A top-level string member of a stream payload ("" when absent or not a string).
std::string PayloadString(const json& payload, const char* key) {
  if (!payload.is_object()) return "";
  auto it = payload.find(key);
  return it != payload.end() && it->is_string() ? it->get<std::string>() : "";
}

double OffsetMs(Micros t, Micros origin) {
  return static_cast<double>(t - origin) / 1000.0;
}

// The waterfall of docs/format.md §4.5 from the timeline's events (sorted by time).
json BuildWaterfall(std::vector<Event>& events) {
  std::optional<Micros> origin;
  for (const Event& e : events) {
    if (e.ok) {
      origin = e.t;
      break;
    }
  }
  struct Span {
    Micros start, end;
    const Event* event;
    json events = json::array();
  };
  std::vector<Span> spans;
  for (const Event& e : events) {
    if (!e.part.span || !e.ok) continue;
    Micros end = e.t;
    if (e.part.duration_ms) end += static_cast<Micros>(std::llround(*e.part.duration_ms * 1000.0));
    spans.push_back({e.t, end, &e});
  }
  auto compatible = [](const std::string& a, const std::string& b) {
    return a.empty() || b.empty() || a == b;
  };
  json outside = json::array();
  for (Event& e : events) {
    if (e.part.span && e.ok) continue;
    json entry = std::move(e.part.ref);
    entry["offset_ms"] = e.ok && origin ? json(OffsetMs(e.t, *origin)) : json(nullptr);
    if (e.part.span) {  // an api row whose time does not parse: no span, but its duration
      entry["duration_ms"] = e.part.duration_ms ? json(*e.part.duration_ms) : json(nullptr);
    }
    // The span that holds the event: its time within the span, the same service and node where
    // both say; of several, the one that started last (the innermost, or the latest retry).
    Span* best = nullptr;
    if (e.ok && !e.part.span) {
      for (Span& s : spans) {
        if (e.t < s.start || e.t > s.end) continue;
        if (!compatible(e.part.service, s.event->part.service) ||
            !compatible(e.part.node, s.event->part.node)) {
          continue;
        }
        if (!best || s.start > best->start || (s.start == best->start && s.end < best->end)) {
          best = &s;
        }
      }
    }
    if (best) {
      best->events.push_back(std::move(entry));
    } else {
      outside.push_back(std::move(entry));
    }
  }
  json list = json::array();
  for (Span& s : spans) {
    json entry = s.event->part.ref;
    entry["offset_ms"] = OffsetMs(s.start, *origin);
    entry["duration_ms"] =
        s.event->part.duration_ms ? json(*s.event->part.duration_ms) : json(nullptr);
    entry["events"] = std::move(s.events);
    list.push_back(std::move(entry));
  }
  return json{{"origin", origin ? json(CanonicalTimestamp(*origin)) : json(nullptr)},
              {"spans", std::move(list)},
              {"outside_spans", std::move(outside)}};
}

}  // namespace

Status BuildTrace(const TenantScope& scope, const StoreView& src, const TraceOptions& o,
                  json* out) {
  std::vector<Event> events;
  json counts = json::object(), totals = json::object(), truncated = json::object();
  json errors = json::object();

  if (src.audit) {
    AuditQuery q;
    q.request_id = o.request_id;
    q.limit = o.limit_per_stream;
    AuditPage page;
    FASTEN_RETURN_IF_ERROR(src.audit->Query(scope, q, &page));
    RowChecker checker;
    for (const AuditRow& r : page.rows) {
      RowCheck c = checker.Check(r);
      WaterfallPart part;
      part.service = r.service_id;
      part.node = r.source_node_id;
      // No hash: the waterfall points at rows, the timeline shows them (and only a shown row's
      // monotonic_seq + hash is a citation).
      part.ref = {{"stream", "audit"},
                  {"monotonic_seq", r.monotonic_seq},
                  {"source_node_id", r.source_node_id},
                  {"service_id", r.service_id},
                  {"summary", AuditRowSummary(r)}};
      events.push_back(
          {r.timestamp_ok, r.timestamp_us, 2, r.monotonic_seq,
           json{{"t", r.timestamp_ok ? CanonicalTimestamp(r.timestamp_us) : r.timestamp},
                {"stream", "audit"},
                {"summary", AuditRowSummary(r)},
                {"row", AuditRowJson(r, &c)}},
           std::move(part)});
    }
    counts["audit"] = page.rows.size();
    totals["audit"] = page.total_matched;
    truncated["audit"] = page.has_more;
  } else {
    errors["audit"] = "no audit store configured";
  }

  Canonicalizer canon;
  Sha256 sha;
  auto stream = [&](StreamReader* reader, std::string_view why, const char* name, int rank) {
    if (!reader) {
      errors[name] =
          why.empty() ? std::string("no ") + name + " store configured" : std::string(why);
      counts[name] = nullptr;
      return;
    }
    StreamQuery q;
    q.request_id = o.request_id;
    q.limit = o.limit_per_stream;
    StreamPage page;
    Status st = reader->Query(scope, q, &page);
    if (!st.ok()) {
      errors[name] = st.ToString();
      counts[name] = nullptr;
      return;
    }
    for (const StreamRow& r : page.rows) {
      ContentDigest d = StreamContentDigest(r.payload, &canon, &sha);
      json row = StreamRowJson(r, d);
      const json& payload = row["payload"];
      WaterfallPart part;
      part.service = r.service_id.empty() ? PayloadString(payload, "service_id") : r.service_id;
      part.node = PayloadString(payload, "source_node_id");
      part.ref = {{"stream", name}, {"seq", r.seq}};
      if (r.kind == StreamKind::kApi) {
        // docs/format.md §4.5: the row's timestamp is when the request started, duration_ms how
        // long it took.
        part.span = true;
        if (payload.is_object() && payload.contains("duration_ms") &&
            payload["duration_ms"].is_number()) {
          const double ms = payload["duration_ms"].get<double>();
          if (std::isfinite(ms) && ms >= 0) part.duration_ms = ms;
        }
        part.ref["method"] = r.method;
        part.ref["path"] = r.path;
        part.ref["route"] = ApiRoute(r.method, r.path);
        part.ref["status"] = r.has_status ? json(r.status) : json(nullptr);
      } else {
        part.ref["summary"] = StreamRowSummary(r);
      }
      part.ref["service_id"] = part.service;
      if (!part.node.empty()) part.ref["source_node_id"] = part.node;
      events.push_back(
          {r.timestamp_ok, r.timestamp_us, rank, r.seq,
           json{{"t", r.timestamp_ok ? CanonicalTimestamp(r.timestamp_us) : r.timestamp},
                {"stream", name},
                {"summary", StreamRowSummary(r)},
                {"row", std::move(row)}},
           std::move(part)});
    }
    counts[name] = page.rows.size();
    totals[name] = page.total_matched;
    truncated[name] = page.has_more;
  };
  stream(src.api, src.api_missing_why, "api", 0);
  stream(src.sys, src.sys_missing_why, "sys", 1);

  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.ok != b.ok) return a.ok;  // unparseable times last
    if (a.t != b.t) return a.t < b.t;
    if (a.stream_rank != b.stream_rank) return a.stream_rank < b.stream_rank;
    return a.seq < b.seq;
  });
  json waterfall = BuildWaterfall(events);
  json timeline = json::array();
  for (Event& e : events) timeline.push_back(std::move(e.entry));
  *out = json{{"request_id", o.request_id}, {"counts", counts},
              {"totals", totals},           {"truncated", truncated},
              {"timeline", timeline},       {"waterfall", std::move(waterfall)}};
  if (!errors.empty()) (*out)["errors"] = errors;
  return Status::Ok();
}

}  // namespace fasten
