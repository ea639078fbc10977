// Audit rows from JSON objects: the SDK's NDJSON stdout lines ({"shape":"audit", ...}, or bare
// rows) and test vectors. The `detail` value keeps its exact source text, so number tokens reach
// the canonical writer unchanged. Keys a writer omits take the defaults of docs/format.md §2.1.
#pragma once

#include <string_view>

#include "store/row.h"
#include "util/status.h"

namespace fasten {

// Fills *row from one JSON object. Unknown keys (such as "shape") are ignored.
// Returns InvalidArgument naming the key when the text is not an object or a value has the
// wrong type.
Status AuditRowFromJson(std::string_view object_text, AuditRow* row);

// Re-derives the parsed timestamp fields of a row from its text fields.
void ParseRowTimestamps(AuditRow* row);

}  // namespace fasten
