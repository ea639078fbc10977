#include <chrono>
#include <fstream>
#include <future>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <tuple>

#include "app/anchor_flags.h"
#include "app/commands.h"
#include "app/launch_scopes.h"
#include "app/store_config.h"
#include "store/ndjson_source.h"
#include "store/payload_tenant.h"
#include "store/timestamp.h"
#include "tools/row_json.h"
#include "tools/verify_json.h"
#include "validator/chain.h"
#include "validator/verify_store.h"

namespace fasten {

const char kVerifyHelp[] =
    R"(Usage: fasten-mcp verify (--store DSN | --ndjson FILE) [--node N]
                         [--from-seq N] [--to-seq N] | [--since T] [--until T]
                         [--checkpoints FILE --pubkey PUB... [--tsa-ca PEM]]
                         [--json] [--no-progress] [--no-streams]

Verifies fasten audit hash chains byte-for-byte as the fasten SDKs compute them (canonical forms
"1" and "2", labelled legacy fallbacks), in one streaming pass with constant memory. Prints a
per-node report in the style of CloudTrail validate-logs: N/M rows valid, unsealed rows (counted,
never verified), the first break with its seq and exact reason, and each node's tip (seq, hash).
Tail truncation cannot be detected without an external anchor: record the tips out of band, or
keep signed checkpoints (fasten-mcp checkpoint) and verify against them with --checkpoints.

With --checkpoints FILE (a log written by `fasten-mcp checkpoint` or `serve --checkpoint-log`)
the store is also checked against every checkpoint in it: each checkpoint's signature (by a key
given with --pubkey) and RFC 3161 timestamp verify and the log's own chain links, and for each
node the row at the checkpointed seq is there with the checkpointed hash (the chain verification
shows the rows after it still link). Findings, each exit 1: checkpoint_mismatch (a row was
changed and later rows re-sealed), truncated_after_checkpoint (checkpointed rows are gone),
node_missing, checkpoint_log_broken (a checkpoint edited, removed or reordered, a bad signature,
a backdated or bad timestamp). Rows newer than the last checkpoint are "not yet anchored", never
a failure. See docs/evidence.md.

A time window (--since/--until) is a seq window per node: from the node's first to its last row
whose timestamp lies in the window (rows in between are verified too, whatever their clock
says), each verified exactly like --node N --from-seq FIRST --to-seq LAST, first link included.
The report names the window and, per node, the seqs it resolved to; nodes without a row in the
window are left out.

A whole-store verify (no --node and no window) also counts the sys and api stream payloads by
tenant: attributed, without a tenant, or ambiguous (by reason; an ambiguous payload is shown to
no tenant, see docs/security.md). It reads the stream tables on a second thread while the chain
is verified; it never changes the exit status.

Options:
  --store DSN       the audit store (default: $FASTEN_AUDIT_DSN), e.g. sqlite:///demo.db,
                    sqlite:////abs/path.db, sqlite:///x.db?table=fasten_audit
  --ndjson FILE     verify the SDK's NDJSON stdout capture instead ('-' reads stdin)
  --node N          only this source_node_id
  --from-seq N      window start (its first link is checked against the row below it)
  --to-seq N        window end
  --since T         time window start, inclusive: RFC 3339 (2026-11-20T14:00:00Z), a date
                    (2026-11-20, from its 00:00:00Z), now, or now-15m, now-2h, now-7d
  --until T         time window end, inclusive, in the same forms (a date is through its last
                    instant, 23:59:59.999999Z, so --until 2026-11-20 takes that whole day and
                    nothing of the next); --since/--until go with
                    --store and --node, not with --from-seq/--to-seq
  --json            machine-readable report on stdout
  --no-progress     no progress lines on stderr (printed every second on long runs)
  --no-streams      skip the stream payload tenant counts (the stream tables are not read)
  --sys-store DSN, --api-store DSN   where the stream tables are (default: the audit store)
  --checkpoints FILE  verify against this checkpoint log as well (with --store)
  --pubkey PUB        a public key (KEY.pub from fasten-mcp keygen) trusted to sign checkpoints;
                      repeat it for rotated keys
  --tsa-ca PEM        trusted root certificate(s) of the timestamp authority: with it a TSA
                      token must chain to one of them; without it tokens are checked for their
                      signature and imprint only and reported as untrusted

