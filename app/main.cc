// fasten-mcp: reads fasten audit stores, verifies their hash chains, and answers queries.
#include <iostream>
#include <string>

#include "app/commands.h"

namespace {

constexpr char kVersion[] = "fasten-mcp 0.1.0";

constexpr char kHelp[] = R"(fasten-mcp - read and verify fasten audit stores

Usage: fasten-mcp COMMAND [options]

Commands:
  demo      write a realistic demo store (SQLite), optionally tampered
  verify    verify audit hash chains byte-for-byte like the fasten SDKs
  doctor    check the stores: reachable, fresh, newest rows verify, checkpoints, indexes
  query     list audit, sys or api rows with filters and paging
  trace     one request's audit, sys and api rows on one timeline
  serve     serve MCP over stdio (Claude Desktop, Claude Code, Cursor, VS Code)
  config    print a registration snippet for an MCP host
  index     print (or --apply) the extra indexes fasten-mcp's queries want
  token     add, list or revoke the bearer tokens of the HTTP server
  validate  check an answer's citations {stream, seq, hash} and quoted values against the store
  investigate  ask in plain English; your model answers, every citation is verified
  spend     model spend per tenant, day and model (the investigate cost ledger)
  investigations  list, show or verify the hash-chained record of investigations and tool calls
  keygen    create an Ed25519 signing key pair (C2SP signed-note formats): KEY and KEY.pub
  checkpoint  append a signed checkpoint of every node's chain tip to a checkpoint log
  pack      write a signed evidence pack: a tenant's rows of a window, links, checkpoints
  verify-pack  re-check an evidence pack offline, with no store
  help      show help for a command (fasten-mcp help verify)

Stores are named as the fasten SDK names them: sqlite:///relative.db, sqlite:////abs/path.db,
with ?table=NAME to pick a table; FASTEN_AUDIT_DSN, FASTEN_SYSLOG_DSN and FASTEN_API_DSN are
read when --store, --sys-store and --api-store are not given; postgres://user@host/db?table=NAME
names a Postgres store. fasten-mcp never writes to a store, except `index --apply` when asked.

Options:
  -h, --help     show this help
  --version      show the version

Exit status: 0 success, 1 a finding (verify found a break, doctor found a problem, validate
rejected the answer, investigate ended with insufficient evidence),
2 usage or I/O error.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace fasten;
  std::ios::sync_with_stdio(false);
  Env env;
  CommandIo io{std::cout, std::cerr, env};
  if (argc < 2) {
    std::cerr << kHelp;
    return kExitUsage;
  }
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help") {
    std::cout << kHelp;
    return kExitOk;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << kVersion << "\n";
    return kExitOk;
  }
  struct Command {
    const char* name;
    int (*run)(int, char**, CommandIo);
  };
  static const Command kCommands[] = {
      {"demo", RunDemo},
      {"verify", RunVerify},
      {"doctor", RunDoctor},
      {"query", RunQuery},
      {"trace", RunTrace},
      {"serve", RunServe},
      {"config", RunConfig},
      {"index", RunIndex},
      {"token", RunToken},
      {"validate", RunValidate},
      {"investigate", RunInvestigate},
      {"spend", RunSpend},
      {"investigations", RunInvestigations},
      {"checkpoint", RunCheckpoint},
      {"keygen", RunKeygen},
      {"pack", RunPack},
      {"verify-pack", RunVerifyPack},
  };
  if (cmd == "help") {
    std::string topic = argc > 2 ? argv[2] : "";
    if (topic.empty()) {
      std::cout << kHelp;
      return kExitOk;
    }
    for (const Command& c : kCommands) {
      if (topic == c.name) {
        // Exactly what `fasten-mcp TOPIC --help` prints: the command assembles its own help.
        std::string self = argv[0], flag = "--help";
        char* help_argv[] = {self.data(), topic.data(), flag.data(), nullptr};
        int rc = c.run(3, help_argv, io);
        std::cout.flush();
        return rc;
      }
    }
    std::cerr << "fasten-mcp: no help for unknown command '" << topic << "'\n";
    return kExitUsage;
  }
  int rc = -1;
  for (const Command& c : kCommands) {
    if (cmd == c.name) rc = c.run(argc, argv, io);
  }
  if (rc < 0) {
    std::cerr << "fasten-mcp: unknown command '" << cmd << "' (see fasten-mcp --help)\n";
    return kExitUsage;
  }
  std::cout.flush();
  return rc;
}
