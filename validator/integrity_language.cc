#include "validator/integrity_language.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <iterator>

namespace fasten {
namespace {

constexpr size_t kNpos = std::string_view::npos;

// ---------------------------------------------------------------------------------------------
// Vocabulary (the header's tables). The lists are merged at compile time into one sorted lexicon
// (kLexicon below): one binary search per word.

using Words = std::string_view;

constexpr Words kNegators[] = {"no",      "not",  "never",   "without", "none",     "nothing",
                               "nobody",  "nor",  "neither", "cannot",  "non",      "unable",
                               "absence", "lack", "lacks",   "zero",    "unlikely", "absent"};
constexpr Words kPostNegators[] = {"none", "absent", "unlikely"};
constexpr Words kFindings[] = {"found",      "detected",   "observed",  "seen",     "present",
                               "identified", "evident",    "apparent",  "occurred", "occur",
                               "happened",   "happen",     "indicated", "shown",    "visible",
                               "noted",      "noticed",    "reported",  "exist",    "exists",
                               "existed",    "detectable", "discovered"};
constexpr Words kEvidenceNouns[] = {"evidence",    "sign",       "signs",   "indication",
                                    "indications", "proof",      "trace",   "traces",
                                    "hint",        "hints",      "reason",  "suggestion",
                                    "indicator",   "indicators", "symptom", "symptoms"};
constexpr Words kEvidenceVerbs[] = {"indicates", "suggests", "shows", "points", "implies",
                                    "indicate",  "suggest",  "show",  "hints",  "proves"};
constexpr Words kEpistemicWords[] = {
    "confirm",   "confirms",    "confirmed", "confirming",  "confirmation", "verify",
    "verifies",  "verified",    "verifying", "determine",   "determined",   "check",
    "checked",   "checking",    "establish", "established", "assess",       "assessed",
    "tell",      "prove",       "proven",    "proved",      "validate",     "validated",
    "ascertain", "ascertained", "guarantee", "guaranteed",  "say",          "said",
    "sure",      "certain",     "rule",      "ruled",       "rules"};
constexpr Words kUncertainWords[] = {"unknown",       "unclear",      "uncertain", "undetermined",
                                     "unverified",    "unconfirmed",  "unchecked", "inconclusive",
                                     "indeterminate", "unverifiable", "unsure",    "undecided"};
constexpr Words kHedges[] = {"may",       "might",       "maybe",     "possibly",  "possible",
                             "perhaps",   "potentially", "potential", "plausible", "conceivably",
                             "suspected", "suspect",     "whether",   "if"};
constexpr Words kEmbedders[] = {"that", "whether", "if"};
constexpr Words kAuxWords[] = {
    "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "got", "gets", "get",
    "getting", "remain", "remains", "remained", "stay", "stays", "stayed", "appear", "appears",
    "appeared", "seem", "seems", "seemed", "look", "looks", "looked", "become", "becomes", "became",
    "do", "does", "did", "will", "would", "can", "could", "should", "must", "shall", "found",
    "deemed", "considered", "to",
    // Expletive subjects ("there is no break", "it was altered").
    "it", "there",
    // Where a row was put ("a row was inserted out of order").
    "inserted", "written", "appended", "stored", "placed", "added"};
constexpr Words kReporting[] = {"reports",  "reported",  "report",    "returns",  "returned",
                                "return",   "says",      "said",      "shows",    "showed",
                                "shown",    "finds",     "found",     "prints",   "printed",
                                "gives",    "gave",      "lists",     "listed",   "outputs",
                                "confirms", "indicates", "reporting", "answered", "answers"};
constexpr Words kAdverbs[] = {"also",
                              "then",
                              "later",
                              "silently",
                              "apparently",
                              "clearly",
                              "actually",
                              "subsequently",
                              "already",
                              "fully",
                              "entirely",
                              "completely",
                              "still",
                              "indeed",
                              "definitely",
                              "certainly",
                              "really",
                              "likely",
                              "partially",
                              "successfully",
                              "correctly",
                              "properly",
                              "now",
                              "just",
                              "evidently",
                              "obviously",
                              "retroactively",
                              "manually",
                              "deliberately",
                              "intentionally",
                              "ever",
                              "longer",
                              "further",
                              "wholly",
                              "truly",
                              "reportedly",
                              "cryptographically",
                              "otherwise",
                              "again",
                              "originally",
                              "previously",
                              "quietly",
                              "somehow",
                              "probably",
                              "verifiably",
                              "demonstrably",
                              "even",
                              "only"};
constexpr Words kDeterminers[] = {"the",         "a",
                                  "an",          "some",
                                  "several",     "any",
                                  "all",         "both",
                                  "each",        "every",
                                  "few",         "many",
                                  "more",        "most",
                                  "other",       "multiple",
                                  "its",         "their",
                                  "these",       "those",
                                  "this",        "that",
                                  "my",          "our",
                                  "your",        "his",
                                  "her",         "two",
                                  "three",       "four",
                                  "five",        "six",
                                  "seven",       "eight",
                                  "nine",        "ten",
                                  "cited",       "sealed",
                                  "existing",    "original",
                                  "older",       "earlier",
                                  "prior",       "previous",
                                  "adjacent",    "whole",
                                  "entire",      "same",
                                  "remaining",   "following",
                                  "preceding",   "subsequent",
                                  "individual",  "underlying",
                                  "stored",      "historical",
                                  "first",       "last",
                                  "next",        "single",
                                  "one",         "neighbouring",
                                  "neighboring", "affected",
                                  "relevant",    "corresponding"};
constexpr Words kPrepositions[] = {
    "for",    "of",     "on",      "in",    "at",     "from",  "between", "around", "near",
    "within", "during", "since",   "until", "across", "after", "before",  "about",  "under",
    "over",   "with",   "through", "into",  "inside", "per",   "via",     "by",     "off"};
constexpr Words kConnectors[] = {"and", "or", "to", "through", "&", "plus", "as", "well"};
constexpr Words kAuditNouns[] = {
    "row",           "rows",        "record",       "records", "entry",    "entries", "log",
    "logs",          "chain",       "chains",       "hash",    "hashes",   "history", "seq",
    "monotonic_seq", "predecessor", "predecessors", "trail",   "audit",    "link",    "links",
    "prev_hash",     "integrity",   "digest",       "digests", "hashchain"};
constexpr Words kChainNouns[] = {"chain",   "chains",       "hash",        "hashes",   "integrity",
                                 "doctor",  "chain_verify", "digest",      "digests",  "prev_hash",
                                 "linkage", "commitment",   "commitments", "hashchain"};
constexpr Words kCompoundModifiers[] = {"audit",     "chain",        "hash",   "hashes",
                                        "integrity", "chain_verify", "doctor", "digest"};
constexpr Words kTopics[] = {"chain", "chains", "integrity",    "hash",      "hashes",
                             "audit", "doctor", "chain_verify", "prev_hash", "hashchain"};
constexpr Words kModifierVetoes[] = {
    "certificate", "cert",     "certs",    "tls",        "ssl",         "x509",
    "trust",       "supply",   "filter",   "middleware", "handler",     "call",
    "callback",    "promise",  "redirect", "dependency", "proxy",       "cache",
    "config",      "user",     "customer", "dns",        "order",       "refund",
    "payment",     "invoice",  "account",  "cart",       "session",     "queue",
    "nginx",       "access",   "error",    "debug",      "application", "app",
    "password",    "commit",   "git",      "file",       "image",       "job",
    "task",        "message",  "product",  "inventory",  "ticket",      "webhook",
    "email",       "calendar", "browser",  "build",      "docker",      "container",
    "transaction", "wal",      "kernel",   "event",      "request",     "response",
    "cookie",      "url",      "table",    "database",   "db",          "server",
    "block"};
constexpr Words kPlaces[] = {
    "cache",     "caches",  "cached", "config", "configuration", "settings",  "table",
    "tables",    "file",    "files",  "queue",  "buffer",        "retention", "rotation",
    "logrotate", "results", "result", "output", "citations",     "citation",  "answer",
    "claim",     "claims",  "memory", "index",  "response",      "dashboard", "ui",
    "view",      "list",    "cart",   "tmp",    "disk"};
constexpr Words kPlacePrepositions[] = {"from", "in",     "into",   "out",
                                        "by",   "within", "inside", "off"};
constexpr Words kClauseBreaks[] = {"but",          "however",     "although", "though",
                                   "whereas",      "while",       "because",  "unless",
                                   "nevertheless", "nonetheless", "meanwhile"};
constexpr Words kClauseStarters[] = {"the",   "a",    "an",    "this", "these", "those", "it",
                                     "its",   "they", "their", "we",   "i",     "he",    "she",
                                     "there", "all",  "every", "each", "both",  "no",    "nothing",
                                     "none",  "our",  "my",    "you",  "your"};
constexpr Words kNounForwardPrepositions[] = {"of", "in", "within", "across", "between"};
constexpr Words kHashNonChain[] = {"table",     "tables",    "map",        "maps", "function",
                                   "functions", "join",      "joins",      "ring", "set",
                                   "sets",      "algorithm", "algorithms", "key",  "keys"};
constexpr Words kTamperProperties[] = {"evident",   "evidence",   "proof",     "proofing",
                                       "resistant", "resistance", "detection", "seal",
                                       "seals",     "protection", "protected"};
constexpr Words kMissingObjects[] = {"the", "a", "an", "its", "their", "his", "her", "this"};
constexpr Words kFailObjects[] = {"verification", "validation", "verify", "recompute", "match",
                                  "validate",     "verifying",  "checks", "check"};
constexpr Words kDoAux[] = {"do", "does", "did"};

template <size_t N>
bool In(std::string_view w, const Words (&list)[N]) {
  for (std::string_view s : list) {
    if (s == w) return true;
  }
  return false;
}

// Roles a word can play (several at once).
enum Role : uint32_t {
  kNeg = 1u << 0,
  kPostNeg = 1u << 1,
  kFinding = 1u << 2,
  kEvidenceNoun = 1u << 3,
  kEvidenceVerb = 1u << 4,
  kEpistemic = 1u << 5,
  kUncertain = 1u << 6,
  kHedge = 1u << 7,
  kEmbed = 1u << 8,
  kAux = 1u << 9,
  kReport = 1u << 10,
  kAdverb = 1u << 11,
  kDet = 1u << 12,
  kPrep = 1u << 13,
  kConnector = 1u << 14,
  kAuditNoun = 1u << 15,
  kChainNoun = 1u << 16,
  kCompound = 1u << 17,
  kTopic = 1u << 18,
  kModVeto = 1u << 19,
  kPlace = 1u << 20,
  kClauseBreak = 1u << 21,
  kClauseStart = 1u << 22,
  kMarker = 1u << 23,  // set by the analysis: an uncertainty marker ("could not confirm")
};

// What a trigger word needs, and what it asserts unnegated.
enum class Need : uint8_t { kNothing, kAuditNoun, kChainNoun };
enum class Base : uint8_t { kIntact, kTampered, kAttested };

struct TriggerDef {
  std::string_view word;
  Need need;
  Base base;
  bool noun;  // a noun ("gap", "break"): may look forward through in/within/across/between
};

constexpr Need kAlways = Need::kNothing, kObj = Need::kAuditNoun, kNear = Need::kChainNoun;
constexpr Base kI = Base::kIntact, kT = Base::kTampered, kA = Base::kAttested;

constexpr TriggerDef kTriggers[] = {
    {"tamper", kAlways, kT, false},
    {"tampered", kAlways, kT, false},
    {"tampering", kAlways, kT, true},
    {"tampers", kAlways, kT, false},
    {"untampered", kAlways, kI, false},
    // Object triggers, tampered.
    {"altered", kObj, kT, false},
    {"alter", kObj, kT, false},
    {"alters", kObj, kT, false},
    {"altering", kObj, kT, false},
    {"alteration", kObj, kT, true},
    {"alterations", kObj, kT, true},
    {"modified", kObj, kT, false},
    {"modify", kObj, kT, false},
    {"modifies", kObj, kT, false},
    {"modification", kObj, kT, true},
    {"modifications", kObj, kT, true},
    {"edited", kObj, kT, false},
    {"edits", kObj, kT, true},
    {"deleted", kObj, kT, false},
    {"delete", kObj, kT, false},
    {"deletes", kObj, kT, false},
    {"deleting", kObj, kT, false},
    {"deletion", kObj, kT, true},
    {"deletions", kObj, kT, true},
    {"removed", kObj, kT, false},
    {"remove", kObj, kT, false},
    {"removes", kObj, kT, false},
    {"removal", kObj, kT, true},
    {"erased", kObj, kT, false},
    {"purged", kObj, kT, false},
    {"wiped", kObj, kT, false},
    {"reordered", kObj, kT, false},
    {"reorder", kObj, kT, false},
    {"reordering", kObj, kT, true},
    {"rewritten", kObj, kT, false},
    {"rewrote", kObj, kT, false},
    {"rewrite", kObj, kT, false},
    {"overwritten", kObj, kT, false},
    {"overwrote", kObj, kT, false},
    {"replaced", kObj, kT, false},
    {"truncated", kObj, kT, false},
    {"forged", kObj, kT, false},
    {"forgery", kObj, kT, true},
    {"falsified", kObj, kT, false},
    {"doctored", kObj, kT, false},
    {"manipulated", kObj, kT, false},
    {"manipulation", kObj, kT, true},
    {"compromised", kObj, kT, false},
    {"backdated", kObj, kT, false},
    {"injected", kObj, kT, false},
    {"corrupted", kObj, kT, false},
    {"corruption", kObj, kT, true},
    {"missing", kObj, kT, false},
    {"gap", kObj, kT, true},
    {"gaps", kObj, kT, true},
    {"anomaly", kObj, kT, true},
    {"anomalies", kObj, kT, true},
    {"discrepancy", kObj, kT, true},
    {"discrepancies", kObj, kT, true},
    {"irregularity", kObj, kT, true},
    {"irregularities", kObj, kT, true},
    // Object triggers, intact.
    {"intact", kObj, kI, false},
    {"unaltered", kObj, kI, false},
    {"unmodified", kObj, kI, false},
    {"untouched", kObj, kI, false},
    {"unedited", kObj, kI, false},
    {"unchanged", kObj, kI, false},
    {"unbroken", kObj, kI, false},
    {"preserved", kObj, kI, false},
    {"complete", kObj, kI, false},
    {"authentic", kObj, kI, false},
    {"genuine", kObj, kI, false},
    // Near triggers, tampered.
    {"broken", kNear, kT, false},
    {"break", kNear, kT, true},
    {"breaks", kNear, kT, true},
    {"broke", kNear, kT, false},
    {"mismatch", kNear, kT, true},
    {"mismatches", kNear, kT, true},
    {"mismatched", kNear, kT, false},
    {"invalid", kNear, kT, false},
    {"inconsistent", kNear, kT, false},
    {"inconsistency", kNear, kT, true},
    {"fails", kNear, kT, false},
    {"failed", kNear, kT, false},
    {"fail", kNear, kT, false},
    {"failure", kNear, kT, true},
    {"failures", kNear, kT, true},
    {"violated", kNear, kT, false},
    {"violation", kNear, kT, true},
    {"violations", kNear, kT, true},
    {"bad", kNear, kT, false},
    {"wrong", kNear, kT, false},
    {"incorrect", kNear, kT, false},
    {"corrupt", kNear, kT, false},
    {"issue", kNear, kT, true},
    {"issues", kNear, kT, true},
    {"problem", kNear, kT, true},
    {"problems", kNear, kT, true},
    // Near triggers, intact.
    {"ok", kNear, kI, false},
    {"okay", kNear, kI, false},
    {"valid", kNear, kI, false},
    {"consistent", kNear, kI, false},
    {"sound", kNear, kI, false},
    {"good", kNear, kI, false},
    {"fine", kNear, kI, false},
    {"healthy", kNear, kI, false},
    {"clean", kNear, kI, false},
    {"correct", kNear, kI, false},
    {"passes", kNear, kI, false},
    {"passed", kNear, kI, false},
    {"pass", kNear, kI, false},
    {"holds", kNear, kI, false},
    {"match", kNear, kI, false},
    {"matches", kNear, kI, false},
    {"matched", kNear, kI, false},
    {"recomputes", kObj, kI, false},
    {"recomputed", kObj, kI, false},
    {"recompute", kObj, kI, false},
    {"verifies", kNear, kI, false},
    {"verify", kNear, kI, false},
    {"maintained", kNear, kI, false},
    // Near triggers, attested.
    {"verified", kNear, kA, false},
    {"confirmed", kNear, kA, false},
    {"validated", kNear, kA, false},
    {"proven", kNear, kA, false},
    // Anchoring (docs/evidence.md): said of the chain, a claim that needs the checkpoints.
    {"anchored", kNear, kA, false},
    {"notarized", kNear, kA, false},
    {"notarised", kNear, kA, false},
    {"checkpointed", kNear, kA, false},
    {"timestamped", kNear, kA, false},
};

// The lexicon: every word of the lists above once, with all its roles and its trigger, sorted at
// compile time so that a lookup is one binary search.
struct Entry {
  std::string_view word;
  uint32_t roles = 0;
  const TriggerDef* trigger = nullptr;
};

template <size_t N>
constexpr size_t Size(const Words (&)[N]) {
  return N;
}

constexpr size_t kLexiconCapacity =
    Size(kNegators) + Size(kPostNegators) + Size(kFindings) + Size(kEvidenceNouns) +
    Size(kEvidenceVerbs) + Size(kEpistemicWords) + Size(kUncertainWords) + Size(kHedges) +
    Size(kEmbedders) + Size(kAuxWords) + Size(kReporting) + Size(kAdverbs) + Size(kDeterminers) +
    Size(kPrepositions) + Size(kConnectors) + Size(kAuditNouns) + Size(kChainNouns) +
    Size(kCompoundModifiers) + Size(kTopics) + Size(kModifierVetoes) + Size(kPlaces) +
    Size(kClauseBreaks) + Size(kClauseStarters) + std::size(kTriggers);

struct Lexicon {
  std::array<Entry, kLexiconCapacity> entries{};
  size_t size = 0;
};

consteval Lexicon BuildLexicon() {
  Lexicon lex;
  size_t n = 0;
  auto add = [&](const auto& list, uint32_t role) {
    for (std::string_view w : list) lex.entries[n++] = Entry{w, role, nullptr};
  };
  add(kNegators, kNeg);
  add(kPostNegators, kPostNeg);
  add(kFindings, kFinding);
  add(kEvidenceNouns, kEvidenceNoun);
  add(kEvidenceVerbs, kEvidenceVerb);
  add(kEpistemicWords, kEpistemic);
  add(kUncertainWords, kUncertain);
  add(kHedges, kHedge);
  add(kEmbedders, kEmbed);
  add(kAuxWords, kAux);
  add(kReporting, kReport);
  add(kAdverbs, kAdverb);
  add(kDeterminers, kDet);
  add(kPrepositions, kPrep);
  add(kConnectors, kConnector);
  add(kAuditNouns, kAuditNoun);
  add(kChainNouns, kChainNoun);
  add(kCompoundModifiers, kCompound);
  add(kTopics, kTopic);
  add(kModifierVetoes, kModVeto);
  add(kPlaces, kPlace);
  add(kClauseBreaks, kClauseBreak);
  add(kClauseStarters, kClauseStart);
  for (const TriggerDef& t : kTriggers) lex.entries[n++] = Entry{t.word, 0, &t};
  std::sort(lex.entries.begin(), lex.entries.begin() + static_cast<std::ptrdiff_t>(n),
            [](const Entry& a, const Entry& b) { return a.word < b.word; });
  size_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    Entry& e = lex.entries[i];
    if (m > 0 && lex.entries[m - 1].word == e.word) {
      Entry& into = lex.entries[m - 1];
      if (into.trigger != nullptr && e.trigger != nullptr)
        throw "a word is listed twice in kTriggers";
      into.roles |= e.roles;
      if (e.trigger != nullptr) into.trigger = e.trigger;
    } else {
      lex.entries[m++] = e;
    }
  }
  lex.size = m;
  return lex;
}

constexpr Lexicon kLexicon = BuildLexicon();

const Entry* Lookup(std::string_view w) {
  const Entry* begin = kLexicon.entries.data();
  const Entry* end = begin + kLexicon.size;
  const Entry* it = std::lower_bound(
      begin, end, w, [](const Entry& e, std::string_view key) { return e.word < key; });
  return it != end && it->word == w ? it : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Words.

struct Tok {
  std::string text;           // lower-case ASCII; a curly apostrophe as '
  size_t key_size = 0;        // text without a trailing "'s" (the chain's -> chain)
  size_t begin = 0, end = 0;  // bytes of the input
  size_t sentence = 0, clause = 0;
  bool digit = false;  // holds a digit: a number or an identifier (edge-us-1, 1237-1239, 3a7b1c)
  bool comma_after = false, colon_after = false;
  bool break_before = false;  // a clause mark (— – · • " - ") right before it
  uint32_t roles = 0;
  const TriggerDef* trigger = nullptr;
  bool consumed = false;    // part of a phrase decided by another word ("out of order")
  bool direct_neg = false;  // "tamper-free", "gap-free"
  bool no_forward = false;  // "fails verification": its noun must come before it
  bool fail_check = false;  // ... and without one it is an uncertainty ("I failed to verify")
  size_t doubt_end = 0;     // a negation turned uncertainty marker: its verb ("not ... confirm")

  std::string_view key() const { return std::string_view(text).substr(0, key_size); }
};

bool IsAsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsRunByte(unsigned char c) {
  return IsAsciiAlnum(c) || c == '_' || c == '\'' || c == '-';
}
char Lower(unsigned char c) {
  return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}
// Length of the UTF-8 sequence at s[i] when it is one of `marks` (3-byte sequences E2 80 xx).
size_t Mark3(std::string_view s, size_t i, std::string_view last_bytes) {
  if (i + 2 < s.size() && static_cast<unsigned char>(s[i]) == 0xE2 &&
      static_cast<unsigned char>(s[i + 1]) == 0x80 &&
      last_bytes.find(s[i + 2]) != std::string_view::npos) {
    return 3;
  }
  return 0;
}
size_t CurlyApostrophe(std::string_view s, size_t i) {
  return Mark3(s, i, "\x98\x99");
}
// — – • break a clause; so does · (C2 B7).
size_t ClauseMark(std::string_view s, size_t i) {
  if (size_t n = Mark3(s, i, "\x93\x94\xA2")) return n;
  if (i + 1 < s.size() && static_cast<unsigned char>(s[i]) == 0xC2 &&
      static_cast<unsigned char>(s[i + 1]) == 0xB7) {
    return 2;
  }
  return 0;
}
size_t Ellipsis(std::string_view s, size_t i) {
  return Mark3(s, i, "\xA6");
}

class Tokenizer {
 public:
  explicit Tokenizer(std::string_view s) : s_(s) {}

  std::vector<Tok> Run() {
    size_t runs = 0;  // an upper bound on the words, so the vector is allocated once
    for (size_t i = 0; i < s_.size(); ++i) {
      const bool starts = IsRunByte(static_cast<unsigned char>(s_[i])) &&
                          (i == 0 || !IsRunByte(static_cast<unsigned char>(s_[i - 1])));
      if (starts) runs += 1;
    }
    out_.reserve(runs + runs / 4);
    size_t i = 0;
    while (i < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[i]);
      if (IsRunByte(c) || CurlyApostrophe(s_, i)) {
        i = ReadRun(i);
        continue;
      }
      if (c == '.') {
        if (!(i + 1 < s_.size() && IsAsciiAlnum(static_cast<unsigned char>(s_[i + 1])))) {
          sentence_pending_ = true;
        }
        ++i;
      } else if (c == '!' || c == '?' || c == ';' || c == '\n' || c == '\r') {
        sentence_pending_ = true;
        ++i;
      } else if (c == '|') {
        clause_pending_ = true;
        ++i;
      } else if (c == ',' || c == ':') {
        if (!out_.empty() && !sentence_pending_ && !clause_pending_) {
          (c == ',' ? out_.back().comma_after : out_.back().colon_after) = true;
        }
        ++i;
      } else if (size_t n = ClauseMark(s_, i)) {
        clause_pending_ = true;
        i += n;
      } else if (size_t m = Ellipsis(s_, i)) {
        sentence_pending_ = true;
        i += m;
      } else {
        ++i;  // any other byte, non-ASCII included, separates words
      }
    }
    return std::move(out_);
  }

 private:
  // Reads a run of [A-Za-z0-9_'-] (and curly apostrophes) from `i`; returns where it ends.
  size_t ReadRun(size_t i) {
    std::string& t = run_;
    std::vector<size_t>& at = run_at_;  // at[k]: the input offset of t[k]; at[t.size()]: its end
    t.clear();
    at.clear();
    bool digit = false;
    size_t j = i;
    while (j < s_.size()) {
      const unsigned char d = static_cast<unsigned char>(s_[j]);
      if (IsRunByte(d)) {
        t.push_back(Lower(d));
        at.push_back(j);
        digit = digit || (d >= '0' && d <= '9');
        ++j;
      } else if (size_t k = CurlyApostrophe(s_, j)) {
        t.push_back('\'');
        at.push_back(j);
        j += k;
      } else {
        break;
      }
    }
    at.push_back(j);
    bool any_alnum = false;
    for (char ch : t) any_alnum = any_alnum || IsAsciiAlnum(static_cast<unsigned char>(ch));
    if (!any_alnum) {
      if (t.find('-') != std::string::npos) clause_pending_ = true;  // " - " or " -- "
      return j;
    }
    // A hyphen splits words without digits (tamper-free, non-tampered, out-of-order).
    size_t from = 0;
    while (from < t.size()) {
      size_t to = digit ? t.size() : t.find('-', from);
      if (to == std::string::npos) to = t.size();
      Emit(t, at, from, to, digit);
      from = to + 1;
    }
    return j;
  }

  void Emit(const std::string& t, const std::vector<size_t>& at, size_t a, size_t b, bool digit) {
    while (a < b && (t[a] == '\'' || t[a] == '-')) ++a;
    while (b > a && (t[b - 1] == '\'' || t[b - 1] == '-')) --b;
    if (a == b) return;
    Tok w;
    w.text = t.substr(a, b - a);
    w.key_size = w.text.size();
    if (w.key_size > 2 && w.text.compare(w.key_size - 2, 2, "'s") == 0) w.key_size -= 2;
    w.begin = at[a];
    w.end = at[b];
    w.digit = digit;
    if (sentence_pending_ && !out_.empty()) ++sentence_;
    w.sentence = sentence_;
    w.break_before = clause_pending_;
    sentence_pending_ = clause_pending_ = false;
    if (const Entry* e = Lookup(w.key())) {
      w.roles = e->roles;
      w.trigger = e->trigger;
    }
    const std::string_view full = w.text;
    if ((full.size() > 3 && full.substr(full.size() - 3) == "n't") || full == "can't") {
      w.roles |= kNeg;  // isn't, wasn't, doesn't, couldn't, can't
    }
    out_.push_back(std::move(w));
  }

  std::string_view s_;
  std::vector<Tok> out_;
  std::string run_;             // the current run, lower-cased (reused)
  std::vector<size_t> run_at_;  // its input offsets (reused)
  size_t sentence_ = 0;
  bool sentence_pending_ = false, clause_pending_ = false;
};

// Assigns clause numbers (sentences, clause marks, clause-breaking words, "and the ...").
void AssignClauses(std::vector<Tok>* toks) {
  std::vector<Tok>& t = *toks;
  size_t clause = 0;
  for (size_t k = 0; k < t.size(); ++k) {
    bool brk = k > 0 && (t[k].sentence != t[k - 1].sentence || t[k].break_before);
    if (k > 0 && !brk) {
      const Tok& p = t[k - 1];
      const bool conj = p.key() == "and" || p.key() == "or";
      if (t[k].roles & kClauseBreak) {
        brk = true;
      } else if ((p.comma_after || conj) && (t[k].roles & kClauseStart)) {
        brk = true;
      } else if (conj && k >= 2 && t[k - 2].comma_after && (t[k].roles & kAuditNoun)) {
        brk = true;
      }
    }
    if (brk) ++clause;
    t[k].clause = clause;
  }
}

// ---------------------------------------------------------------------------------------------
// One clause.

struct Hit {
  size_t at = 0;
  Base base = Base::kIntact;
  int negations = 0;
  bool evidential = false;
  size_t neg = kNpos;       // the negation that decided it
  size_t post_end = kNpos;  // a post negation's last word ("was not detected")
  size_t noun = kNpos;      // the audit or chain noun it is about
};

bool IsStatusCode(const Tok& w) {
  return w.text.size() == 3 && w.text[0] >= '1' && w.text[0] <= '5' && w.text[1] >= '0' &&
         w.text[1] <= '9' && w.text[2] >= '0' && w.text[2] <= '9';
}

class Clause {
 public:
  Clause(std::vector<Tok>& t, size_t b, size_t e) : t_(t), b_(b), e_(e) {}

