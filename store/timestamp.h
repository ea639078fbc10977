// Timestamps as fasten writers spell them, parsed to one instant.
//
// An instant is an int64 count of microseconds since 1970-01-01T00:00:00Z. Accepted spellings
// (docs/format.md §3.1): YYYY-MM-DDTHH:MM:SS (a space may stand for the T), an optional fraction of
// 1-9 digits, then Z, +00:00, another ±HH:MM (or ±HHMM, ±HH) offset, or nothing (meaning UTC).
// Fractions are TRUNCATED to microseconds, never rounded (Go's hash truncates nanoseconds).
// Thread-safe (no state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fasten {

using Micros = int64_t;

// Parses any accepted spelling. Returns false for anything else (the caller keeps the raw text).
bool ParseTimestamp(std::string_view text, Micros* out);

// Appends the canonical wire spelling YYYY-MM-DDTHH:MM:SS.ffffffZ (always six digits, Z).
void AppendCanonicalTimestamp(Micros t, std::string* out);
std::string CanonicalTimestamp(Micros t);

// Appends CPython datetime.isoformat() of the UTC instant: YYYY-MM-DDTHH:MM:SS+00:00 when the
// microseconds are zero, else YYYY-MM-DDTHH:MM:SS.ffffff+00:00.
void AppendIsoformatTimestamp(Micros t, std::string* out);

// Which end of an inclusive window a time bound is.
enum class TimeEdge { kSince, kUntil };

// Parses a user-supplied time bound: an accepted timestamp spelling, a date alone (YYYY-MM-DD),
// "now", or "now-<N><unit>" with unit s, m, h or d (e.g. now-15m, now-7d). `now` is the
// reference instant. A date alone stands for the whole UTC day: as `since` its first instant
// (00:00:00.000000Z), as `until` its last (23:59:59.999999Z), so an inclusive window ending at
// that date takes the whole day and nothing of the next (docs/tools.md, Times).
// Returns nullopt and fills *error (saying what is accepted) when the text is none of these.
std::optional<Micros> ParseTimeBound(std::string_view text, Micros now, TimeEdge edge,
                                     std::string* error);

// Current wall-clock time.
Micros NowMicros();

// The 19-character whole-second prefix YYYY-MM-DDTHH:MM:SS of an instant (used to push time
// windows into SQL over TEXT columns, docs/format.md §3.3).
std::string SecondPrefix(Micros t);

}  // namespace fasten
