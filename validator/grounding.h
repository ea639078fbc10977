// Grounding (validator/citations.h): the values a claim quotes, and whether a cited row holds
// them. The citation checker extracts a claim's tokens, builds a haystack per cited row and
// rejects a claim whose token no cited row grounds.
//
// What counts as a quoted value in a claim (deliberately conservative: prose, counts, amounts
// and paraphrase are never checked; only things that look copied from a row):
//   literal     a `backtick span` (1-200 bytes, one line): must occur verbatim in a row value;
//   code        UPPER_SNAKE words with at least one underscore (REFUND_ROLLED_BACK);
//   hex         runs of >= 8 hex digits with at least one digit and one letter (request ids,
//               hashes; a prefix of a longer hex value in a row counts), and UUIDs;
//   identifier  words starting with a letter, holding a lowercase letter, a digit and a '-' or
//               '_' (rf_5T2x9, ord-88412, edge-eu-1, sched-5e1f0a7c), minus a few technical terms
//               (utf-8, sha-256, x86_64, ...);
//   path        words starting with '/' then a letter or digit (/v1/webhooks/stripe/refund);
//   status      a number 100-599 next to HTTP wording ("HTTP 502", "status 503", "returned a
//               502", "502 Bad Gateway", "a 502 error"), not followed by a unit or a count noun;
//   seq         a number after "seq", "monotonic_seq" or "sequence": must be a cited row's seq;
//   timestamp   ISO dates and date-times (2026-11-20, 2026-11-20T14:32Z, ...14:32:01.104Z, with
//               an offset converted to UTC): some row instant must fall within the quoted
//               precision (a minute, a second, ...);
//   time        a time of day H:MM, HH:MM:SS(.f) (taken as UTC): some row instant's time of day
//               must fall within it.
// Matching: words are compared with word boundaries (codes and identifiers do not match inside
// longer words), hex case-insensitively; numbers against every integer in the row (JSON numbers,
// the status column, digit runs inside text); instants against the row's timestamp columns and
// every text value that parses as a timestamp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/row.h"
#include "store/timestamp.h"

namespace fasten {

enum class GroundingKind {
  kLiteral,
  kCode,
  kHex,
  kIdentifier,
  kPath,
  kStatus,
  kSeq,
  kTimestamp,
  kTimeOfDay
};
const char* GroundingKindName(GroundingKind kind);

struct GroundingToken {
  GroundingKind kind = GroundingKind::kLiteral;
  std::string text;         // as written in the claim
  int64_t number = 0;       // status, seq
  Micros from = 0, to = 0;  // timestamp: [from, to); time of day: micros since midnight
};

std::vector<GroundingToken> ExtractGroundingTokens(std::string_view claim);

// What a row offers to grounding.
//
// Built without copying the row's text: `texts` are views into the row (and its raw detail or
// payload JSON, searched as text: keys, string values and number tokens all occur in it), which
// the caller owns and never moves
// (the citation checker's Resolved entry). `extra` holds what is not stored as text (the seq,
// the canonical timestamp spelling).
struct Haystack {
  std::vector<std::string_view> texts;
  std::vector<int64_t> integers;  // digit runs of every text, the status column
  std::vector<Micros> instants;   // timestamp columns, timestamps inside the JSON text
  int64_t seq = 0;
  std::string extra;
};

// REQUIRES: `r` stays where it is while `h` is used.
void BuildAuditHaystack(const AuditRow& r, Haystack* h);
// REQUIRES: `r` and `digest` stay where they are while `h` is used.
void BuildStreamHaystack(const StreamRow& r, const std::string& digest, Haystack* h);

// Whether the row behind `h` holds the value `t` quotes.
bool Grounded(const GroundingToken& t, const Haystack& h);

// Values of the token's kind that the rows do hold, for the rejection message (status codes and
// UPPER_SNAKE codes only); empty for other kinds.
std::string GroundingHint(const GroundingToken& t, const std::vector<const Haystack*>& hay);

}  // namespace fasten
