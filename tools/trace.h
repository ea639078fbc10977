// A request trace: the audit, sys and api rows of one request_id on one timeline, and as a
// waterfall of the request's api spans with the audit and sys rows placed inside them.
//
// Each stream is read with its own limit; per-stream counts, totals and truncation flags say when
// the timeline is incomplete. A stream without a store is reported under "errors", never as zero
// rows. The caller's scope filters every stream (store/reader.h: the readers return only rows
// the scope sees).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "store/reader.h"
#include "store/store_set.h"
#include "util/status.h"

namespace fasten {

struct TraceOptions {
  std::string request_id;
  int limit_per_stream = 200;
};

// Fills *out with {request_id, counts, totals, truncated, timeline:[{t, stream, summary, row}],
// waterfall, errors?}. The waterfall (docs/format.md §4.5) is {origin, spans, outside_spans}: one
// span per api row {offset_ms, duration_ms, method, path, route, status, service_id, seq,
// stream, events}, offsets in ms from `origin` (the request's first event); each audit and sys
// row is placed in the span that holds it (by time, and by service and node where both say;
// of several, the one that started last), the rest are in outside_spans, in time order. Its
// events carry {offset_ms, stream, summary, service_id} and point at their timeline row (seq, or
// monotonic_seq + source_node_id). Fails only when the audit read fails. Any reader of
// `sources` may be null (that stream has no store; `*_missing_why` explains it).
Status BuildTrace(const TenantScope& scope, const StoreView& sources, const TraceOptions& options,
                  nlohmann::json* out);

}  // namespace fasten
