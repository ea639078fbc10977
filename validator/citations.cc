#include "validator/citations.h"

#include <algorithm>
#include <memory>

#include "store/reader.h"
#include "store/timestamp.h"
#include "util/crypto.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/digest.h"

namespace fasten {
namespace {

bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string CitationText(const Citation& c) {
  return std::string(CitationStreamName(c.stream)) +
         (c.stream == CitationStream::kAudit ? " row (monotonic_seq " : " row (seq ") +
         std::to_string(c.seq) + ", " + (c.stream == CitationStream::kAudit ? "hash " : "digest ") +
         c.hash + ")";
}

// The one not_found message: built from the citation alone, so a row of another tenant and a
// row that does not exist read the same, byte for byte.
CitationProblem NotFound(const Citation& c) {
  return {kReasonNotFound,
          "no " + CitationText(c) +
              " is visible to this caller; cite only rows exactly as the tools returned them "
              "(audit: monotonic_seq and hash; sys/api: seq and digest)",
          ""};
}

}  // namespace

const char* CitationStreamName(CitationStream stream) {
  switch (stream) {
    case CitationStream::kAudit:
      return "audit";
    case CitationStream::kSys:
      return "sys";
    case CitationStream::kApi:
      return "api";
  }
  return "audit";
}

void CitationLedger::Add(CitationStream stream, int64_t seq, std::string hash) {
  rows_.emplace(static_cast<int>(stream), seq, std::move(hash));
}

bool CitationLedger::Contains(const Citation& c) const {
  return rows_.count({static_cast<int>(c.stream), c.seq, c.hash}) > 0;
}

// ---------------------------------------------------------------------------------------------
// Validation.

namespace {

// What one distinct citation resolved to.
struct Resolved {
  bool checked = false;
  std::vector<CitationProblem> problems;  // (a), (b), (d), (e); (c) is added per use
  bool found = false;                     // passed (a) and (b)
  std::string summary, integrity;
  // Audit: why the row fails verification ("hash mismatch", "broken link", ...); empty when it
  // verifies. A "tampered" claim may rest on such a row.
  std::string tamper_why;
  // The row (owned here, never moved once the haystack points into it).
  std::optional<AuditRow> audit_row;
  std::optional<StreamRow> stream_row;
  Haystack haystack;
};

using AuditKey2 = std::pair<int64_t, std::string>;

std::string AuditSummary(const AuditRow& r) {
  std::string s = r.code + " " + r.severity;
  if (!r.request_id.empty()) s += " request_id=" + r.request_id;
  s += " node=" + r.source_node_id + " at " +
       (r.timestamp_ok ? CanonicalTimestamp(r.timestamp_us) : r.timestamp);
  return s;
}

std::string StreamSummary(const StreamRow& r) {
  std::string s;
  if (r.kind == StreamKind::kApi) {
    s = r.method + " " + r.path;
    if (r.has_status) s += " -> " + std::to_string(r.status);
  } else {
    s = r.level + " " + r.event;
  }
  if (!r.request_id.empty()) s += " request_id=" + r.request_id;
  s += " at " + (r.timestamp_ok ? CanonicalTimestamp(r.timestamp_us) : r.timestamp);
  return s;
}

CitationProblem ChainBreak(const Citation& c, const std::string& why) {
  return {kReasonChainBreak,
          "the " + CitationText(c) + " does not link to its chain: " + why +
              ". The chain around it is broken (deleted or altered rows); do not rest a claim on "
              "it alone: run chain_verify over its node and seq range and report the break",
          ""};
}

void AppendWhy(std::string* why, const std::string& more) {
  if (!why->empty()) *why += "; ";
  *why += more;
}

class Validator {
 public:
  Validator(const TenantScope& scope, const StoreView& stores, Verdict* v)
      : scope_(scope), stores_(stores), v_(v) {}