  void Analyze(std::string_view text, std::vector<IntegrityAssertion>* out) {
    AdjustPhrases();
    MarkNegations();
    FindPlaceVeto();
    std::vector<size_t> noun(e_ - b_, kNpos);
    std::vector<bool> valid(e_ - b_, false);
    size_t last_valid = kNpos;
    for (size_t k = b_; k < e_; ++k) {
      if (t_[k].consumed || t_[k].trigger == nullptr) continue;
      noun[k - b_] = Context(k);
      if (t_[k].fail_check && noun[k - b_] == kNpos) {
        t_[k].roles |= kMarker;  // "I failed to verify the chain"
        continue;
      }
      valid[k - b_] = t_[k].trigger->need == Need::kNothing || noun[k - b_] != kNpos;
      if (valid[k - b_]) last_valid = k;
    }
    bool uncertain = false;
    size_t marker = kNpos, topic = kNpos;
    for (size_t k = b_; k < e_; ++k) {
      if (t_[k].consumed) continue;
      if (t_[k].roles & (kUncertain | kMarker | kHedge)) uncertain = true;
      if (marker == kNpos && (t_[k].roles & (kUncertain | kMarker))) marker = k;
      if (topic == kNpos && IsNounAt(k, kTopic)) topic = k;
    }

    // Negation, left to right.
    std::vector<Hit> hits;
    size_t post_hit = 0;
    int count = 0;
    bool evidential = false, embedded = false, hit_since_neg = false;
    size_t neg = kNpos;
    auto close_scope = [&] {
      count = 0;
      evidential = embedded = hit_since_neg = false;
      neg = kNpos;
    };
    for (size_t k = b_; k < e_; ++k) {
      const Tok& w = t_[k];
      if (w.consumed) continue;
      if (count > 0 && hit_since_neg && (!Coordinating(k) || StartsPredicate(k))) close_scope();
      if (w.roles & kEmbed) embedded = true;
      if (w.roles & kNeg) {
        const bool after_all = last_valid == kNpos || last_valid < k;
        size_t finding = kNpos;
        for (size_t j = k + 1; j < e_ && j <= k + 2; ++j) {
          if (t_[j].roles & kFinding) finding = j;
        }
        if (after_all && ((w.roles & kPostNeg) || finding != kNpos)) {
          for (; post_hit < hits.size(); ++post_hit) {
            Hit& h = hits[post_hit];
            if (h.negations != 0) continue;
            h.negations = 1;
            h.evidential = w.key() == "unlikely";
            h.neg = kNpos;
            h.post_end = finding != kNpos ? finding : k;
          }
          continue;
        }
        if (count > 0 && embedded) {
          ++count;
          evidential = evidential || Evidential(k);
        } else {
          count = 1;
          evidential = Evidential(k);
        }
        embedded = hit_since_neg = false;
        neg = k;
      }
      if (valid[k - b_]) {
        Hit h;
        h.at = k;
        h.base = w.trigger->base;
        h.negations = count + (w.direct_neg ? 1 : 0);
        h.evidential = evidential;
        h.neg = count > 0 ? neg : kNpos;
        h.noun = noun[k - b_];
        hits.push_back(h);
        if (count > 0) hit_since_neg = true;
      }
      if (w.colon_after && count > 0 && hit_since_neg) close_scope();
    }

    // Polarity and the statements.
    IntegrityPolarity last = IntegrityPolarity::kNone;
    for (const Hit& h : hits) {
      IntegrityPolarity p = Polarity(h, uncertain);
      if (p == last) continue;  // one statement per run of one polarity
      last = p;
      size_t lo = h.at, hi = h.at;
      if (h.noun != kNpos) Widen(h.noun, &lo, &hi);
      if (h.neg != kNpos) Widen(WithModal(h.neg), &lo, &hi);
      if (h.post_end != kNpos) Widen(h.post_end, &lo, &hi);
      if (p == IntegrityPolarity::kUndetermined && marker != kNpos) WidenMarker(marker, &lo, &hi);
      out->push_back(Statement(text, p, lo, hi, h.at));
    }
    if (hits.empty() && marker != kNpos && topic != kNpos) {
      size_t lo = topic, hi = topic;
      WidenMarker(marker, &lo, &hi);
      out->push_back(Statement(text, IntegrityPolarity::kUndetermined, lo, hi, marker));
    }
  }

