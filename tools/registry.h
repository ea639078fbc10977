// The MCP tools: typed, read-only queries over the audit, sys and api streams.
//
// Each tool is a name, a title, a description, a JSON Schema (2020-12 subset, see schema.h) for
// its arguments and its result, and a handler. Handlers are tenant-agnostic: they receive the
// caller's TenantScope (store/tenant_scope.h), issued where the transport bound the caller, in
// ToolEnv, pass it to every reader call, and never read a tenant from their arguments (no schema
// has a tenant field, and additionalProperties:false turns a smuggled one into an error).
// The registry is built once and is immutable; handlers are thread-safe given one ToolEnv (and
// so one StoreSet) per thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "anchor/checkpoint.h"
#include "store/store_set.h"
#include "store/tenant_scope.h"
#include "store/timestamp.h"
#include "util/status.h"
#include "validator/integrity_verdict.h"

namespace fasten {

class CursorSigner;

struct ToolEnv {
  // The caller's scope: one tenant, or the operator-chosen all-tenants mode. First, so that a
  // ToolEnv is made as ToolEnv{scope, ...}: there is no default.
  TenantScope scope;
  StoreSet* stores = nullptr;
  const CursorSigner* cursors = nullptr;
  const std::atomic<bool>* cancelled = nullptr;  // set when the client cancels the call
  // Reports progress (progress, total); empty when the client did not ask for it.
  std::function<void(double progress, std::optional<double> total, const std::string& message)>
      progress{};
  Micros now = 0;
  size_t byte_budget = 48000;  // structuredContent bytes; the text copy doubles it
  // validate_answer: the margin that widens cited rows into an integrity window (each side).
  Micros integrity_margin = 30 * 60 * int64_t{1000000};
  // chain_verify also checks the store against this checkpoint log; null: not configured.
  const anchor::AnchorConfig* anchors = nullptr;
  // The verified checkpoints' tips: integrity verdicts (validate_answer, investigations) then say
  // whether each node is anchored. Null: no checkpoint log.
  std::shared_ptr<const AnchorTips> anchor_tips{};
};

using ToolHandler = std::function<Result<nlohmann::json>(const nlohmann::json& args, ToolEnv& env)>;

class JsonSchema;

struct ToolDef {
  std::string name;
  std::string title;
  std::string description;
  nlohmann::json input_schema;
  nlohmann::json output_schema;
  ToolHandler handler;
  std::shared_ptr<const JsonSchema> compiled_input;  // input_schema, compiled once
};

class ToolRegistry {
 public:
  // The ten fasten-mcp tools, in a fixed order.
  static ToolRegistry Default();

  const std::vector<ToolDef>& tools() const { return tools_; }
  const ToolDef* Find(const std::string& name) const;

  // Validates `args` against the tool's input schema, then runs the handler.
  // A non-OK status is a tool execution error (isError) with an actionable message.
  Result<nlohmann::json> Call(const ToolDef& tool, const nlohmann::json& args, ToolEnv& env) const;

 private:
  std::vector<ToolDef> tools_;
};

}  // namespace fasten
