// `fasten-mcp investigations list|show|verify`: the investigation record log (record/
// record_log.h) in the state database, read-only: it never creates or changes the database.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/investigator_flags.h"
#include "record/record_log.h"
#include "tools/row_json.h"

namespace fasten {

const char kInvestigationsHelp[] =
    R"(Usage: fasten-mcp investigations list [--state PATH] [--tenant T | --all-tenants]
                          [--kind investigation|access|records_dropped|all] [--limit N]
                          [--before SEQ] [--json]
       fasten-mcp investigations show ID [--state PATH] [--tenant T] [--json]
       fasten-mcp investigations verify [--state PATH] [--json]

The investigation record log: fasten-mcp's own audit log, kept in its state database (never in
a store). Every investigation (`investigate`, POST /api/v1/investigate) appends a record: tenant,
credential label, question, provider and model, each tool call with its arguments, the rows
shown to the model as (stream, seq, hash), every submitted answer and rejection, the verdict,
tokens and cost. Every MCP tools/call over HTTP appends a lighter access record (tenant,
credential label, tool, SHA-256 of the arguments, rows returned, status). Records are chained:
each one's hash is SHA-256(previous hash || canonical JSON of the record), as in the audit chain.

  list     newest first (default: investigations of every tenant, 50 of them)
  show ID  one record, whole, as JSON
  verify   walk the whole log: recompute every hash, check every link and that seqs run 1, 2,
           3, ... Each finding names the record's seq and id and a reason: record_missing (a
           seq gap: records deleted), record_out_of_order (a record moved or swapped),
           record_altered (edited: its hash does not recompute, or it is not JSON),
           link_broken (its prev_hash is not the previous record's hash). Deleting the newest
           records is not detectable without an external anchor: keep the tip out of band.

Options:
  --state PATH    the state database (default: $FASTEN_STATE_DIR/state.db, else
                  $XDG_STATE_HOME/fasten-mcp/state.db, else ~/.local/state/fasten-mcp/state.db)
  --tenant T      only tenant T's records (show: another tenant's id is "not found")
  --all-tenants   every tenant's records (the default)
  --kind K        investigation (default), access, records_dropped or all
  --limit N       at most N records (1 to 1000; default 50)
  --before SEQ    only records older than SEQ (paging: pass the last seq shown)
  --json          JSON on stdout

Exit status: 0 success (verify: the log is intact), 1 verify found a tampered log, 2 usage or
I/O error (show: no such record).
)";

