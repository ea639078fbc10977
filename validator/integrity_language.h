// What a piece of English prose asserts about the integrity of the audit chain (issue 13): a
// small, documented rule set, deterministic, no model involved. Pure functions of the text;
// thread-safe; linear in the input (every look-around below is a bounded number of words).
//
// Why: a claim or an answer text that says "the chain is intact" or "rows 1237-1239 were
// deleted" states a fact that only the chain verdict may produce, so it must carry the claim's
// `integrity` field ("intact" or "tampered") and be checked against that verdict; an unmarked one
// is rejected as integrity_unmarked. This file only reads the prose; it does not know the verdict.
//
// Polarity (what a statement asserts):
//   intact        the chain (its rows, hashes, links) is unaltered: "the chain is intact",
//                 "all hashes match", "no tampering", "no rows were deleted", "chain OK";
//   tampered      rows were altered, removed or reordered, or the chain is broken: "the chain is
//                 broken at seq 1239", "audit rows were deleted", "hash mismatch", "was not
//                 intact";
//   undetermined  it talks about integrity but asserts neither: "could not confirm the chain",
//                 "unable to verify integrity", "integrity unknown", "rows may have been altered",
//                 "it is unclear whether rows were deleted".
//
// The product rule (CheckIntegrityMarking below; the validator applies it):
//   no field      the text may not assert intact or tampered (integrity_unmarked); undetermined
//                 text asserts nothing and needs no field;
//   "intact"      the text may not assert tampered, and may not be undetermined either: a claim
//                 that says "I could not confirm the chain" is never accepted as intact;
//   "tampered"    the text may not assert intact; undetermined parts are allowed ("row 1239 fails
//                 verification; whether other rows were altered is unknown").
// A text with no integrity statement is consistent with any field (the field states it).
//
// The rules. Text is split into sentences (. ! ? ; … and line breaks; a '.' followed by a letter
// or digit does not split, so "v1.2" and "e.g." stay whole) and sentences into clauses (— – · •,
// " - ", the words but/however/although/though/whereas/while/because/unless/nevertheless/
// nonetheless/meanwhile, and "and"/"or"/"," followed by a word that starts a new clause: the, a,
// it, they, there, no, all, ...; ", and" / ", or" followed by an audit noun). Nothing crosses a
// sentence: the result on a text is the results on its sentences, in order. Words are ASCII
// letters, digits, '_' and apostrophes (’ counts as '), compared case-insensitively; a hyphen
// splits a word unless it holds a digit (edge-us-1, 1237-1239 stay one word); other bytes,
// non-ASCII included, only separate words.
//
// 1. Trigger words, each with a base polarity and the context it needs:
//    | class   | words (and inflections)                                   | base     | needs
//    |---------|-----------------------------------------------------------|----------|-------------
//    | always  | tamper, tampered, tampering                               | tampered | nothing
//    |         | untampered                                                | intact   | nothing
//    | object  | altered, modified, edited, deleted, removed, erased,      | tampered | an audit
//    noun |         | purged, wiped, reordered, rewritten, overwritten,         |          | | |
//    replaced, truncated, forged, falsified, doctored,         |          | |         |
//    manipulated, compromised, backdated, injected, corrupted, |          | |         | missing,
//    gap(s), anomaly, discrepancy, irregularity,      |          | |         | "out of order",
//    "fails verification", "failed to verify"; |          | |         | alteration, deletion, ...
//    |          | |         | intact, unaltered, unmodified, untouched, unedited,       | intact |
//    an audit noun |         | unchanged, unbroken, preserved, complete, authentic,      | | | |
//    genuine, recompute(s/d)                                   |          | | near    | broken,
//    break(s), mismatch(ed), invalid, inconsistent,    | tampered | a chain noun |         |
//    fail(s/ed/ure), violated, violation, bad, wrong, corrupt, |          | |         | issue(s),
//    problem(s)                                      |          | |         | ok, okay, valid,
//    consistent, sound, good, fine, healthy,  | intact   | a chain noun |         | clean, correct,
//    pass(es/ed), holds, match(es/ed),         |          | |         | verifies, "checks out",
//    maintained                        |          | |         | verified, confirmed, validated,
//    proven                    | attested | a chain noun Audit nouns: row, record, entry, log,
//    chain, hash, digest, history, seq, monotonic_seq, predecessor, trail, audit, link, prev_hash,
//    integrity (and plurals; not "ledger", a payments word too). Chain nouns: chain, hash, digest,
//    integrity, doctor, chain_verify, prev_hash, linkage, commitment. "attested" words say a check
//    succeeded: intact when asserted, undetermined when negated
//    ("the chain was not verified" is not "the chain is broken").
//
// 2. The context must be the thing the word is about, not merely nearby, because audit rows
//    record ordinary deletions and modifications ("the audit row shows alice deleted the order"
//    asserts nothing about the chain):
//    - looking back from the trigger, skipping auxiliaries (is, was, been, has, does, appears,
//      found, inserted...), adverbs, determiners, negations, numbers and identifiers, other
//      triggers and
//      prepositional phrases ("audit rows for request 3a7b1c were deleted"), at most 12 words,
//      the first noun-like word must be one of the nouns the trigger needs, or a compound whose
//      modifier is one ("chain verification failed", "integrity check passed", "audit store");
//      near triggers, and any trigger after an evidence noun, also skip reporting verbs
//      ("chain_verify reported a break", "the log shows no signs of manipulation");
//    - or, looking forward (not for attested words), past determiners, numbers and "of" (for the
//      noun triggers also in/within/across/between; for the tampered object verbs also "from"),
//      at most 4 words: "deleted audit rows", "a break in the chain", "missing rows", "nothing
//      was removed from the audit log";
//    - a noun does not count after a modifier naming something else: certificate/TLS/supply
//      chain, password/commit/git/file hash, cache/config/DNS/user/order/refund/payment entry,
//      record, row or log, nginx/access/error log, ...; "chain of ..." and "hash table/map/
//      function" do not count either;
//    - object triggers do not count in a clause that places the object elsewhere: "from / in /
//      into / by / within the cache, config, table, file(s), queue, retention, logrotate,
//      results, citations, answer, ..." ("the row was removed from the cache").
//    Deliberately not triggers: changed, updated, inserted, dropped (too common in operational
//    prose), and "tamper-evident", "tamper-proof", "tamper-resistant" (a property, not a finding).
//    "200 OK" is a status line, not "OK".
//
// 3. Negation: no, not, never, without, none, nothing, nobody, nor, neither, non-, zero (and "0"
//    before an audit noun), cannot, unable, absence, lack, "free of", "ruled out", any n't word;
//    "unlikely" counts as an evidential negation. A negation applies to the first trigger after it
//    in the clause, however far, and to the triggers coordinated with it ("no rows were deleted,
//    altered or reordered"); after a negated trigger its scope ends at a ':', at "and"/"or"
//    followed by a subject of its own and an auxiliary ("no tampering and row 5 was altered"), or
//    at the first word that is none of: conjunction, adverb, determiner, preposition, auxiliary,
//    audit noun, number, trigger. A second negation stacks only below "that", "whether" or "if"
//    ("no evidence that
//    the chain is not intact" = intact); otherwise it restarts ("neither deleted nor altered").
//    "No," (an interjection) and "not only" are not negations. After the triggers, "none",
//    "absent", "unlikely", "ruled out", or a negation followed by found/detected/observed/seen/
//    occurred/... negates the triggers before it ("tampering: none", "tampering was not
//    detected"); "tamper-free", "gap-free" likewise.
//    Negated polarity: tampered -> intact; intact -> tampered; attested -> undetermined.
//    Evidential negations ("no evidence of", "no sign of", "no indication of", "nothing
//    indicates/suggests", "unlikely"): negated tampered -> intact (documented choice: "no evidence
//    of tampering" is a claim of integrity in effect, and must be backed like one); negated intact
//    -> undetermined ("no evidence that the chain is intact" asserts nothing).
//
// 4. Uncertainty makes every trigger of its clause undetermined:
//    - unknown, unclear, uncertain, undetermined, unverified, unconfirmed, unchecked,
//      inconclusive, indeterminate, unverifiable, unsure;
//    - a negation followed within 3 words by confirm, verify, determine, check, establish,
//      assess, tell, prove, validate, ascertain, guarantee, say, sure, certain or "rule
//      (out)": "could not confirm", "unable to verify", "cannot rule out", "has not been
//      verified", "did not check" (but "the chain does not verify", "... does not check out" are
//      failed checks: tampered);
//    - "fails/failed to verify" with no audit noun before it ("I failed to verify the chain");
//    - hedges: may, might, maybe, possibly, possible, perhaps, potentially, potential, plausible,
//      conceivably, suspect(ed), whether, if, "could be", "could have".
//    The first two also make a clause with no trigger undetermined when it names the chain, the
//    hashes, integrity, the audit, doctor or chain_verify ("could not confirm the chain",
//    "integrity unknown"); otherwise a clause without triggers asserts nothing.
//
// Known limits (English only; a rule set, not a parser): "X in the audit log was deleted" takes
// the log as the subject; pronouns are not resolved ("on edge-us-1 it breaks at seq 1239" and
// "everything is intact" are not statements); telegraphic lines without a chain noun ("BREAK at
// seq 1239", "gaps found: none") are not statements; tamper* counts whatever was tampered with
// ("the webhook payload was tampered with"). Cost: about 1 ms per 10 KB.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fasten {