Exit status: 0 every chain intact (and every checkpoint matches), 1 a break or a checkpoint
finding, 2 usage or I/O error.
)";

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

class Progress {
 public:
  Progress(std::ostream& err, bool enabled, int64_t total)
      : err_(err), enabled_(enabled), total_(total), start_(Clock::now()), last_(start_) {}

  void Tick(int64_t rows) {
    if (!enabled_ || (rows & 4095) != 0) return;  // callers tick every row or every 4096
    auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start_).count();
    err_ << "verify: " << rows << (total_ > 0 ? "/" + std::to_string(total_) : "") << " rows";
    if (total_ > 0) err_ << " (" << (100 * rows / total_) << "%)";
    err_ << ", " << static_cast<int64_t>(rows / secs) << " rows/s\n" << std::flush;
  }
  double Seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  std::ostream& err_;
  bool enabled_;
  int64_t total_;
  Clock::time_point start_, last_;
};

// Per stream table: how many payloads belong to a tenant, to none, and are ambiguous (by
// reason, with the first seqs as examples). A stream without a table says why.
Status StreamTenants(const Args& args, CommandIo& io, json* out) {
  StoreSet stores;
  FASTEN_RETURN_IF_ERROR(OpenStoresFromArgs(args, io.env, /*need_streams=*/true, &stores));
  *out = json::object();
  for (StreamReader* reader : {stores.sys.get(), stores.api.get()}) {
    if (!reader) continue;
    int64_t rows = 0, attributed = 0, none = 0, ambiguous = 0;
    std::map<std::string, int64_t> reasons;
    json examples = json::array();
    bool complete = true;
    // The operator's count over every tenant's payloads.
    FASTEN_RETURN_IF_ERROR(reader->Scan(
        app::LaunchScopes::AllTenants(), StreamQuery(), std::numeric_limits<int64_t>::max() - 1,
        [&](const StreamRow& row) {
          ++rows;
          const Attribution kind = PayloadTenant(row.payload).kind;
          if (kind == Attribution::kAttributed) {
            ++attributed;
          } else if (kind == Attribution::kNone) {
            ++none;
          } else {
            ++ambiguous;
            ++reasons[AttributionName(kind)];
            if (examples.size() < 10) examples.push_back(row.seq);
          }
        },
        &complete));
    (*out)[StreamName(reader->kind())] = {
        {"table", reader->table()},      {"rows", rows},
        {"attributed", attributed},      {"no_tenant", none},
        {"ambiguous", ambiguous},        {"ambiguous_by_reason", reasons},
        {"ambiguous_examples", examples}};
  }
  if (!stores.sys_missing_why.empty()) (*out)["sys"] = {{"missing", stores.sys_missing_why}};
  if (!stores.api_missing_why.empty()) (*out)["api"] = {{"missing", stores.api_missing_why}};
  return Status::Ok();
}

void PrintStreamTenants(const json& streams, std::ostream& out) {
  if (!streams.is_object()) return;
  for (const auto& [name, s] : streams.items()) {
    if (!s.contains("rows")) continue;
    out << "Stream " << name << " (" << s["table"].get<std::string>() << "): " << s["rows"]
        << " payloads, " << s["attributed"] << " of a tenant, " << s["no_tenant"]
        << " without one, " << s["ambiguous"] << " with an ambiguous tenant";
    if (s["ambiguous"].get<int64_t>() > 0) {
      std::string reasons;
      for (const auto& [reason, n] : s["ambiguous_by_reason"].items()) {
        reasons += (reasons.empty() ? "" : ", ") + reason + ": " + std::to_string(n.get<int64_t>());
      }
      std::string seqs;
      for (const json& q : s["ambiguous_examples"]) {
        seqs += (seqs.empty() ? "" : ", ") + std::to_string(q.get<int64_t>());
      }
      out << " (" << reasons << "; seq " << seqs
          << "): shown to no tenant, only in all-tenants mode (docs/security.md)";
    }
    out << "\n";
  }
}

std::string FailureList(const std::map<std::string, int64_t>& failures) {
  std::string s;
  for (const auto& [cat, count] : failures) {
    s += (s.empty() ? "" : ", ") + cat + ": " + std::to_string(count);
  }
  return s;
}