  Status Run(const Answer& answer) {
    // Distinct well-formed citations, by stream.
    std::vector<AuditKey2> audit_pairs;
    for (const Claim& claim : answer.claims) {
      for (const Citation& c : claim.citations) {
        if (!WellFormed(c)) continue;
        if (c.stream == CitationStream::kAudit) {
          if (audit_.try_emplace({c.seq, c.hash}).second) audit_pairs.emplace_back(c.seq, c.hash);
        } else {
          stream_.try_emplace({static_cast<int>(c.stream), c.seq});
        }
      }
    }
    FASTEN_RETURN_IF_ERROR(ResolveAudit(audit_pairs));
    FASTEN_RETURN_IF_ERROR(ResolveStreams());
    return Status::Ok();
  }

  static bool WellFormed(const Citation& c) { return c.seq >= 1 && IsLowerHex64(c.hash); }

  const Resolved* Find(const Citation& c) const {
    if (c.stream == CitationStream::kAudit) {
      auto it = audit_.find({c.seq, c.hash});
      return it == audit_.end() ? nullptr : &it->second;
    }
    auto it = stream_.find({static_cast<int>(c.stream), c.seq});
    return it == stream_.end() ? nullptr : &it->second.resolved;
  }
  // A stream citation also needs its digest compared.
  const std::string* StreamDigest(const Citation& c) const {
    auto it = stream_.find({static_cast<int>(c.stream), c.seq});
    return it == stream_.end() || !it->second.resolved.found ? nullptr : &it->second.digest;
  }

 private:
  struct StreamEntry {
    Resolved resolved;
    std::string digest;
    bool canonical = true;
  };

  Status ResolveAudit(const std::vector<AuditKey2>& pairs) {
    if (pairs.empty()) return Status::Ok();
    std::vector<AuditRow> rows, links;
    ++v_->store_round_trips;
    // `rows` are the ones the scope sees (the reader filters); `links` are every tenant's.
    FASTEN_RETURN_IF_ERROR(
        stores_.audit->FindBySeqHashBatchWithLinks(scope_, pairs, &rows, &links));
    std::map<AuditKey2, std::vector<AuditRow*>> by_key;
    for (AuditRow& r : rows) by_key[{r.monotonic_seq, r.hash}].push_back(&r);
    // Rows already at hand, to confirm links without a query: (node, seq, hash).
    std::set<std::tuple<std::string, int64_t, std::string>> at_hand;
    // Only the caller's rows: whether a foreign row was at hand must not change anything
    // observable (not even the round-trip count).
    for (const AuditRow& r : rows) at_hand.emplace(r.source_node_id, r.monotonic_seq, r.hash);
    // The link candidates came in the same round trip (any tenant: they only confirm links).
    for (const AuditRow& r : links) at_hand.emplace(r.source_node_id, r.monotonic_seq, r.hash);

    struct Pending {
      Resolved* resolved;
      Citation citation;
      const AuditRow* row;
    };
    std::vector<Pending> pending;
    RowChecker checker;
    for (const AuditKey2& key : pairs) {
      Resolved& res = audit_[key];
      res.checked = true;
      Citation c{CitationStream::kAudit, key.first, key.second};
      const std::vector<AuditRow*>& visible = by_key[key];
      if (visible.empty()) {
        res.problems.push_back(NotFound(c));
        continue;
      }
      if (visible.size() > 1) {
        res.problems.push_back(
            {kReasonAmbiguous,
             std::to_string(visible.size()) + " audit rows share (monotonic_seq " +
                 std::to_string(key.first) + ", hash " + key.second +
                 "): the store is inconsistent (run chain_verify); cite another row",
             ""});
        continue;
      }
      res.audit_row = std::move(*visible[0]);
      const AuditRow& row = *res.audit_row;
      res.found = true;
      res.summary = AuditSummary(row);
      BuildAuditHaystack(row, &res.haystack);
      RowCheck check = checker.Check(row);
      res.integrity = check.Summary();
      if (!check.ok()) {
        res.tamper_why = check.Summary();
        res.problems.push_back(
            {kReasonHashMismatch,
             "the " + CitationText(c) + " does not recompute (" + check.Summary() +
                 "): its stored content was altered after sealing. It is evidence of tampering, "
                 "not of what it says; do not cite it for its content",
             ""});
      }
      // (e) The link, when it can be decided from what is at hand.
      if (row.prev_hash == "genesis" && row.monotonic_seq == 1) continue;
      if (row.prev_hash != "genesis" &&
          at_hand.count({row.source_node_id, row.monotonic_seq - 1, row.prev_hash})) {
        continue;
      }
      pending.push_back({&res, c, &row});
    }
    if (pending.empty()) return Status::Ok();

    for (const Pending& p : pending) {
      const AuditRow& row = *p.row;
      if (row.prev_hash != "genesis" &&
          at_hand.count({row.source_node_id, row.monotonic_seq - 1, row.prev_hash})) {
        continue;
      }
      // The nearest preceding sealed row, whatever its seq.
      std::optional<Predecessor> pred;
      ++v_->store_round_trips;
      FASTEN_RETURN_IF_ERROR(
          stores_.audit->FindPredecessor(scope_, row.source_node_id, row.monotonic_seq, &pred));
      if (pred) {
        if (pred->hash == row.prev_hash) continue;
        AppendWhy(&p.resolved->tamper_why, row.prev_hash == "genesis"
                                               ? "broken link (\"genesis\" after sealed rows)"
                                               : "broken link (prev_hash does not match the "
                                                 "preceding sealed row)");
        p.resolved->problems.push_back(ChainBreak(
            p.citation, row.prev_hash == "genesis"
                            ? "its prev_hash is \"genesis\" but sealed rows precede it on its node "
                              "(a restarted legacy Go engine, or rows inserted before it)"
                            : "its prev_hash is not the hash of the preceding sealed row on its "
                              "node (that row was deleted, altered or re-sealed)"));
      } else if (row.prev_hash != "genesis") {
        AppendWhy(&p.resolved->tamper_why, "missing predecessor (no sealed row precedes it)");
        p.resolved->problems.push_back(ChainBreak(
            p.citation,
            "no sealed row precedes it on its node although its prev_hash names one (the rows "
            "before it were deleted or purged)"));
      }
    }
    return Status::Ok();
  }