enum class IntegrityPolarity { kNone, kIntact, kTampered, kUndetermined };

// "none", "intact", "tampered", "undetermined".
const char* IntegrityPolarityName(IntegrityPolarity polarity);

// Longest phrase a statement reports; a longer span is reduced to the trigger word.
inline constexpr size_t kMaxIntegrityPhraseBytes = 160;

// One integrity statement: its polarity and the phrase that decided it, as a byte span of the
// text ("no evidence of tampering", "chain was not intact", "could not confirm the chain").
// kNone: no statement, empty span.
struct IntegrityAssertion {
  IntegrityPolarity polarity = IntegrityPolarity::kNone;
  size_t begin = 0, end = 0;  // text[begin, end); end - begin <= kMaxIntegrityPhraseBytes
  std::string phrase;         // the same bytes, copied
};

// Every statement of `text`, in text order; at most one per polarity change within a clause
// (consecutive statements of one polarity in a clause are reported once). Never kNone.
std::vector<IntegrityAssertion> FindIntegrityStatements(std::string_view text);

// True when an intact statement is about anchoring ("anchored", "notarized", "checkpointed",
// "timestamped"): the chain's verdict alone does not back it, the checkpoints must
// (validator/citations.cc: every node of the answer's window anchored).
bool SaysAnchored(const IntegrityAssertion& assertion);

// What `text` asserts as a whole: kTampered if any statement is tampered, else kIntact if any is
// intact, else kUndetermined if any is undetermined, else kNone; with the first statement of that
// polarity. Mixed texts ("rows 5-7 were deleted, but the rest of the chain is intact") report
// kTampered here; FindIntegrityStatements lists both.
IntegrityAssertion DetectIntegrityAssertion(std::string_view text);

// For messages: "the text says 'no tampering' (an integrity statement: intact)"; "" for kNone.
std::string DescribeIntegrityAssertion(const IntegrityAssertion& assertion);

// The product rule above, for a claim whose `integrity` field is `field` (kNone: absent;
// kUndetermined is treated as absent, the field has no such value).
enum class IntegrityMarking {
  kConsistent,   // the text and the field agree
  kUnmarked,     // no field, and the text asserts intact or tampered (integrity_unmarked)
  kConflicting,  // the text asserts what the field denies, or is undetermined under "intact"
};
// Sets *offending (when not null) to the first statement that breaks the rule, else kNone.
IntegrityMarking CheckIntegrityMarking(std::string_view text, IntegrityPolarity field,
                                       IntegrityAssertion* offending);

}  // namespace fasten