namespace {

using nlohmann::json;

int Fail(CommandIo& io, const Status& st) {
  io.err << "fasten-mcp investigations: " << st.message() << "\n";
  return kExitUsage;
}

// One line of `list`: what the record is about.
std::string About(const record::StoredRecord& r) {
  const json s = record::RecordSummaryJson(r);
  auto text = [&](const char* key) -> std::string {
    if (!s.contains(key)) return "?";
    return s[key].is_string() ? s[key].get<std::string>() : DumpJson(s[key]);
  };
  if (s.contains("content_unreadable")) return "(content unreadable: run verify)";
  if (r.kind == record::kKindInvestigation) {
    std::string q = text("question");
    if (q.size() > 60) q = q.substr(0, 57) + "...";
    return text("outcome") + " by " + text("credential") + " (" + text("provider") + "/" +
           text("model") + "): " + q;
  }
  if (r.kind == record::kKindAccess) {
    return text("tool") + " " + text("status") + ", " + text("rows") + " rows, by " +
           text("credential");
  }
  if (r.kind == record::kKindDropped) return text("dropped") + " access records dropped";
  return "";
}

int List(const Args& args, record::RecordLog* log, const std::string& state, CommandIo& io) {
  record::ListOptions options;
  if (args.Has("tenant") && args.Has("all-tenants")) {
    return Fail(io, InvalidArgumentError("--tenant and --all-tenants exclude each other"));
  }
  if (auto t = args.Get("tenant")) {
    if (t->empty()) return Fail(io, InvalidArgumentError("--tenant is empty"));
    options.tenant = *t;
  }
  Status st = record::ParseKindFilter(args.Get("kind").value_or("investigation"), &options.kind);
  if (!st.ok()) return Fail(io, st.WithContext("--kind"));
  std::optional<int64_t> n;
  if (st = args.GetInt("limit", 1, record::kMaxListLimit, &n); !st.ok()) return Fail(io, st);
  if (n) options.limit = *n;
  if (st = args.GetInt("before", 1, INT64_MAX, &options.before_seq); !st.ok()) {
    return Fail(io, st);
  }
  std::vector<record::StoredRecord> rows;
  if (log) {
    Result<std::vector<record::StoredRecord>> got = log->List(options);
    if (!got.ok()) return Fail(io, got.status());
    rows = std::move(got).value();
  }
  if (args.Has("json")) {
    json out = {{"state", state},
                {"kind", options.kind.empty() ? "all" : options.kind},
                {"tenant", options.tenant ? json(*options.tenant) : json(nullptr)},
                {"records", json::array()}};
    for (const record::StoredRecord& r : rows) out["records"].push_back(RecordSummaryJson(r));
    io.out << DumpJson(out, 2) << "\n";
    return kExitOk;
  }
  if (rows.empty()) {
    io.out << "no " << (options.kind.empty() ? "records" : options.kind + " records")
           << (options.tenant ? " of tenant " + *options.tenant : "") << " (state " << state
           << ")\n";
    return kExitOk;
  }
  for (const record::StoredRecord& r : rows) {
    io.out << r.seq << "  " << r.id << "  " << r.created_at << "  " << r.tenant << "  " << About(r)
           << "\n";
  }
  if (static_cast<int64_t>(rows.size()) == options.limit) {
    io.out << "(more: --before " << rows.back().seq << ")\n";
  }
  return kExitOk;
}

int Show(const Args& args, record::RecordLog* log, CommandIo& io) {
  if (args.positionals().size() != 2) {
    return Fail(io, InvalidArgumentError("show one record: fasten-mcp investigations show ID"));
  }
  const std::string& id = args.positionals()[1];
  std::optional<std::string> tenant = args.Get("tenant");
  if (!log) return Fail(io, NotFoundError("no record " + id));
  Result<record::StoredRecord> r = log->Get(id, tenant);
  if (!r.ok()) return Fail(io, r.status());
  io.out << DumpJson(record::RecordJson(*r), args.Has("json") ? -1 : 2) << "\n";
  return kExitOk;
}

int Verify(const Args& args, record::RecordLog* log, const std::string& state, CommandIo& io) {
  if (!log) return Fail(io, NotFoundError("no state database at " + state));
  Result<record::VerifyReport> got = log->Verify();
  if (!got.ok()) return Fail(io, got.status());
  const record::VerifyReport& v = *got;
  if (args.Has("json")) {
    json out = {
        {"ok", v.ok},
        {"state", state},
        {"table_exists", v.table_exists},
        {"records", v.records},
        {"findings_total", v.findings_total},
        {"findings", json::array()},
        {"tip", v.records > 0 ? json{{"seq", v.tip_seq}, {"hash", v.tip_hash}} : json(nullptr)},
        {"note", record::kTailTruncationNote}};
    for (const record::RecordFinding& f : v.findings) {
      out["findings"].push_back(
          {{"seq", f.seq}, {"id", f.id}, {"reason", f.reason}, {"detail", f.detail}});
    }
    io.out << DumpJson(out, 2) << "\n";
  } else if (!v.table_exists) {
    io.out << "Investigation record log " << state
           << ": no records yet (no investigation_records table): nothing to verify\n";
  } else {
    io.out << "Investigation record log " << state << ": ";
    if (v.ok) {
      io.out << "OK - " << v.records << " record(s) verified";
      if (v.records > 0) io.out << "; tip seq " << v.tip_seq << " " << v.tip_hash;
      io.out << "\n";
    } else {
      io.out << "FAIL - " << v.findings_total << " finding(s) in " << v.records << " record(s)\n";
      for (const record::RecordFinding& f : v.findings) {
        io.out << "  seq " << f.seq << " " << f.id << ": " << f.reason << ": " << f.detail << "\n";
      }
      if (v.findings_total > static_cast<int64_t>(v.findings.size())) {
        io.out << "  ... and " << v.findings_total - static_cast<int64_t>(v.findings.size())
               << " more\n";
      }
    }
    io.out << "Note: " << record::kTailTruncationNote << "\n";
  }
  return v.ok ? kExitOk : kExitFinding;
}

}  // namespace

int RunInvestigations(int argc, char** argv, CommandIo io) {
  const std::vector<FlagSpec> specs = {{"state", true}, {"tenant", true}, {"all-tenants", false},
                                       {"kind", true},  {"limit", true},  {"before", true},
                                       {"json", false}};
  Result<Args> args = Args::Parse("investigations", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, args.status());
  if (args->Has("help")) {
    io.out << kInvestigationsHelp;
    return kExitOk;
  }
  const std::vector<std::string>& pos = args->positionals();
  const std::string sub = pos.empty() ? "" : pos[0];
  if (sub != "list" && sub != "show" && sub != "verify") {
    return Fail(io, InvalidArgumentError("name what to do: list, show ID or verify (see "
                                         "fasten-mcp investigations --help)"));
  }
  if (sub != "show" && pos.size() > 1) {
    return Fail(io, InvalidArgumentError("unexpected argument '" + pos[1] + "'"));
  }
  if (sub != "list") {
    for (const char* f : {"all-tenants", "kind", "limit", "before"}) {
      if (args->Has(f)) {
        return Fail(io, InvalidArgumentError(std::string("--") + f + " applies to list"));
      }
    }
  }
  if (sub == "verify" && args->Has("tenant")) {
    return Fail(io, InvalidArgumentError("verify walks the whole log (every tenant's records "
                                         "are links of one chain): drop --tenant"));
  }
  Result<std::string> state_path = StatePathFromArgs(*args, io.env);
  if (!state_path.ok()) return Fail(io, state_path.status());
  const std::string state = *state_path;
  std::unique_ptr<record::RecordLog> log;
  Result<std::unique_ptr<record::RecordLog>> opened = record::RecordLog::OpenReadOnly(state);
  if (opened.ok()) {
    log = std::move(opened).value();
  } else if (opened.status().code() != StatusCode::kNotFound) {
    return Fail(io, opened.status());
  }
  if (sub == "list") return List(*args, log.get(), state, io);
  if (sub == "show") return Show(*args, log.get(), io);
  return Verify(*args, log.get(), state, io);
}

}  // namespace fasten
