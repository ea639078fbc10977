// The tool registry: the eleven tools of the families (tools/tool_defs.h) in their fixed order,
// each input schema compiled once, and the call path (validate, then run the handler).
#include "tools/registry.h"

#include <cstdlib>
#include <memory>
#include <utility>

#include "tools/schema.h"
#include "tools/tool_defs.h"

namespace fasten {

using json = nlohmann::json;

ToolRegistry ToolRegistry::Default() {
  namespace ti = tools_internal;
  ToolRegistry r;
  r.tools_ = {ti::AuditQueryToolDef(),     ti::SysQueryToolDef(),    ti::ApiQueryToolDef(),
              ti::RequestTraceToolDef(),   ti::ChainVerifyToolDef(), ti::RowGetToolDef(),
              ti::RedMetricsToolDef(),     ti::TopologyToolDef(),    ti::SearchToolDef(),
              ti::ValidateAnswerToolDef(), ti::DoctorToolDef()};
  for (ToolDef& t : r.tools_) {
    Result<JsonSchema> compiled = JsonSchema::Compile(t.input_schema);
    if (!compiled.ok()) std::abort();  // a bug in a tool's schemas; covered by the tests
    t.compiled_input = std::make_shared<const JsonSchema>(std::move(compiled).value());
  }
  return r;
}

const ToolDef* ToolRegistry::Find(const std::string& name) const {
  for (const ToolDef& t : tools_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<json> ToolRegistry::Call(const ToolDef& tool, const json& args, ToolEnv& env) const {
  Status st = tool.compiled_input ? tool.compiled_input->Validate(args)
                                  : ValidateJson(tool.input_schema, args);
  if (!st.ok()) return st;
  return tool.handler(args, env);
}

}  // namespace fasten
