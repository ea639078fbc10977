// fasten-mcp pack / verify-pack: evidence packs (pack/, docs/evidence.md "Evidence packs").
#include <sys/stat.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <tuple>

#include "anchor/keys.h"
#include "app/commands.h"
#include "app/investigator_flags.h"
#include "app/launch_scopes.h"
#include "app/store_config.h"
#include "pack/pack_format.h"
#include "pack/pack_verify.h"
#include "pack/pack_writer.h"
#include "record/record_log.h"
#include "store/timestamp.h"
#include "tools/row_json.h"

namespace fasten {

const char kPackHelp[] =
    R"(Usage: fasten-mcp pack --store DSN --tenant T --since A --until B --key KEY --out FILE
                       [--node N] [--name NAME] [--checkpoints FILE] [--streams]
                       [--investigation ID [--state PATH]] [--json] [--no-progress]

Writes an evidence pack: one self-contained file (an uncompressed POSIX tar) that a reviewer
checks offline with `fasten-mcp verify-pack`, without the store. It holds
  manifest.json        window, store, tenant, tool version, counts, per node the seqs packed and
                       the anchoring checkpoint, and the size and SHA-256 of every member
  manifest.sig         a C2SP signed note over the manifest's SHA-256, signed with --key
  audit.ndjson         the tenant's audit rows timestamped in the window (fasten NDJSON shape)
  links.ndjson         for every other row between them and the anchoring checkpoint (other
                       tenants' rows, the tenant's rows outside the window) only
                       {node, seq, hash, prev_hash}: never their content
  verify.json          the verify report of the window for the tenant
  checkpoints.ndjson   the checkpoints that anchor each node (with --checkpoints)
  sys.ndjson, api.ndjson   the tenant's stream rows of the window with their digests (--streams)
  investigation.json   an investigation record with its answer and verdict (--investigation)
A node is anchored by the first checkpoint of the log (signed by --key) whose tip for it is at or
above the node's last row in the window; without one the manifest says "not anchored" and the
pack ends at that last row.
The store is read once: the whole table in storage order, or, for a window under a quarter of the
store's time span, node by node over the window's seqs (docs/evidence.md).

Options:
  --store DSN          the audit store (default: $FASTEN_AUDIT_DSN)
  --tenant T           the tenant whose rows are packed
  --since A, --until B the window, inclusive: RFC 3339 (2026-01-01T00:00:00Z), a date
                       (the whole UTC day: --since from its start, --until through its
                       end), now, now-7d
  --node N             only this source_node_id
  --name NAME          the pack's name, signed with it (default: TENANT-SINCE-UNTIL dates)
  --checkpoints FILE   the checkpoint log (fasten-mcp checkpoint --log FILE)
  --streams            also pack the tenant's sys and api rows of the window
  --investigation ID   also pack this investigation record (it must be the tenant's)
  --state PATH         the state database holding it (default as `investigations`)
  --key KEY            the Ed25519 signing key (fasten-mcp keygen); checkpoints must verify with it
  --out FILE           the pack to write (replaced when it exists)
  --json               a JSON summary on stdout
  --no-progress        no progress lines on stderr

Exit status: 0 written, 1 written but the window's chain has a break (verify.json and
verify-pack say where), 2 usage or I/O error (nothing written).
)";

const char kVerifyPackHelp[] =
    R"(Usage: fasten-mcp verify-pack FILE --pubkey PUB [--pubkey PUB...] [--tsa-ca PEM] [--json]

Re-checks an evidence pack offline, with no store: the manifest's signature (one of the --pubkey
keys) and that it names this manifest; every member's size and SHA-256 against the manifest, no
member missing or added; every audit row's hash recomputed byte-for-byte, that it is the
manifest's tenant's and timestamped in the window; per node, each record's prev_hash against the
record before it (own rows and link records alike); every checkpoint's signature (and RFC 3161
token: trusted when it chains to --tsa-ca), and that the record at each checkpointed seq has the
checkpointed hash; every stream row's digest; the counts. Each finding names its kind, member,
node, seq and line, with the exact reason.

Options:
  --pubkey PUB   a verifier key file (KEY.pub); repeat for several (rotated keys)
  --tsa-ca PEM   trusted roots of the timestamp authority
  --json         machine-readable report on stdout

Exit status: 0 everything verifies, 1 a finding (also: the file is not a readable pack),
2 usage or I/O error (no such file, bad key).
)";

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