 private:
  std::string_view Key(size_t k) const { return k < e_ ? t_[k].key() : std::string_view(); }

  void Consume(size_t k) {
    if (k >= e_) return;
    t_[k].consumed = true;
    t_[k].roles = 0;
    t_[k].trigger = nullptr;
  }

  // Phrases that change what their words mean.
  void AdjustPhrases() {
    for (size_t k = b_; k < e_; ++k) {
      Tok& w = t_[k];
      if (w.consumed) continue;
      const std::string_view key = w.key(), next = Key(k + 1);
      if (key == "out" && next == "of" && Key(k + 2) == "order") {
        static constexpr TriggerDef kOutOfOrder = {"out of order", Need::kAuditNoun,
                                                   Base::kTampered, false};
        w.trigger = &kOutOfOrder;
        w.roles = 0;
        Consume(k + 1);
        Consume(k + 2);
      } else if ((key == "check" || key == "checks" || key == "checked") && next == "out") {
        static constexpr TriggerDef kChecksOut = {"checks out", Need::kChainNoun, Base::kIntact,
                                                  false};
        w.trigger = &kChecksOut;
        Consume(k + 1);
      } else if ((key == "rule" || key == "ruled" || key == "rules") && next == "out") {
        w.roles |= kNeg | kPostNeg;
        Consume(k + 1);
      } else if (key == "free" && next == "of") {
        w.roles |= kNeg;
      } else if (key == "tamper" && In(next, kTamperProperties)) {
        w.trigger = nullptr;  // tamper-evident, tamper-proof: a property, not a finding
        Consume(k + 1);
      } else if (w.trigger != nullptr && next == "free") {
        w.direct_neg = true;  // tamper-free, gap-free
        Consume(k + 1);
      } else if (key == "no" && (w.comma_after || w.colon_after || k + 1 == e_)) {
        w.roles &= ~kNeg;  // "No, rows were deleted."
      } else if (key == "not" && next == "only") {
        w.roles &= ~kNeg;
      } else if (key == "0" && k + 1 < e_ &&
                 ((t_[k + 1].roles & kAuditNoun) || t_[k + 1].trigger != nullptr)) {
        w.roles |= kNeg;
      } else if ((key == "ok" || key == "okay") && k > b_ && IsStatusCode(t_[k - 1])) {
        w.trigger = nullptr;  // "200 OK"
      } else if (key == "could" && (next == "be" || next == "have")) {
        w.roles |= kHedge;
      } else if (key == "verify" &&
                 !(k > b_ && ((t_[k - 1].roles & kNeg) || In(t_[k - 1].key(), kDoAux)))) {
        w.trigger = nullptr;  // bare "verify" asserts only in "does not verify"
      } else if (key == "missing" && In(next, kMissingObjects)) {
        w.trigger = nullptr;  // "the row is missing the tenant field"
      } else if (key == "fail" || key == "fails" || key == "failed" || key == "failing") {
        size_t object = kNpos;
        if (In(next, kFailObjects)) {
          object = k + 1;
        } else if (next == "to" && In(Key(k + 2), kFailObjects)) {
          object = k + 2;
        }
        if (object != kNpos) {
          static constexpr TriggerDef kFailsVerification = {"fails verification", Need::kAuditNoun,
                                                            Base::kTampered, false};
          w.trigger = &kFailsVerification;
          w.no_forward = w.fail_check = true;
          for (size_t j = k + 1; j <= object; ++j) Consume(j);
        }
      }
    }
  }

