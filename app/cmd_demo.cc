#include <ostream>

#include "app/commands.h"
#include "demo/demo_store.h"
#include "store/dsn.h"

namespace fasten {

const char kDemoHelp[] =
    R"(Usage: fasten-mcp demo --out PATH [--tamper] [--seed N] [--audit-rows N] [--force]

Writes a realistic fasten demo store (SQLite): audit_log sealed exactly as the fasten SDKs seal
(form "1" and form "2" rows, four nodes with different writers, one redacted row, unsealed rows
from a Rust-core drainer), plus the api_log and syslog streams sharing request_ids. Two tenants
(acme, globex) and two incidents to investigate:
  - refund request 3a7b1c9e4d20 (acme, 2026-11-20 14:32): the Stripe webhook returns 502 and
    the audit stream shows REFUND_ROLLED_BACK;
  - a config change at 09:14 (globex) lowers MQTT QoS and messages are lost until 09:41.

Options:
  --out PATH         file to write (refuses to replace an existing file without --force)
  --tamper           after sealing, alter one stored row so that verify fails
  --seed N           random seed (default 42); the same seed gives the same store
  --audit-rows N     approximate number of audit rows (default 6000, 100..20000000)
  --force            replace PATH if it exists
)";

int RunDemo(int argc, char** argv, CommandIo io) {
  Result<Args> args = Args::Parse(
      "demo", argc, argv, 2,
      {{"out", true}, {"tamper", false}, {"seed", true}, {"audit-rows", true}, {"force", false}});
  if (!args.ok()) {
    io.err << "fasten-mcp demo: " << args.status().message() << "\n";
    return kExitUsage;
  }
  if (args->Has("help")) {
    io.out << kDemoHelp;
    return kExitOk;
  }
  DemoOptions o;
  std::optional<int64_t> seed, rows;
  Status st = args->GetInt("seed", 0, INT64_MAX, &seed);
  if (st.ok()) st = args->GetInt("audit-rows", 100, 20000000, &rows);
  if (st.ok() && (!args->Get("out") || args->Get("out")->empty())) {
    st = InvalidArgumentError("--out PATH is required");
  }
  if (st.ok() && !args->positionals().empty()) {
    st = InvalidArgumentError("unexpected argument '" + args->positionals()[0] + "'");
  }
  if (!st.ok()) {
    io.err << "fasten-mcp demo: " << st.message() << " (see fasten-mcp demo --help)\n";
    return kExitUsage;
  }
  Result<Dsn> dsn = ParseDsn(*args->Get("out"));
  if (!dsn.ok() || dsn->kind != Dsn::Kind::kSqlite) {
    io.err << "fasten-mcp demo: --out must be a file path or sqlite:/// DSN\n";
    return kExitUsage;
  }
  o.path = dsn->path;
  if (seed) o.seed = static_cast<uint64_t>(*seed);
  if (rows) o.audit_rows = *rows;
  o.tamper = args->Has("tamper");
  o.overwrite = args->Has("force");
  DemoSummary s;
  st = WriteDemoStore(o, &s);
  if (!st.ok()) {
    io.err << "fasten-mcp demo: " << st.message() << "\n";
    return kExitUsage;
  }
  io.out << "wrote " << o.path << ": " << s.audit_rows << " audit rows (" << s.unsealed
         << " unsealed), " << s.api_rows << " api rows, " << s.sys_rows << " sys rows\n";
  io.out << "nodes:";
  for (const auto& n : s.nodes) io.out << " " << n;
  io.out << "\ntenants: acme globex\n";
  if (o.tamper) {
    io.out << "tampered: node " << s.tampered_node << " seq " << s.tampered_seq << " row "
           << s.tampered_id << ": " << s.tampered_what << "\n";
  }
  io.out << "next: fasten-mcp verify --store sqlite:///" << o.path << "\n";
  return kExitOk;
}

}  // namespace fasten
