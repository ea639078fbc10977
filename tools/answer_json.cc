#include "tools/answer_json.h"

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

namespace fasten {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Answers.

namespace {

// A time bound of a stated window or scope: RFC 3339, a date alone, or now-relative.
Status ParseBound(const json& v, const std::string& at, Micros now, TimeEdge edge,
                  std::optional<Micros>* out) {
  if (v.is_null()) return Status::Ok();
  if (!v.is_string() || v.get_ref<const std::string&>().size() > 64) {
    return InvalidArgumentError(at +
                                ": must be a time (RFC 3339, a date, or now-1h), at most 64 "
                                "characters");
  }
  std::string error;
  *out = ParseTimeBound(v.get_ref<const std::string&>(), now, edge, &error);
  if (!*out) return InvalidArgumentError(at + ": " + error);
  return Status::Ok();
}

Status CheckMembers(const json& o, const std::string& at,
                    std::initializer_list<const char*> allowed) {
  for (auto it = o.begin(); it != o.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
      return InvalidArgumentError(at + ": unknown member \"" + it.key() + "\" (allowed: " + list +
                                  ")");
    }
  }
  return Status::Ok();
}

Status ParseScope(const json& v, const std::string& at, Micros now, ClaimScope* out) {
  if (!v.is_object()) return InvalidArgumentError(at + ": must be {since, until, nodes} or null");
  FASTEN_RETURN_IF_ERROR(CheckMembers(v, at, {"since", "until", "nodes"}));
  if (v.contains("since"))
    FASTEN_RETURN_IF_ERROR(
        ParseBound(v["since"], at + ".since", now, TimeEdge::kSince, &out->since));
  if (v.contains("until"))
    FASTEN_RETURN_IF_ERROR(
        ParseBound(v["until"], at + ".until", now, TimeEdge::kUntil, &out->until));
  if (out->since && out->until && *out->until < *out->since) {
    return InvalidArgumentError(at + ": until is before since");
  }
  if (v.contains("nodes") && !v["nodes"].is_null()) {
    const json& nodes = v["nodes"];
    if (!nodes.is_array() || nodes.size() > kMaxScopeNodes) {
      return InvalidArgumentError(at + ".nodes: must be an array of at most " +
                                  std::to_string(kMaxScopeNodes) + " node ids");
    }
    for (const json& n : nodes) {
      if (!n.is_string() || n.get_ref<const std::string&>().empty() ||
          n.get_ref<const std::string&>().size() > 256) {
        return InvalidArgumentError(at +
                                    ".nodes: each node is a source_node_id string of 1-256 "
                                    "characters");
      }
      out->nodes.push_back(n.get<std::string>());
    }
  }
  return Status::Ok();
}

}  // namespace

Status ParseAnswer(const json& j, Answer* out) {
  return ParseAnswer(j, out, NowMicros());
}