  Status ResolveStreams() {
    Canonicalizer canon;
    Sha256 sha;
    for (auto& [key, entry] : stream_) {
      const bool sys = key.first == static_cast<int>(CitationStream::kSys);
      StreamReader* reader = sys ? stores_.sys : stores_.api;
      if (!reader) {
        const std::string why(sys ? stores_.sys_missing_why : stores_.api_missing_why);
        return FailedPreconditionError(std::string("the ") + (sys ? "sys" : "api") +
                                       " stream has no store" + (why.empty() ? "" : ": " + why) +
                                       "; its citations cannot be checked");
      }
      entry.resolved.checked = true;
      std::optional<StreamRow> row;
      ++v_->store_round_trips;
      FASTEN_RETURN_IF_ERROR(reader->FindBySeq(scope_, key.second, &row));
      if (!row) continue;  // not_found per use (the reader hides rows the scope does not see)
      entry.resolved.found = true;
      ContentDigest d = StreamContentDigest(row->payload, &canon, &sha);
      entry.digest = d.hex;
      entry.canonical = d.canonical;
      entry.resolved.summary = StreamSummary(*row);
      entry.resolved.integrity = kStreamDigestLabel;
      entry.resolved.stream_row = std::move(*row);
      BuildStreamHaystack(*entry.resolved.stream_row, entry.digest, &entry.resolved.haystack);
    }
    return Status::Ok();
  }

  const TenantScope& scope_;
  const StoreView& stores_;
  Verdict* v_;
  std::map<AuditKey2, Resolved> audit_;
  std::map<std::pair<int, int64_t>, StreamEntry> stream_;
};

}  // namespace

namespace {

// The integrity verdicts one answer needs, each computed once per distinct scope.
class VerdictCache {
 public:
  VerdictCache(AuditReader* reader, const TenantScope& tenant, Verdict* v,
               const AnchorTips* anchors)
      : reader_(reader), tenant_(tenant), v_(v), anchors_(anchors) {}

