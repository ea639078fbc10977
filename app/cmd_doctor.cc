// fasten-mcp doctor: the doctor tool (tools/doctor_tools.cc) from the command line, for the
// operator at 2 a.m.: is each store reachable, how fresh is it, do the newest rows of every node
// verify, how far behind the last checkpoint is each node, which indexes are missing.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "anchor/tips_cache.h"
#include "app/anchor_flags.h"
#include "app/commands.h"
#include "app/launch_scopes.h"
#include "app/store_config.h"
#include "tools/registry.h"
#include "tools/row_json.h"

namespace fasten {
namespace {

using json = nlohmann::json;

constexpr char kDoctorHelp[] =
    R"(Usage: fasten-mcp doctor [--store DSN] [--sys-store DSN] [--api-store DSN] [--tenant T]
                         [--rows-per-node N] [--checkpoints FILE --pubkey PUB] [--json]

Checks the stores a server would read, and says what to fix:
  per store (audit, sys, api)  reachable (or the error), row count, time of the newest row
  per audit node               its tip (seq, hash); the chain status of its newest N rows
                               (default 50), verified by recomputing them and the link into them
                               (verified/breaks are null when nothing was verified, never 0); with
                               --checkpoints, the newest checkpointed seq and the rows since
  index advice                 the indexes fasten-mcp's queries want that the store lacks