  // Evidential negations; negations that only introduce doubt ("could not confirm").
  void MarkNegations() {
    for (size_t k = b_; k < e_; ++k) {
      Tok& w = t_[k];
      if (w.consumed || !(w.roles & kNeg)) continue;
      for (size_t j = k + 1; j < e_ && j <= k + 3; ++j) {
        if (t_[j].consumed || !(t_[j].roles & kEpistemic)) continue;
        const TriggerDef* verb = t_[j].trigger;
        if (verb != nullptr && verb->base != Base::kAttested &&
            Backward(k, kAuditNoun | kChainNoun, false) != kNpos) {
          break;  // "the chain does not verify", "does not check out": a failed check, not doubt
        }
        w.roles = (w.roles & ~(kNeg | kPostNeg)) | kMarker;
        w.doubt_end = j;
        if (t_[j].roles & kNeg) t_[j].roles &= ~(kNeg | kPostNeg);  // "cannot rule out"
        break;
      }
    }
  }

  bool Evidential(size_t k) const {
    const Tok& w = t_[k];
    if (w.key() == "unlikely") return true;
    for (size_t j = k + 1; j < e_ && j <= k + 2; ++j) {
      if (t_[j].roles & kEvidenceNoun) return true;
    }
    if (w.key() == "nothing") {
      for (size_t j = k + 1; j < e_ && j <= k + 3; ++j) {
        if (t_[j].roles & kEvidenceVerb) return true;
      }
    }
    return false;
  }

