// The eleven tools, one definition (schemas and handler) each, by family. ToolRegistry::Default
// (tools/registry.cc) assembles them in their fixed order. Internal to tools/.
#pragma once

#include "tools/registry.h"

namespace fasten::tools_internal {

// tools/list_tools.cc: the audit, sys and api lists.
ToolDef AuditQueryToolDef();
ToolDef SysQueryToolDef();
ToolDef ApiQueryToolDef();

// tools/trace_tools.cc: one request across the streams, and free-text search over them.
ToolDef RequestTraceToolDef();
ToolDef SearchToolDef();

// tools/verify_tools.cc: the hash chains, and one row by its citation.
ToolDef ChainVerifyToolDef();
ToolDef RowGetToolDef();

// tools/metrics_tools.cc: RED metrics and the fleet topology.
ToolDef RedMetricsToolDef();
ToolDef TopologyToolDef();

// tools/validate_tools.cc: a cited answer checked by the citation validator.
ToolDef ValidateAnswerToolDef();

// tools/doctor_tools.cc: the stores' health, the newest rows' chain status, missing indexes.
ToolDef DoctorToolDef();

}  // namespace fasten::tools_internal