Status ParseAnswer(const json& j, Answer* out, Micros now) {
  *out = Answer();
  if (!j.is_object()) return InvalidArgumentError("answer: must be a JSON object with \"claims\"");
  FASTEN_RETURN_IF_ERROR(CheckMembers(j, "answer", {"claims", "answer", "unknowns", "window"}));
  if (j.contains("window") && !j.at("window").is_null()) {
    const json& w = j.at("window");
    if (!w.is_object()) return InvalidArgumentError("window: must be {since, until} or null");
    FASTEN_RETURN_IF_ERROR(CheckMembers(w, "window", {"since", "until"}));
    std::optional<Micros> since, until;
    if (w.contains("since"))
      FASTEN_RETURN_IF_ERROR(ParseBound(w["since"], "window.since", now, TimeEdge::kSince, &since));
    if (w.contains("until"))
      FASTEN_RETURN_IF_ERROR(ParseBound(w["until"], "window.until", now, TimeEdge::kUntil, &until));
    if (!since || !until) return InvalidArgumentError("window: give both since and until");
    if (*until < *since) return InvalidArgumentError("window: until is before since");
    out->window = std::make_pair(*since, *until);
  }
  auto claims = j.find("claims");
  if (claims == j.end() || !claims->is_array()) {
    return InvalidArgumentError("claims: required, an array of {text, citations}");
  }
  if (j.contains("answer") && !j.at("answer").is_null()) {
    if (!j.at("answer").is_string()) return InvalidArgumentError("answer: must be a string");
    out->prose = j.at("answer").get<std::string>();
  }
  if (j.contains("unknowns") && !j.at("unknowns").is_array() && !j.at("unknowns").is_null()) {
    return InvalidArgumentError("unknowns: must be an array of strings");
  }
  size_t total = 0;
  for (size_t i = 0; i < claims->size(); ++i) {
    const json& c = (*claims)[i];
    const std::string at = "claims[" + std::to_string(i) + "]";
    if (!c.is_object()) return InvalidArgumentError(at + ": must be an object {text, citations}");
    FASTEN_RETURN_IF_ERROR(CheckMembers(c, at, {"text", "citations", "integrity", "scope"}));
    if (!c.contains("text") || !c.at("text").is_string()) {
      return InvalidArgumentError(at + ".text: required, a string");
    }
    Claim claim;
    claim.text = c.at("text").get<std::string>();
    if (c.contains("integrity") && !c.at("integrity").is_null()) {
      const json& f = c.at("integrity");
      if (f == "intact") {
        claim.integrity = IntegrityPolarity::kIntact;
      } else if (f == "tampered") {
        claim.integrity = IntegrityPolarity::kTampered;
      } else {
        return InvalidArgumentError(at + ".integrity: must be \"intact\", \"tampered\" or null");
      }
    }
    if (c.contains("scope") && !c.at("scope").is_null()) {
      if (claim.integrity == IntegrityPolarity::kNone) {
        return InvalidArgumentError(at +
                                    ".scope: only a claim with an integrity value has a "
                                    "scope");
      }
      ClaimScope scope;
      FASTEN_RETURN_IF_ERROR(ParseScope(c.at("scope"), at + ".scope", now, &scope));
      claim.scope = std::move(scope);
    }
    if (c.contains("citations")) {
      const json& cits = c.at("citations");
      if (!cits.is_array()) return InvalidArgumentError(at + ".citations: must be an array");
      for (size_t k = 0; k < cits.size(); ++k) {
        const json& x = cits[k];
        const std::string cat = at + ".citations[" + std::to_string(k) + "]";
        if (!x.is_object()) return InvalidArgumentError(cat + ": must be {stream, seq, hash}");
        FASTEN_RETURN_IF_ERROR(CheckMembers(x, cat, {"stream", "seq", "hash"}));
        Citation cit;
        if (!x.contains("stream") || !x.at("stream").is_string()) {
          return InvalidArgumentError(cat + ".stream: required, one of audit, sys, api");
        }
        const std::string stream = x.at("stream").get<std::string>();
        if (stream == "audit") {
          cit.stream = CitationStream::kAudit;
        } else if (stream == "sys") {
          cit.stream = CitationStream::kSys;
        } else if (stream == "api") {
          cit.stream = CitationStream::kApi;
        } else {
          return InvalidArgumentError(cat + ".stream: must be one of audit, sys, api; got \"" +
                                      stream + "\"");
        }
        if (!x.contains("seq") || !x.at("seq").is_number_integer()) {
          return InvalidArgumentError(cat + ".seq: required, an integer");
        }
        cit.seq = x.at("seq").get<int64_t>();
        if (!x.contains("hash") || !x.at("hash").is_string()) {
          return InvalidArgumentError(cat + ".hash: required, 64 lowercase hex characters");
        }
        cit.hash = x.at("hash").get<std::string>();
        claim.citations.push_back(std::move(cit));
        if (++total > kMaxCitationsPerAnswer) {
          return InvalidArgumentError("too many citations: at most " +
                                      std::to_string(kMaxCitationsPerAnswer) + " per answer");
        }
      }
    }
    out->claims.push_back(std::move(claim));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Verdicts.

json VerdictJson(const Verdict& v) {
  auto problems = [](const std::vector<CitationProblem>& ps) {
    json a = json::array();
    for (const CitationProblem& p : ps) {
      json o = {{"reason", p.reason}, {"message", p.message}};
      if (!p.value.empty()) o["value"] = p.value;
      a.push_back(std::move(o));
    }
    return a;
  };
  json claims = json::array();
  for (size_t i = 0; i < v.claims.size(); ++i) {
    const ClaimResult& c = v.claims[i];
    json cits = json::array();
    for (const CitationResult& r : c.citations) {
      json o = {{"stream", CitationStreamName(r.citation.stream)},
                {"seq", r.citation.seq},
                {"hash", r.citation.hash},
                {"ok", r.ok},
                {"problems", problems(r.problems)}};
      if (!r.row_summary.empty()) o["row"] = r.row_summary;
      if (!r.integrity.empty()) o["integrity"] = r.integrity;
      if (!r.tamper_evidence.empty()) o["tamper_evidence"] = r.tamper_evidence;
      cits.push_back(std::move(o));
    }
    json claim = {{"index", i},
                  {"text", c.text},
                  {"ok", c.ok},
                  {"citations", cits},
                  {"problems", problems(c.problems)},
                  {"grounded", c.grounded}};
    if (c.integrity.field != IntegrityPolarity::kNone) {
      json ci = {{"field", IntegrityPolarityName(c.integrity.field)},
                 {"scope_explicit", c.integrity.scope_explicit}};
      if (c.integrity.verdict) ci["verdict"] = IntegrityVerdictJson(*c.integrity.verdict);
      claim["integrity"] = std::move(ci);
    }
    claims.push_back(std::move(claim));
  }
  json checks = {"resolves", "tenant", "integrity", "link", "grounding", "integrity_claims"};
  if (v.ledger_checked) checks.push_back("ledger");
  json out = {{"accepted", v.accepted},
              {"claims", claims},
              {"problems", problems(v.problems)},
              {"summary",
               {{"claims", v.claims.size()},
                {"claims_accepted", v.claims_ok},
                {"citations", v.citations},
                {"citations_ok", v.citations_ok},
                {"rejections", v.rejections},
                {"store_round_trips", v.store_round_trips},
                {"integrity_verdicts", v.integrity_verdicts}}},
              {"checks", checks},
              {"note",
               "audit citations are checked against the hash chain; sys/api citations are "
               "content-addressed, not chained: a matching digest proves it is the row that was "
               "read, not that it is untampered"}};
  out["integrity"] = v.integrity ? IntegrityVerdictJson(*v.integrity) : json(nullptr);
  if (!v.error.ok()) {
    out["error"] = v.error.message();
    out["accepted"] = false;
  }
  const std::string repair = RepairText(v);
  if (!repair.empty()) out["repair"] = repair;
  return out;
}

json IntegrityVerdictJson(const IntegrityVerdict& v) {
  json nodes = json::array();
  for (const NodeIntegrity& n : v.nodes) {
    json b = nullptr;
    if (n.first_break) {
      b = {{"seq", n.first_break->seq},
           {"id", n.first_break->id},
           {"reason", n.first_break->reason},
           {"category", n.first_break->category},
           {"what", BreakPhrase(*n.first_break)}};
    }
    nodes.push_back({{"source_node_id", n.source_node_id},
                     {"present", n.present},
                     {"ok", n.ok},
                     {"from_seq", n.from_seq},
                     {"to_seq", n.to_seq},
                     {"rows_in_window", n.rows_in_window},
                     {"sealed", n.sealed},
                     {"valid", n.valid},
                     {"unsealed", n.unsealed},
                     {"invalid", n.invalid},
                     {"first_break", b}});
    if (v.anchors_checked) {
      nodes.back()["anchored"] = n.anchored
                                     ? json{{"through_seq", n.anchored->seq},
                                            {"checkpoint_index", n.anchored->checkpoint_index},
                                            {"checkpoint_time", n.anchored->time}}
                                     : json(nullptr);
      if (!n.anchor_note.empty()) nodes.back()["anchor_note"] = n.anchor_note;
    }
  }
  json window = {{"since", CanonicalTimestamp(v.scope.since)},
                 {"until", CanonicalTimestamp(v.scope.until)},
                 {"nodes", v.scope.nodes_listed() ? json(v.scope.nodes) : json("all")}};
  if (v.too_large) window["seqs"] = v.window_seqs;
  return {{"ok", v.ok},
          {"too_large", v.too_large},
          {"basis", v.basis},
          {"window", window},
          {"nodes", nodes},
          {"unsealed", v.unsealed},
          {"anchors_checked", v.anchors_checked},
          {"line", v.line},
          {"source", "computed by fasten-mcp from the hash chain, not from the answer's words"}};
}

}  // namespace fasten