  // "from the cache", "by logrotate": the object of this clause is somewhere else.
  void FindPlaceVeto() {
    for (size_t k = b_; k < e_ && !place_veto_; ++k) {
      if (t_[k].consumed || !In(t_[k].key(), kPlacePrepositions)) continue;
      for (size_t j = k + 1; j < e_ && j <= k + 3; ++j) {
        if ((t_[j].roles & kDet) || t_[j].digit) continue;
        if (t_[j].roles & kPlace) place_veto_ = true;
        break;
      }
    }
  }

  // An audit or chain noun (per `roles`) that names the audit chain at k.
  bool IsNounAt(size_t k, uint32_t roles) const {
    const Tok& w = t_[k];
    if (w.consumed || !(w.roles & roles)) return false;
    if (k > b_ && (t_[k - 1].roles & kModVeto)) return false;  // certificate chain, cache entry
    const std::string_view key = w.key(), next = Key(k + 1);
    if ((key == "chain" || key == "chains") && next == "of") return false;
    if ((key == "hash" || key == "hashes") && In(next, kHashNonChain)) return false;
    return true;
  }

  // The noun the trigger at k is about, or kNpos.
  size_t Context(size_t k) const {
    const TriggerDef& d = *t_[k].trigger;
    if (d.need == Need::kNothing) return Backward(k, kAuditNoun, false);  // for the phrase only
    const uint32_t roles = d.need == Need::kAuditNoun ? kAuditNoun : kChainNoun;
    const bool near = d.need == Need::kChainNoun;
    size_t n = Backward(k, roles, near);
    if (n == kNpos && !t_[k].no_forward && d.base != Base::kAttested) {
      n = Forward(k, roles, d.noun, d.need == Need::kAuditNoun && d.base == Base::kTampered);
    }
    if (n != kNpos && d.need == Need::kAuditNoun && place_veto_) return kNpos;
    return n;
  }

