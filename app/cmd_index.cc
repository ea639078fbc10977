// `fasten-mcp index`: print (or, with --apply, create) the extra indexes fasten-mcp's queries want.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "app/commands.h"
#include "app/store_config.h"
#include "store/index_advice.h"

namespace fasten {

const char kIndexHelp[] =
    R"(Usage: fasten-mcp index --store DSN [--apply] [--json]

Lists the indexes that make fasten-mcp's queries fast on this store, beyond the single-column
indexes the fasten SDK creates: (source_node_id, monotonic_seq) for chain tips and predecessors,
and for every filter the tools offer an index led by the tenant, e.g. (tenant_id, code,
timestamp) on the audit table and (payload.tenant_id, event, seq) on the syslog and api_log
stream tables, whose tenant lives in the JSON payload (SQLite: an expression index on
json_extract; Postgres: on the function fasten_payload_tenant(text), created first). A server
bound to several tenants needs them: without them one tenant can time its queries to learn what
other tenants store (docs/security.md). Each is marked `exists` (an index with the same leading
columns is there) or `missing`.

Without --apply nothing is written: the missing indexes are printed as SQL for review.
With --apply the missing ones are created (SQLite: CREATE INDEX IF NOT EXISTS; Postgres: CREATE
INDEX CONCURRENTLY IF NOT EXISTS, which does not block writers). This is the only command that
writes to a store; it opens its own writable connection, so the role needs CREATE privilege.

Options:
  --store DSN   the store (default $FASTEN_AUDIT_DSN); ?table= names the audit table
  --apply       create the missing indexes
  --json        machine-readable report on stdout
Exit status: 0 success, 2 usage or I/O error (including a failed CREATE INDEX).
)";

namespace {

int Fail(CommandIo& io, const Status& st) {
  io.err << "fasten-mcp index: " << st.message() << "\n";
  return kExitUsage;
}

}  // namespace

int RunIndex(int argc, char** argv, CommandIo io) {
  Result<Args> args =
      Args::Parse("index", argc, argv, 2, {{"store", true}, {"apply", false}, {"json", false}});
  if (!args.ok()) return Fail(io, args.status());
  if (args->Has("help")) {
    io.out << kIndexHelp;
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return Fail(io, InvalidArgumentError("unexpected argument '" + args->positionals()[0] +
                                         "' (see fasten-mcp index --help)"));
  }
  StoreConfig config;
  Status st = ResolveStoreConfig(*args, io.env, &config);
  if (!st.ok()) return Fail(io, st);
  IndexReport report;
  st = AdviseIndexes(config.audit, &report);
  if (!st.ok()) return Fail(io, st);
  const bool apply = args->Has("apply");
  std::vector<std::pair<std::string, std::string>> applied;  // name -> "created" or error
  if (apply) {
    st = ApplyIndexes(config.audit, report.advice, [&](const IndexAdvice& a, const Status& s) {
      applied.emplace_back(a.name, s.ok() ? "created" : s.message());
      if (!args->Has("json")) {
        io.err << (s.ok() ? "created " : "FAILED  ") << a.name << (s.ok() ? "" : ": " + s.message())
               << "\n";
      }
    });
  }
  if (args->Has("json")) {
    nlohmann::json j = {{"store", config.audit.Display()},
                        {"backend", report.backend},
                        {"applied", apply},
                        {"indexes", nlohmann::json::array()},
                        {"notes", report.notes}};
    for (const IndexAdvice& a : report.advice) {
      nlohmann::json e = {{"table", a.table},
                          {"name", a.name},
                          {"columns", a.columns},
                          {"why", a.why},
                          {"sql", a.ddl + ";"},
                          {"exists", a.exists},
                          {"tenant_leading", a.tenant_leading}};
      if (!a.setup_ddl.empty()) e["setup_sql"] = a.setup_ddl + ";";
      if (a.exists) e["existing"] = a.existing;
      for (const auto& [name, outcome] : applied) {
        if (name == a.name) e["apply"] = outcome;
      }
      j["indexes"].push_back(std::move(e));
    }
    io.out << j.dump(2) << "\n";
    return st.ok() ? kExitOk : kExitUsage;
  }
  io.out << "Recommended indexes for " << config.audit.Display() << " (" << report.backend << ")\n";
  size_t width = 0;
  for (const IndexAdvice& a : report.advice) width = std::max(width, a.name.size());
  size_t missing = 0;
  for (const IndexAdvice& a : report.advice) {
    if (!a.exists) ++missing;
    io.out << "  " << std::left << std::setw(9) << (a.exists ? "exists" : "missing")
           << std::setw(static_cast<int>(width) + 2) << a.name << a.table << " " << a.columns;
    if (a.exists && a.existing != a.name) io.out << "  [covered by " << a.existing << "]";
    io.out << "\n      " << a.why << "\n";
  }
  for (const std::string& n : report.notes) io.out << "  note: " << n << "\n";
  if (apply) {
    if (!st.ok()) return Fail(io, st);
    io.out << "Created " << missing << " index(es).\n";
  } else if (missing == 0) {
    io.out << "Nothing to do: every recommended index exists.\n";
  } else {
    io.out << missing << " missing. Create them with `fasten-mcp index --store DSN --apply`, or "
           << "run:\n";
    std::set<std::string> set_up;
    for (const IndexAdvice& a : report.advice) {
      if (a.exists) continue;
      if (!a.setup_ddl.empty() && set_up.insert(a.setup_ddl).second) {
        io.out << a.setup_ddl << ";\n";
      }
      io.out << "  " << a.ddl << ";\n";
    }
  }
  return kExitOk;
}

}  // namespace fasten