  --tenant T          only tenant T's rows (audit tenant_id; sys/api payload tenant_id);
                      default: the whole store
  --rows-per-node N   how many of each node's newest rows to verify (1..100000, default 50)
  --json              the report as JSON (the doctor tool's output)

Exit status: 0 every store reachable and every checked row verifies, 1 a store unreachable or a
chain break among the checked rows, 2 usage error.
)";

void PrintText(const json& d, std::ostream& out) {
  for (const json& s : d["sources"]) {
    out << s["stream"].get<std::string>() << " store";
    if (s.contains("dsn")) out << " " << s["dsn"].get<std::string>();
    if (!s["reachable"].get<bool>()) {
      out << ": UNREACHABLE: " << s.value("error", std::string("unknown error")) << "\n";
      continue;
    }
    out << ": reachable, "
        << (s["rows"].is_number() ? std::to_string(s["rows"].get<int64_t>()) : "?")
        << (s.value("rows_is_lower_bound", false) ? "+" : "") << " rows, newest "
        << (s["last_row_at"].is_string() ? s["last_row_at"].get<std::string>() : "none") << "\n";
    if (!s.contains("nodes")) continue;
    for (const json& n : s["nodes"]) {
      out << "  node " << n["source_node_id"].get<std::string>() << ": " << n["rows"].get<int64_t>()
          << " rows, newest " << n["last_row_at"].get<std::string>();
      if (n["tip"].is_null()) {
        out << "; no sealed rows: nothing to verify\n";
        continue;
      }
      const json& c = n["chain"];
      out << "; tip seq " << n["tip"]["seq"].get<int64_t>() << "; seqs "
          << c["from_seq"].get<int64_t>() << ".." << c["to_seq"].get<int64_t>() << ": ";
      if (c["ok"].is_null()) {
        out << "nothing verified";
      } else if (c["ok"].get<bool>()) {
        out << "OK (" << c["verified"].get<int64_t>() << " verified)";
      } else {
        out << "BROKEN (" << c["breaks"].get<int64_t>() << " invalid";
        if (!c["first_break"].is_null()) {
          out << ", first at seq " << c["first_break"]["seq"].get<int64_t>() << ": "
              << c["first_break"]["reason"].get<std::string>();
        }
        out << ")";
      }
      if (n["checkpoint"].is_object()) {
        const json& k = n["checkpoint"];
        if (k["anchored"].get<bool>()) {
          out << "; checkpointed up to seq " << k["seq"].get<int64_t>() << " ("
              << k["rows_not_anchored"].get<int64_t>() << " rows since)";
        } else {
          out << "; not yet checkpointed";
        }
      }
      out << "\n";
    }
  }
  const json& idx = d["index_advice"];
  if (idx.contains("error")) {
    out << "index advice: " << idx["error"].get<std::string>() << "\n";
  } else if (idx["missing"].empty()) {
    out << "indexes: all " << idx["present"].get<int64_t>() << " recommended indexes present\n";
  } else {
    out << "indexes: " << idx["missing"].size()
        << " missing (fix: " << idx["fix"].get<std::string>() << ")\n";
    for (const json& a : idx["missing"]) {
      out << "  " << a["table"].get<std::string>() << " " << a["columns"].get<std::string>()
          << "\n";
    }
  }
  out << (d["ok"].get<bool>() ? "OK" : "PROBLEMS FOUND")
      << "\nNote: " << d["caveat"].get<std::string>() << "\n";
}

}  // namespace

int RunDoctor(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  specs.insert(specs.end(), std::begin(kAnchorFlags), std::end(kAnchorFlags));
  for (FlagSpec f :
       {FlagSpec{"tenant", true}, FlagSpec{"rows-per-node", true}, FlagSpec{"json", false}}) {
    specs.push_back(f);
  }
  Result<Args> args = Args::Parse("doctor", argc, argv, 2, specs);
  auto usage = [&](const Status& st) {
    io.err << "fasten-mcp doctor: " << st.message() << " (see fasten-mcp doctor --help)\n";
    return kExitUsage;
  };
  if (!args.ok()) return usage(args.status());
  if (args->Has("help")) {
    io.out << kDoctorHelp;
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return usage(InvalidArgumentError("unexpected argument '" + args->positionals()[0] + "'"));
  }
  std::optional<int64_t> rows;
  Status st = args->GetInt("rows-per-node", 1, 100000, &rows);
  if (!st.ok()) return usage(st);
  Result<std::optional<anchor::AnchorConfig>> anchors = ReadAnchorFlags(*args);
  if (!anchors.ok()) return usage(anchors.status());
  StoreConfig config;
  st = ResolveStoreConfig(*args, io.env, &config);
  if (!st.ok()) return usage(st);
  const bool want_json = args->Has("json");

  StoreSet stores;
  st = OpenStoreSet(config, /*need_streams=*/true, &stores);
  if (!st.ok()) {
    // The audit store (or a stream store that exists but fails) cannot be read: that is the
    // finding, reported in the same shape as a full report.
    json d = {{"ok", false},
              {"sources",
               {{{"stream", "audit"},
                 {"dsn", config.audit.Display()},
                 {"reachable", false},
                 {"error", st.message()}}}},
              {"caveat", "the store could not be opened; nothing was verified"}};
    if (want_json) {
      io.out << d.dump(2) << "\n";
    } else {
      io.out << "audit store " << config.audit.Display() << ": UNREACHABLE: " << st.message()
             << "\nPROBLEMS FOUND\n";
    }
    return kExitFinding;
  }
  ToolEnv env{app::LaunchScopes::FromFlag(args->Get("tenant"))};
  env.stores = &stores;
  env.now = NowMicros();
  std::unique_ptr<anchor::AnchorTipsCache> tips;
  if (anchors.value()) {
    env.anchors = &*anchors.value();
    tips = std::make_unique<anchor::AnchorTipsCache>(*anchors.value());
    Result<std::shared_ptr<const AnchorTips>> got = tips->Get();
    if (!got.ok()) return usage(got.status());
    env.anchor_tips = std::move(got).value();
  }
  ToolRegistry registry = ToolRegistry::Default();
  const ToolDef* doctor = registry.Find("doctor");
  json tool_args = json::object();
  if (rows) tool_args["rows_per_node"] = *rows;
  Result<json> report = registry.Call(*doctor, tool_args, env);
  if (!report.ok()) {
    io.err << "fasten-mcp doctor: " << report.status().message() << "\n";
    return kExitFinding;
  }
  if (want_json) {
    io.out << report->dump(2) << "\n";
  } else {
    PrintText(*report, io.out);
  }
  return (*report)["ok"].get<bool>() ? kExitOk : kExitFinding;
}

}  // namespace fasten
