#include "tools/verify_json.h"

#include <nlohmann/json.hpp>

namespace fasten {

using nlohmann::json;

json NodeReportJson(const NodeReport& n) {
  json j = {{"source_node_id", n.source_node_id},
            {"ok", n.ok},
            {"total_rows", n.total_rows},
            {"sealed", n.sealed},
            {"verified", n.verified},
            {"verified_fallback", n.verified_fallback},
            {"valid", n.valid()},
            {"unsealed", n.unsealed},
            {"invalid", n.invalid},
            {"failures", n.failures},
            {"first_break_at", nullptr},
            {"reason", nullptr},
            {"tip", nullptr},
            {"seq_range", {n.first_seq, n.last_seq}},
            {"seq_gaps", n.seq_gaps},
            {"links_skipped", n.links_skipped},
            {"null_commitments", n.null_commitments},
            {"redacted", n.redacted},
            {"notes", n.notes}};
  if (n.first_break) {
    j["first_break_at"] = n.first_break->seq;
    j["first_break_id"] = n.first_break->id;
    j["reason"] = n.first_break->reason;
    j["category"] = n.first_break->category;
    if (!n.first_break->note.empty()) j["note"] = n.first_break->note;
    j["classification"] = n.classification;
  }
  if (n.tip_seq) j["tip"] = {{"seq", *n.tip_seq}, {"hash", n.tip_hash}};
  return j;
}

json VerifyReportJson(const VerifyReport& report) {
  json j = {{"ok", report.ok}, {"nodes", json::array()}};
  for (const auto& n : report.nodes) j["nodes"].push_back(NodeReportJson(n));
  j["summary"] = {{"total_rows", report.total_rows},
                  {"sealed", report.sealed},
                  {"valid", report.valid},
                  {"invalid", report.invalid},
                  {"unsealed", report.unsealed}};
  j["upstream"] = {
      {"ok", report.upstream.ok},
      {"total_rows", report.upstream.total_rows},
      {"first_break_at",
       report.upstream.first_break_at ? json(*report.upstream.first_break_at) : json(nullptr)},
      {"reason", report.upstream.reason ? json(*report.upstream.reason) : json(nullptr)}};
  j["caveat"] = report.caveat;
  return j;
}

json TimeWindowJson(std::optional<Micros> since, std::optional<Micros> until,
                    const std::optional<std::string>& source_node_id,
                    const std::vector<NodeSeqSpan>& spans) {
  json nodes = json::array();
  for (const NodeSeqSpan& s : spans) {
    nodes.push_back({{"source_node_id", s.source_node_id},
                     {"from_seq", s.first_seq},
                     {"to_seq", s.last_seq},
                     {"rows_in_window", s.rows}});
  }
  return {{"since", since ? json(CanonicalTimestamp(*since)) : json(nullptr)},
          {"until", until ? json(CanonicalTimestamp(*until)) : json(nullptr)},
          {"source_node_id", source_node_id ? json(*source_node_id) : json(nullptr)},
          {"nodes", std::move(nodes)}};
}

}  // namespace fasten
