#include <limits.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/store_config.h"
#include "mcp/dispatcher.h"
#include "mcp/stdio_transport.h"
#include "tools/cursor.h"
#include "tools/registry.h"
#include "tools/row_json.h"

namespace fasten {

const char kServeHelp[] =
    R"(Usage: fasten-mcp serve --store DSN [--tenant T | --all-tenants] [--sys-store DSN]
                        [--api-store DSN] [--log-level LEVEL] [--workers N]

Serves MCP over stdio (one JSON-RPC message per line; logs on stderr) for Claude Desktop,
Claude Code and other MCP hosts, in both protocol eras: 2026-07-28 (stateless, server/discover)
and initialize-based 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05. Nine read-only tools:
audit_query, sys_query, api_query, request_trace, chain_verify, row_get, red_metrics, topology,
search.

The server is bound to one tenant: every tool sees only that tenant's rows. No tool takes a
tenant argument.

Options:
  --store DSN        audit store (default $FASTEN_AUDIT_DSN); use an absolute path
                     (sqlite:////abs/path.db): hosts start servers in unknown directories
  --tenant T         the tenant to serve (default $FASTEN_TENANT_ID)
  --all-tenants      serve every tenant's rows (operator use only); required to serve a
                     store holding several tenants without --tenant
  --log-level L      error, warn, info (default) or debug, on stderr
  --workers N        threads running tool calls (default 2, 1..16)

Register it with a host: fasten-mcp config claude-desktop|claude-code|cursor|vscode.
)";

const char kConfigHelp[] =
    R"(Usage: fasten-mcp config claude-desktop|claude-code|cursor|vscode --store DSN --tenant T

Prints a ready registration snippet for the host, with the absolute path of this binary and an
absolute store path (hosts start servers in an unpredictable working directory).
)";

namespace {

using json = nlohmann::json;

std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "fasten-mcp";
  return std::string(buf, static_cast<size_t>(n));
}

int Fail(CommandIo& io, const char* cmd, const Status& st) {
  io.err << "fasten-mcp " << cmd << ": " << st.message() << "\n";
  return kExitUsage;
}

// Resolves the tenant binding: --tenant / FASTEN_TENANT_ID, or --all-tenants.
Status BindTenant(const Args& args, const Env& env, std::optional<std::string>* tenant, bool* all) {
  *all = args.Has("all-tenants");
  std::optional<std::string> t = args.Get("tenant");
  if (!t) t = env.Get("FASTEN_TENANT_ID");
  if (t && *all) return InvalidArgumentError("give either --tenant or --all-tenants, not both");
  if (t && t->empty()) return InvalidArgumentError("--tenant is empty: name a tenant");
  *tenant = t;
  return Status::Ok();
}

}  // namespace

int RunServe(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  for (FlagSpec f : {FlagSpec{"tenant", true}, FlagSpec{"all-tenants", false},
                     FlagSpec{"log-level", true}, FlagSpec{"workers", true}}) {
    specs.push_back(f);
  }
  Result<Args> args = Args::Parse("serve", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, "serve", args.status());
  if (args->Has("help")) {
    io.out << kServeHelp;
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return Fail(io, "serve",
                InvalidArgumentError("unexpected argument '" + args->positionals()[0] + "'"));
  }
  mcp::StdioOptions options;
  std::optional<int64_t> workers;
  Status st = args->GetInt("workers", 1, 16, &workers);
  if (!st.ok()) return Fail(io, "serve", st);
  options.workers = static_cast<int>(workers.value_or(2));
  if (auto level = args->Get("log-level")) {
    if (*level == "error")
      options.log_level = mcp::StdioOptions::LogLevel::kError;
    else if (*level == "warn")
      options.log_level = mcp::StdioOptions::LogLevel::kWarn;
    else if (*level == "info")
      options.log_level = mcp::StdioOptions::LogLevel::kInfo;
    else if (*level == "debug")
      options.log_level = mcp::StdioOptions::LogLevel::kDebug;
    else
      return Fail(io, "serve",
                  InvalidArgumentError("--log-level must be error, warn, info or debug"));
  }
  bool all = false;
  st = BindTenant(*args, io.env, &options.tenant, &all);
  if (st.ok()) st = ResolveStoreConfig(*args, io.env, &options.stores);
  if (!st.ok()) return Fail(io, "serve", st);
  // Open once up front so a bad store fails here, clearly, not on the first tool call.
  StoreSet probe;
  st = OpenStoreSet(options.stores, true, &probe);
  if (!st.ok()) return Fail(io, "serve", st);
  if (!options.tenant && !all) {
    std::vector<std::string> tenants;
    st = probe.audit->Tenants(3, &tenants);
    if (!st.ok()) return Fail(io, "serve", st);
    if (tenants.size() > 1) {
      std::string names;
      for (const auto& t : tenants) names += (names.empty() ? "" : ", ") + t;
      return Fail(
          io, "serve",
          InvalidArgumentError("the store holds rows of several tenants (" + names +
                               (tenants.size() > 2 ? ", ..." : "") +
                               "): pass --tenant T (or set FASTEN_TENANT_ID) to serve one, or "
                               "--all-tenants to serve them all"));
    }
    if (tenants.size() == 1) options.tenant = tenants[0];
  }
  probe = StoreSet();
  ToolRegistry registry = ToolRegistry::Default();
  CursorSigner cursors = CursorSigner::WithRandomKey();
  mcp::ServerInfo info;
  info.version = "0.1.0";
  mcp::Dispatcher dispatcher(&registry, &cursors, info);
  return mcp::RunStdio(dispatcher, options, std::cin, std::cout, io.err);
}

