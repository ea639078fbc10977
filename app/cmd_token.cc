#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>

#include "app/commands.h"
#include "mcp/tokens_file.h"

namespace fasten {

const char kTokenHelp[] =
    R"(Usage: fasten-mcp token add --tenant T --tokens FILE [--label L]
       fasten-mcp token list --tokens FILE
       fasten-mcp token revoke --tokens FILE (--label L | --digest PREFIX)

Manages the bearer tokens of `fasten-mcp serve --http ... --tokens FILE`. Each token is bound
to one tenant: a request carrying it (Authorization: Bearer TOKEN) sees only that tenant's rows.
The file stores only the SHA-256 of each token, with its tenant, label and creation time; it is
written 0600 and atomically, and a running server picks up changes within about a second.

  add      creates a token for tenant T and prints it once on stdout; it cannot be shown
           again (add another and revoke this one if it is lost). Creates FILE if missing.
  list     shows each token's label, tenant, creation time and digest prefix (never the token)
  revoke   removes the one token with label L, or whose digest starts with PREFIX (at least 8
           hex digits, as `list` shows them); an error if none or several match

Options:
  --tokens FILE     the tokens file (format in docs/auth.md)
  --tenant T        the tenant the new token is bound to (printable, no spaces, <= 128 chars)
  --label L         a name for the token, unique in FILE (default: T-<digest prefix>)
  --digest PREFIX   the token's digest prefix, for revoke

Exit status: 0 success, 2 usage or I/O error (also: no such token, ambiguous match).
)";

namespace {

int Fail(CommandIo& io, const std::string& cmd, const Status& st) {
  io.err << "fasten-mcp " << cmd << ": " << st.message() << "\n";
  return kExitUsage;
}

std::string Short(const std::string& digest) {
  return "sha256:" + digest.substr(0, 12);
}

}  // namespace

int RunToken(int argc, char** argv, CommandIo io) {
  const std::vector<FlagSpec> specs = {
      {"tokens", true}, {"tenant", true}, {"label", true}, {"digest", true}};
  Result<Args> args = Args::Parse("token", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, "token", args.status());
  if (args->Has("help")) {
    io.out << kTokenHelp;
    return kExitOk;
  }
  if (args->positionals().size() != 1) {
    return Fail(io, "token",
                InvalidArgumentError("name one action: add, list or revoke (see fasten-mcp "
                                     "token --help)"));
  }
  const std::string action = args->positionals()[0];
  std::vector<std::string> allowed;
  if (action == "add") {
    allowed = {"tokens", "tenant", "label"};
  } else if (action == "list") {
    allowed = {"tokens"};
  } else if (action == "revoke") {
    allowed = {"tokens", "label", "digest"};
  } else {
    return Fail(io, "token",
                InvalidArgumentError("unknown action '" + action + "': use add, list or revoke"));
  }
  const std::string cmd = "token " + action;
  // Flags that do not belong to the action are mistakes, not silent no-ops.
  for (const FlagSpec& f : specs) {
    if (args->Has(f.name) && std::find(allowed.begin(), allowed.end(), f.name) == allowed.end()) {
      return Fail(io, cmd,
                  InvalidArgumentError(std::string("--") + f.name + " does not apply to '" + cmd +
                                       "' (see fasten-mcp token --help)"));
    }
  }
  std::optional<std::string> path = args->Get("tokens");
  if (!path || path->empty()) {
    return Fail(io, cmd, InvalidArgumentError("--tokens FILE is required"));
  }

  if (action == "add") {
    std::optional<std::string> tenant = args->Get("tenant");
    if (!tenant) return Fail(io, cmd, InvalidArgumentError("--tenant T is required"));
    std::string token;
    mcp::TokenRecord record;
    Status st = mcp::AddToken(*path, *tenant, args->Get("label").value_or(""),
                              std::chrono::system_clock::now(), &token, &record);
    if (!st.ok()) return Fail(io, cmd, st);
    io.out << token << "\n";
    io.out.flush();
    io.err << "fasten-mcp token add: token '" << record.label << "' for tenant '" << record.tenant
           << "' added to " << *path
           << "; it is shown only this once: send it as the header \"Authorization: Bearer "
              "<token>\"\n";
    return kExitOk;
  }

  if (action == "list") {
    std::vector<mcp::TokenRecord> records;
    Status st = mcp::ReadTokensFile(*path, &records);
    if (!st.ok()) return Fail(io, cmd, st);
    if (records.empty()) {
      io.err << "fasten-mcp token list: no tokens in " << *path << "\n";
      return kExitOk;
    }
    size_t lw = 5, tw = 6;
    for (const auto& r : records) {
      lw = std::max(lw, r.label.size());
      tw = std::max(tw, r.tenant.size());
    }
    io.out << std::left << std::setw(static_cast<int>(lw)) << "LABEL"
           << "  " << std::setw(static_cast<int>(tw)) << "TENANT"
           << "  " << std::setw(20) << "CREATED"
           << "  DIGEST\n";
    for (const auto& r : records) {
      io.out << std::setw(static_cast<int>(lw)) << r.label << "  "
             << std::setw(static_cast<int>(tw)) << r.tenant << "  " << std::setw(20)
             << (r.created.empty() ? "-" : r.created) << "  " << Short(r.digest) << "\n";
    }
    io.out << std::right;
    return kExitOk;
  }

  // revoke
  std::optional<std::string> label = args->Get("label"), digest = args->Get("digest");
  if (label.has_value() == digest.has_value()) {
    return Fail(io, cmd, InvalidArgumentError("give exactly one of --label L or --digest PREFIX"));
  }
  mcp::TokenRecord removed;
  Status st = mcp::RevokeToken(*path, label.has_value(), label ? *label : *digest, &removed);
  if (!st.ok()) return Fail(io, cmd, st);
  io.out << "revoked token '" << removed.label << "' (tenant " << removed.tenant << ", "
         << Short(removed.digest) << ")\n";
  return kExitOk;
}

}  // namespace fasten
