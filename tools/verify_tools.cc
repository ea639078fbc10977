// The verification tools: chain_verify (the audit hash chains, and the checkpoints when there is
// a log) and row_get (one row by its citation, re-checked).
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "anchor/checkpoint.h"
#include "store/reader.h"
#include "tools/row_json.h"
#include "tools/tool_common.h"
#include "tools/tool_defs.h"
#include "tools/verify_json.h"
#include "validator/chain.h"
#include "validator/digest.h"
#include "validator/verify_store.h"

namespace fasten::tools_internal {
namespace {

// ---------------------------------------------------------------------------------------------
// chain_verify

struct ChainVerifyArgs {
  std::optional<std::string> source_node_id;
  std::optional<int64_t> from_seq, to_seq;
  WindowArgs window;
};

Result<ChainVerifyArgs> ParseChainVerifyArgs(const json& args) {
  ChainVerifyArgs a;
  a.source_node_id = Str(args, "source_node_id");
  a.from_seq = Int(args, "from_seq");
  a.to_seq = Int(args, "to_seq");
  a.window = ParseWindowArgs(args);
  return a;
}

Result<json> ChainVerifyTool(const ChainVerifyArgs& args, ToolEnv& env) {
  VerifyStoreOptions o;
  o.range.source_node_id = args.source_node_id;
  o.range.from_seq = args.from_seq;
  o.range.to_seq = args.to_seq;
  FASTEN_RETURN_IF_ERROR(Window(args.window, env, &o.since, &o.until));
  if (IsTimeWindow(o) && (o.range.from_seq || o.range.to_seq)) {
    return InvalidArgumentError(
        "since/until (a time window) cannot be combined with from_seq/to_seq (a seq window); "
        "give one or the other");
  }
  if (env.progress) {
    o.progress = [&env](int64_t rows) {
      env.progress(static_cast<double>(rows), std::nullopt, "rows verified");
    };
  }
  VerifyStoreResult result;
  Status st = VerifyStore(env.scope, env.stores->audit.get(), o, &result);
  if (!st.ok()) return StoreError(st);
  json out = VerifyReportJson(result.report);
  out["scope"] = !env.scope.all_tenants()
                     ? "rows of this tenant; links through rows of other tenants are "
                       "checked, but those rows are never counted or named"
                     : "all tenants";
  if (IsTimeWindow(o)) {
    out["window"] = TimeWindowJson(o.since, o.until, o.range.source_node_id, result.spans);
  } else if (o.range.source_node_id || o.range.from_seq || o.range.to_seq) {
    out["window"] = {
        {"source_node_id", o.range.source_node_id ? json(*o.range.source_node_id) : json(nullptr)},
        {"from_seq", o.range.from_seq ? json(*o.range.from_seq) : json(nullptr)},
        {"to_seq", o.range.to_seq ? json(*o.range.to_seq) : json(nullptr)}};
  }
  if (env.anchors) {
    // The checkpoints: a tenant sees its nodes only, without seqs or hashes (other tenants'
    // rows may be the tips).
    anchor::AnchorReport anchors;
    st = anchor::VerifyAnchors(env.stores->audit.get(), *env.anchors, &result.report, &anchors);
    if (!st.ok()) return StoreError(st);
    if (!env.scope.all_tenants()) {
      std::set<std::string> visible;
      for (const NodeReport& n : result.report.nodes) visible.insert(n.source_node_id);
      anchor::RestrictToNodes(&anchors, visible);
    }
    out["anchors"] = anchor::AnchorReportJson(anchors, !env.scope.all_tenants());
    if (!anchors.ok()) out["ok"] = false;
    out["caveat"] = anchors.ok() ? "Anchored by signed checkpoints: rows up to each node's last "
                                   "checkpoint cannot have been changed, re-sealed or truncated "
                                   "without a finding; newer rows are not yet anchored."
                                 : "Checkpoint findings: see anchors.";
  }
  if (result.report.nodes.empty()) {
    out["hint"] = IsTimeWindow(o) ? "no audit rows of this tenant in that time window; try "
                                    "widening since/until"
                                  : "no audit rows of this tenant in that range";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// row_get

// The citation: which of seq and monotonic_seq is needed depends on the stream, so both are read
// as given and the handler says which is missing.
struct RowGetArgs {
  std::string stream = "audit";
  std::string hash;
  std::optional<int64_t> monotonic_seq, seq;
};

Result<RowGetArgs> ParseRowGetArgs(const json& args) {
  RowGetArgs a;
  a.stream = Str(args, "stream").value_or("audit");
  a.hash = *Str(args, "hash");
  a.monotonic_seq = Int(args, "monotonic_seq");
  a.seq = Int(args, "seq");
  return a;
}

Result<json> RowGetTool(const RowGetArgs& args, ToolEnv& env) {
  const std::string& stream = args.stream;
  const std::string& hash = args.hash;
  if (stream == "audit") {
    const std::optional<int64_t>& seq = args.monotonic_seq;
    if (!seq) return InvalidArgumentError("monotonic_seq: required for an audit row");
    const std::string not_found = "no audit row with monotonic_seq " + std::to_string(*seq) +
                                  " and hash " + hash + " is visible to this caller";
    std::vector<AuditRow> rows;
    // Only rows the scope sees come back (store/reader.h).
    Status st = env.stores->audit->FindBySeqHash(env.scope, *seq, hash, &rows);
    if (!st.ok()) return StoreError(st);
    if (rows.empty()) return NotFoundError(not_found);
    if (rows.size() > 1) {
      return FailedPreconditionError(
          "several rows share this (monotonic_seq, hash): the store "
          "is inconsistent; run chain_verify");
    }
    const AuditRow& row = rows[0];
    RowChecker checker;
    RowCheck check = checker.Check(row);
    std::optional<AuditRow> prev, next;
    st = env.stores->audit->FindNeighbours(env.scope, row.source_node_id, row.monotonic_seq, &prev,
                                           &next);
    if (!st.ok()) return StoreError(st);
    std::string link = "unchecked";
    if (!row.sealed()) {
      link = "unsealed";
    } else if (prev && prev->sealed()) {
      link = prev->hash == row.prev_hash ? "ok" : "broken";
    } else if (!prev && row.monotonic_seq == 1) {
      link = row.prev_hash == "genesis" ? "ok" : "broken";
    }
    // Neighbours are shown only when they are the caller's own rows.
    auto neighbour = [&](const std::optional<AuditRow>& n) -> json {
      if (!n || !env.scope.Sees(*n)) return nullptr;
      return {{"monotonic_seq", n->monotonic_seq}, {"hash", n->hash}, {"id", n->id}};
    };
    json out = {{"stream", "audit"},
                {"row", AuditRowJson(row, &check)},
                {"verification",
                 {{"row_hash", check.Summary()},
                  {"link_to_predecessor", link},
                  {"ok", check.ok() && row.sealed() && link != "broken"}}},
                {"neighbours", {{"previous", neighbour(prev)}, {"next", neighbour(next)}}}};
    return out;
  }
  const StreamKind kind = stream == "sys" ? StreamKind::kSys : StreamKind::kApi;
  const std::optional<int64_t>& seq = args.seq;
  if (!seq) return InvalidArgumentError("seq: required for a " + stream + " row");
  Status missing;
  StreamReader* reader = Stream(env, kind, &missing);
  if (!reader) return missing;
  const std::string not_found = "no " + stream + " row with seq " + std::to_string(*seq) +
                                " and digest " + hash + " is visible to this caller";
  std::optional<StreamRow> row;
  Status st = reader->FindBySeq(env.scope, *seq, &row);  // nullopt for a row the scope hides
  if (!st.ok()) return StoreError(st);
  if (!row) return NotFoundError(not_found);
  ContentDigest d = StreamContentDigest(row->payload);
  if (d.hex != hash) return NotFoundError(not_found);
  return json{{"stream", stream},
              {"row", StreamRowJson(*row, d)},
              {"verification",
               {{"digest", "matches"},
                {"note",
                 "stream rows are content-addressed, not chained: the digest proves this "
                 "is the row that was cited, not that it is untampered"}}}};
}

}  // namespace

ToolDef ChainVerifyToolDef() {
  return {"chain_verify",
          "Verify hash chains",
          "Verifies the audit hash chains byte-for-byte as the fasten SDKs seal them, for one node "
          "or all nodes and an optional seq window (from_seq/to_seq) or time window (since/until; "
          "window.nodes gives each node's seqs): rows valid per node, unsealed rows, the first "
          "break with its seq and reason, and each node's tip; with a checkpoint log, anchors.",
          InputSchema({{"source_node_id", Text("only this node")},
                       {"from_seq",
                        {{"type", "integer"},
                         {"minimum", 1},
                         {"description", "window start; its first link is checked too"}}},
                       {"to_seq", {{"type", "integer"}, {"minimum", 1}}},
                       {"since", kSince},
                       {"until", kUntil}}),
          {{"type", "object"},
           {"properties",
            {{"ok", {{"type", "boolean"}}},
             {"nodes", {{"type", "array"}}},
             {"summary", {{"type", "object"}}},
             {"upstream", {{"type", "object"}}},
             {"anchors", {{"type", "object"}}},
             {"caveat", {{"type", "string"}}}}},
           {"required", {"ok", "nodes", "summary", "caveat"}}},
          TypedHandler(ParseChainVerifyArgs, ChainVerifyTool),
          nullptr};
}

ToolDef RowGetToolDef() {
  return {
      "row_get",
      "Get one row by its citation",
      "Fetches one row by citation: an audit row by (monotonic_seq, hash), or a sys/api row by "
      "(stream, seq, hash = its content digest), with its verification status and, for audit "
      "rows, its chain neighbours.",
      InputSchema({{"stream",
                    {{"type", "string"}, {"enum", {"audit", "sys", "api"}}, {"default", "audit"}}},
                   {"monotonic_seq", {{"type", "integer"}, {"minimum", 0}}},
                   {"seq", {{"type", "integer"}, {"minimum", 0}}},
                   {"hash",
                    {{"type", "string"},
                     {"pattern", "^[0-9a-f]{64}$"},
                     {"description", "audit: the row hash; sys/api: the content digest"}}}},
                  {"hash"}),
      {{"type", "object"},
       {"properties",
        {{"stream", {{"type", "string"}}},
         {"row", {{"type", "object"}}},
         {"verification", {{"type", "object"}}}}},
       {"required", {"stream", "row", "verification"}}},
      TypedHandler(ParseRowGetArgs, RowGetTool),
      nullptr};
}

}  // namespace fasten::tools_internal