int RunConfig(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  specs.push_back({"tenant", true});
  specs.push_back({"all-tenants", false});
  Result<Args> args = Args::Parse("config", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, "config", args.status());
  if (args->Has("help")) {
    io.out << kConfigHelp;
    return kExitOk;
  }
  if (args->positionals().size() != 1) {
    return Fail(io, "config",
                InvalidArgumentError("name one host: claude-desktop, claude-code, "
                                     "cursor or vscode"));
  }
  const std::string host = args->positionals()[0];
  StoreConfig stores;
  Status st = ResolveStoreConfig(*args, io.env, &stores);
  if (!st.ok()) return Fail(io, "config", st);
  if (stores.audit.kind != Dsn::Kind::kSqlite) {
    return Fail(io, "config", InvalidArgumentError("config supports SQLite stores for now"));
  }
  bool all = false;
  std::optional<std::string> tenant;
  st = BindTenant(*args, io.env, &tenant, &all);
  if (!st.ok()) return Fail(io, "config", st);
  if (!tenant && !all) {
    return Fail(io, "config", InvalidArgumentError("--tenant T is required (or --all-tenants)"));
  }
  const std::string self = SelfPath();
  json server_args = {"serve", "--store",
                      "sqlite:///" + stores.audit.path +
                          (stores.audit.table ? "?table=" + *stores.audit.table : "")};
  if (tenant) {
    server_args.push_back("--tenant");
    server_args.push_back(*tenant);
  } else {
    server_args.push_back("--all-tenants");
  }
  if (host == "claude-desktop" || host == "cursor") {
    json j = {{"mcpServers", {{"fasten", {{"command", self}, {"args", server_args}}}}}};
    io.out << DumpJson(j, 2) << "\n";
    if (host == "claude-desktop") {
      io.err << "Add this to claude_desktop_config.json (Settings > Developer > Edit Config), "
                "then restart Claude Desktop.\n";
    } else {
      io.err << "Add this to ~/.cursor/mcp.json or <project>/.cursor/mcp.json.\n";
    }
  } else if (host == "vscode") {
    json j = {
        {"servers", {{"fasten", {{"type", "stdio"}, {"command", self}, {"args", server_args}}}}}};
    io.out << DumpJson(j, 2) << "\n";
    io.err << "Add this to .vscode/mcp.json (note: top-level \"servers\").\n";
  } else if (host == "claude-code") {
    std::string cmd = "claude mcp add fasten -- '" + self + "'";
    for (const auto& a : server_args) cmd += " '" + a.get<std::string>() + "'";
    io.out << cmd << "\n";
  } else {
    return Fail(io, "config",
                InvalidArgumentError("unknown host '" + host +
                                     "': use claude-desktop, claude-code, cursor "
                                     "or vscode"));
  }
  return kExitOk;
}

}  // namespace fasten
