// Fuzzes the integrity-statement detector (validator/integrity_language.h).
//
// Input: prose (any bytes). Checks:
// - deterministic: two runs give the same statements;
// - every statement has a polarity, a span inside the input no longer than
//   kMaxIntegrityPhraseBytes, and its phrase is exactly those bytes;
// - DetectIntegrityAssertion is the first statement of the highest-ranked polarity (tampered,
//   intact, undetermined), kNone with an empty phrase when there is none;
// - case-insensitive: upper-casing the ASCII letters gives the same polarities and spans;
// - sentences are independent: a line break ends every rule's reach, so the statements of
//   A "\n" B are those of A followed by those of B (shifted), for the input split at its first
//   line break, and for the input with an unrelated sentence added before and after;
// - CheckIntegrityMarking applies the product rule to exactly those statements, for each field.
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "validator/integrity_language.h"

namespace {

using fasten::IntegrityAssertion;
using fasten::IntegrityMarking;
using fasten::IntegrityPolarity;
using fasten::fuzz::AsText;

constexpr const char* kUnrelated = "The refund request was retried at 14:33 and failed.";

std::string Show(const std::vector<IntegrityAssertion>& v) {
  std::string out;
  for (const IntegrityAssertion& a : v) {
    out += std::string(fasten::IntegrityPolarityName(a.polarity)) + " [" + std::to_string(a.begin) +
           "," + std::to_string(a.end) + ") '" + a.phrase + "'\n";
  }
  return out;
}

bool Same(const IntegrityAssertion& a, const IntegrityAssertion& b, size_t shift) {
  return a.polarity == b.polarity && a.begin == b.begin + shift && a.end == b.end + shift &&
         a.phrase == b.phrase;
}

void CheckJoin(const std::string& a, const std::string& b) {
  const std::vector<IntegrityAssertion> left = fasten::FindIntegrityStatements(a);
  const std::vector<IntegrityAssertion> right = fasten::FindIntegrityStatements(b);
  const std::vector<IntegrityAssertion> both = fasten::FindIntegrityStatements(a + "\n" + b);
  const std::string detail = "A:\n" + Show(left) + "B:\n" + Show(right) + "A\\nB:\n" + Show(both);
  FUZZ_CHECK_MSG(both.size() == left.size() + right.size(), detail);
  for (size_t i = 0; i < left.size(); ++i) FUZZ_CHECK_MSG(Same(both[i], left[i], 0), detail);
  for (size_t i = 0; i < right.size(); ++i) {
    FUZZ_CHECK_MSG(Same(both[left.size() + i], right[i], a.size() + 1), detail);
  }
}

int Rank(IntegrityPolarity p) {
  return p == IntegrityPolarity::kTampered       ? 3
         : p == IntegrityPolarity::kIntact       ? 2
         : p == IntegrityPolarity::kUndetermined ? 1
                                                 : 0;
}

void CheckMarking(std::string_view text, const std::vector<IntegrityAssertion>& statements) {
  for (IntegrityPolarity field :
       {IntegrityPolarity::kNone, IntegrityPolarity::kIntact, IntegrityPolarity::kTampered}) {
    const IntegrityAssertion* first = nullptr;
    IntegrityMarking want = IntegrityMarking::kConsistent;
    for (const IntegrityAssertion& a : statements) {
      const bool breaks =
          field == IntegrityPolarity::kNone     ? a.polarity != IntegrityPolarity::kUndetermined
          : field == IntegrityPolarity::kIntact ? a.polarity != IntegrityPolarity::kIntact
                                                : a.polarity == IntegrityPolarity::kIntact;
      if (breaks) {
        first = &a;
        want = field == IntegrityPolarity::kNone ? IntegrityMarking::kUnmarked
                                                 : IntegrityMarking::kConflicting;
        break;
      }
    }
    IntegrityAssertion why;
    FUZZ_CHECK(fasten::CheckIntegrityMarking(text, field, &why) == want);
    if (first == nullptr) {
      FUZZ_CHECK(why.polarity == IntegrityPolarity::kNone && why.phrase.empty());
    } else {
      FUZZ_CHECK(Same(why, *first, 0));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(AsText(data, size));
  const std::vector<IntegrityAssertion> statements = fasten::FindIntegrityStatements(text);
  const std::vector<IntegrityAssertion> again = fasten::FindIntegrityStatements(text);
  FUZZ_CHECK(again.size() == statements.size());
  for (size_t i = 0; i < again.size(); ++i) FUZZ_CHECK(Same(again[i], statements[i], 0));

  const IntegrityAssertion* best = nullptr;
  for (const IntegrityAssertion& a : statements) {
    FUZZ_CHECK(a.polarity != IntegrityPolarity::kNone);
    FUZZ_CHECK(a.begin < a.end && a.end <= text.size());
    FUZZ_CHECK(a.end - a.begin <= fasten::kMaxIntegrityPhraseBytes);
    FUZZ_CHECK(a.phrase == text.substr(a.begin, a.end - a.begin));
    if (best == nullptr || Rank(a.polarity) > Rank(best->polarity)) best = &a;
  }
  const IntegrityAssertion summary = fasten::DetectIntegrityAssertion(text);
  if (best == nullptr) {
    FUZZ_CHECK(summary.polarity == IntegrityPolarity::kNone && summary.phrase.empty());
    FUZZ_CHECK(fasten::DescribeIntegrityAssertion(summary).empty());
  } else {
    FUZZ_CHECK_MSG(Same(summary, *best, 0), Show(statements));
    FUZZ_CHECK(!fasten::DescribeIntegrityAssertion(summary).empty());
  }

  std::string upper = text;
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  const std::vector<IntegrityAssertion> shouted = fasten::FindIntegrityStatements(upper);
  FUZZ_CHECK_MSG(shouted.size() == statements.size(), Show(statements) + "--\n" + Show(shouted));
  for (size_t i = 0; i < shouted.size(); ++i) {
    FUZZ_CHECK(shouted[i].polarity == statements[i].polarity);
    FUZZ_CHECK(shouted[i].begin == statements[i].begin && shouted[i].end == statements[i].end);
  }

  const size_t newline = text.find('\n');
  if (newline != std::string::npos) CheckJoin(text.substr(0, newline), text.substr(newline + 1));
  CheckJoin(kUnrelated, text);
  CheckJoin(text, kUnrelated);

  CheckMarking(text, statements);
  return 0;
}
