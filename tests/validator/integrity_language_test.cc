// The integrity-statement detector (issue 13, integrity_unmarked): the phrasing table, the
// product rule for the claim's `integrity` field, sentence independence, and bounded time on
// the largest answer text.
#include "validator/integrity_language.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <chrono>
#include <string>
#include <vector>

namespace fasten {
namespace {

constexpr IntegrityPolarity kNone = IntegrityPolarity::kNone;
constexpr IntegrityPolarity kIntact = IntegrityPolarity::kIntact;
constexpr IntegrityPolarity kTampered = IntegrityPolarity::kTampered;
constexpr IntegrityPolarity kUndetermined = IntegrityPolarity::kUndetermined;

struct Phrasing {
  const char* text;
  IntegrityPolarity want;
  const char* phrase;  // the reported phrase; nullptr: not checked
};

// clang-format off
const Phrasing kPhrasings[] = {
    // Asserting integrity.
    {"The chain is intact.", kIntact, "chain is intact"},
    {"Chain is intact.", kIntact, nullptr},
    {"doctor: chain OK in window 14:02\xE2\x80\x93" "15:02Z on edge-eu-1, edge-us-1 \xC2\xB7 no tampering", kIntact, "chain OK"},
    {"The audit log is unaltered.", kIntact, nullptr},
    {"All hashes match.", kIntact, "hashes match"},
    {"The hash chain for edge-eu-1 is unbroken.", kIntact, nullptr},
    {"Integrity verified by chain_verify.", kIntact, "Integrity verified"},
    {"The chain verifies.", kIntact, nullptr},
    {"Audit rows 800-900 are untouched.", kIntact, nullptr},
    {"The chain is consistent.", kIntact, nullptr},
    {"chain_verify returned ok for the window.", kIntact, "chain_verify returned ok"},
    {"The integrity check passed.", kIntact, nullptr},
    {"Integrity: intact", kIntact, nullptr},
    {"The chain was found intact on every node.", kIntact, nullptr},
    {"Data integrity is intact.", kIntact, nullptr},
    {"All rows in the window recompute.", kIntact, nullptr},
    {"The chain checks out.", kIntact, "chain checks out"},
    // Denying tampering: intact.
    {"No tampering.", kIntact, "No tampering"},
    {"There is no evidence of tampering.", kIntact, "no evidence of tampering"},
    {"No audit row was tampered with around 14:32: doctor chain OK in window", kIntact, nullptr},
    {"No rows were deleted, altered or reordered.", kIntact, "No rows were deleted"},
    {"Nothing indicates that the log was altered.", kIntact, nullptr},
    {"The chain is not broken.", kIntact, "chain is not broken"},
    {"There is no break in the chain.", kIntact, nullptr},
    {"No hash mismatch was found.", kIntact, "No hash mismatch"},
    {"Tampering was not detected.", kIntact, "Tampering was not detected"},
    {"The audit log is free of gaps.", kIntact, nullptr},
    {"The rows are tamper-free.", kIntact, nullptr},
    {"Zero rows were altered.", kIntact, nullptr},
    {"None of the audit rows were modified.", kIntact, nullptr},
    {"No gaps in monotonic_seq.", kIntact, nullptr},
    {"Tampering is ruled out.", kIntact, nullptr},
    {"There is no sign that any audit row was deleted.", kIntact, nullptr},
    {"The chain has no breaks.", kIntact, nullptr},
    {"Tampering is unlikely.", kIntact, nullptr},
    {"I found no tampering in the window.", kIntact, nullptr},
    {"The log wasn't altered.", kIntact, nullptr},
    {"No row has been edited or removed.", kIntact, nullptr},
    {"Audit rows were neither deleted nor altered.", kIntact, nullptr},
    {"There is no evidence that the chain is not intact.", kIntact, nullptr},
    {"Tampering: none.", kIntact, "Tampering: none"},
    {"Nothing was removed from the audit log.", kIntact, "Nothing was removed from the audit log"},
    {"The audit trail is complete and unaltered.", kIntact, nullptr},
    {"I did not find any evidence that audit rows were modified.", kIntact, nullptr},
    {"No integrity issues were found.", kIntact, "No integrity issues"},
    {"Doctor found no problems with the chain.", kIntact, nullptr},
    {"The log shows no signs of manipulation.", kIntact, "log shows no signs of manipulation"},
    // Asserting tampering.
    {"The chain is broken at seq 1239.", kTampered, "chain is broken"},
    {"doctor: BREAK on edge-us-1 at seq 1239 (hash mismatch)", kTampered, "doctor: BREAK"},
    {"Audit row 1239 was tampered with.", kTampered, nullptr},
    {"Rows 1237-1239 were deleted from the chain.", kTampered, "Rows 1237-1239 were deleted"},
    {"The audit rows for request 3a7b1c were reordered.", kTampered, nullptr},
    {"The log was altered.", kTampered, "log was altered"},
    {"Records were reordered.", kTampered, nullptr},
    {"There is evidence of tampering at seq 1239.", kTampered, "tampering"},
    {"The hash of row 1239 does not match its contents.", kTampered, nullptr},
    {"A hash mismatch at seq 1239.", kTampered, "hash mismatch"},
    {"Seq 1238 is missing.", kTampered, nullptr},
    {"A forged row was inserted at seq 1240.", kTampered, "forged row"},
    {"chain_verify reported a break at edge-us-1 seq 1239.", kTampered, nullptr},
    {"The chain verification failed.", kTampered, nullptr},
    {"The hash chain is invalid.", kTampered, nullptr},
    {"Someone deleted audit rows.", kTampered, "deleted audit rows"},
    {"Row 1239 fails verification.", kTampered, nullptr},
    {"The chain does not verify.", kTampered, nullptr},
    {"Records 5 and 6 are out of order.", kTampered, nullptr},
    {"No, audit rows 1237-1239 were deleted.", kTampered, nullptr},
    {"A row was inserted out of order.", kTampered, "row was inserted out of order"},
    {"Row 1239 has been tampered with or corrupted.", kTampered, "Row 1239 has been tampered"},
    {"There is an anomaly in the audit log at seq 1239.", kTampered, nullptr},
    {"The chain does not check out.", kTampered, nullptr},
    {"Row 1239 has a bad hash.", kTampered, nullptr},
    // Denying integrity: tampered.
    {"The chain was not intact.", kTampered, "chain was not intact"},
    {"The chain is no longer intact.", kTampered, nullptr},
    {"The hashes do not match.", kTampered, nullptr},
    {"The chain isn't valid.", kTampered, nullptr},
    {"The chain isn\xE2\x80\x99t valid.", kTampered, nullptr},
    {"The chain is not OK on edge-us-1.", kTampered, nullptr},
    {"Integrity is not preserved.", kTampered, nullptr},
    // Anchoring the chain is an integrity claim too: the checkpoints must back it.
    {"The audit chain is anchored.", kIntact, nullptr},
    {"The hash chain of edge-us-1 was notarized by the checkpoint.", kIntact, nullptr},
    {"The chain is checkpointed and timestamped.", kIntact, nullptr},
    {"I could not confirm that the chain is anchored.", kUndetermined, nullptr},
    {"The chain is not anchored.", kUndetermined, nullptr},
    // Talking about integrity without asserting it: undetermined.
    {"I could not confirm the chain.", kUndetermined, "could not confirm the chain"},
    {"Unable to verify integrity.", kUndetermined, nullptr},
    {"Integrity unknown.", kUndetermined, "Integrity unknown"},
    {"It is unclear whether rows were deleted.", kUndetermined, nullptr},
    {"The chain has not been verified.", kUndetermined, nullptr},
    {"Rows may have been altered.", kUndetermined, nullptr},
    {"I cannot rule out tampering.", kUndetermined, nullptr},
    {"The chain status is inconclusive.", kUndetermined, nullptr},
    {"Whether the audit log was modified could not be determined.", kUndetermined, nullptr},
    {"There is no evidence that the chain is intact.", kUndetermined, nullptr},
    {"I did not check the chain.", kUndetermined, nullptr},
    {"The chain could be broken.", kUndetermined, nullptr},
    {"I failed to verify the chain.", kUndetermined, nullptr},
    {"Tampering was not confirmed.", kUndetermined, nullptr},
    {"It's possible that rows were deleted.", kUndetermined, nullptr},
    {"The chain cannot be verified without the sealing key.", kUndetermined, nullptr},
    {"Their integrity cannot be checked.", kUndetermined, "integrity cannot be checked"},
    // Ordinary operational prose: no integrity statement.
    {"The config was modified by alice at 14:20.", kNone, nullptr},
    {"The order was deleted by the customer.", kNone, nullptr},
    {"The request was altered by the proxy.", kNone, nullptr},
    {"The row was removed from the cache.", kNone, nullptr},
    {"Stripe returned HTTP 502 for refund request 3a7b1c9e4d20 at 14:32 UTC.", kNone, nullptr},
    {"The webhook signature verification failed.", kNone, nullptr},
    {"The TLS certificate chain is valid.", kNone, nullptr},
    {"The refund was rolled back after the provider timed out.", kNone, nullptr},
    {"The user record was edited by support.", kNone, nullptr},
    {"Request 3a7b1c failed with HTTP 502 according to the audit row at seq 812.", kNone, nullptr},
    {"The service returned 200 OK after the retry.", kNone, nullptr},
    {"Log level was changed to debug.", kNone, nullptr},
    {"Old log files were deleted by logrotate.", kNone, nullptr},
    {"The cache entry was replaced after expiry.", kNone, nullptr},
    {"The payment was reordered in the queue.", kNone, nullptr},
    {"The message was edited before sending.", kNone, nullptr},
    {"The hash table was modified during the resize.", kNone, nullptr},
    {"The deploy broke the build.", kNone, nullptr},
    {"The DNS record was modified at 14:00.", kNone, nullptr},
    {"I removed the uncited claim and resubmitted.", kNone, nullptr},
    {"The job was missing a required parameter.", kNone, nullptr},
    {"The refund record was modified by the worker.", kNone, nullptr},
    {"The audit row at seq 812 shows that alice deleted order ord-88412.", kNone, nullptr},
    {"Alice modified the refund amount, as recorded in audit row 812.", kNone, nullptr},
    {"The refund was modified in 3 audit rows.", kNone, nullptr},
    {"The proxy rewrote the URL.", kNone, nullptr},
    {"There was a 5-minute gap between the request and the retry.", kNone, nullptr},
    {"The Stripe webhook signature was invalid.", kNone, nullptr},
    {"I could not confirm the refund amount.", kNone, nullptr},
    {"The audit log is tamper-evident by design.", kNone, nullptr},
    {"The audit rows for the request were fetched in one round trip.", kNone, nullptr},
    {"Die Kette ist intakt.", kNone, nullptr},
    {"Alice's profile was modified (USER_PROFILE_UPDATED, seq 615).", kNone, nullptr},
    {"Config node edge-eu-1 was modified at 14:20 according to audit row 759.", kNone, nullptr},
    {"The order record was deleted as part of GDPR erasure.", kNone, nullptr},
    {"The payment record was removed from the ledger.", kNone, nullptr},
    {"The audit row was redacted under the retention policy.", kNone, nullptr},
    {"The refund is complete.", kNone, nullptr},
    {"Audit row 812 confirmed that the refund failed.", kNone, nullptr},
    {"The audit row shows a modified config.", kNone, nullptr},
    {"Row 812 verifies that the refund was rolled back.", kNone, nullptr},
    {"The refund issue was caused by the payment provider.", kNone, nullptr},
};
// clang-format on

TEST(IntegrityLanguage, ThePhrasingTable) {
  int by_polarity[4] = {0, 0, 0, 0};
  for (const Phrasing& p : kPhrasings) {
    SCOPED_TRACE(p.text);
    const IntegrityAssertion a = DetectIntegrityAssertion(p.text);
    EXPECT_EQ(IntegrityPolarityName(a.polarity), std::string(IntegrityPolarityName(p.want)))
        << "phrase: '" << a.phrase << "'";
    if (p.phrase != nullptr) {
      EXPECT_EQ(a.phrase, p.phrase);
    }
    ++by_polarity[static_cast<int>(p.want)];
  }
  // The issue asks for at least 40 phrasings with negations; the brief for 60 and 15 plain
  // operational sentences.
  EXPECT_GE(sizeof(kPhrasings) / sizeof(kPhrasings[0]), 60u);
  EXPECT_GE(by_polarity[static_cast<int>(kNone)], 15);
  EXPECT_GE(by_polarity[static_cast<int>(kUndetermined)], 8);
}

std::vector<std::pair<std::string, std::string>> Statements(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const IntegrityAssertion& a : FindIntegrityStatements(text)) {
    EXPECT_EQ(text.substr(a.begin, a.end - a.begin), a.phrase);
    out.emplace_back(IntegrityPolarityName(a.polarity), a.phrase);
  }
  return out;
}

using StatementList = std::vector<std::pair<std::string, std::string>>;

TEST(IntegrityLanguage, MixedTextsListEveryStatementAndReportTamperedFirst) {
  const std::string text = "Rows 1237-1239 were deleted, but the rest of the chain is intact.";
  EXPECT_EQ(Statements(text), (StatementList{{"tampered", "Rows 1237-1239 were deleted"},
                                             {"intact", "chain is intact"}}));
  EXPECT_EQ(DetectIntegrityAssertion(text).polarity, kTampered);
  EXPECT_EQ(
      Statements("No tampering on edge-eu-1; the chain on edge-us-1 is broken at seq 1239."),
      (StatementList{{"intact", "No tampering"}, {"tampered", "chain on edge-us-1 is broken"}}));
  EXPECT_EQ(Statements("Request 3a7b1c returned 200 OK; the audit chain is intact"),
            (StatementList{{"intact", "chain is intact"}}));
  // A new subject and auxiliary after "and" end the negation's reach.
  EXPECT_EQ(Statements("There was no tampering and row 5 was altered."),
            (StatementList{{"intact", "no tampering"}, {"tampered", "row 5 was altered"}}));
  EXPECT_EQ(DetectIntegrityAssertion(
                "There are no hash mismatches on edge-eu-1, and edge-us-1 has a break at seq 1239.")
                .polarity,
            kTampered);
  // One statement per run of one polarity within a clause.
  EXPECT_EQ(Statements("The chain is intact and unbroken."),
            (StatementList{{"intact", "chain is intact"}}));
}

TEST(IntegrityLanguage, AnchoringStatementsAreTold) {
  auto says = [](const char* text) {
    std::vector<IntegrityAssertion> all = FindIntegrityStatements(text);
    return std::any_of(all.begin(), all.end(), SaysAnchored);
  };
  EXPECT_TRUE(says("The audit chain is anchored."));
  EXPECT_TRUE(says("The hash chain was Notarised at noon."));
  EXPECT_TRUE(says("The chain is checkpointed."));
  EXPECT_FALSE(says("The chain is intact."));
  EXPECT_FALSE(says("The chain is not anchored."));                      // not an intact statement
  EXPECT_FALSE(says("The deploy was anchored to the release branch."));  // no chain noun
}

TEST(IntegrityLanguage, SentencesAreIndependent) {
  // The negation of one sentence never reaches the next.
  EXPECT_EQ(Statements("The chain is broken. No rows were checked. Rows were deleted."),
            (StatementList{{"tampered", "chain is broken"}, {"tampered", "Rows were deleted"}}));
  // The statements of two sentences are those of each, in order.
  const std::string a = "The chain is not broken", b = "audit rows were deleted";
  const std::vector<IntegrityAssertion> first = FindIntegrityStatements(a);
  const std::vector<IntegrityAssertion> second = FindIntegrityStatements(b);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  for (const std::string sep : {"\n", ". ", "; ", "! ", "? ", "\xE2\x80\xA6 "}) {
    SCOPED_TRACE(sep);
    const std::vector<IntegrityAssertion> both = FindIntegrityStatements(a + sep + b);
    ASSERT_EQ(both.size(), 2u);
    EXPECT_EQ(both[0].phrase, first[0].phrase);
    EXPECT_EQ(both[0].begin, first[0].begin);
    EXPECT_EQ(both[1].polarity, second[0].polarity);
    EXPECT_EQ(both[1].begin, second[0].begin + a.size() + sep.size());
  }
}

TEST(IntegrityLanguage, ToleratesUtf8AndBinary) {
  EXPECT_EQ(
      DetectIntegrityAssertion("The chain is intact \xE2\x80\x94 no rows were altered.").polarity,
      kIntact);
  EXPECT_EQ(DetectIntegrityAssertion("\xFF\xFE tampered \x80\xE2\x80").polarity, kTampered);
  EXPECT_EQ(DetectIntegrityAssertion(std::string("tamper\0ed", 9)).polarity, kTampered);
  EXPECT_EQ(DetectIntegrityAssertion("\xC3\x9C"
                                     "berpr\xC3\xBC"
                                     "fung: keine Manipulation")
                .polarity,
            kNone);
  EXPECT_EQ(DetectIntegrityAssertion("").polarity, kNone);
  EXPECT_EQ(DetectIntegrityAssertion("\xE2\x80\x99").polarity, kNone);
}

TEST(IntegrityLanguage, TheMarkingRule) {
  IntegrityAssertion why;
  // No field: intact and tampered statements need one; undetermined ones do not.
  EXPECT_EQ(CheckIntegrityMarking("The chain is intact.", kNone, &why),
            IntegrityMarking::kUnmarked);
  EXPECT_EQ(why.phrase, "chain is intact");
  EXPECT_EQ(DescribeIntegrityAssertion(why),
            "the text says 'chain is intact' (an integrity statement: intact)");
  EXPECT_EQ(CheckIntegrityMarking("Audit rows were deleted.", kNone, &why),
            IntegrityMarking::kUnmarked);
  EXPECT_EQ(CheckIntegrityMarking("I could not confirm the chain.", kNone, &why),
            IntegrityMarking::kConsistent);
  EXPECT_EQ(why.polarity, kNone);
  EXPECT_EQ(CheckIntegrityMarking("Stripe returned HTTP 502.", kNone, nullptr),
            IntegrityMarking::kConsistent);
  // "intact": nothing tampered, nothing undetermined.
  EXPECT_EQ(CheckIntegrityMarking("No tampering around 14:32.", kIntact, nullptr),
            IntegrityMarking::kConsistent);
  EXPECT_EQ(CheckIntegrityMarking("Refund rf_5T2x9 at 14:32.", kIntact, nullptr),
            IntegrityMarking::kConsistent);
  EXPECT_EQ(CheckIntegrityMarking("I could not confirm the chain.", kIntact, &why),
            IntegrityMarking::kConflicting);
  EXPECT_EQ(why.polarity, kUndetermined);
  EXPECT_EQ(CheckIntegrityMarking("The chain is broken at seq 1239.", kIntact, nullptr),
            IntegrityMarking::kConflicting);
  // "tampered": nothing intact; undetermined parts allowed.
  EXPECT_EQ(CheckIntegrityMarking(
                "Row 1239 fails verification; whether other rows were altered is unknown.",
                kTampered, nullptr),
            IntegrityMarking::kConsistent);
  EXPECT_EQ(CheckIntegrityMarking("Rows were deleted, but the rest of the chain is intact.",
                                  kTampered, &why),
            IntegrityMarking::kConflicting);
  EXPECT_EQ(why.phrase, "chain is intact");
}

TEST(IntegrityLanguage, TheLargestAnswerTextIsFast) {
  // 20000 bytes (the answer text limit) of operational prose, one clause of many triggers, and
  // one long run without separators.
  std::string prose, triggers, run;
  while (prose.size() < 20000) prose += "The refund request was retried at 14:32 and failed. ";
  prose.resize(20000);
  while (triggers.size() < 20000) triggers += "no rows were deleted altered tampered intact ";
  triggers.resize(20000);
  run.assign(20000, 'a');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(DetectIntegrityAssertion(prose).polarity, kNone);
  const std::vector<IntegrityAssertion> many = FindIntegrityStatements(triggers);
  EXPECT_FALSE(many.empty());
  for (const IntegrityAssertion& a : many) {
    EXPECT_LE(a.end - a.begin, kMaxIntegrityPhraseBytes);
  }
  EXPECT_EQ(DetectIntegrityAssertion(run).polarity, kNone);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0);  // about 10 ms on the development VM; generous for loaded CI
}

}  // namespace
}  // namespace fasten