// The time window and what it resolved to, per node (a time window's report only).
void PrintTimeWindow(const json& window, std::ostream& out) {
  auto bound = [](const json& v) {
    return v.is_null() ? std::string("(open)") : v.get<std::string>();
  };
  out << "Time window " << bound(window["since"]) << " .. " << bound(window["until"])
      << " (inclusive)";
  if (!window["source_node_id"].is_null()) {
    out << " on node " << window["source_node_id"].get<std::string>();
  }
  if (window["nodes"].empty()) {
    out << ": no audit rows in it\n";
    return;
  }
  out << ", verified per node as the seq window of its rows in it:\n";
  size_t width = 8;
  for (const json& n : window["nodes"]) {
    width = std::max(width, n["source_node_id"].get<std::string>().size());
  }
  for (const json& n : window["nodes"]) {
    const std::string node = n["source_node_id"];
    out << "  " << node << std::string(width - node.size() + 2, ' ') << "seq " << n["from_seq"]
        << ".." << n["to_seq"] << " (" << n["rows_in_window"]
        << " row(s) timestamped in the window)\n";
  }
}

// `window`: a time window's TimeWindowJson, or null.
void PrintHuman(const VerifyReport& r, const std::string& source, const json& window,
                std::ostream& out) {
  out << "Verified " << source << "\n";
  if (!window.is_null()) PrintTimeWindow(window, out);
  size_t width = 8;
  for (const auto& n : r.nodes) width = std::max(width, n.source_node_id.size());
  for (const auto& n : r.nodes) {
    out << "  " << n.source_node_id << std::string(width - n.source_node_id.size() + 2, ' ');
    out << (n.ok ? "ok    " : "FAIL  ") << n.valid() << "/" << n.sealed << " rows valid";
    for (const auto& [label, count] : n.verified_fallback) {
      out << " (" << count << " under legacy fallback " << label << ")";
    }
    if (n.unsealed) out << ", " << n.unsealed << " unsealed (not verified)";
    if (n.tip_seq) out << "; tip seq " << *n.tip_seq << " " << n.tip_hash;
    out << "\n";
    if (n.first_break) {
      out << "      first break at seq " << n.first_break->seq << ": " << n.first_break->reason
          << " [" << n.classification << "]";
      if (!n.first_break->note.empty()) out << " (" << n.first_break->note << ")";
      out << "\n      failures: " << FailureList(n.failures) << "\n";
    }
    if (n.seq_gaps) out << "      note: " << n.seq_gaps << " seq(s) missing between rows\n";
    if (n.redacted)
      out << "      note: " << n.redacted << " redacted row(s) (detail removed, commitment kept)\n";
    for (const auto& note : n.notes) out << "      note: " << note << "\n";
  }
  out << (r.ok ? "Result: OK" : "Result: FAIL") << " - " << r.valid << "/" << r.sealed
      << " sealed rows valid";
  if (r.invalid) {
    std::map<std::string, int64_t> all;
    for (const auto& n : r.nodes) {
      for (const auto& [cat, c] : n.failures) all[cat] += c;
    }
    out << ", " << r.invalid << " invalid (" << FailureList(all) << ")";
  }
  out << ", " << r.unsealed << " unsealed, " << r.nodes.size() << " node(s)\n";
  out << "Upstream verdict (fasten verify_chain): ok=" << (r.upstream.ok ? "true" : "false");
  if (r.upstream.first_break_at) {
    out << " first_break_at=" << *r.upstream.first_break_at << " reason=\"" << *r.upstream.reason
        << "\"";
  }
  out << "\nNote: " << r.caveat << "\n";
}

}  // namespace