int Usage(CommandIo& io, const char* command, const Status& st) {
  io.err << "fasten-mcp " << command << ": " << st.message() << "\n";
  return kExitUsage;
}

// Every value of a repeatable flag, in order (Args keeps the last one only).
std::vector<std::string> Repeated(int argc, char** argv, const std::string& flag) {
  std::vector<std::string> out;
  const std::string eq = "--" + flag + "=";
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--" + flag && i + 1 < argc) {
      out.push_back(argv[++i]);
    } else if (a.rfind(eq, 0) == 0) {
      out.push_back(a.substr(eq.size()));
    }
  }
  return out;
}

}  // namespace

int RunPack(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  for (FlagSpec f : {FlagSpec{"tenant", true}, FlagSpec{"since", true}, FlagSpec{"until", true},
                     FlagSpec{"node", true}, FlagSpec{"name", true}, FlagSpec{"checkpoints", true},
                     FlagSpec{"streams", false}, FlagSpec{"investigation", true},
                     FlagSpec{"state", true}, FlagSpec{"key", true}, FlagSpec{"out", true},
                     FlagSpec{"json", false}, FlagSpec{"no-progress", false}}) {
    specs.push_back(f);
  }
  Result<Args> args = Args::Parse("pack", argc, argv, 2, specs);
  if (!args.ok()) return Usage(io, "pack", args.status());
  if (args->Has("help")) {
    io.out << kPackHelp;
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return Usage(io, "pack",
                 InvalidArgumentError("unexpected argument '" + args->positionals()[0] +
                                      "' (see fasten-mcp pack --help)"));
  }
  for (const char* required : {"tenant", "since", "until", "key", "out"}) {
    if (!args->Has(required)) {
      return Usage(io, "pack",
                   InvalidArgumentError(std::string("--") + required +
                                        " is required (see fasten-mcp pack --help)"));
    }
  }
  pack::PackOptions o;
  const std::string tenant = *args->Get("tenant");
  o.scope = app::LaunchScopes::Tenant(tenant);
  const Micros now = NowMicros();
  for (auto [flag, target, edge] : {std::tuple{"since", &o.since, TimeEdge::kSince},
                                    std::tuple{"until", &o.until, TimeEdge::kUntil}}) {
    std::string error;
    std::optional<Micros> t = ParseTimeBound(*args->Get(flag), now, edge, &error);
    if (!t) return Usage(io, "pack", InvalidArgumentError("--" + std::string(flag) + ": " + error));
    *target = *t;
  }
  if (o.since > o.until) {
    return Usage(io, "pack", InvalidArgumentError("--since is after --until; swap them"));
  }
  o.node = args->Get("node");
  o.name = args->Get("name").value_or(tenant + "-" + CanonicalTimestamp(o.since).substr(0, 10) +
                                      "-" + CanonicalTimestamp(o.until).substr(0, 10));
  if (!pack::ValidPackName(o.name)) {
    return Usage(io, "pack",
                 InvalidArgumentError("--name: 1 to 200 printable ASCII characters, e.g. "
                                      "soc2-2026Q1"));
  }
  o.checkpoints_path = args->Get("checkpoints").value_or("");
  o.out_path = *args->Get("out");
  o.tool = "fasten-mcp 0.1.0";
  Result<anchor::PrivateKey> key = anchor::PrivateKey::Load(*args->Get("key"));
  if (!key.ok()) return Usage(io, "pack", key.status().WithContext("--key"));
  o.key = &*key;

  if (auto id = args->Get("investigation")) {
    Result<std::string> state = StatePathFromArgs(*args, io.env);
    if (!state.ok()) return Usage(io, "pack", state.status());
    Result<std::unique_ptr<record::RecordLog>> log = record::RecordLog::OpenReadOnly(*state);
    if (!log.ok()) return Usage(io, "pack", log.status().WithContext("--state"));
    Result<record::StoredRecord> rec = (*log)->Get(*id, tenant);
    if (!rec.ok()) {
      return Usage(io, "pack",
                   rec.status().WithContext("--investigation (a record of tenant " + tenant +
                                            " in " + *state + ")"));
    }
    o.investigation_json = DumpJson(record::RecordJson(*rec), 2);
    o.investigation_id = *id;
  } else if (args->Has("state")) {
    return Usage(io, "pack", InvalidArgumentError("--state goes with --investigation"));
  }

  StoreSet stores;
  const bool streams = args->Has("streams");
  Status st = OpenStoresFromArgs(*args, io.env, streams, &stores);
  if (!st.ok()) return Usage(io, "pack", st);
  if (streams) {
    for (const std::string& why : {stores.sys_missing_why, stores.api_missing_why}) {
      if (!why.empty()) io.err << "fasten-mcp pack: --streams: " << why << " (not packed)\n";
    }
  }
  o.reader = stores.audit.get();
  o.sys = stores.sys.get();
  o.api = stores.api.get();
  o.store_identity = o.reader->dsn().Display();
  const auto start = Clock::now();
  auto last = start;
  if (!args->Has("no-progress")) {
    o.progress = [&](int64_t rows) {
      auto t = Clock::now();
      if (t - last < std::chrono::seconds(1)) return;
      last = t;
      io.err << "pack: " << rows << " rows read\n" << std::flush;
    };
  }
  pack::PackSummary s;
  st = pack::WritePack(o, &s);
  if (!st.ok()) return Usage(io, "pack", st);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  if (args->Has("json")) {
    json nodes = json::array();
    for (const pack::PackNodeSummary& n : s.nodes) {
      json j = {{"node", n.node}, {"from_seq", n.from_seq}, {"to_seq", n.to_seq},
                {"rows", n.rows}, {"links", n.links},       {"anchored", n.anchored}};
      if (n.anchored) {
        j["checkpoint_index"] = n.checkpoint_index;
        j["anchor_seq"] = n.anchor_seq;
      }
      nodes.push_back(std::move(j));
    }
    json j = {{"pack", o.out_path},
              {"name", o.name},
              {"bytes", s.bytes},
              {"manifest_sha256", s.manifest_sha256},
              {"tenant", tenant},
              {"chain_ok", s.chain_ok},
              {"nodes", nodes},
              {"counts",
               {{"audit_rows", s.audit_rows},
                {"links", s.links},
                {"checkpoints", s.checkpoints},
                {"sys_rows", s.sys_rows},
                {"api_rows", s.api_rows}}},
              {"checkpoints_skipped", s.checkpoints_skipped},
              {"stats",
               {{"rows_scanned", s.rows_scanned},
                {"plan", pack::PackPlanName(s.plan)},
                {"seconds", seconds},
                {"rows_per_sec", seconds > 0 ? s.rows_scanned / seconds : 0.0}}}};
    io.out << DumpJson(j, 2) << "\n";
  } else {
    io.out << "Wrote pack " << o.out_path << " (" << s.bytes << " bytes), name " << o.name
           << ", tenant " << tenant << ", window " << CanonicalTimestamp(o.since) << " .. "
           << CanonicalTimestamp(o.until) << "\n";
    for (const pack::PackNodeSummary& n : s.nodes) {
      io.out << "  " << n.node << "  seq " << n.from_seq << ".." << n.to_seq << ": " << n.rows
             << " row(s), " << n.links << " link(s), ";
      if (n.anchored) {
        io.out << "anchored by checkpoint " << n.checkpoint_index << " at seq " << n.anchor_seq;
      } else {
        io.out << "not anchored";
      }
      io.out << "\n";
    }
    io.out << "Members: " << s.audit_rows << " audit row(s), " << s.links << " link record(s), "
           << s.checkpoints << " checkpoint(s)";
    if (o.sys || o.api) io.out << ", " << s.sys_rows << " sys and " << s.api_rows << " api row(s)";
    if (!o.investigation_id.empty()) io.out << ", investigation " << o.investigation_id;
    io.out << "\nManifest sha256 " << s.manifest_sha256 << ", signed by " << key->name() << "\n";
    if (s.checkpoints_skipped > 0) {
      io.out << "Note: " << s.checkpoints_skipped
             << " checkpoint log line(s) did not parse or verify with --key and were not used\n";
    }
    if (!s.chain_ok) {
      io.out << "Result: the window's chain has a break; the pack records it (verify.json)\n";
    }
    io.out << "Scanned " << s.rows_scanned << " rows in " << seconds << " s ("
           << pack::PackPlanName(s.plan) << ")\n";
  }
  return s.chain_ok ? kExitOk : kExitFinding;
}