  // Null on a store error (then v_->error is set).
  const IntegrityVerdict* Get(const IntegrityScope& scope, const std::string& basis) {
    for (const auto& e : entries_) {
      if (e->scope.since == scope.since && e->scope.until == scope.until &&
          e->scope.nodes == scope.nodes) {
        return e.get();
      }
    }
    auto e = std::make_unique<IntegrityVerdict>();
    e->basis = basis;
    ++v_->integrity_verdicts;
    Status st =
        ComputeIntegrityVerdict(reader_, tenant_, scope, e.get(), kMaxVerdictSeqs, anchors_);
    if (!st.ok()) {
      if (v_->error.ok()) v_->error = st;
      return nullptr;
    }
    entries_.push_back(std::move(e));
    return entries_.back().get();
  }

 private:
  AuditReader* reader_;
  const TenantScope& tenant_;
  Verdict* v_;
  const AnchorTips* anchors_;
  std::vector<std::unique_ptr<IntegrityVerdict>> entries_;
};

std::optional<Micros> RowTime(const Resolved& r) {
  if (r.audit_row && r.audit_row->timestamp_ok) return r.audit_row->timestamp_us;
  if (r.stream_row && r.stream_row->timestamp_ok) return r.stream_row->timestamp_us;
  return std::nullopt;
}

struct Span {
  bool any = false;
  Micros first = 0, last = 0;
  void Add(Micros t) {
    if (!any || t < first) first = t;
    if (!any || t > last) last = t;
    any = true;
  }
};

std::string MarginText(Micros margin) {
  if (margin % kMicrosPerMinute == 0) return std::to_string(margin / kMicrosPerMinute) + " min";
  return std::to_string(margin / 1000000) + " s";
}

std::string Quote(const IntegrityAssertion& a) {
  return "'" + a.phrase + "'";
}

// The integrity_contradicted message of an "intact" claim whose scope is not ok.
std::string IntactContradiction(const IntegrityVerdict& iv) {
  const std::string window = FormatWindow(iv.scope.since, iv.scope.until);
  if (iv.too_large) {
    return "the claim asserts the chain is intact, but its scope (window " + window + ") spans " +
           std::to_string(iv.window_seqs) + " audit rows, more than the " +
           std::to_string(iv.max_seqs) +
           " one answer's verdict verifies, so it was not verified: narrow the claim's scope "
           "(cite rows close together, or give scope {since, until, nodes})";
  }
  if (iv.empty()) {
    return "the claim asserts the chain is intact, but its scope (window " + window +
           (iv.scope.nodes_listed() ? ", the nodes it names" : "") +
           ") holds none of your audit rows: nothing there was verified, so nothing can be "
           "called intact. Cite rows inside the window you mean, or drop \"integrity\"";
  }
  std::string what;
  for (const NodeIntegrity& n : iv.nodes) {
    if (n.ok) continue;
    if (!what.empty()) what += "; ";
    if (!n.present) {
      what += "no audit rows on " + n.source_node_id;
    } else if (n.first_break) {
      what += "BREAK on " + n.source_node_id + " at seq " + std::to_string(n.first_break->seq) +
              " (" + BreakPhrase(*n.first_break) + ")";
    } else {
      what += "BREAK on " + n.source_node_id;
    }
  }
  return "the claim asserts the chain is intact, but fasten's verdict over its scope (window " +
         window + ", " + (iv.scope.nodes_listed() ? "the nodes it names" : "every node") +
         ") is not ok: " + what +
         ". Report the break instead (a claim with \"integrity\": \"tampered\" citing the row that "
         "fails), or narrow the claim's scope to what verifies and say so";
}

}  // namespace

void ValidateAnswer(const TenantScope& scope, const Answer& answer, const StoreView& stores,
                    const CitationCheckOptions& options, Verdict* out) {
  *out = Verdict();
  Verdict& v = *out;
  v.ledger_checked = options.ledger != nullptr;
  if (!stores.audit) {
    v.error = FailedPreconditionError("no audit store to check citations against");
    return;
  }
  Validator validator(scope, stores, &v);
  Status st = validator.Run(answer);
  if (!st.ok()) {
    v.error = st;
    v.accepted = false;
    return;
  }
  VerdictCache verdicts(stores.audit, scope, &v, options.anchors);
  const Micros margin = options.integrity_margin;
  if (answer.claims.empty()) {
    v.problems.push_back({kReasonNoClaims,
                          "the answer has no claims: state each finding as a claim with at least "
                          "one citation {stream, seq, hash}",
                          ""});
    ++v.rejections[kReasonNoClaims];
  }
  Span answer_span;          // every resolved cited row of the answer
  bool cites_audit = false;  // a well-formed audit citation
  bool integrity_talk = false;
  std::vector<IntegrityScope> claim_scopes(answer.claims.size());
  for (size_t ci = 0; ci < answer.claims.size(); ++ci) {
    const Claim& claim = answer.claims[ci];
    ClaimResult cr;
    cr.text = claim.text;
    cr.integrity.field = claim.integrity;
    cr.integrity.scope_explicit = claim.scope.has_value();
    const bool tampered = claim.integrity == IntegrityPolarity::kTampered;
    std::vector<const Haystack*> hay;
    Span claim_span;
    int audit_cited = 0;
    for (const Citation& c : claim.citations) {
      CitationResult r;
      r.citation = c;
      ++v.citations;
      if (!Validator::WellFormed(c)) {
        r.problems.push_back(
            {kReasonMalformed,
             "citation " + std::string(CitationStreamName(c.stream)) + " seq " +
                 std::to_string(c.seq) + " hash \"" + c.hash +
                 "\" is malformed: seq must be >= 1 and hash 64 lowercase hex characters, copied "
                 "from a tool result",
             ""});
      } else {
        if (c.stream == CitationStream::kAudit) {
          cites_audit = true;
          ++audit_cited;
        }
        const Resolved* res = validator.Find(c);
        const std::string* digest =
            c.stream == CitationStream::kAudit ? nullptr : validator.StreamDigest(c);
        if (!res || !res->found) {
          r.problems = res && !res->problems.empty() ? res->problems
                                                     : std::vector<CitationProblem>{NotFound(c)};
        } else {
          r.row_summary = res->summary;
          r.integrity = res->integrity;
          if (std::optional<Micros> t = RowTime(*res)) {
            claim_span.Add(*t);
            answer_span.Add(*t);
          }
          if (options.ledger && !options.ledger->Contains(c)) {
            r.problems.push_back(
                {kReasonNotShown,
                 "the " + CitationText(c) +
                     " was not returned to you by any tool in this run: cite only rows you were "
                     "shown, or fetch this one first (row_get) and check what it says",
                 ""});
          }
          if (digest && *digest != c.hash) {
            r.integrity = "digest differs";
            r.problems.push_back(
                {kReasonHashMismatch,
                 "the stored payload of " + std::string(CitationStreamName(c.stream)) +
                     " row seq " + std::to_string(c.seq) + " has content digest " + *digest +
                     ", not " + c.hash +
                     ": the row changed since it was read, or the digest was miscopied; cite "
                     "the digest the tools report now",
                 ""});
          }
          if (tampered && c.stream == CitationStream::kAudit) {
            // The one case where a row that fails verification is valid evidence: what it
            // fails is the finding; a row that verifies contradicts the claim.
            if (!res->tamper_why.empty()) {
              r.tamper_evidence = res->tamper_why;
            } else {
              r.problems.push_back(
                  {kReasonIntegrityContradicted,
                   "the claim is marked \"integrity\": \"tampered\", but the " + CitationText(c) +
                       " verifies (its hash recomputes and it links to the row before it), so it "
                       "is not evidence of tampering: cite the row that fails verification "
                       "(chain_verify names it), or drop \"integrity\"",
                   ""});
            }
            for (const CitationProblem& p : res->problems) {
              if (p.reason != kReasonHashMismatch && p.reason != kReasonChainBreak) {
                r.problems.push_back(p);
              }
            }
          } else {
            for (const CitationProblem& p : res->problems) r.problems.push_back(p);
          }
          hay.push_back(&res->haystack);
        }
      }
      r.ok = r.problems.empty();
      if (r.ok) ++v.citations_ok;
      for (const CitationProblem& p : r.problems) ++v.rejections[p.reason];
      cr.citations.push_back(std::move(r));
    }
    if (claim.citations.empty()) {
      cr.problems.push_back({kReasonUncited,
                             "this claim cites no row: add at least one citation {stream, seq, "
                             "hash} of a row that shows it, or drop the claim",
                             ""});
    } else if (!hay.empty()) {
      for (const GroundingToken& t : ExtractGroundingTokens(claim.text)) {
        bool ok = false;
        for (const Haystack* h : hay) {
          if (Grounded(t, *h)) {
            ok = true;
            break;
          }
        }
        if (ok) {
          cr.grounded.push_back(t.text);
          continue;
        }
        const std::string hint = GroundingHint(t, hay);
        cr.problems.push_back(
            {kReasonUngrounded,
             std::string("value \"") + t.text + "\" (" + GroundingKindName(t.kind) +
                 ") not in cited rows" + (hint.empty() ? "" : " (they contain: " + hint + ")") +
                 ": correct the value, cite the row that contains it, or drop it from the claim",
             t.text});
      }
    }
    // Integrity: the words must carry the field, and the field must agree with the chain.
    IntegrityAssertion offending;
    switch (CheckIntegrityMarking(claim.text, claim.integrity, &offending)) {
      case IntegrityMarking::kConsistent:
        break;
      case IntegrityMarking::kUnmarked:
        cr.problems.push_back(
            {kReasonIntegrityUnmarked,
             "the claim says " + Quote(offending) +
                 " (an integrity statement: " + IntegrityPolarityName(offending.polarity) +
                 ") without the claim's \"integrity\" field: integrity is decided by the chain, "
                 "not by words. Add \"integrity\": \"" +
                 IntegrityPolarityName(offending.polarity) +
                 "\" to this claim (it is then checked against fasten's chain verdict), or "
                 "remove the statement",
             ""});
        break;
      case IntegrityMarking::kConflicting:
        cr.problems.push_back(
            {kReasonIntegrityUnmarked,
             "the claim is marked \"integrity\": \"" +
                 std::string(IntegrityPolarityName(claim.integrity)) + "\" but says " +
                 Quote(offending) +
                 " (an integrity statement: " + IntegrityPolarityName(offending.polarity) +
                 "): state one finding per claim, with the field that matches its words",
             ""});
        break;
    }
    if (claim.integrity != IntegrityPolarity::kNone ||
        DetectIntegrityAssertion(claim.text).polarity != IntegrityPolarity::kNone) {
      integrity_talk = true;
    }
    if (tampered && audit_cited == 0 && !claim.citations.empty()) {
      cr.problems.push_back(
          {kReasonIntegrityContradicted,
           "the claim is marked \"integrity\": \"tampered\" but cites no audit row: cite the "
           "audit row(s) that fail verification (chain_verify names the first break)",
           ""});
    }
    if (claim.integrity != IntegrityPolarity::kNone) {
      IntegrityScope scope;
      bool placed = true;
      if (claim_span.any) scope = WidenedScope(claim_span.first, claim_span.last, margin);
      if (claim.scope) {
        if (claim.scope->since) scope.since = *claim.scope->since;
        if (claim.scope->until) scope.until = *claim.scope->until;
        scope.nodes = claim.scope->nodes;
        placed = claim_span.any || (claim.scope->since && claim.scope->until);
      } else {
        placed = claim_span.any;
      }
      if (placed && scope.until < scope.since) {
        cr.problems.push_back(
            {kReasonIntegrityContradicted, "the claim's scope ends before it starts", ""});
        placed = false;
      }
      claim_scopes[ci] = scope;
      if (!placed) {
        if (!claim.citations.empty() && !hay.empty()) {
          cr.problems.push_back(
              {kReasonIntegrityContradicted,
               "the claim's window cannot be placed: none of its cited rows has a readable "
               "timestamp; give \"scope\": {\"since\", \"until\"}",
               ""});
        }
      } else if (claim.integrity == IntegrityPolarity::kIntact) {
        const std::string basis = claim.scope && (claim.scope->since || claim.scope->until)
                                      ? "claim scope"
                                      : "claim's cited rows ± " + MarginText(margin);
        const IntegrityVerdict* iv = verdicts.Get(scope, basis);
        if (!iv) return;  // store error: v.error is set, nothing is accepted
        cr.integrity.verdict = *iv;
        if (!iv->ok) {
          cr.problems.push_back({kReasonIntegrityContradicted, IntactContradiction(*iv), ""});
        }
      }
    }
    for (const CitationProblem& p : cr.problems) ++v.rejections[p.reason];
    cr.ok = cr.problems.empty() && std::all_of(cr.citations.begin(), cr.citations.end(),
                                               [](const CitationResult& r) { return r.ok; });
    if (cr.ok) ++v.claims_ok;
    v.claims.push_back(std::move(cr));
  }

  // The answer's window and its verdict.
  const std::vector<IntegrityAssertion> statements = FindIntegrityStatements(answer.prose);
  integrity_talk = integrity_talk || !statements.empty();
  std::optional<IntegrityScope> answer_scope;
  std::string basis;
  if (answer.window) {
    // A stated window never hides the cited rows' own surroundings: it is widened to cover
    // them (± the margin), so an answer cannot state a window that stops just short of a break
    // next to the rows it rests on.
    answer_scope = IntegrityScope{answer.window->first, answer.window->second, {}};
    basis = "stated window";
    if (answer_span.any) {
      IntegrityScope rows = WidenedScope(answer_span.first, answer_span.last, margin);
      if (rows.since < answer_scope->since || rows.until > answer_scope->until) {
        answer_scope->since = std::min(answer_scope->since, rows.since);
        answer_scope->until = std::max(answer_scope->until, rows.until);
        basis = "stated window, widened to the cited rows ± " + MarginText(margin);
      }
    }
  } else if (answer_span.any) {
    answer_scope = WidenedScope(answer_span.first, answer_span.last, margin);
    basis = "cited rows ± " + MarginText(margin);
  }
  if (answer_scope && options.answer_verdict && (cites_audit || answer.window || integrity_talk)) {
    const IntegrityVerdict* iv = verdicts.Get(*answer_scope, basis);
    if (!iv) {
      v.accepted = false;
      return;
    }
    v.integrity = *iv;
    v.integrity->basis = basis;
  }
  // The answer text may state integrity only as far as accepted claims of that polarity back it:
  // "intact" over the answer's whole window on every node; "tampered" by at least one accepted
  // tampered claim (one altered row makes the statement true; its row lies in the window).
  bool intact_reported = false, tampered_reported = false, anchored_reported = false;
  for (const IntegrityAssertion& a : statements) {
    // "Anchored" needs the checkpoints: every node of the answer's window anchored by one.
    if (SaysAnchored(a) && !anchored_reported && v.integrity) {
      std::string why;
      if (!v.integrity->anchors_checked) {
        why = "no checkpoint log was given to check it against";
      } else if (const NodeIntegrity* n = v.integrity->FirstUnanchored()) {
        why = "node " + n->source_node_id + " is not anchored" +
              (n->anchor_note.empty() ? std::string() : " (" + n->anchor_note + ")");
      }
      if (!why.empty()) {
        anchored_reported = true;
        v.problems.push_back({kReasonIntegrityContradicted,
                              "the answer text says " + Quote(a) +
                                  " (anchored), but fasten's checkpoints do not back it: " + why +
                                  "; remove the statement from the text",
                              ""});
        ++v.rejections[kReasonIntegrityContradicted];
      }
    }
    if (a.polarity == IntegrityPolarity::kIntact && !intact_reported) {
      bool backed = false;
      if (answer_scope && v.integrity) {
        std::vector<std::string> seen;
        for (const NodeIntegrity& n : v.integrity->nodes) seen.push_back(n.source_node_id);
        for (size_t i = 0; i < v.claims.size() && !backed; ++i) {
          backed = v.claims[i].ok && answer.claims[i].integrity == IntegrityPolarity::kIntact &&
                   ScopeCovers(claim_scopes[i], *answer_scope, seen);
        }
      }
      if (!backed) {
        intact_reported = true;
        v.problems.push_back(
            {kReasonIntegrityUnmarked,
             "the answer text says " + Quote(a) +
                 " (an integrity statement: intact), but no accepted claim marked \"integrity\": "
                 "\"intact\" covers the answer's whole window" +
                 (answer_scope ? " (" + FormatWindow(answer_scope->since, answer_scope->until) + ")"
                               : std::string()) +
                 " on every node: add such a claim (fasten checks it against the chain), or "
                 "remove the statement from the text",
             ""});
      }
    } else if (a.polarity == IntegrityPolarity::kTampered && !tampered_reported) {
      bool backed = false;
      for (size_t i = 0; i < v.claims.size() && !backed; ++i) {
        backed = v.claims[i].ok && answer.claims[i].integrity == IntegrityPolarity::kTampered;
      }
      if (!backed) {
        tampered_reported = true;
        v.problems.push_back(
            {kReasonIntegrityUnmarked,
             "the answer text says " + Quote(a) +
                 " (an integrity statement: tampered), but no accepted claim marked "
                 "\"integrity\": \"tampered\" backs it: add a claim with that field citing the "
                 "audit row that fails verification, or remove the statement from the text",
             ""});
      }
    }
  }
  for (const CitationProblem& p : v.problems) {
    if (p.reason == kReasonIntegrityUnmarked) ++v.rejections[p.reason];
  }
  v.accepted = v.error.ok() && !answer.claims.empty() && v.problems.empty() &&
               v.claims_ok == static_cast<int64_t>(v.claims.size());
}

std::string DescribeClaimIntegrity(const ClaimResult& c) {
  if (c.integrity.field == IntegrityPolarity::kNone) return "";
  std::string s = std::string("integrity: ") + IntegrityPolarityName(c.integrity.field);
  if (c.integrity.scope_explicit) s += " (over the scope the claim names)";
  if (c.integrity.verdict) s += " · " + c.integrity.verdict->line;
  std::string evidence;
  for (const CitationResult& r : c.citations) {
    if (r.tamper_evidence.empty()) continue;
    evidence += std::string(evidence.empty() ? "" : "; ") + "seq " +
                std::to_string(r.citation.seq) + " " + r.tamper_evidence;
  }
  if (!evidence.empty()) s += " · evidence: " + evidence;
  return s;
}

std::string RepairText(const Verdict& v) {
  if (v.accepted) return "";
  std::string s;
  if (!v.error.ok()) {
    return "The answer could not be checked (" + v.error.message() +
           "); it is not accepted. Retry later.";
  }
  s = "The answer was rejected. Fix every problem below and submit the whole answer again.\n";
  for (const CitationProblem& p : v.problems) s += "- " + p.reason + ": " + p.message + "\n";
  for (size_t i = 0; i < v.claims.size(); ++i) {
    const ClaimResult& c = v.claims[i];
    if (c.ok) continue;
    s += "- claim " + std::to_string(i + 1) + " \"" + c.text + "\":\n";
    for (const CitationResult& r : c.citations) {
      for (const CitationProblem& p : r.problems) s += "  - " + p.reason + ": " + p.message + "\n";
    }
    for (const CitationProblem& p : c.problems) s += "  - " + p.reason + ": " + p.message + "\n";
  }
  return s;
}

}  // namespace fasten
