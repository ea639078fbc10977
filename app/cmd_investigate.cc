// `fasten-mcp investigate`: a question in plain English, answered by a model through the read
// tools, with every claim's citations checked by the validator before anything is printed.
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "anchor/tips_cache.h"
#include "app/anchor_flags.h"
#include "app/commands.h"
#include "app/investigator_flags.h"
#include "app/launch_scopes.h"
#include "app/store_config.h"
#include "tools/cursor.h"
#include "tools/row_json.h"

namespace fasten {

const char kInvestigateHelp[] =
    R"(Usage: fasten-mcp investigate "QUESTION" --tenant T [--store DSN] [--provider P --model M
                            --base-url URL ...] [--json] [--quiet]

Asks a model (yours: Anthropic, OpenAI, or an OpenAI-compatible server such as vLLM, Ollama or
llama.cpp) to investigate QUESTION for tenant T with fasten-mcp's read-only tools, then checks
the answer mechanically: every claim must cite rows {stream, seq, hash} that exist, belong to
the tenant, recompute, link in the chain, were returned to the model in this run, and contain
the values the claim quotes. A rejected answer goes back to the model with the exact reasons
(at most 2 repair turns); after that the result is "insufficient evidence" with what was
rejected. An unverified answer is never printed as an answer. See docs/investigate.md.

Options:
  --tenant T          the tenant to investigate (default: $FASTEN_TENANT_ID); required
  --store DSN         the audit store (default: $FASTEN_AUDIT_DSN)
  --sys-store DSN     the sys stream store (default: the audit database, table syslog)
  --api-store DSN     the api stream store (default: the audit database, table api_log)
  --json              the result as JSON on stdout
  --checkpoints FILE  a checkpoint log: the doctor line also says whether each node is anchored
                      by a signed checkpoint inside the window (docs/evidence.md)
  --pubkey PUB        a public key trusted to sign the checkpoints (repeatable)
  --tsa-ca PEM        trusted roots of the checkpoints' timestamp authority
  --transcript FILE   write the run's transcript (model turns, tool calls and results, usage,
                      verdicts; no keys) to FILE
  --quiet             no progress on stderr
)"
    "%FLAGS%"
    R"(
Example (Ollama on this machine):
  fasten-mcp investigate "why did request 3a7b1c9e4d20 fail?" --tenant acme \
      --store sqlite:///demo.db --provider ollama --model qwen3

Exit status: 0 answer accepted, 1 insufficient evidence (or a budget ended the run first),
2 usage, store or model-provider error, or refused (daily cost cap reached, unpriced model).
)";

namespace {

using nlohmann::json;

int Fail(CommandIo& io, const Status& st) {
  io.err << "fasten-mcp investigate: " << st.message() << "\n";
  return kExitUsage;
}

std::string Money(std::optional<double> usd) {
  if (!usd) return "unknown";
  char buf[32];
  std::snprintf(buf, sizeof buf, "$%.4f", *usd);
  return buf;
}

void PrintHuman(const llm::InvestigateResult& r, const std::string& model, std::ostream& out) {
  const Verdict& v = r.verdict;
  switch (r.outcome) {
    case llm::Outcome::kAccepted:
      out << "ANSWER (accepted: " << v.claims_ok << "/" << v.claims.size() << " claims, "
          << v.citations_ok << "/" << v.citations << " citations verified)\n";
      break;
    case llm::Outcome::kInsufficientEvidence:
      out << "INSUFFICIENT EVIDENCE: " << r.message << "\n";
      break;
    default:
      out << llm::OutcomeName(r.outcome) << ": " << r.message << "\n";
  }
  if (r.outcome == llm::Outcome::kAccepted) {
    if (r.answer.contains("answer") && r.answer["answer"].is_string()) {
      out << "\n" << r.answer["answer"].get<std::string>() << "\n";
    }
    out << "\nClaims, each with the rows it rests on:\n";
    for (size_t i = 0; i < v.claims.size(); ++i) {
      out << "  " << (i + 1) << ". " << v.claims[i].text << "\n";
      for (const CitationResult& c : v.claims[i].citations) {
        out << "     " << CitationStreamName(c.citation.stream) << " seq " << c.citation.seq << " "
            << c.citation.hash.substr(0, 12) << "…  " << c.row_summary << "  [" << c.integrity
            << "]\n";
      }
      const std::string integrity = DescribeClaimIntegrity(v.claims[i]);
      if (!integrity.empty()) out << "     " << integrity << "\n";
    }
    if (r.answer.contains("unknowns") && r.answer["unknowns"].is_array() &&
        !r.answer["unknowns"].empty()) {
      out << "\nNot established:\n";
      for (const json& u : r.answer["unknowns"]) {
        if (u.is_string()) out << "  - " << u.get<std::string>() << "\n";
      }
    }
  }
  // The integrity verdict of the last answer, computed from the chain (never from its words).
  if (v.integrity) out << "\n" << v.integrity->line << "\n";
  if (!r.rejections.empty()) {
    out << "\n"
        << (r.outcome == llm::Outcome::kAccepted ? "Rejected along the way" : "Rejected") << ":\n";
    for (const std::string& s : r.rejections) out << "  - " << s << "\n";
  }
  if (!r.findings.empty()) {
    out << "\nFindings:\n";
    for (const std::string& s : r.findings) out << "  - " << s << "\n";
  }
  out << "\n"
      << model << ": " << r.llm_calls << " model calls, " << r.tool_calls << " tool calls, "
      << r.repairs << " repairs, " << r.ledger_rows << " rows shown; tokens ";
  if (r.usage.known) {
    out << r.usage.input + r.usage.cache_read << " in / " << r.usage.output << " out";
  } else {
    out << "unknown";
  }
  out << "; cost " << Money(r.cost_usd);
  if (!r.pricing_version.empty()) out << " (prices " << r.pricing_version << ")";
  out << "\n";
}

}  // namespace