int RunVerifyPack(int argc, char** argv, CommandIo io) {
  const std::vector<FlagSpec> specs = {{"pubkey", true}, {"tsa-ca", true}, {"json", false}};
  Result<Args> args = Args::Parse("verify-pack", argc, argv, 2, specs);
  if (!args.ok()) return Usage(io, "verify-pack", args.status());
  if (args->Has("help")) {
    io.out << kVerifyPackHelp;
    return kExitOk;
  }
  if (args->positionals().size() != 1) {
    return Usage(io, "verify-pack",
                 InvalidArgumentError("name one pack file: fasten-mcp verify-pack FILE --pubkey "
                                      "PUB"));
  }
  const std::string path = args->positionals()[0];
  const std::vector<std::string> pubs = Repeated(argc, argv, "pubkey");
  if (pubs.empty()) {
    return Usage(io, "verify-pack",
                 InvalidArgumentError("--pubkey PUB is required: the public key the pack and its "
                                      "checkpoints were signed with"));
  }
  pack::VerifyPackOptions options;
  Result<std::vector<anchor::PublicKey>> keys = anchor::LoadPublicKeys(pubs);
  if (!keys.ok()) return Usage(io, "verify-pack", keys.status().WithContext("--pubkey"));
  options.keys = std::move(*keys);
  options.tsa_ca = args->Get("tsa-ca").value_or("");
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0) {
    return Usage(io, "verify-pack", NotFoundError("no pack file " + path));
  }
  if (!S_ISREG(sb.st_mode)) {
    return Usage(io, "verify-pack", InvalidArgumentError(path + " is not a regular file"));
  }
  const auto start = Clock::now();
  pack::PackReport r = pack::VerifyPack(path, options);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const int64_t records = r.audit_rows + r.links;
  if (args->Has("json")) {
    json j = pack::PackReportJson(r);
    j["stats"] = {{"records", records},
                  {"seconds", seconds},
                  {"rows_per_sec", seconds > 0 ? records / seconds : 0.0}};
    io.out << DumpJson(j, 2) << "\n";
  } else {
    io.out << "Verified pack " << path;
    if (!r.name.empty()) io.out << " (" << r.name << ")";
    io.out << "\n";
    if (!r.tenant.empty()) {
      io.out << "  tenant " << r.tenant << ", window " << r.since << " .. " << r.until
             << (r.node ? ", node " + *r.node : std::string()) << ", store " << r.store << "\n";
      io.out << "  manifest sha256 " << r.manifest_sha256 << ", signed by "
             << (r.signed_by.empty() ? std::string("no given key") : r.signed_by.front()) << "\n";
    }
    for (const pack::PackNodeReport& n : r.nodes) {
      io.out << "  " << n.node << "  seq " << n.from_seq << ".." << n.to_seq << ": " << n.rows
             << " row(s), " << n.links << " link(s), ";
      if (n.anchored) {
        io.out << (n.anchor_verified ? "anchored" : "NOT anchored") << " by checkpoint "
               << n.checkpoint_index << " at seq " << n.anchor_seq;
      } else {
        io.out << "not anchored (no checkpoint covers it)";
      }
      io.out << "\n";
    }
    io.out << "  " << r.rows_verified << "/" << (r.audit_rows - r.unsealed)
           << " sealed rows verified";
    if (r.unsealed) io.out << ", " << r.unsealed << " unsealed (not verified)";
    io.out << ", " << r.links << " link record(s), " << r.checkpoints_verified << "/"
           << r.checkpoints << " checkpoint(s) verified";
    if (r.tsa_tokens) {
      io.out << " (" << r.tsa_verified << "/" << r.tsa_tokens << " timestamp tokens, "
             << r.tsa_trusted << " trusted)";
    }
    if (r.sys_rows || r.api_rows) {
      io.out << ", " << r.sys_rows << " sys and " << r.api_rows << " api row(s)";
    }
    if (r.investigation) {
      io.out << ", investigation record "
             << (r.investigation_verified ? "verified" : "NOT verified");
    }
    io.out << "\n";
    for (const pack::PackFinding& f : r.findings) {
      io.out << "  FINDING " << f.kind;
      if (!f.member.empty()) io.out << " in " << f.member;
      if (f.line) io.out << " line " << f.line;
      if (!f.node.empty()) io.out << " node " << f.node;
      if (f.seq) io.out << " seq " << *f.seq;
      io.out << ": " << f.reason << "\n";
    }
    if (r.findings_total > static_cast<int64_t>(r.findings.size())) {
      io.out << "  (" << r.findings_total - static_cast<int64_t>(r.findings.size())
             << " more finding(s) not listed)\n";
    }
    io.out << (r.ok() ? "Result: OK" : "Result: FAIL") << " - " << r.findings_total
           << " finding(s), " << records << " records in " << seconds << " s\n";
  }
  return r.ok() ? kExitOk : kExitFinding;
}

}  // namespace fasten
