#include "store/timestamp.h"

#include <chrono>
#include <cstdio>

namespace fasten {
namespace {

constexpr Micros kMicrosPerSecond = 1000000;
constexpr Micros kMicrosPerDay = 86400 * kMicrosPerSecond;

// Days since 1970-01-01 for a proleptic Gregorian date (era-based arithmetic).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool IsLeap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

bool Digits(std::string_view s, size_t pos, size_t n, int* value) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *value = v;
  return true;
}

// Splits an instant into civil fields.
struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, second;
  int64_t micros;
};

Civil ToCivil(Micros t) {
  int64_t days = t / kMicrosPerDay;
  Micros rem = t % kMicrosPerDay;
  if (rem < 0) {
    rem += kMicrosPerDay;
    --days;
  }
  Civil c;
  CivilFromDays(days, &c.year, &c.month, &c.day);
  int64_t secs = rem / kMicrosPerSecond;
  c.micros = rem % kMicrosPerSecond;
  c.hour = static_cast<unsigned>(secs / 3600);
  c.minute = static_cast<unsigned>((secs / 60) % 60);
  c.second = static_cast<unsigned>(secs % 60);
  return c;
}

// Writes `n` decimal digits of `v` (zero-padded) at `p`.
void PutDigits(char* p, int64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

void AppendSeconds(const Civil& c, std::string* out) {
  if (c.year < 0 || c.year > 9999) {
    char buf[48];
    int n =
        std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02u",
                      static_cast<long long>(c.year), c.month, c.day, c.hour, c.minute, c.second);
    out->append(buf, static_cast<size_t>(n));
    return;
  }
  char buf[19] = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0',
                  'T', '0', '0', ':', '0', '0', ':', '0', '0'};
  PutDigits(buf, c.year, 4);
  PutDigits(buf + 5, c.month, 2);
  PutDigits(buf + 8, c.day, 2);
  PutDigits(buf + 11, c.hour, 2);
  PutDigits(buf + 14, c.minute, 2);
  PutDigits(buf + 17, c.second, 2);
  out->append(buf, 19);
}

void AppendMicros(int64_t micros, std::string* out) {
  char buf[7] = {'.'};
  PutDigits(buf + 1, micros, 6);
  out->append(buf, 7);
}

}  // namespace

bool ParseTimestamp(std::string_view s, Micros* out) {
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > static_cast<int>(DaysInMonth(year, month)) ||
      hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return false;
    for (size_t i = digits; i < 6; ++i) micros *= 10;
  }
  int64_t offset_seconds = 0;
  if (pos < s.size()) {
    char c = s[pos];
    if ((c == 'Z' || c == 'z') && pos + 1 == s.size()) {
      pos = s.size();
    } else if (c == '+' || c == '-') {
      int oh = 0, om = 0;
      size_t rest = s.size() - pos - 1;
      if (rest == 5 && s[pos + 3] == ':' && Digits(s, pos + 1, 2, &oh) &&
          Digits(s, pos + 4, 2, &om)) {
      } else if (rest == 4 && Digits(s, pos + 1, 2, &oh) && Digits(s, pos + 3, 2, &om)) {
      } else if (rest == 2 && Digits(s, pos + 1, 2, &oh)) {
      } else {
        return false;
      }
      if (oh > 23 || om > 59) return false;
      offset_seconds = (oh * 3600 + om * 60) * (c == '-' ? -1 : 1);
    } else {
      return false;
    }
  }
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  *out = secs * kMicrosPerSecond + micros;
  return true;
}

void AppendCanonicalTimestamp(Micros t, std::string* out) {
  Civil c = ToCivil(t);
  AppendSeconds(c, out);
  AppendMicros(c.micros, out);
  out->push_back('Z');
}

std::string CanonicalTimestamp(Micros t) {
  std::string s;
  AppendCanonicalTimestamp(t, &s);
  return s;
}

void AppendIsoformatTimestamp(Micros t, std::string* out) {
  Civil c = ToCivil(t);
  AppendSeconds(c, out);
  if (c.micros != 0) AppendMicros(c.micros, out);
  out->append("+00:00");
}

std::string SecondPrefix(Micros t) {
  std::string s;
  AppendSeconds(ToCivil(t), &s);
  return s;
}

std::optional<Micros> ParseTimeBound(std::string_view text, Micros now, TimeEdge edge,
                                     std::string* error) {
  if (Micros t; ParseTimestamp(text, &t)) return t;
  // A date alone: the whole UTC day, from its first instant through its last.
  if (Micros t; text.size() == 10 && ParseTimestamp(std::string(text) + "T00:00:00Z", &t)) {
    return edge == TimeEdge::kSince ? t : t + 86400 * kMicrosPerSecond - 1;
  }
  if (text == "now") return now;
  if (text.size() >= 6 && text.substr(0, 4) == "now-") {
    std::string_view num = text.substr(4, text.size() - 5);
    char unit = text.back();
    int64_t n = 0;
    bool ok = !num.empty() && num.size() <= 9;
    for (size_t i = 0; ok && i < num.size(); ++i) {  // at most 9 digits: n fits
      ok = num[i] >= '0' && num[i] <= '9';
      n = n * 10 + (num[i] - '0');
    }
    int64_t scale = unit == 's'   ? 1
                    : unit == 'm' ? 60
                    : unit == 'h' ? 3600
                    : unit == 'd' ? 86400
                                  : 0;
    // n * scale fits (n has at most 9 digits); in microseconds, or subtracted from now, it may
    // not (now-999999999d): such a bound is refused below rather than wrapped.
    Micros offset = 0, t = 0;
    if (ok && scale != 0 && !__builtin_mul_overflow(n * scale, kMicrosPerSecond, &offset) &&
        !__builtin_sub_overflow(now, offset, &t)) {
      return t;
    }
  }
  if (error) {
    *error = "'" + std::string(text) +
             "' is not a time: use RFC 3339 (2026-08-21T10:00:00Z), a date (2026-08-21: the "
             "whole UTC day), 'now', or a relative time such as now-15m, now-1h, now-7d";
  }
  return std::nullopt;
}

Micros NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace fasten
