// validate_answer: a cited answer checked by the citation validator (validator/citations.h), the
// same verdict the investigate loop gets, for answers written by any agent. The tenant is the
// caller's; no ledger (external answers).
#include <string>

#include "tools/answer_json.h"
#include "tools/tool_common.h"
#include "tools/tool_defs.h"
#include "validator/citations.h"

namespace fasten::tools_internal {
namespace {

// validate_answer: claims (and unknowns) per answer, citations per claim. The validator's own
// limit (kMaxCitationsPerAnswer) still caps the citations of the whole answer.
constexpr int kMaxClaims = 100;
constexpr int kMaxCitationsPerClaim = 100;

// The answer, read once; relative bounds in it ("now-1h") are read against `now`.
struct ValidateAnswerArgs {
  Answer answer;
};

Result<ValidateAnswerArgs> ParseValidateAnswerArgs(const json& args, Micros now) {
  ValidateAnswerArgs a;
  FASTEN_RETURN_IF_ERROR(ParseAnswer(args, &a.answer, now));
  return a;
}

Result<json> ValidateAnswerTool(const ValidateAnswerArgs& args, ToolEnv& env) {
  const Answer& answer = args.answer;
  CitationCheckOptions options;
  options.integrity_margin = env.integrity_margin;
  options.anchors = env.anchor_tips.get();
  Verdict verdict;
  ValidateAnswer(env.scope, answer, env.stores->view(), options, &verdict);
  if (!verdict.error.ok()) {
    return StoreError(Status(verdict.error.code(),
                             "the answer could not be checked, so it is not "
                             "accepted: " +
                                 verdict.error.message()));
  }
  return VerdictJson(verdict);
}

}  // namespace

ToolDef ValidateAnswerToolDef() {
  return {
      "validate_answer",
      "Validate a cited answer",
      "Checks a cited answer deterministically: each claim needs a citation; each citation must "
      "resolve to one row of this tenant whose hash (audit) or digest (sys/api) verifies and, "
      "for audit, links to its chain; codes, ids, statuses and times a claim quotes must be in "
      "its cited rows. Integrity statements need the claim's integrity field and must agree "
      "with the chain. Returns the verdict with reason codes and fasten's integrity verdict.",
      InputSchema(
          {{"claims",
            {{"type", "array"},
             {"maxItems", kMaxClaims},
             {"items",
              InputSchema(
                  {{"text", {{"type", "string"}, {"maxLength", 4000}}},
                   {"citations",
                    {{"type", "array"},
                     {"maxItems", kMaxCitationsPerClaim},
                     {"items",
                      InputSchema(
                          {{"stream", {{"type", "string"}, {"enum", {"audit", "sys", "api"}}}},
                           {"seq",
                            {{"type", "integer"},
                             {"minimum", 1},
                             {"description", "audit: monotonic_seq; sys/api: seq"}}},
                           {"hash",
                            {{"type", "string"},
                             {"pattern", "^[0-9a-f]{64}$"},
                             {"description", "audit: row hash; sys/api: digest"}}}},
                          {"stream", "seq", "hash"})}}},
                   {"integrity",
                    {{"type", "string"},
                     {"enum", {"intact", "tampered"}},
                     {"description",
                      "intact: chain unaltered in scope; tampered: cites failing rows"}}},
                   {"scope", InputSchema({{"since", kSince},
                                          {"until", kUntil},
                                          {"nodes",
                                           {{"type", "array"},
                                            {"maxItems", 64},
                                            {"items", {{"type", "string"}, {"maxLength", 256}}}}}},
                                         {})}},
                  {"text", "citations"})}}},
           {"answer",
            {{"type", "string"},
             {"maxLength", 20000},
             {"description", "prose; checked for integrity statements only"}}},
           {"window", InputSchema({{"since", kTime}, {"until", kTime}}, {"since", "until"})},
           {"unknowns",
            {{"type", "array"},
             {"maxItems", kMaxClaims},
             {"items", {{"type", "string"}, {"maxLength", 4000}}}}}},
          {"claims"}),
      {{"type", "object"},
       {"properties",
        {{"accepted", {{"type", "boolean"}}},
         {"claims", {{"type", "array"}}},
         {"problems", {{"type", "array"}}},
         {"summary", {{"type", "object"}}},
         {"integrity", {{"type", {"object", "null"}}}}}},
       {"required", {"accepted", "claims", "problems", "summary"}}},
      [](const json& args, ToolEnv& env) -> Result<json> {
        Result<ValidateAnswerArgs> typed = ParseValidateAnswerArgs(args, env.now);
        if (!typed.ok()) return typed.status();
        return ValidateAnswerTool(typed.value(), env);
      },
      nullptr};
}

}  // namespace fasten::tools_internal