  bool Skippable(size_t j, bool report_skip) const {
    const Tok& w = t_[j];
    return w.consumed || w.digit || w.trigger != nullptr ||
           (w.roles & (kAux | kAdverb | kDet | kPrep | kConnector | kNeg | kMarker | kHedge |
                       kEpistemic | kUncertain | kEvidenceNoun)) ||
           (report_skip && (w.roles & kReport));
  }

  // Looks back from k for the subject (see the header, rule 2).
  size_t Backward(size_t k, uint32_t roles, bool report_skip) const {
    size_t j = k;
    for (int steps = 0; j > b_ && steps < 12; ++steps) {
      --j;
      if (IsNounAt(j, roles)) return j;
      // "the log shows no signs of manipulation": what shows the signs is the subject.
      if (t_[j].roles & kEvidenceNoun) report_skip = true;
      if (Skippable(j, report_skip)) continue;
      // A content word that is not an audit noun: a compound ("chain verification"), the object
      // of a preposition ("rows for request 3a7b1c"), or something else being talked about.
      if (j > b_ && IsNounAt(j - 1, kCompound) && (t_[j - 1].roles & roles)) return j - 1;
      size_t p = j;
      bool prep = false;
      for (int n = 0; n < 3 && p > b_; ++n) {
        --p;
        if (t_[p].roles & kPrep) {
          prep = true;
          break;
        }
      }
      if (!prep) return kNpos;
      j = p;
    }
    return kNpos;
  }

