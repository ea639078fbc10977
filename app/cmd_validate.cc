// `fasten-mcp validate`: the citation validator on an answer written by any agent.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "anchor/tips_cache.h"
#include "app/anchor_flags.h"
#include "app/commands.h"
#include "app/investigator_flags.h"
#include "app/launch_scopes.h"
#include "app/store_config.h"
#include "tools/answer_json.h"
#include "tools/row_json.h"
#include "util/json_parse.h"
#include "validator/citations.h"

namespace fasten {

const char kValidateHelp[] =
    R"(Usage: fasten-mcp validate ANSWER.json (--tenant T | --all-tenants) [--store DSN]
                         [--sys-store DSN] [--api-store DSN] [--json]

Checks an answer's citations against the store, deterministically (no model involved), and
prints the verdict. Every claim must cite at least one row; every citation must resolve to
exactly one row of the tenant, whose hash recomputes (audit: canonical form; sys/api: content
digest) and, for audit rows, whose prev_hash links to the preceding sealed row of its node.
Values the claim quotes (codes, request ids, hashes, HTTP statuses, seqs, timestamps,
`backticked` literals) must appear in the cited rows. A row of another tenant is reported
exactly like a row that does not exist. See docs/validation.md.

ANSWER.json ('-' reads stdin), as the submit_answer tool of `investigate` produces it:
  {"answer": "optional prose, not checked",
   "claims": [
     {"text": "Stripe returned HTTP 502 for refund request 3a7b1c9e4d20",
      "citations": [{"stream": "api", "seq": 1234, "hash": "<content digest>"},
                    {"stream": "audit", "seq": 812, "hash": "<row hash>"}]}],
   "unknowns": ["optional strings, not checked"]}
  audit: seq = monotonic_seq, hash = the row hash; sys/api: seq = the stream seq, hash = the
  `digest` the tools report.

Options:
  --store DSN       the audit store (default: $FASTEN_AUDIT_DSN)
  --sys-store DSN   the sys stream store (default: the audit database, table syslog)
  --api-store DSN   the api stream store (default: the audit database, table api_log)
  --tenant T        check as tenant T (default: $FASTEN_TENANT_ID)
  --all-tenants     check against every tenant's rows (operator use only)
  --json            the verdict as JSON on stdout
  --integrity-margin D  how far the integrity verdict's window reaches beyond the cited rows'
                    time span, each side: 30m (default), 1h, 90s, 0
  --checkpoints FILE  a checkpoint log (fasten-mcp checkpoint): integrity verdicts also say
                    whether each node is anchored by a signed checkpoint inside the window, and a
                    row that does not match its checkpoint is a break (docs/evidence.md)
  --pubkey PUB      a public key trusted to sign the checkpoints (repeatable)
  --tsa-ca PEM      trusted roots of the checkpoints' timestamp authority

Exit status: 0 accepted, 1 rejected, 2 usage or I/O error (including a store error).
)";

namespace {

using nlohmann::json;

int Fail(CommandIo& io, const Status& st) {
  io.err << "fasten-mcp validate: " << st.message() << "\n";
  return kExitUsage;
}

// An answer file is at most this large (validate_answer's own arguments are far smaller).
constexpr size_t kMaxAnswerBytes = 16 << 20;

Status ReadAll(const std::string& path, std::string* out) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return NotFoundError("cannot read " + path);
    in = &file;
  }
  out->clear();
  char buf[65536];
  while (in->read(buf, sizeof buf) || in->gcount() > 0) {
    out->append(buf, static_cast<size_t>(in->gcount()));
    if (out->size() > kMaxAnswerBytes) {
      return ResourceExhaustedError(path + " is larger than " + std::to_string(kMaxAnswerBytes) +
                                    " bytes (the limit for an answer)");
    }
  }
  return Status::Ok();
}

