#include "store/timestamp.h"

#include <gtest/gtest.h>

namespace fasten {
namespace {

Micros P(const char* s) {
  Micros t = 0;
  EXPECT_TRUE(ParseTimestamp(s, &t)) << s;
  return t;
}

TEST(Timestamp, EverySdkSpellingOfOneInstantAgrees) {
  const Micros t = P("2026-08-21T10:00:00.123456Z");
  EXPECT_EQ(P("2026-08-21T10:00:00.123456+00:00"), t);
  EXPECT_EQ(P("2026-08-21T10:00:00.123456789Z"), t);  // Go nanoseconds, truncated
  EXPECT_EQ(P("2026-08-21T12:00:00.123456+02:00"), t);
  EXPECT_EQ(P("2026-08-21T05:30:00.123456-04:30"), t);
  EXPECT_EQ(P("2026-08-21 10:00:00.123456"), t);      // naive = UTC, space separator
  EXPECT_EQ(P("2026-08-21T10:00:00.123Z") + 456, t);  // Rust milliseconds
  EXPECT_EQ(P("2026-08-21T10:00:00+00:00"), P("2026-08-21T10:00:00"));
}

TEST(Timestamp, TruncatesNeverRounds) {
  EXPECT_EQ(P("2026-08-21T10:00:00.9999999Z") % 1000000, 999999);
  EXPECT_EQ(P("2026-08-21T10:00:00.0000009Z") % 1000000, 0);
}

TEST(Timestamp, RendersCanonicalAndIsoformat) {
  std::string s;
  AppendIsoformatTimestamp(P("2026-06-15T10:30:45Z"), &s);
  EXPECT_EQ(s, "2026-06-15T10:30:45+00:00");
  s.clear();
  AppendIsoformatTimestamp(P("2026-06-15T10:30:45.12Z"), &s);
  EXPECT_EQ(s, "2026-06-15T10:30:45.120000+00:00");
  EXPECT_EQ(CanonicalTimestamp(P("2026-06-15T10:30:45Z")), "2026-06-15T10:30:45.000000Z");
  EXPECT_EQ(CanonicalTimestamp(P("1969-12-31T23:59:59.5Z")), "1969-12-31T23:59:59.500000Z");
  EXPECT_EQ(CanonicalTimestamp(P("2024-02-29T00:00:00Z")), "2024-02-29T00:00:00.000000Z");
}

TEST(Timestamp, RejectsWhatNoWriterProduces) {
  Micros t;
  for (const char* bad :
       {"", "2026-08-21", "2026-08-21T10:00", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z", "2026-08-21T24:00:00Z", "2026-08-21T10:00:00.Z",
        "2026-08-21T10:00:00.1234567890Z", "2026-08-21T10:00:00ZZ", "2026-08-21T10:00:00+25:00",
        "2026-08-21T10:00:00 junk", "yesterday", "2026-08-21T10:00:60Z"}) {
    EXPECT_FALSE(ParseTimestamp(bad, &t)) << bad;
  }
}

TEST(Timestamp, TimeBoundsAcceptRelativeTimes) {
  const Micros now = P("2026-11-23T12:00:00Z");
  std::string error;
  EXPECT_EQ(*ParseTimeBound("now", now, TimeEdge::kSince, &error), now);
  EXPECT_EQ(*ParseTimeBound("now-15m", now, TimeEdge::kSince, &error), P("2026-11-23T11:45:00Z"));
  EXPECT_EQ(*ParseTimeBound("now-2h", now, TimeEdge::kSince, &error), P("2026-11-23T10:00:00Z"));
  EXPECT_EQ(*ParseTimeBound("now-7d", now, TimeEdge::kSince, &error), P("2026-11-16T12:00:00Z"));
  EXPECT_EQ(*ParseTimeBound("2026-01-01T00:00:00Z", now, TimeEdge::kSince, &error),
            P("2026-01-01T00:00:00Z"));
  for (const char* bad : {"now-", "now-5", "now-5w", "now+5m", "tomorrow", "now-x1h"}) {
    EXPECT_FALSE(ParseTimeBound(bad, now, TimeEdge::kSince, &error).has_value()) << bad;
    EXPECT_NE(error.find("now-15m"), std::string::npos);
  }
}

// A date alone is the whole UTC day: as since its first instant, as until its last (so an
// inclusive window ending at it takes the day and nothing of the next); anything else that is
// almost a date is refused.
TEST(Timestamp, TimeBoundsAcceptADateAlone) {
  const Micros now = P("2026-11-23T12:00:00Z");
  std::string error;
  EXPECT_EQ(*ParseTimeBound("2026-11-20", now, TimeEdge::kSince, &error),
            P("2026-11-20T00:00:00Z"));
  EXPECT_EQ(*ParseTimeBound("2024-02-29", now, TimeEdge::kSince, &error),
            P("2024-02-29T00:00:00Z"));
  EXPECT_EQ(*ParseTimeBound("2026-11-20", now, TimeEdge::kUntil, &error),
            P("2026-11-20T23:59:59.999999Z"));
  EXPECT_EQ(*ParseTimeBound("2024-02-29", now, TimeEdge::kUntil, &error),
            P("2024-03-01T00:00:00Z") - 1);
  EXPECT_EQ(*ParseTimeBound("2026-12-31", now, TimeEdge::kUntil, &error) + 1,
            P("2027-01-01T00:00:00Z"));
  // Only a date alone depends on the edge: timestamps and relative times do not.
  for (const char* same : {"2026-11-20T00:00:00Z", "now", "now-2h"}) {
    EXPECT_EQ(*ParseTimeBound(same, now, TimeEdge::kUntil, &error),
              *ParseTimeBound(same, now, TimeEdge::kSince, &error))
        << same;
  }
  for (const char* bad : {"2026-11-2", "2026-11-200", "2025-02-29", "2026-13-01", "2026-11-20Z",
                          "2026/11/20", "20261120", "2026-11-20T"}) {
    EXPECT_FALSE(ParseTimeBound(bad, now, TimeEdge::kSince, &error).has_value()) << bad;
    EXPECT_NE(error.find("a date (2026-08-21"), std::string::npos) << error;
  }
}

// Found by tests/fuzz/fuzz_timestamp (crashes/timestamp/relative_overflow): 999999999 days in
// microseconds overflowed int64 (undefined behaviour; the bound wrapped to a time in the future).
TEST(Timestamp, RelativeTimeBeyondTheRangeIsRefused) {
  const Micros now = P("2026-11-23T12:00:00Z");
  std::string error;
  EXPECT_FALSE(ParseTimeBound("now-999999999d", now, TimeEdge::kSince, &error).has_value());
  EXPECT_NE(error.find("now-15m"), std::string::npos);
  EXPECT_EQ(*ParseTimeBound("now-999999999h", now, TimeEdge::kSince, &error),
            now - 999999999LL * 3600 * 1000000);
  EXPECT_EQ(*ParseTimeBound("now-99999999d", now, TimeEdge::kSince, &error),
            now - 99999999LL * 86400 * 1000000);
  // Found by fuzz_timestamp (crashes/timestamp/relative_long_number): the digits of a number
  // longer than 9 characters were still accumulated, overflowing int64 before the length check
  // refused it.
  EXPECT_FALSE(
      ParseTimeBound("now-99999999999999999999999999999999999999h", now, TimeEdge::kSince, &error));
  EXPECT_FALSE(
      ParseTimeBound("now-$n\x17" + std::string(40, 'S') + "h", now, TimeEdge::kSince, &error));
}

TEST(Timestamp, SecondPrefixIsTheNineteenCharacterPrefix) {
  EXPECT_EQ(SecondPrefix(P("2026-08-21T10:00:07.5Z")), "2026-08-21T10:00:07");
}

}  // namespace
}  // namespace fasten