  // `from`: "nothing was removed from the audit log".
  size_t Forward(size_t k, uint32_t roles, bool noun_trigger, bool from) const {
    for (size_t j = k + 1; j < e_ && j <= k + 4; ++j) {
      if (IsNounAt(j, roles)) {
        while (j + 1 < e_ && IsNounAt(j + 1, kAuditNoun | kChainNoun)) ++j;  // "audit log"
        return j;
      }
      const Tok& w = t_[j];
      if (w.consumed || w.digit || (w.roles & (kDet | kAdverb))) continue;
      if (w.key() == "of" || (noun_trigger && In(w.key(), kNounForwardPrepositions)) ||
          (from && w.key() == "from")) {
        continue;
      }
      return kNpos;
    }
    return kNpos;
  }

  // "and row 5 was ...": a conjunction, a subject of its own, an auxiliary: a new predicate.
  bool StartsPredicate(size_t k) const {
    if (Key(k) != "and" && Key(k) != "or") return false;
    bool subject = false;
    for (size_t j = k + 1; j < e_ && j <= k + 4; ++j) {
      const Tok& w = t_[j];
      if (w.roles & kAux) return subject;
      if (w.trigger != nullptr || (w.roles & kNeg)) return false;
      if (!(w.roles & (kDet | kAdverb))) subject = true;  // edge-us-1 is a subject too
    }
    return false;
  }