void PrintHuman(const Verdict& v, std::ostream& out) {
  out << (v.accepted ? "ACCEPTED" : "REJECTED") << ": " << v.claims_ok << "/" << v.claims.size()
      << " claims, " << v.citations_ok << "/" << v.citations << " citations ok ("
      << v.store_round_trips << " store round trips)\n";
  for (const CitationProblem& p : v.problems) out << "  " << p.reason << ": " << p.message << "\n";
  for (size_t i = 0; i < v.claims.size(); ++i) {
    const ClaimResult& c = v.claims[i];
    out << "\n" << (c.ok ? "[ok]   " : "[FAIL] ") << "claim " << (i + 1) << ": " << c.text << "\n";
    for (const CitationResult& r : c.citations) {
      out << "    " << (r.ok ? "ok   " : "FAIL ") << CitationStreamName(r.citation.stream)
          << " seq " << r.citation.seq << " " << r.citation.hash.substr(0, 16)
          << (r.citation.hash.size() > 16 ? "..." : "");
      if (!r.row_summary.empty()) out << "  " << r.row_summary;
      if (!r.integrity.empty()) out << "  [" << r.integrity << "]";
      out << "\n";
      for (const CitationProblem& p : r.problems) {
        out << "         " << p.reason << ": " << p.message << "\n";
      }
    }
    const std::string integrity = DescribeClaimIntegrity(c);
    if (!integrity.empty()) out << "    " << integrity << "\n";
    for (const CitationProblem& p : c.problems) {
      out << "    " << p.reason << ": " << p.message << "\n";
    }
  }
  if (v.integrity) out << "\n" << v.integrity->line << "\n";
  out << "\nsys/api citations are content-addressed, not chained: a matching digest proves it is "
         "the row that was read, not that it is untampered.\n";
}

}  // namespace

int RunValidate(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  specs.push_back({"tenant", true});
  specs.push_back({"all-tenants", false});
  specs.push_back({"json", false});
  specs.push_back({"integrity-margin", true});
  specs.insert(specs.end(), std::begin(kAnchorFlags), std::end(kAnchorFlags));
  Result<Args> args = Args::Parse("validate", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, args.status());
  if (args->Has("help")) {
    io.out << kValidateHelp;
    return kExitOk;
  }
  if (args->positionals().size() != 1) {
    return Fail(io, InvalidArgumentError("name one ANSWER.json file (or '-' for stdin); see "
                                         "fasten-mcp validate --help"));
  }
  std::optional<std::string> tenant = args->Get("tenant");
  if (!tenant) tenant = io.env.Get("FASTEN_TENANT_ID");
  const bool all = args->Has("all-tenants");
  if (tenant && all) {
    return Fail(io, InvalidArgumentError("give either --tenant or --all-tenants, not both"));
  }
  if (tenant && tenant->empty()) return Fail(io, InvalidArgumentError("--tenant is empty"));
  if (!tenant && !all) {
    return Fail(io, InvalidArgumentError("name the tenant the answer is for (--tenant T), or "
                                         "--all-tenants to check against every tenant's rows"));
  }
  std::string text;
  Status st = ReadAll(args->positionals()[0], &text);
  if (!st.ok()) return Fail(io, st);
  json doc;
  st = ParseJsonStatus(text, JsonLimits{text.size(), kMaxJsonDepth}, args->positionals()[0], &doc);
  if (!st.ok()) return Fail(io, st);
  Answer answer;
  st = ParseAnswer(doc, &answer);
  if (!st.ok()) return Fail(io, st);

  StoreSet stores;
  st = OpenStoresFromArgs(*args, io.env, /*need_streams=*/true, &stores);
  if (!st.ok()) return Fail(io, st);
  // --tenant T, or the operator's --all-tenants (checked above).
  const TenantScope scope = app::LaunchScopes::FromFlag(tenant);
  CitationCheckOptions options;
  st = IntegrityMarginFlag(*args, &options.integrity_margin);
  if (!st.ok()) return Fail(io, st);
  Result<std::optional<anchor::AnchorConfig>> anchors = ReadAnchorFlags(*args);
  if (!anchors.ok()) return Fail(io, anchors.status());
  std::shared_ptr<const AnchorTips> tips;
  if (anchors.value()) {
    Result<std::shared_ptr<const AnchorTips>> t = anchor::AnchorTipsCache(*anchors.value()).Get();
    if (!t.ok()) return Fail(io, t.status());
    tips = std::move(t.value());
    options.anchors = tips.get();
  }
  Verdict verdict;
  ValidateAnswer(scope, answer, stores.view(), options, &verdict);
  if (args->Has("json")) {
    io.out << DumpJson(VerdictJson(verdict), 2) << "\n";
  } else {
    PrintHuman(verdict, io.out);
  }
  if (!verdict.error.ok()) {
    io.err << "fasten-mcp validate: the answer could not be checked: " << verdict.error.message()
           << "\n";
    return kExitUsage;
  }
  return verdict.accepted ? kExitOk : kExitFinding;
}

}  // namespace fasten
