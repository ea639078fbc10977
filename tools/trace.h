// A request trace: the audit, sys and api rows of one request_id on one timeline (the waterfall).
//
// Each stream is read with its own limit; per-stream counts, totals and truncation flags say when
// the timeline is incomplete. A stream without a store is reported under "errors", never as zero
// rows. The tenant, when given, filters every stream (audit on its column, sys/api on the
// payload's tenant_id).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "store/reader.h"
#include "util/status.h"

namespace fasten {

struct TraceOptions {
  std::string request_id;
  std::optional<std::string> tenant_id;
  int limit_per_stream = 200;
};

// Any reader may be null (that stream has no store). `missing_why` explains a null reader.
struct TraceSources {
  AuditReader* audit = nullptr;
  StreamReader* sys = nullptr;
  StreamReader* api = nullptr;
  std::string sys_missing_why, api_missing_why;
};

// Fills *out with {request_id, counts, totals, truncated, timeline:[{t, stream, summary, row}],
// errors?}. Fails only when the audit read fails.
Status BuildTrace(const TraceSources& sources, const TraceOptions& options, nlohmann::json* out);

}  // namespace fasten