  // Words that keep a negation's scope open after a negated trigger.
  bool Coordinating(size_t k) const {
    const Tok& w = t_[k];
    return w.consumed || w.digit || w.trigger != nullptr ||
           (w.roles & (kConnector | kAdverb | kDet | kNeg | kAux | kPrep | kAuditNoun | kChainNoun |
                       kHedge | kMarker));
  }

  static IntegrityPolarity Polarity(const Hit& h, bool uncertain) {
    if (uncertain) return IntegrityPolarity::kUndetermined;
    if (h.negations % 2 == 0) {
      return h.base == Base::kTampered ? IntegrityPolarity::kTampered : IntegrityPolarity::kIntact;
    }
    switch (h.base) {
      case Base::kTampered:
        return IntegrityPolarity::kIntact;
      case Base::kIntact:
        return h.evidential ? IntegrityPolarity::kUndetermined : IntegrityPolarity::kTampered;
      case Base::kAttested:
        return IntegrityPolarity::kUndetermined;
    }
    return IntegrityPolarity::kUndetermined;
  }

  // "not" -> "could not", "was not": the auxiliary before a negation belongs to the phrase.
  size_t WithModal(size_t k) const {
    if (k == b_ || (t_[k].key() != "not" && t_[k].key() != "never")) return k;
    const Tok& p = t_[k - 1];
    return !p.consumed && (p.roles & kAux) && p.key() != "it" && p.key() != "there" ? k - 1 : k;
  }

  void WidenMarker(size_t marker, size_t* lo, size_t* hi) const {
    Widen(WithModal(marker), lo, hi);
    if (t_[marker].doubt_end != 0) Widen(t_[marker].doubt_end, lo, hi);
  }

  static void Widen(size_t k, size_t* lo, size_t* hi) {
    if (k < *lo) *lo = k;
    if (k > *hi) *hi = k;
  }

  IntegrityAssertion Statement(std::string_view text, IntegrityPolarity p, size_t lo, size_t hi,
                               size_t core) const {
    IntegrityAssertion a;
    a.polarity = p;
    while (hi + 1 < e_ && t_[hi + 1].consumed) ++hi;  // "out of order", "ruled out"
    a.begin = t_[lo].begin;
    a.end = t_[hi].end;
    if (a.end - a.begin > kMaxIntegrityPhraseBytes) {
      a.begin = t_[core].begin;
      a.end = t_[core].end;
      if (a.end - a.begin > kMaxIntegrityPhraseBytes) a.end = a.begin + kMaxIntegrityPhraseBytes;
    }
    a.phrase = std::string(text.substr(a.begin, a.end - a.begin));
    return a;
  }

  std::vector<Tok>& t_;
  const size_t b_, e_;
  bool place_veto_ = false;
};

int Rank(IntegrityPolarity p) {
  switch (p) {
    case IntegrityPolarity::kTampered:
      return 3;
    case IntegrityPolarity::kIntact:
      return 2;
    case IntegrityPolarity::kUndetermined:
      return 1;
    case IntegrityPolarity::kNone:
      return 0;
  }
  return 0;
}

}  // namespace

const char* IntegrityPolarityName(IntegrityPolarity polarity) {
  switch (polarity) {
    case IntegrityPolarity::kNone:
      return "none";
    case IntegrityPolarity::kIntact:
      return "intact";
    case IntegrityPolarity::kTampered:
      return "tampered";
    case IntegrityPolarity::kUndetermined:
      return "undetermined";
  }
  return "none";
}

bool SaysAnchored(const IntegrityAssertion& assertion) {
  if (assertion.polarity != IntegrityPolarity::kIntact) return false;
  std::string lower = assertion.phrase;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view stem : {"anchored", "notari", "checkpointed", "timestamped"}) {
    if (lower.find(stem) != std::string::npos) return true;
  }
  return false;
}

std::vector<IntegrityAssertion> FindIntegrityStatements(std::string_view text) {
  std::vector<Tok> toks = Tokenizer(text).Run();
  AssignClauses(&toks);
  std::vector<IntegrityAssertion> out;
  for (size_t b = 0; b < toks.size();) {
    size_t e = b + 1;
    while (e < toks.size() && toks[e].clause == toks[b].clause) ++e;
    Clause(toks, b, e).Analyze(text, &out);
    b = e;
  }
  return out;
}

IntegrityAssertion DetectIntegrityAssertion(std::string_view text) {
  IntegrityAssertion best;
  for (IntegrityAssertion& a : FindIntegrityStatements(text)) {
    if (Rank(a.polarity) > Rank(best.polarity)) best = std::move(a);
  }
  return best;
}

std::string DescribeIntegrityAssertion(const IntegrityAssertion& assertion) {
  if (assertion.polarity == IntegrityPolarity::kNone) return "";
  return "the text says '" + assertion.phrase +
         "' (an integrity statement: " + IntegrityPolarityName(assertion.polarity) + ")";
}

IntegrityMarking CheckIntegrityMarking(std::string_view text, IntegrityPolarity field,
                                       IntegrityAssertion* offending) {
  if (offending != nullptr) *offending = IntegrityAssertion();
  for (IntegrityAssertion& a : FindIntegrityStatements(text)) {
    IntegrityMarking verdict = IntegrityMarking::kConsistent;
    switch (field) {
      case IntegrityPolarity::kIntact:
        if (a.polarity != IntegrityPolarity::kIntact) verdict = IntegrityMarking::kConflicting;
        break;
      case IntegrityPolarity::kTampered:
        if (a.polarity == IntegrityPolarity::kIntact) verdict = IntegrityMarking::kConflicting;
        break;
      case IntegrityPolarity::kNone:
      case IntegrityPolarity::kUndetermined:
        if (a.polarity != IntegrityPolarity::kUndetermined) verdict = IntegrityMarking::kUnmarked;
        break;
    }
    if (verdict != IntegrityMarking::kConsistent) {
      if (offending != nullptr) *offending = std::move(a);
      return verdict;
    }
  }
  return IntegrityMarking::kConsistent;
}

}  // namespace fasten