int RunVerify(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  specs.insert(specs.end(), std::begin(kAnchorFlags), std::end(kAnchorFlags));
  for (FlagSpec f :
       {FlagSpec{"ndjson", true}, FlagSpec{"node", true}, FlagSpec{"from-seq", true},
        FlagSpec{"to-seq", true}, FlagSpec{"since", true}, FlagSpec{"until", true},
        FlagSpec{"json", false}, FlagSpec{"no-progress", false}, FlagSpec{"no-streams", false}}) {
    specs.push_back(f);
  }
  Result<Args> args = Args::Parse("verify", argc, argv, 2, specs);
  auto usage = [&](const Status& st) {
    io.err << "fasten-mcp verify: " << st.message() << "\n";
    return kExitUsage;
  };
  if (!args.ok()) return usage(args.status());
  if (args->Has("help")) {
    io.out << kVerifyHelp;
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return usage(InvalidArgumentError("unexpected argument '" + args->positionals()[0] +
                                      "' (see fasten-mcp verify --help)"));
  }
  std::optional<int64_t> from_seq, to_seq;
  Status st = args->GetInt("from-seq", 1, INT64_MAX, &from_seq);
  if (st.ok()) st = args->GetInt("to-seq", 1, INT64_MAX, &to_seq);
  if (!st.ok()) return usage(st);
  const bool want_json = args->Has("json");
  const bool ndjson = args->Has("ndjson");
  if (ndjson && args->Has("store")) {
    return usage(InvalidArgumentError("give either --store or --ndjson, not both"));
  }
  if (ndjson && (from_seq || to_seq)) {
    return usage(InvalidArgumentError("--from-seq/--to-seq apply to --store only"));
  }
  std::optional<Micros> since, until;
  const Micros now = NowMicros();
  for (auto [flag, target, edge] : {std::tuple{"since", &since, TimeEdge::kSince},
                                    std::tuple{"until", &until, TimeEdge::kUntil}}) {
    if (auto v = args->Get(flag)) {
      std::string error;
      *target = ParseTimeBound(*v, now, edge, &error);
      if (!*target) return usage(InvalidArgumentError("--" + std::string(flag) + ": " + error));
    }
  }
  const bool time_window = since || until;
  if (since && until && *since > *until) {
    return usage(InvalidArgumentError("--since is after --until; swap them"));
  }
  if (time_window && (from_seq || to_seq)) {
    return usage(InvalidArgumentError(
        "--since/--until (a time window) cannot be combined with --from-seq/--to-seq (a seq "
        "window); give one or the other"));
  }
  Result<std::optional<anchor::AnchorConfig>> anchors = ReadAnchorFlags(*args);
  if (!anchors.ok()) return usage(anchors.status());
  if (anchors.value() && ndjson) {
    return usage(InvalidArgumentError("--checkpoints applies to --store only"));
  }
  if (time_window && ndjson) {
    return usage(InvalidArgumentError(
        "--since/--until apply to --store only (an NDJSON capture is verified whole)"));
  }

  VerifyReport report;
  anchor::AnchorReport anchor_report;
  json extra = json::object();
  json window;  // a time window: what it resolved to
  json stream_tenants;
  std::string source;
  int64_t rows = 0;
  double seconds = 0;
  NdjsonStats nd;
  if (ndjson) {
    std::string path = *args->Get("ndjson");
    std::ifstream file;
    std::istream* in = &std::cin;
    if (path != "-") {
      file.open(path, std::ios::binary);
      if (!file) return usage(NotFoundError("cannot open NDJSON file " + path));
      in = &file;
    }
    source = "NDJSON " + (path == "-" ? std::string("stdin") : path);
    ChainVerifier verifier;
    Progress progress(io.err, !args->Has("no-progress"), 0);
    NdjsonOptions options;
    options.source_node_id = args->Get("node");
    st = ReadNdjsonAudit(
        *in, options,
        [&](const AuditRow& row) {
          verifier.Add(row);
          progress.Tick(++rows);
        },
        [&](const std::string& node) { verifier.AddDetachedUnsealed(node); }, &nd);
    if (!st.ok()) return usage(st);
    report = verifier.Finish();
    seconds = progress.Seconds();
    extra["ndjson"] = {{"lines", nd.lines},
                       {"audit_lines", nd.audit_lines},
                       {"other_shapes", nd.other_shapes},
                       {"superseded_phase1", nd.superseded},
                       {"malformed", nd.malformed},
                       {"malformed_examples", nd.malformed_examples}};
    if (nd.malformed > 0) report.ok = false;
  } else {
    StoreSet stores;
    st = OpenStoresFromArgs(*args, io.env, /*need_streams=*/false, &stores);
    if (!st.ok()) return usage(st);
    AuditReader* reader = stores.audit.get();
    const WriterProfile& p = reader->profile();
    source = reader->dsn().Display() + " (table " + p.table + ", writer profile: " + p.guess + ")";
    int64_t total = 0;
    // `verify` is the operator's check of the whole store: every tenant's rows.
    const TenantScope scope = app::LaunchScopes::AllTenants();
    if (!reader->CountRows(scope, &total).ok()) total = 0;
    Progress progress(io.err, !args->Has("no-progress"), total);
    VerifyStoreOptions options;
    options.range.source_node_id = args->Get("node");
    options.range.from_seq = from_seq;
    options.range.to_seq = to_seq;
    options.since = since;
    options.until = until;
    options.progress = [&](int64_t n) { progress.Tick(n); };
    // A whole-store verify also reads the sys/api payloads' tenants (store/payload_tenant.h), on
    // its own connections and thread while the chain is verified.
    const bool count_streams = !options.range.source_node_id && !from_seq && !to_seq &&
                               !time_window && !args->Has("no-streams");
    std::future<Status> streams_done;
    if (count_streams) {
      streams_done =
          std::async(std::launch::async, [&] { return StreamTenants(*args, io, &stream_tenants); });
    }
    VerifyStoreResult result;
    st = VerifyStore(scope, reader, options, &result);
    Status streams_st = streams_done.valid() ? streams_done.get() : Status::Ok();
    if (!st.ok()) {
      io.err << "fasten-mcp verify: could not complete: " << st.ToString() << "\n";
      return kExitUsage;
    }
    if (result.rescanned_in_seq_order) {
      io.err << "fasten-mcp verify: rows are stored out of seq order; verified in seq order\n";
    }
    rows = result.rows_scanned;
    report = std::move(result.report);
    seconds = progress.Seconds();
    extra["store"] = reader->dsn().Display();
    extra["profile"] = {{"table", p.table}, {"guess", p.guess}, {"missing_columns", p.missing}};
    if (time_window) {
      window = TimeWindowJson(since, until, options.range.source_node_id, result.spans);
      extra["window"] = window;
      if (report.nodes.empty()) {
        io.err << "fasten-mcp verify: no audit rows in the time window"
               << (options.range.source_node_id ? " on node '" + *options.range.source_node_id + "'"
                                                : std::string())
               << "\n";
      }
    } else if (options.range.source_node_id && report.nodes.empty()) {
      io.err << "fasten-mcp verify: no rows for node '" << *options.range.source_node_id << "'\n";
    }
    if (anchors.value()) {
      st = anchor::VerifyAnchors(reader, *anchors.value(), &report, &anchor_report);
      if (!st.ok()) {
        io.err << "fasten-mcp verify: could not check the checkpoints: " << st.ToString() << "\n";
        return kExitUsage;
      }
      extra["anchors"] = anchor::AnchorReportJson(anchor_report, /*tenant_view=*/false);
      report.caveat = anchor_report.ok()
                          ? "Anchored: rows up to each node's last checkpointed seq cannot have "
                            "been changed, re-sealed or truncated without a finding; rows newer "
                            "than the last checkpoint are not yet anchored."
                          : "Checkpoint findings: see anchors.";
    }
    if (count_streams) {
      if (!streams_st.ok()) {
        io.err << "fasten-mcp verify: could not read the stream tables: " << streams_st.ToString()
               << "\n";
        return kExitUsage;
      }
      extra["stream_tenants"] = stream_tenants;
    }
  }

  if (want_json) {
    json j = VerifyReportJson(report);
    j["stats"] = {{"rows_scanned", rows},
                  {"seconds", seconds},
                  {"rows_per_sec", seconds > 0 ? rows / seconds : 0.0},
                  {"bytes_hashed", report.bytes_hashed}};
    j.update(extra);
    if (anchors.value() && !anchor_report.ok()) j["ok"] = false;
    io.out << DumpJson(j, 2) << "\n";
  } else {
    PrintHuman(report, source, window, io.out);
    if (nd.malformed > 0) {
      io.out << "NDJSON: " << nd.malformed << " malformed line(s) could not be verified:";
      for (const auto& e : nd.malformed_examples) io.out << "\n  " << e;
      io.out << "\n";
    }
    if (ndjson && nd.superseded > 0) {
      io.out << "NDJSON: " << nd.superseded << " phase-1 line(s) superseded by their sealed line\n";
    }
    if (anchors.value()) io.out << anchor::AnchorReportText(anchor_report) << "\n";
    PrintStreamTenants(stream_tenants, io.out);
    io.out << "Scanned " << rows << " rows in " << seconds << " s\n";
  }
  const bool anchors_ok = !anchors.value() || anchor_report.ok();
  return report.ok && anchors_ok ? kExitOk : kExitFinding;
}

}  // namespace fasten
