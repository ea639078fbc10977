// `fasten-mcp checkpoint`: append one signed checkpoint of every node's tip to a checkpoint log.
#include <iostream>
#include <nlohmann/json.hpp>

#include "anchor/checkpoint.h"
#include "app/checkpointer.h"
#include "app/commands.h"
#include "app/store_config.h"
#include "tools/row_json.h"

namespace fasten {

const char kCheckpointHelp[] =
    R"(Usage: fasten-mcp checkpoint --store DSN --key KEY --log FILE [--tsa URL]
                             [--store-name NAME] [--json]

Reads each node's current tip (node, last sealed seq, its hash, the node's sealed row count)
through indexes, not a scan, and appends one signed checkpoint to the checkpoint log FILE:
a C2SP signed note (text body, Ed25519 signature line) naming the store, the time, every node's
tip and the digest of the previous checkpoint, so the log is itself a chain. The log is
fasten-mcp's own file (NDJSON, one checkpoint per line); the store is never written.

Run it from cron (or let `fasten-mcp serve --checkpoint-log FILE --checkpoint-key KEY
--checkpoint-every 5m` do it) and keep the log and a copy of it somewhere the store's writers
cannot change (docs/evidence.md). `fasten-mcp verify --checkpoints FILE --pubkey KEY.pub` then
detects a row changed and the chain re-sealed, rows deleted from the end, a node removed, and any
edit of the log itself.

With --tsa URL the note is also timestamped by an RFC 3161 time-stamping authority (HTTP POST
application/timestamp-query) and the token is stored with it: "this tip existed at time T",
independent of whoever holds the key.

Tips come from the (source_node_id, monotonic_seq) index that `fasten-mcp index --apply`
creates; without it each node's tip is found through the monotonic_seq index, which is slower on
large stores. The first checkpoint counts each node's sealed rows; later ones add only the rows
after the previous checkpoint's tips.

Options:
  --store DSN        the audit store (default: $FASTEN_AUDIT_DSN)
  --key KEY          the private key (fasten-mcp keygen --out KEY); must be mode 0600
  --log FILE         the checkpoint log (created when absent, appended to otherwise)
  --tsa URL          an RFC 3161 timestamp authority, e.g. http://timestamp.example/tsr
  --store-name NAME  the store's name in the checkpoint (default: the DSN without credentials)
  --json             print the checkpoint written as JSON

Exit status: 0 appended, 2 usage or I/O error (nothing appended).
)";

namespace {

int Fail(CommandIo& io, const Status& st) {
  io.err << "fasten-mcp checkpoint: " << st.message() << "\n";
  return kExitUsage;
}

}  // namespace

int RunCheckpoint(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  for (FlagSpec f : {FlagSpec{"key", true}, FlagSpec{"log", true}, FlagSpec{"tsa", true},
                     FlagSpec{"store-name", true}, FlagSpec{"json", false}}) {
    specs.push_back(f);
  }
  Result<Args> args = Args::Parse("checkpoint", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, args.status());
  if (args->Has("help")) {
    io.out << kCheckpointHelp;
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return Fail(io, InvalidArgumentError("unexpected argument '" + args->positionals()[0] +
                                         "' (see fasten-mcp checkpoint --help)"));
  }
  if (!args->Has("key")) {
    return Fail(io, InvalidArgumentError(
                        "--key KEY is required (make one with fasten-mcp keygen --out KEY)"));
  }
  if (!args->Has("log")) {
    return Fail(io,
                InvalidArgumentError("--log FILE is required (the checkpoint log to append to)"));
  }
  Result<anchor::PrivateKey> key = anchor::PrivateKey::Load(*args->Get("key"));
  if (!key.ok()) return Fail(io, key.status());
  StoreSet stores;
  Status st = OpenStoresFromArgs(*args, io.env, /*need_streams=*/false, &stores);
  if (!st.ok()) return Fail(io, st);
  CheckpointerConfig config;
  config.log = *args->Get("log");
  config.key = &key.value();
  config.store_name = args->Get("store-name").value_or(stores.audit->dsn().Display());
  config.tsa_url = args->Get("tsa").value_or("");
  anchor::CheckpointBody body;
  std::vector<std::string> warnings;
  st = AppendOneCheckpoint(stores.audit.get(), config, &body, &warnings);
  for (const std::string& w : warnings) io.err << "fasten-mcp checkpoint: warning: " << w << "\n";
  if (!st.ok()) return Fail(io, st);
  if (args->Has("json")) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const anchor::NodeTip& t : body.nodes) {
      nodes.push_back({{"node", t.node}, {"seq", t.seq}, {"hash", t.hash}, {"sealed", t.sealed}});
    }
    nlohmann::json j = {{"log", config.log},           {"index", body.index},
                        {"time", body.time},           {"store", body.store},
                        {"prev", body.prev},           {"nodes", nodes},
                        {"key", key->Public().Text()}, {"tsa", !config.tsa_url.empty()},
                        {"warnings", warnings}};
    io.out << DumpJson(j, 2) << "\n";
  } else {
    io.out << "checkpoint #" << body.index << " appended to " << config.log << " at " << body.time
           << ", signed by " << key->name() << (config.tsa_url.empty() ? "" : ", timestamped by ")
           << config.tsa_url << "\n";
    for (const anchor::NodeTip& t : body.nodes) {
      io.out << "  " << t.node << "  seq " << t.seq << "  " << t.hash << "  (" << t.sealed
             << " sealed rows)\n";
    }
  }
  return kExitOk;
}

}  // namespace fasten
