#include "store/row.h"

namespace fasten {

bool AuditRow::detail_is_null() const {
  if (detail.null) return true;
  // Allow surrounding whitespace around a JSON null.
  size_t b = detail.value.find_first_not_of(" \t\r\n");
  size_t e = detail.value.find_last_not_of(" \t\r\n");
  return b != std::string::npos && detail.value.compare(b, e - b + 1, "null") == 0;
}

const char* StreamName(StreamKind kind) {
  return kind == StreamKind::kSys ? "sys" : "api";
}

}  // namespace fasten
