// Fuzzes timestamps (store/timestamp.h ParseTimestamp, ParseTimeBound and the formatters).
//
// Input: a timestamp or time bound (any bytes). Checks:
// - ParseTimestamp agrees with a reference written here with std::regex and std::chrono's civil
//   calendar: the same texts are accepted (every spelling of docs/format.md §3.1: T, t or space;
//   0-9 fraction digits, truncated to microseconds; Z, z, ±HH:MM, ±HHMM, ±HH or nothing) and give
//   the same instant;
// - the canonical (…ffffffZ) and isoformat (…+00:00) spellings of the instant parse back to it,
//   and SecondPrefix is the canonical spelling's first 19 characters;
// - ParseTimeBound: a timestamp gives its instant, a date alone (YYYY-MM-DD) its 00:00:00Z as
//   since and its 23:59:59.999999Z as until,
//   "now" the reference instant, "now-<N><unit>" exactly now - N units (no overflow); anything
//   else nullopt with a message.
#include <chrono>
#include <regex>
#include <string>

#include "store/timestamp.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using fasten::Micros;
using fasten::fuzz::AsText;

constexpr Micros kNow = 1781517600000000;  // 2026-06-15T10:00:00Z

std::optional<Micros> Reference(const std::string& s) {
  static const std::regex kShape(
      "([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
      "(\\.([0-9]{1,9}))?([Zz]|([+-])([0-9]{2})(:?([0-9]{2}))?)?");
  std::smatch m;
  if (!std::regex_match(s, m, kShape)) return std::nullopt;
  auto num = [&](int i) { return std::stoi(m[i].str()); };
  using namespace std::chrono;
  year_month_day ymd{year(num(1)), month(static_cast<unsigned>(num(2))),
                     day(static_cast<unsigned>(num(3)))};
  if (!ymd.ok() || num(4) > 23 || num(5) > 59 || num(6) > 59) return std::nullopt;
  int64_t micros = 0;
  if (m[8].matched) {
    std::string f = m[8].str().substr(0, 6);
    f.append(6 - f.size(), '0');
    micros = std::stoll(f);
  }
  int64_t offset = 0;
  if (m[10].matched) {
    int oh = num(11), om = m[13].matched ? num(13) : 0;
    if (oh > 23 || om > 59) return std::nullopt;
    offset = (oh * 3600 + om * 60) * (m[10].str() == "-" ? -1 : 1);
  }
  const int64_t days = sys_days(ymd).time_since_epoch().count();
  return ((days * 86400 + num(4) * 3600 + num(5) * 60 + num(6)) - offset) * 1000000 + micros;
}

void CheckSpellings(Micros t) {
  Micros lo = 0, hi = 0, back = 0;
  FUZZ_CHECK(fasten::ParseTimestamp("0000-01-01T00:00:00Z", &lo));
  FUZZ_CHECK(fasten::ParseTimestamp("9999-12-31T23:59:59.999999Z", &hi));
  if (t < lo || t > hi) return;  // no four-digit year
  const std::string canonical = fasten::CanonicalTimestamp(t);
  FUZZ_CHECK(canonical.size() == 27 && canonical.back() == 'Z');
  FUZZ_CHECK_MSG(fasten::ParseTimestamp(canonical, &back) && back == t, canonical);
  std::string iso;
  fasten::AppendIsoformatTimestamp(t, &iso);
  FUZZ_CHECK_MSG(fasten::ParseTimestamp(iso, &back) && back == t, iso);
  FUZZ_CHECK(fasten::SecondPrefix(t) == canonical.substr(0, 19));
}

void CheckTimeBound(const std::string& text) {
  std::string error;
  std::optional<Micros> t = fasten::ParseTimeBound(text, kNow, fasten::TimeEdge::kSince, &error);
  std::optional<Micros> end = fasten::ParseTimeBound(text, kNow, fasten::TimeEdge::kUntil, &error);
  FUZZ_CHECK(t.has_value() == end.has_value());
  Micros parsed = 0;
  if (fasten::ParseTimestamp(text, &parsed)) {
    FUZZ_CHECK(t && *t == parsed && *end == parsed);
    return;
  }
  if (text == "now") {
    FUZZ_CHECK(t && *t == kNow && *end == kNow);
    return;
  }
  if (text.size() == 10 && fasten::ParseTimestamp(text + "T00:00:00Z", &parsed)) {
    // A date alone: the whole UTC day, from its midnight through the last microsecond.
    FUZZ_CHECK(t && *t == parsed && *end == parsed + 86400LL * 1000000 - 1);
    return;
  }
  if (!t) {
    FUZZ_CHECK(!error.empty());
    return;
  }
  // Accepted otherwise: exactly "now-" digits unit, and the instant is exact.
  FUZZ_CHECK(text.size() >= 6 && text.rfind("now-", 0) == 0);
  const std::string digits = text.substr(4, text.size() - 5);
  FUZZ_CHECK(digits.find_first_not_of("0123456789") == std::string::npos);
  const char unit = text.back();
  const __int128 scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
  FUZZ_CHECK(unit == 's' || unit == 'm' || unit == 'h' || unit == 'd');
  const __int128 want =
      static_cast<__int128>(kNow) - static_cast<__int128>(std::stoll(digits)) * scale * 1000000;
  FUZZ_CHECK(static_cast<__int128>(*t) == want && *end == *t);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(AsText(data, size));
  Micros t = 0;
  const bool ok = fasten::ParseTimestamp(text, &t);
  const std::optional<Micros> ref = Reference(text);
  FUZZ_CHECK_MSG(ok == ref.has_value(), ok ? "accepted, reference refuses: " + text
                                           : "refused, reference accepts: " + text);
  if (ok) {
    FUZZ_CHECK_MSG(t == *ref, text + ": " + std::to_string(t) + " != " + std::to_string(*ref));
    CheckSpellings(t);
  }
  CheckTimeBound(text);
  return 0;
}