int RunInvestigate(int argc, char** argv, CommandIo io) {
  std::vector<FlagSpec> specs(std::begin(kStoreFlags), std::end(kStoreFlags));
  specs.insert(specs.end(), kInvestigatorFlags.begin(), kInvestigatorFlags.end());
  specs.push_back({"tenant", true});
  specs.push_back({"json", false});
  specs.push_back({"quiet", false});
  specs.push_back({"transcript", true});
  specs.insert(specs.end(), std::begin(kAnchorFlags), std::end(kAnchorFlags));
  Result<Args> args = Args::Parse("investigate", argc, argv, 2, specs);
  if (!args.ok()) return Fail(io, args.status());
  if (args->Has("help")) {
    std::string help = kInvestigateHelp;
    help.replace(help.find("%FLAGS%"), 7, kInvestigatorFlagsHelp);
    io.out << help;
    return kExitOk;
  }
  if (args->positionals().size() != 1 || args->positionals()[0].empty()) {
    return Fail(io, InvalidArgumentError("ask one question, quoted: fasten-mcp investigate "
                                         "\"why did request X fail?\" --tenant T"));
  }
  std::optional<std::string> tenant = args->Get("tenant");
  if (!tenant) tenant = io.env.Get("FASTEN_TENANT_ID");
  if (!tenant || tenant->empty()) {
    return Fail(io, InvalidArgumentError("name the tenant to investigate (--tenant T); an "
                                         "investigation always reads one tenant's rows"));
  }
  llm::InvestigatorConfig config;
  Status st = ResolveInvestigatorConfig(*args, io.env, &config);
  if (!st.ok()) return Fail(io, st);
  Result<std::optional<anchor::AnchorConfig>> anchors = ReadAnchorFlags(*args);
  if (!anchors.ok()) return Fail(io, anchors.status());
  StoreSet stores;
  st = OpenStoresFromArgs(*args, io.env, /*need_streams=*/true, &stores);
  if (!st.ok()) return Fail(io, st);
  Result<std::unique_ptr<llm::Investigator>> inv = llm::Investigator::Make(config);
  if (!inv.ok()) return Fail(io, inv.status());

  CursorSigner cursors = CursorSigner::WithRandomKey();
  ToolEnv env{app::LaunchScopes::Tenant(*tenant)};
  env.stores = &stores;
  env.cursors = &cursors;
  if (anchors.value()) {
    Result<std::shared_ptr<const AnchorTips>> tips =
        anchor::AnchorTipsCache(*anchors.value()).Get();
    if (!tips.ok()) return Fail(io, tips.status());
    env.anchor_tips = std::move(tips.value());
  }
  const bool quiet = args->Has("quiet");
  auto progress = [&](const std::string& event, const json& d) {
    if (quiet) return;
    std::string line;
    if (event == "llm_call") {
      line = "model call " + d["call"].dump() + " (" + d["model"].get<std::string>() + ")";
    } else if (event == "tool_call") {
      line = "  tool " + d["name"].get<std::string>() + " " + DumpJson(d["args"]);
    } else if (event == "tool_result") {
      line = std::string("    -> ") + (d["is_error"].get<bool>() ? "error" : "ok") + ", " +
             d["rows"].dump() + " rows, " + d["bytes"].dump() + " bytes";
    } else if (event == "validation") {
      line = std::string("  validation: ") + (d["accepted"].get<bool>() ? "accepted" : "rejected") +
             " (" + d["citations_ok"].dump() + "/" + d["citations"].dump() + " citations ok)";
    } else if (event == "warning") {
      line = "warning: " + d["message"].get<std::string>();
    } else {
      return;
    }
    io.err << "investigate: " << line << "\n";
    io.err.flush();
  };
  const std::string model = config.provider.kind + "/" + config.provider.model;
  // The record log names who asked: from the command line, the OS user.
  std::optional<std::string> user = io.env.Get("USER");
  const std::string credential = user && !user->empty() ? "cli:" + *user : "cli";
  llm::Investigator::Recorded recorded;
  llm::InvestigateResult r =
      (*inv)->Run(args->positionals()[0], env, credential, progress, &recorded);
  if (auto path = args->Get("transcript")) {
    std::ofstream f(*path, std::ios::binary | std::ios::trunc);
    f << DumpJson(r.transcript, 2) << "\n";
    if (!f) io.err << "fasten-mcp investigate: could not write the transcript to " << *path << "\n";
  }
  if (args->Has("json")) {
    json j = llm::InvestigateResultJson(r);
    j["model"] = model;
    j["tenant"] = *tenant;
    j["record"] = recorded.id.empty() ? json(nullptr) : json(recorded.id);
    if (!recorded.status.ok()) j["record_error"] = recorded.status.message();
    io.out << DumpJson(j, 2) << "\n";
  } else {
    PrintHuman(r, model, io.out);
    if (!recorded.id.empty()) {
      io.out << "record: " << recorded.id << " (fasten-mcp investigations show " << recorded.id
             << ")\n";
    } else {
      io.out << "record: not recorded: " << recorded.status.message() << "\n";
    }
  }
  switch (r.outcome) {
    case llm::Outcome::kAccepted:
      return kExitOk;
    case llm::Outcome::kInsufficientEvidence:
    case llm::Outcome::kBudgetExhausted:
      return kExitFinding;
    case llm::Outcome::kRefused:
    case llm::Outcome::kProviderError:
      if (!args->Has("json")) io.err << "fasten-mcp investigate: " << r.message << "\n";
      return kExitUsage;
  }
  return kExitUsage;
}

}  // namespace fasten
