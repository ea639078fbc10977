// The doctor tool: is each store reachable, how much is in it, how fresh is it, do the newest
// rows of every node verify, how far behind the last checkpoint is each node, and which indexes
// are missing (docs/mcp.md, "doctor"). Everything it says about integrity comes from verifying
// the rows (validator/verify_store.h) and from verified checkpoints, never from anything else.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "store/index_advice.h"
#include "store/reader.h"
#include "tools/tool_common.h"
#include "tools/tool_defs.h"
#include "validator/verify_store.h"

namespace fasten::tools_internal {
namespace {

constexpr int64_t kDefaultRowsPerNode = 50;
constexpr int64_t kMaxRowsPerNode = 100000;
constexpr int kStreamCountCap = 100000;

struct DoctorArgs {
  int64_t rows_per_node = kDefaultRowsPerNode;
};

Result<DoctorArgs> ParseDoctorArgs(const json& args) {
  DoctorArgs a;
  a.rows_per_node = Int(args, "rows_per_node").value_or(kDefaultRowsPerNode);
  return a;
}

std::string Display(const std::string& raw) {
  Micros t;
  return ParseTimestamp(raw, &t) ? CanonicalTimestamp(t) : raw;
}

// The chain status of one node's newest `rows` sealed rows (up to its tip), by verifying them
// and the link into them. `verified` and `breaks` are null when nothing was verified, never 0.
Status NodeChain(ToolEnv& env, const std::string& node, int64_t tip_seq, int64_t rows, json* out) {
  VerifyStoreOptions o;
  o.range.source_node_id = node;
  o.range.from_seq = std::max<int64_t>(1, tip_seq - rows + 1);
  o.range.to_seq = tip_seq;
  VerifyStoreResult result;
  FASTEN_RETURN_IF_ERROR(VerifyStore(env.scope, env.stores->audit.get(), o, &result));
  const NodeReport* report = nullptr;
  for (const NodeReport& n : result.report.nodes) {
    if (n.source_node_id == node) report = &n;
  }
  const bool any = report && report->sealed > 0;
  json chain = {{"from_seq", *o.range.from_seq},
                {"to_seq", tip_seq},
                {"rows_checked", report ? report->total_rows : 0},
                {"verified", any ? json(report->valid()) : json(nullptr)},
                {"breaks", any ? json(report->invalid) : json(nullptr)},
                {"ok", any ? json(report->ok) : json(nullptr)},
                {"first_break", nullptr}};
  if (report && report->first_break) {
    chain["first_break"] = {{"seq", report->first_break->seq},
                            {"reason", report->first_break->reason}};
  }
  *out = std::move(chain);
  return Status::Ok();
}

json CheckpointJson(const ToolEnv& env, const std::string& node, int64_t tip_seq) {
  if (!env.anchor_tips) return nullptr;
  const AnchorTip* tip = env.anchor_tips->NewestIn(node, 1, tip_seq);
  if (!tip) return {{"anchored", false}, {"rows_not_anchored", tip_seq}};
  json out = {{"anchored", true},
              {"seq", tip->seq},
              {"time", tip->time},
              {"rows_not_anchored", tip_seq - tip->seq}};
  Micros at;
  if (ParseTimestamp(tip->time, &at) && env.now >= at) {
    out["age_seconds"] = (env.now - at) / 1000000;
  }
  return out;
}

Result<json> AuditSource(ToolEnv& env, int64_t rows_per_node, bool* ok) {
  AuditReader* audit = env.stores->audit.get();
  json source = {{"stream", "audit"}, {"reachable", true}, {"completeness", "store"}};
  // Where the store lives is the operator's business, not a tenant's.
  if (env.scope.all_tenants()) source["dsn"] = audit->dsn().Display();
  std::vector<AuditReader::TopologyEntry> entries;
  Status st = audit->Topology(env.scope, &entries);
  if (!st.ok()) {
    *ok = false;
    source["reachable"] = false;
    source["error"] = StoreError(st).message();
    return source;
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.source_node_id < b.source_node_id; });
  int64_t total = 0;
  std::string last_all;
  json nodes = json::array();
  for (size_t i = 0; i < entries.size();) {
    const std::string node = entries[i].source_node_id;
    int64_t rows = 0;
    std::string last;
    for (; i < entries.size() && entries[i].source_node_id == node; ++i) {
      rows += entries[i].rows;
      last = std::max(last, Display(entries[i].last_seen));
    }
    total += rows;
    last_all = std::max(last_all, last);
    json entry = {{"source_node_id", node}, {"rows", rows}, {"last_row_at", last}};
    std::optional<Predecessor> tip;
    st = audit->Tip(env.scope, node, &tip);
    if (!st.ok()) return StoreError(st);
    if (!tip) {
      entry["tip"] = nullptr;
      entry["chain"] = {{"verified", nullptr},
                        {"breaks", nullptr},
                        {"ok", nullptr},
                        {"note", "no sealed rows: nothing to verify"}};
      entry["checkpoint"] = nullptr;
    } else {
      entry["tip"] = {{"seq", tip->seq}, {"hash", tip->hash}};
      json chain;
      st = NodeChain(env, node, tip->seq, rows_per_node, &chain);
      if (!st.ok()) return StoreError(st);
      if (chain["ok"] == false) *ok = false;
      entry["chain"] = std::move(chain);
      entry["checkpoint"] = CheckpointJson(env, node, tip->seq);
    }
    nodes.push_back(std::move(entry));
  }
  source["rows"] = total;
  source["last_row_at"] = last_all.empty() ? json(nullptr) : json(last_all);
  source["nodes"] = std::move(nodes);
  return source;
}

json StreamSource(ToolEnv& env, StreamKind kind, const char* name, bool* ok) {
  json source = {{"stream", name}};
  Status why;
  StreamReader* reader = Stream(env, kind, &why);
  if (!reader) {
    source["reachable"] = false;
    source["completeness"] = nullptr;
    source["error"] = why.message();
    return source;
  }
  if (env.scope.all_tenants()) source["dsn"] = reader->dsn().Display();
  StreamQuery q;
  q.limit = 1;
  q.count_cap = kStreamCountCap;
  StreamPage page;
  Status st = reader->Query(env.scope, q, &page);
  if (!st.ok()) {
    *ok = false;
    source["reachable"] = false;
    source["completeness"] = nullptr;
    source["error"] = StoreError(st).message();
    return source;
  }
  source["reachable"] = true;
  source["completeness"] = "store";
  source["rows"] = page.total_matched;
  source["rows_is_lower_bound"] = page.total_is_lower_bound;
  source["last_row_at"] = page.rows.empty() ? json(nullptr) : json(Display(page.rows[0].timestamp));
  return source;
}

json IndexAdviceJson(const ToolEnv& env) {
  IndexReport report;
  Status st = AdviseIndexes(env.stores->audit->dsn(), &report);
  if (!st.ok()) return {{"error", st.message()}};
  json missing = json::array();
  int64_t present = 0;
  for (const IndexAdvice& a : report.advice) {
    if (a.exists) {
      ++present;
      continue;
    }
    missing.push_back({{"table", a.table},
                       {"name", a.name},
                       {"columns", a.columns},
                       {"why", a.why},
                       {"tenant_leading", a.tenant_leading}});
  }
  json out = {{"backend", report.backend}, {"present", present}, {"missing", missing}};
  if (!missing.empty()) out["fix"] = "fasten-mcp index --store DSN --apply (run by the operator)";
  return out;
}

Result<json> DoctorTool(const DoctorArgs& args, ToolEnv& env) {
  bool ok = true;
  json sources = json::array();
  Result<json> audit = AuditSource(env, args.rows_per_node, &ok);
  if (!audit.ok()) return audit.status();
  sources.push_back(std::move(audit).value());
  sources.push_back(StreamSource(env, StreamKind::kSys, "sys", &ok));
  sources.push_back(StreamSource(env, StreamKind::kApi, "api", &ok));
  json out = {
      {"ok", ok},
      {"sources", std::move(sources)},
      {"checkpoints",
       env.anchor_tips ? json{{"configured", true}, {"checkpointed_tips", env.anchor_tips->size()}}
                       : json{{"configured", false}}},
      {"index_advice", IndexAdviceJson(env)},
      {"caveat", "chain status covers each node's newest " + std::to_string(args.rows_per_node) +
                     " sealed rows and the link into them; run chain_verify for a whole window"}};
  return out;
}

}  // namespace

ToolDef DoctorToolDef() {
  return {"doctor",
          "Check the stores' health",
          "Per store: reachable, rows, newest row time. Per node: tip, chain status of its newest "
          "rows (recomputed; verified/breaks null when none), rows since its last checkpoint. "
          "Missing indexes.",
          InputSchema({{"rows_per_node",
                        {{"type", "integer"},
                         {"minimum", 1},
                         {"maximum", kMaxRowsPerNode},
                         {"default", kDefaultRowsPerNode},
                         {"description", "newest rows verified per node"}}}}),
          {{"type", "object"},
           {"properties",
            {{"ok", {{"type", "boolean"}}},
             {"sources", {{"type", "array"}}},
             {"checkpoints", {{"type", "object"}}},
             {"index_advice", {{"type", "object"}}},
             {"caveat", {{"type", "string"}}}}},
           {"required", {"ok", "sources", "checkpoints", "caveat"}}},
          TypedHandler(ParseDoctorArgs, DoctorTool),
          nullptr};
}

}  // namespace fasten::tools_internal
