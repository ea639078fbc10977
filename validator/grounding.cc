#include "validator/grounding.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "store/timestamp.h"

namespace fasten {
namespace {

constexpr Micros kSecond = 1000000;
constexpr Micros kDay = 86400 * kSecond;

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsAlnum(char c) {
  return IsDigit(c) || IsAlpha(c);
}
bool IsWordChar(char c) {
  return IsAlnum(c) || c == '_';
}
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsUpperSnake(std::string_view w) {
  if (w.size() < 3 || !(w[0] >= 'A' && w[0] <= 'Z')) return false;
  bool underscore = false;
  for (size_t i = 0; i < w.size(); ++i) {
    char c = w[i];
    if (c == '_') {
      if (i + 1 == w.size() || w[i - 1] == '_') return false;
      underscore = true;
    } else if (!((c >= 'A' && c <= 'Z') || IsDigit(c))) {
      return false;
    }
  }
  return underscore;
}

// ---------------------------------------------------------------------------------------------
// Building haystacks (the struct is in the header).

void AddDigitRuns(std::string_view s, Haystack* h) {
  for (size_t i = 0; i < s.size();) {
    if (!IsDigit(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    int64_t n = 0;
    while (j < s.size() && IsDigit(s[j])) {
      if (j - i < 18) n = n * 10 + (s[j] - '0');
      ++j;
    }
    if (j - i <= 18) h->integers.push_back(n);
    i = j;
  }
}

// Timestamps inside JSON text: a run starting YYYY-MM-DD[T ]hh up to the closing quote.
void AddTimestampsIn(std::string_view s, Haystack* h) {
  for (size_t i = s.find('-'); i != std::string_view::npos; i = s.find('-', i + 1)) {
    if (i < 4 || i + 15 > s.size() || s[i + 3] != '-') continue;
    const size_t b = i - 4;
    if (b > 0 && IsAlnum(s[b - 1])) continue;
    if (!IsDigit(s[b]) || !IsDigit(s[b + 3]) || (s[b + 10] != 'T' && s[b + 10] != ' ')) continue;
    size_t e = b;
    while (e < s.size() && s[e] != '"' && s[e] != ',' && s[e] != '}') ++e;
    Micros t;
    if (ParseTimestamp(s.substr(b, e - b), &t)) h->instants.push_back(t);
    i = e;
  }
}

void AddText(std::string_view s, Haystack* h) {
  if (s.empty()) return;
  h->texts.push_back(s);
  AddDigitRuns(s, h);
}

// `needle` occurs in `hay` with no character of class `inner` directly around it; with
// `fold`, ASCII case-insensitively (needle given in lower case).
template <typename Inner>
bool FindBounded(std::string_view hay, std::string_view needle, bool right_boundary, bool fold,
                 Inner inner) {
  if (needle.empty() || hay.size() < needle.size()) return false;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  for (size_t pos = 0; pos + needle.size() <= hay.size(); ++pos) {
    if ((fold ? lower(hay[pos]) : hay[pos]) != needle[0]) continue;
    size_t k = 1;
    while (k < needle.size() && (fold ? lower(hay[pos + k]) : hay[pos + k]) == needle[k]) ++k;
    if (k != needle.size()) continue;
    const bool left_ok = pos == 0 || !inner(hay[pos - 1]);
    const size_t end = pos + needle.size();
    const bool right_ok = !right_boundary || end == hay.size() || !inner(hay[end]);
    if (left_ok && right_ok) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Token extraction.

constexpr const char* kTechTerms[] = {"utf-8",   "utf-16",    "utf_8",     "sha-1",    "sha-256",
                                      "sha-512", "x86-64",    "x86_64",    "iso-8601", "rfc-3339",
                                      "base-64", "ipv4-only", "ipv6-only", "tls-1.2",  "tls-1.3",
                                      "http-2",  "mp3",       "aes-256",   "rsa-2048", "p2p"};

constexpr const char* kStatusBefore[] = {"http",      "status",  "code",      "returned",
                                         "returning", "returns", "responded", "responds",
                                         "answered",  "answers", "got",       "with"};
constexpr const char* kStatusAfter[] = {
    "error",   "errors",       "response",  "responses", "status", "bad", "gateway", "internal",
    "service", "unauthorized", "forbidden", "conflict",  "from",   "on",  "too",     "not"};
constexpr const char* kCountNouns[] = {
    "ms",      "s",       "sec",     "secs",     "second",  "seconds",  "minute", "minutes",
    "hour",    "hours",   "row",     "rows",     "request", "requests", "item",   "items",
    "event",   "events",  "byte",    "bytes",    "kb",      "mb",       "time",   "times",
    "retry",   "retries", "attempt", "attempts", "record",  "records",  "entry",  "entries",
    "user",    "users",   "message", "messages", "call",    "calls",    "line",   "lines",
    "percent", "%",       "day",     "days",     "order",   "orders",   "eur",    "usd"};

template <size_t N>
bool OneOf(const std::string& w, const char* const (&list)[N]) {
  for (const char* s : list) {
    if (w == s) return true;
  }
  return false;
}

struct Word {
  std::string text;
  size_t begin = 0, end = 0;  // in the claim
};

bool IsWordByte(char c) {
  return IsAlnum(c) || c == '_' || c == '-' || c == '.' || c == ':' || c == '/' || c == '+';
}

// Splits into words of [A-Za-z0-9_.:/+-], trims sentence punctuation at both ends.
std::vector<Word> Words(std::string_view s) {
  std::vector<Word> out;
  for (size_t i = 0; i < s.size();) {
    if (!IsWordByte(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && IsWordByte(s[j])) ++j;
    size_t b = i, e = j;
    while (e > b && std::string_view(".:,+-/").find(s[e - 1]) != std::string_view::npos) --e;
    while (b < e && std::string_view(".:+-").find(s[b]) != std::string_view::npos) ++b;
    if (b < e) out.push_back({std::string(s.substr(b, e - b)), b, e});
    i = j;
  }
  return out;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

// Parses [date]["T"|" "][time] with a precision; false when `w` is not one.
bool ParseTimeWord(const std::string& w, GroundingToken* t) {
  // Date: YYYY-MM-DD
  auto digits = [&](size_t at, size_t n) {
    if (at + n > w.size()) return false;
    for (size_t k = at; k < at + n; ++k) {
      if (!IsDigit(w[k])) return false;
    }
    return true;
  };
  size_t p = 0;
  bool has_date = false;
  std::string date;
  if (digits(0, 4) && w.size() >= 10 && w[4] == '-' && digits(5, 2) && w[7] == '-' &&
      digits(8, 2)) {
    has_date = true;
    date = w.substr(0, 10);
    p = 10;
    if (p == w.size()) {
      Micros day;
      if (!ParseTimestamp(date + "T00:00:00Z", &day)) return false;
      t->kind = GroundingKind::kTimestamp;
      t->from = day;
      t->to = day + kDay;
      return true;
    }
    if (w[p] != 'T' && w[p] != 't' && w[p] != ' ') return false;
    ++p;
  }
  // Time: H:MM or HH:MM, optional :SS, optional .fraction, optional zone.
  size_t hour_len = digits(p, 2) ? 2 : digits(p, 1) ? 1 : 0;
  if (hour_len == 0 || p + hour_len >= w.size() || w[p + hour_len] != ':') return false;
  const int hour = std::stoi(w.substr(p, hour_len));
  p += hour_len + 1;
  if (!digits(p, 2)) return false;
  const int minute = std::stoi(w.substr(p, 2));
  p += 2;
  int second = 0;
  Micros precision = 60 * kSecond;
  Micros fraction = 0;
  if (p < w.size() && w[p] == ':') {
    if (!digits(p + 1, 2)) return false;
    second = std::stoi(w.substr(p + 1, 2));
    p += 3;
    precision = kSecond;
    if (p < w.size() && w[p] == '.') {
      size_t q = p + 1;
      Micros scale = kSecond;
      while (q < w.size() && IsDigit(w[q])) {
        if (scale > 1) {
          scale /= 10;
          fraction += (w[q] - '0') * scale;
          precision = scale;
        }
        ++q;
      }
      if (q == p + 1) return false;
      p = q;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return false;
  Micros offset = 0;
  if (p < w.size()) {
    std::string zone = w.substr(p);
    if (zone == "Z" || zone == "z") {
    } else if ((zone[0] == '+' || zone[0] == '-') && zone.size() == 6 && digits(p + 1, 2) &&
               zone[3] == ':' && digits(p + 4, 2)) {
      offset = (std::stoi(zone.substr(1, 2)) * 3600 + std::stoi(zone.substr(4, 2)) * 60) * kSecond;
      if (zone[0] == '-') offset = -offset;
    } else {
      return false;
    }
  }
  const Micros tod = (static_cast<Micros>(hour) * 3600 + minute * 60 + second) * kSecond + fraction;
  if (has_date) {
    Micros day;
    if (!ParseTimestamp(date + "T00:00:00Z", &day)) return false;
    t->kind = GroundingKind::kTimestamp;
    t->from = day + tod - offset;
    t->to = t->from + precision;
    return true;
  }
  Micros from = ((tod - offset) % kDay + kDay) % kDay;
  t->kind = GroundingKind::kTimeOfDay;
  t->from = from;
  t->to = from + precision;  // may pass midnight only for 23:59 with an offset: ignored
  return true;
}

bool IsIdentifier(const std::string& w) {
  if (w.size() < 4 || !IsAlpha(w[0])) return false;
  bool lower = false, digit = false, sep = false;
  for (char c : w) {
    if (c >= 'a' && c <= 'z') lower = true;
    if (IsDigit(c)) digit = true;
    if (c == '-' || c == '_') sep = true;
    if (!IsWordChar(c) && c != '-' && c != '.') return false;
  }
  return lower && digit && sep && !OneOf(Lower(w), kTechTerms);
}

bool IsHexId(const std::string& w) {
  if (w.size() == 36 && w[8] == '-' && w[13] == '-' && w[18] == '-' && w[23] == '-') {
    for (size_t i = 0; i < w.size(); ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) continue;
      if (!IsHex(w[i])) return false;
    }
    return true;
  }
  if (w.size() < 8) return false;
  bool digit = false, letter = false;
  for (char c : w) {
    if (!IsHex(c)) return false;
    if (IsDigit(c))
      digit = true;
    else
      letter = true;
  }
  return digit && letter;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// What a row offers to grounding, and matching.

// REQUIRES: `r` stays where it is while `h` is used.
void BuildAuditHaystack(const AuditRow& r, Haystack* h) {
  for (const std::string* s :
       {&r.id, &r.origin_id, &r.code, &r.action, &r.severity, &r.service_id, &r.source_node_id,
        &r.actor, &r.actor_kind, &r.target, &r.category, &r.domain, &r.method, &r.request_id,
        &r.hash, &r.prev_hash, &r.timestamp}) {
    AddText(*s, h);
  }
  if (!r.tenant_id.null) AddText(r.tenant_id.value, h);
  if (!r.shipped_at.null) AddText(r.shipped_at.value, h);
  if (r.timestamp_ok) h->instants.push_back(r.timestamp_us);
  if (r.shipped_at_ok) h->instants.push_back(r.shipped_at_us);
  if (!r.detail_is_null()) {
    AddText(r.detail.value, h);
    AddTimestampsIn(r.detail.value, h);
  }
  h->seq = r.monotonic_seq;
  h->extra = std::to_string(r.monotonic_seq);
  if (r.timestamp_ok) h->extra += " " + CanonicalTimestamp(r.timestamp_us);
  AddText(h->extra, h);  // `extra` is final: the view stays valid
}

// REQUIRES: `r` and `digest` stay where they are while `h` is used.
void BuildStreamHaystack(const StreamRow& r, const std::string& digest, Haystack* h) {
  AddText(r.payload, h);
  AddTimestampsIn(r.payload, h);
  if (r.timestamp_ok) h->instants.push_back(r.timestamp_us);
  if (r.has_status) h->integers.push_back(r.status);
  AddText(digest, h);
  h->seq = r.seq;
  h->extra = std::to_string(r.seq);
  if (r.timestamp_ok) h->extra += " " + CanonicalTimestamp(r.timestamp_us);
  AddText(h->extra, h);
}

bool Grounded(const GroundingToken& t, const Haystack& h) {
  auto ident_char = [](char c) { return IsWordChar(c) || c == '-'; };
  auto any_text = [&](auto match) { return std::any_of(h.texts.begin(), h.texts.end(), match); };
  switch (t.kind) {
    case GroundingKind::kLiteral:
      return any_text([&](std::string_view s) { return s.find(t.text) != std::string::npos; });
    case GroundingKind::kCode:
      return any_text(
          [&](std::string_view s) { return FindBounded(s, t.text, true, false, IsWordChar); });
    case GroundingKind::kHex: {
      const std::string needle = Lower(t.text);
      return any_text(
          [&](std::string_view s) { return FindBounded(s, needle, false, true, IsAlnum); });
    }
    case GroundingKind::kIdentifier:
    case GroundingKind::kPath:
      return any_text(
          [&](std::string_view s) { return FindBounded(s, t.text, true, false, ident_char); });
    case GroundingKind::kStatus:
      return std::find(h.integers.begin(), h.integers.end(), t.number) != h.integers.end();
    case GroundingKind::kSeq:
      return h.seq == t.number;
    case GroundingKind::kTimestamp:
      for (Micros i : h.instants) {
        if (i >= t.from && i < t.to) return true;
      }
      return false;
    case GroundingKind::kTimeOfDay:
      for (Micros i : h.instants) {
        Micros tod = ((i % kDay) + kDay) % kDay;
        if (tod >= t.from && tod < t.to) return true;
      }
      return false;
  }
  return false;
}

// Values of the token's kind that the rows do hold, for the rejection message (status codes and
// UPPER_SNAKE codes only).
std::string GroundingHint(const GroundingToken& t, const std::vector<const Haystack*>& hay) {
  std::set<std::string> seen;
  for (const Haystack* h : hay) {
    if (t.kind == GroundingKind::kStatus) {
      // Standalone three-digit numbers 100-599 (not a fraction, not part of an id or a hash).
      for (std::string_view s : h->texts) {
        for (size_t i = 0; i + 3 <= s.size(); ++i) {
          if (!IsDigit(s[i]) || !IsDigit(s[i + 1]) || !IsDigit(s[i + 2])) continue;
          const bool left = i == 0 || (!IsAlnum(s[i - 1]) && s[i - 1] != '.');
          const bool right = i + 3 == s.size() || (!IsAlnum(s[i + 3]) && s[i + 3] != '.');
          if (left && right && s[i] >= '1' && s[i] <= '5') seen.insert(std::string(s.substr(i, 3)));
        }
      }
    } else if (t.kind == GroundingKind::kCode) {
      for (std::string_view s : h->texts) {
        for (size_t i = 0; i < s.size();) {
          if (!IsWordChar(s[i])) {
            ++i;
            continue;
          }
          size_t j = i;
          while (j < s.size() && IsWordChar(s[j])) ++j;
          if (IsUpperSnake(s.substr(i, j - i))) seen.insert(std::string(s.substr(i, j - i)));
          i = j;
        }
      }
    }
  }
  std::string hint;
  size_t shown = 0;
  for (const std::string& v : seen) {
    if (shown++ == 8) break;
    hint += (hint.empty() ? "" : ", ") + v;
  }
  return hint;
}

// ---------------------------------------------------------------------------------------------
// Token extraction.

const char* GroundingKindName(GroundingKind kind) {
  switch (kind) {
    case GroundingKind::kLiteral:
      return "literal";
    case GroundingKind::kCode:
      return "code";
    case GroundingKind::kHex:
      return "hex id";
    case GroundingKind::kIdentifier:
      return "identifier";
    case GroundingKind::kPath:
      return "path";
    case GroundingKind::kStatus:
      return "status code";
    case GroundingKind::kSeq:
      return "seq";
    case GroundingKind::kTimestamp:
      return "timestamp";
    case GroundingKind::kTimeOfDay:
      return "time of day";
  }
  return "value";
}

std::vector<GroundingToken> ExtractGroundingTokens(std::string_view claim) {
  std::vector<GroundingToken> out;
  std::set<std::pair<int, std::string>> seen;
  auto push = [&](GroundingToken t) {
    if (seen.insert({static_cast<int>(t.kind), t.text}).second) out.push_back(std::move(t));
  };
  // Backtick spans first; their insides are not scanned again.
  std::string rest(claim);
  for (size_t open = rest.find('`'); open != std::string::npos; open = rest.find('`', open + 1)) {
    size_t close = rest.find('`', open + 1);
    if (close == std::string::npos) break;
    std::string inside = rest.substr(open + 1, close - open - 1);
    if (!inside.empty() && inside.size() <= 200 && inside.find('\n') == std::string::npos) {
      push({GroundingKind::kLiteral, inside, 0, 0, 0});
      std::fill(rest.begin() + static_cast<std::ptrdiff_t>(open),
                rest.begin() + static_cast<std::ptrdiff_t>(close) + 1, ' ');
    }
    open = close;
  }
  std::vector<Word> words = Words(rest);
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i].text;
    GroundingToken t;
    t.text = w;
    // A date followed by a time ("2026-11-20 14:32:01") is one timestamp.
    if (w.size() == 10 && i + 1 < words.size() && words[i + 1].begin == words[i].end + 1 &&
        rest[words[i].end] == ' ') {
      GroundingToken joined;
      joined.text = w + " " + words[i + 1].text;
      if (ParseTimeWord(joined.text, &joined) && joined.kind == GroundingKind::kTimestamp) {
        push(joined);
        ++i;
        continue;
      }
    }
    if (w.find(':') != std::string::npos || (w.size() >= 10 && w[4] == '-' && IsDigit(w[0]))) {
      if (ParseTimeWord(w, &t)) {
        push(t);
        continue;
      }
    }
    if (w[0] == '/') {
      if (w.size() >= 2 && IsAlnum(w[1])) push({GroundingKind::kPath, w, 0, 0, 0});
      continue;
    }
    if (AllDigits(w)) {
      if (w.size() > 18) continue;
      const int64_t n = std::stoll(w);
      std::string prev = i > 0 ? Lower(words[i - 1].text) : "";
      std::string prev2 = i > 1 ? Lower(words[i - 2].text) : "";
      std::string next = i + 1 < words.size() ? Lower(words[i + 1].text) : "";
      if (prev == "seq" || prev == "monotonic_seq" || prev == "sequence" ||
          (prev == "number" && prev2 == "sequence")) {
        push({GroundingKind::kSeq, w, n, 0, 0});
        continue;
      }
      if (w.size() == 3 && n >= 100 && n <= 599 && !OneOf(next, kCountNouns) &&
          (OneOf(prev, kStatusBefore) || prev.rfind("http/", 0) == 0 ||
           ((prev == "a" || prev == "an") && OneOf(prev2, kStatusBefore)) ||
           OneOf(next, kStatusAfter))) {
        push({GroundingKind::kStatus, w, n, 0, 0});
      }
      continue;
    }
    // Compound words: "order/ord-88412" is two parts.
    size_t from = 0;
    while (from <= w.size()) {
      size_t slash = w.find('/', from);
      std::string part =
          w.substr(from, slash == std::string::npos ? std::string::npos : slash - from);
      while (!part.empty() && std::string_view(".:+-").find(part.back()) != std::string_view::npos)
        part.pop_back();
      if (!part.empty()) {
        if (IsUpperSnake(part)) {
          push({GroundingKind::kCode, part, 0, 0, 0});
        } else if (IsHexId(part)) {
          push({GroundingKind::kHex, part, 0, 0, 0});
        } else if (IsIdentifier(part)) {
          push({GroundingKind::kIdentifier, part, 0, 0, 0});
        }
      }
      if (slash == std::string::npos) break;
      from = slash + 1;
    }
  }
  return out;
}

}  // namespace fasten
