// A request trace: the audit, sys and api rows of one request_id on one timeline (the waterfall).
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
// errors?}. Fails only when the audit read fails. Any reader of `sources` may be null (that
// stream has no store; `*_missing_why` explains it).
Status BuildTrace(const TenantScope& scope, const StoreView& sources, const TraceOptions& options,
                  nlohmann::json* out);

}  // namespace fasten
