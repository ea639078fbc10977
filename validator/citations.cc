#include "validator/citations.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>

#include "store/payload_tenant.h"
#include "store/reader.h"
#include "store/timestamp.h"
#include "util/crypto.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/digest.h"

namespace fasten {
namespace {

using json = nlohmann::json;

constexpr Micros kSecond = 1000000;
constexpr Micros kDay = 86400 * kSecond;

bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

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

std::string CitationText(const Citation& c) {
  return std::string(CitationStreamName(c.stream)) +
         (c.stream == CitationStream::kAudit ? " row (monotonic_seq " : " row (seq ") +
         std::to_string(c.seq) + ", " + (c.stream == CitationStream::kAudit ? "hash " : "digest ") +
         c.hash + ")";
}

// The one not_found message: built from the citation alone, so a row of another tenant and a
// row that does not exist read the same, byte for byte.
CitationProblem NotFound(const Citation& c) {
  return {kReasonNotFound,
          "no " + CitationText(c) +
              " is visible to this caller; cite only rows exactly as the tools returned them "
              "(audit: monotonic_seq and hash; sys/api: seq and digest)",
          ""};
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
// What a row offers to grounding.
//
// Built without copying the row's text: `texts` are views into the row (and its raw detail or
// payload JSON, searched as text: keys, string values and number tokens all occur in it), which
// the Resolved entry owns and never moves. `extra` holds what is not stored as text (the seq,
// the canonical timestamp spelling).

struct Haystack {
  std::vector<std::string_view> texts;
  std::vector<int64_t> integers;  // digit runs of every text, the status column
  std::vector<Micros> instants;   // timestamp columns, timestamps inside the JSON text
  int64_t seq = 0;
  std::string extra;
};

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
std::string Hint(const GroundingToken& t, const std::vector<const Haystack*>& hay) {
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

const char* CitationStreamName(CitationStream stream) {
  switch (stream) {
    case CitationStream::kAudit:
      return "audit";
    case CitationStream::kSys:
      return "sys";
    case CitationStream::kApi:
      return "api";
  }
  return "audit";
}

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

// ---------------------------------------------------------------------------------------------
// The answer format.

namespace {

// A time bound of a stated window or scope: RFC 3339, a date alone, or now-relative.
Status ParseBound(const json& v, const std::string& at, Micros now, std::optional<Micros>* out) {
  if (v.is_null()) return Status::Ok();
  if (!v.is_string() || v.get_ref<const std::string&>().size() > 64) {
    return InvalidArgumentError(at +
                                ": must be a time (RFC 3339, a date, or now-1h), at most 64 "
                                "characters");
  }
  std::string error;
  *out = ParseTimeBound(v.get_ref<const std::string&>(), now, &error);
  if (!*out) return InvalidArgumentError(at + ": " + error);
  return Status::Ok();
}

Status CheckMembers(const json& o, const std::string& at,
                    std::initializer_list<const char*> allowed) {
  for (auto it = o.begin(); it != o.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
      return InvalidArgumentError(at + ": unknown member \"" + it.key() + "\" (allowed: " + list +
                                  ")");
    }
  }
  return Status::Ok();
}

Status ParseScope(const json& v, const std::string& at, Micros now, ClaimScope* out) {
  if (!v.is_object()) return InvalidArgumentError(at + ": must be {since, until, nodes} or null");
  FASTEN_RETURN_IF_ERROR(CheckMembers(v, at, {"since", "until", "nodes"}));
  if (v.contains("since"))
    FASTEN_RETURN_IF_ERROR(ParseBound(v["since"], at + ".since", now, &out->since));
  if (v.contains("until"))
    FASTEN_RETURN_IF_ERROR(ParseBound(v["until"], at + ".until", now, &out->until));
  if (out->since && out->until && *out->until < *out->since) {
    return InvalidArgumentError(at + ": until is before since");
  }
  if (v.contains("nodes") && !v["nodes"].is_null()) {
    const json& nodes = v["nodes"];
    if (!nodes.is_array() || nodes.size() > kMaxScopeNodes) {
      return InvalidArgumentError(at + ".nodes: must be an array of at most " +
                                  std::to_string(kMaxScopeNodes) + " node ids");
    }
    for (const json& n : nodes) {
      if (!n.is_string() || n.get_ref<const std::string&>().empty() ||
          n.get_ref<const std::string&>().size() > 256) {
        return InvalidArgumentError(at +
                                    ".nodes: each node is a source_node_id string of 1-256 "
                                    "characters");
      }
      out->nodes.push_back(n.get<std::string>());
    }
  }
  return Status::Ok();
}

}  // namespace

Status ParseAnswer(const json& j, Answer* out) {
  return ParseAnswer(j, out, NowMicros());
}

Status ParseAnswer(const json& j, Answer* out, Micros now) {
  *out = Answer();
  if (!j.is_object()) return InvalidArgumentError("answer: must be a JSON object with \"claims\"");
  FASTEN_RETURN_IF_ERROR(CheckMembers(j, "answer", {"claims", "answer", "unknowns", "window"}));
  if (j.contains("window") && !j.at("window").is_null()) {
    const json& w = j.at("window");
    if (!w.is_object()) return InvalidArgumentError("window: must be {since, until} or null");
    FASTEN_RETURN_IF_ERROR(CheckMembers(w, "window", {"since", "until"}));
    std::optional<Micros> since, until;
    if (w.contains("since"))
      FASTEN_RETURN_IF_ERROR(ParseBound(w["since"], "window.since", now, &since));
    if (w.contains("until"))
      FASTEN_RETURN_IF_ERROR(ParseBound(w["until"], "window.until", now, &until));
    if (!since || !until) return InvalidArgumentError("window: give both since and until");
    if (*until < *since) return InvalidArgumentError("window: until is before since");
    out->window = std::make_pair(*since, *until);
  }
  auto claims = j.find("claims");
  if (claims == j.end() || !claims->is_array()) {
    return InvalidArgumentError("claims: required, an array of {text, citations}");
  }
  if (j.contains("answer") && !j.at("answer").is_null()) {
    if (!j.at("answer").is_string()) return InvalidArgumentError("answer: must be a string");
    out->prose = j.at("answer").get<std::string>();
  }
  if (j.contains("unknowns") && !j.at("unknowns").is_array() && !j.at("unknowns").is_null()) {
    return InvalidArgumentError("unknowns: must be an array of strings");
  }
  size_t total = 0;
  for (size_t i = 0; i < claims->size(); ++i) {
    const json& c = (*claims)[i];
    const std::string at = "claims[" + std::to_string(i) + "]";
    if (!c.is_object()) return InvalidArgumentError(at + ": must be an object {text, citations}");
    FASTEN_RETURN_IF_ERROR(CheckMembers(c, at, {"text", "citations", "integrity", "scope"}));
    if (!c.contains("text") || !c.at("text").is_string()) {
      return InvalidArgumentError(at + ".text: required, a string");
    }
    Claim claim;
    claim.text = c.at("text").get<std::string>();
    if (c.contains("integrity") && !c.at("integrity").is_null()) {
      const json& f = c.at("integrity");
      if (f == "intact") {
        claim.integrity = IntegrityPolarity::kIntact;
      } else if (f == "tampered") {
        claim.integrity = IntegrityPolarity::kTampered;
      } else {
        return InvalidArgumentError(at + ".integrity: must be \"intact\", \"tampered\" or null");
      }
    }
    if (c.contains("scope") && !c.at("scope").is_null()) {
      if (claim.integrity == IntegrityPolarity::kNone) {
        return InvalidArgumentError(at +
                                    ".scope: only a claim with an integrity value has a "
                                    "scope");
      }
      ClaimScope scope;
      FASTEN_RETURN_IF_ERROR(ParseScope(c.at("scope"), at + ".scope", now, &scope));
      claim.scope = std::move(scope);
    }
    if (c.contains("citations")) {
      const json& cits = c.at("citations");
      if (!cits.is_array()) return InvalidArgumentError(at + ".citations: must be an array");
      for (size_t k = 0; k < cits.size(); ++k) {
        const json& x = cits[k];
        const std::string cat = at + ".citations[" + std::to_string(k) + "]";
        if (!x.is_object()) return InvalidArgumentError(cat + ": must be {stream, seq, hash}");
        FASTEN_RETURN_IF_ERROR(CheckMembers(x, cat, {"stream", "seq", "hash"}));
        Citation cit;
        if (!x.contains("stream") || !x.at("stream").is_string()) {
          return InvalidArgumentError(cat + ".stream: required, one of audit, sys, api");
        }
        const std::string stream = x.at("stream").get<std::string>();
        if (stream == "audit") {
          cit.stream = CitationStream::kAudit;
        } else if (stream == "sys") {
          cit.stream = CitationStream::kSys;
        } else if (stream == "api") {
          cit.stream = CitationStream::kApi;
        } else {
          return InvalidArgumentError(cat + ".stream: must be one of audit, sys, api; got \"" +
                                      stream + "\"");
        }
        if (!x.contains("seq") || !x.at("seq").is_number_integer()) {
          return InvalidArgumentError(cat + ".seq: required, an integer");
        }
        cit.seq = x.at("seq").get<int64_t>();
        if (!x.contains("hash") || !x.at("hash").is_string()) {
          return InvalidArgumentError(cat + ".hash: required, 64 lowercase hex characters");
        }
        cit.hash = x.at("hash").get<std::string>();
        claim.citations.push_back(std::move(cit));
        if (++total > kMaxCitationsPerAnswer) {
          return InvalidArgumentError("too many citations: at most " +
                                      std::to_string(kMaxCitationsPerAnswer) + " per answer");
        }
      }
    }
    out->claims.push_back(std::move(claim));
  }
  return Status::Ok();
}

void CitationLedger::Add(CitationStream stream, int64_t seq, std::string hash) {
  rows_.emplace(static_cast<int>(stream), seq, std::move(hash));
}

bool CitationLedger::Contains(const Citation& c) const {
  return rows_.count({static_cast<int>(c.stream), c.seq, c.hash}) > 0;
}

// ---------------------------------------------------------------------------------------------
// Validation.

namespace {

// What one distinct citation resolved to.
struct Resolved {
  bool checked = false;
  std::vector<CitationProblem> problems;  // (a), (b), (d), (e); (c) is added per use
  bool found = false;                     // passed (a) and (b)
  std::string summary, integrity;
  // Audit: why the row fails verification ("hash mismatch", "broken link", ...); empty when it
  // verifies. A "tampered" claim may rest on such a row.
  std::string tamper_why;
  // The row (owned here, never moved once the haystack points into it).
  std::optional<AuditRow> audit_row;
  std::optional<StreamRow> stream_row;
  Haystack haystack;
};

using AuditKey2 = std::pair<int64_t, std::string>;

bool Visible(const AuditRow& r, const std::optional<std::string>& tenant) {
  return !tenant || (!r.tenant_id.null && r.tenant_id.value == *tenant);
}

std::string AuditSummary(const AuditRow& r) {
  std::string s = r.code + " " + r.severity;
  if (!r.request_id.empty()) s += " request_id=" + r.request_id;
  s += " node=" + r.source_node_id + " at " +
       (r.timestamp_ok ? CanonicalTimestamp(r.timestamp_us) : r.timestamp);
  return s;
}

std::string StreamSummary(const StreamRow& r) {
  std::string s;
  if (r.kind == StreamKind::kApi) {
    s = r.method + " " + r.path;
    if (r.has_status) s += " -> " + std::to_string(r.status);
  } else {
    s = r.level + " " + r.event;
  }
  if (!r.request_id.empty()) s += " request_id=" + r.request_id;
  s += " at " + (r.timestamp_ok ? CanonicalTimestamp(r.timestamp_us) : r.timestamp);
  return s;
}

CitationProblem ChainBreak(const Citation& c, const std::string& why) {
  return {kReasonChainBreak,
          "the " + CitationText(c) + " does not link to its chain: " + why +
              ". The chain around it is broken (deleted or altered rows); do not rest a claim on "
              "it alone: run chain_verify over its node and seq range and report the break",
          ""};
}

void AppendWhy(std::string* why, const std::string& more) {
  if (!why->empty()) *why += "; ";
  *why += more;
}

class Validator {
 public:
  Validator(const CitationStores& stores, const CitationCheckOptions& options, Verdict* v)
      : stores_(stores), options_(options), v_(v) {}

  Status Run(const Answer& answer) {
    // Distinct well-formed citations, by stream.
    std::vector<AuditKey2> audit_pairs;
    for (const Claim& claim : answer.claims) {
      for (const Citation& c : claim.citations) {
        if (!WellFormed(c)) continue;
        if (c.stream == CitationStream::kAudit) {
          if (audit_.try_emplace({c.seq, c.hash}).second) audit_pairs.emplace_back(c.seq, c.hash);
        } else {
          stream_.try_emplace({static_cast<int>(c.stream), c.seq});
        }
      }
    }
    FASTEN_RETURN_IF_ERROR(ResolveAudit(audit_pairs));
    FASTEN_RETURN_IF_ERROR(ResolveStreams());
    return Status::Ok();
  }

  static bool WellFormed(const Citation& c) { return c.seq >= 1 && IsLowerHex64(c.hash); }

  const Resolved* Find(const Citation& c) const {
    if (c.stream == CitationStream::kAudit) {
      auto it = audit_.find({c.seq, c.hash});
      return it == audit_.end() ? nullptr : &it->second;
    }
    auto it = stream_.find({static_cast<int>(c.stream), c.seq});
    return it == stream_.end() ? nullptr : &it->second.resolved;
  }
  // A stream citation also needs its digest compared.
  const std::string* StreamDigest(const Citation& c) const {
    auto it = stream_.find({static_cast<int>(c.stream), c.seq});
    return it == stream_.end() || !it->second.resolved.found ? nullptr : &it->second.digest;
  }

 private:
  struct StreamEntry {
    Resolved resolved;
    std::string digest;
    bool canonical = true;
  };

  Status ResolveAudit(const std::vector<AuditKey2>& pairs) {
    if (pairs.empty()) return Status::Ok();
    std::vector<AuditRow> rows, links;
    ++v_->store_round_trips;
    FASTEN_RETURN_IF_ERROR(stores_.audit->FindBySeqHashBatchWithLinks(pairs, &rows, &links));
    std::map<AuditKey2, std::vector<AuditRow*>> by_key;
    for (AuditRow& r : rows) by_key[{r.monotonic_seq, r.hash}].push_back(&r);
    // Rows already at hand, to confirm links without a query: (node, seq, hash).
    std::set<std::tuple<std::string, int64_t, std::string>> at_hand;
    // Only the caller's rows: whether a foreign row was at hand must not change anything
    // observable (not even the round-trip count).
    for (const AuditRow& r : rows) {
      if (Visible(r, options_.tenant)) at_hand.emplace(r.source_node_id, r.monotonic_seq, r.hash);
    }
    // The link candidates came in the same round trip (any tenant: they only confirm links).
    for (const AuditRow& r : links) at_hand.emplace(r.source_node_id, r.monotonic_seq, r.hash);

    struct Pending {
      Resolved* resolved;
      Citation citation;
      const AuditRow* row;
    };
    std::vector<Pending> pending;
    RowChecker checker;
    for (const AuditKey2& key : pairs) {
      Resolved& res = audit_[key];
      res.checked = true;
      Citation c{CitationStream::kAudit, key.first, key.second};
      std::vector<AuditRow*> visible;
      for (AuditRow* r : by_key[key]) {
        if (Visible(*r, options_.tenant)) visible.push_back(r);
      }
      if (visible.empty()) {
        res.problems.push_back(NotFound(c));
        continue;
      }
      if (visible.size() > 1) {
        res.problems.push_back(
            {kReasonAmbiguous,
             std::to_string(visible.size()) + " audit rows share (monotonic_seq " +
                 std::to_string(key.first) + ", hash " + key.second +
                 "): the store is inconsistent (run chain_verify); cite another row",
             ""});
        continue;
      }
      res.audit_row = std::move(*visible[0]);
      const AuditRow& row = *res.audit_row;
      res.found = true;
      res.summary = AuditSummary(row);
      BuildAuditHaystack(row, &res.haystack);
      RowCheck check = checker.Check(row);
      res.integrity = check.Summary();
      if (!check.ok()) {
        res.tamper_why = check.Summary();
        res.problems.push_back(
            {kReasonHashMismatch,
             "the " + CitationText(c) + " does not recompute (" + check.Summary() +
                 "): its stored content was altered after sealing. It is evidence of tampering, "
                 "not of what it says; do not cite it for its content",
             ""});
      }
      // (e) The link, when it can be decided from what is at hand.
      if (row.prev_hash == "genesis" && row.monotonic_seq == 1) continue;
      if (row.prev_hash != "genesis" &&
          at_hand.count({row.source_node_id, row.monotonic_seq - 1, row.prev_hash})) {
        continue;
      }
      pending.push_back({&res, c, &row});
    }
    if (pending.empty()) return Status::Ok();

    for (const Pending& p : pending) {
      const AuditRow& row = *p.row;
      if (row.prev_hash != "genesis" &&
          at_hand.count({row.source_node_id, row.monotonic_seq - 1, row.prev_hash})) {
        continue;
      }
      // The nearest preceding sealed row, whatever its seq.
      std::optional<Predecessor> pred;
      ++v_->store_round_trips;
      FASTEN_RETURN_IF_ERROR(
          stores_.audit->FindPredecessor(row.source_node_id, row.monotonic_seq, &pred));
      if (pred) {
        if (pred->hash == row.prev_hash) continue;
        AppendWhy(&p.resolved->tamper_why, row.prev_hash == "genesis"
                                               ? "broken link (\"genesis\" after sealed rows)"
                                               : "broken link (prev_hash does not match the "
                                                 "preceding sealed row)");
        p.resolved->problems.push_back(ChainBreak(
            p.citation, row.prev_hash == "genesis"
                            ? "its prev_hash is \"genesis\" but sealed rows precede it on its node "
                              "(a restarted legacy Go engine, or rows inserted before it)"
                            : "its prev_hash is not the hash of the preceding sealed row on its "
                              "node (that row was deleted, altered or re-sealed)"));
      } else if (row.prev_hash != "genesis") {
        AppendWhy(&p.resolved->tamper_why, "missing predecessor (no sealed row precedes it)");
        p.resolved->problems.push_back(ChainBreak(
            p.citation,
            "no sealed row precedes it on its node although its prev_hash names one (the rows "
            "before it were deleted or purged)"));
      }
    }
    return Status::Ok();
  }

  Status ResolveStreams() {
    Canonicalizer canon;
    Sha256 sha;
    for (auto& [key, entry] : stream_) {
      const bool sys = key.first == static_cast<int>(CitationStream::kSys);
      StreamReader* reader = sys ? stores_.sys : stores_.api;
      if (!reader) {
        const std::string& why = sys ? stores_.sys_missing_why : stores_.api_missing_why;
        return FailedPreconditionError(std::string("the ") + (sys ? "sys" : "api") +
                                       " stream has no store" + (why.empty() ? "" : ": " + why) +
                                       "; its citations cannot be checked");
      }
      entry.resolved.checked = true;
      std::optional<StreamRow> row;
      ++v_->store_round_trips;
      FASTEN_RETURN_IF_ERROR(reader->FindBySeq(key.second, &row));
      if (!row || !PayloadVisibleTo(row->payload, options_.tenant)) continue;  // not_found per use
      entry.resolved.found = true;
      ContentDigest d = StreamContentDigest(row->payload, &canon, &sha);
      entry.digest = d.hex;
      entry.canonical = d.canonical;
      entry.resolved.summary = StreamSummary(*row);
      entry.resolved.integrity = kStreamDigestLabel;
      entry.resolved.stream_row = std::move(*row);
      BuildStreamHaystack(*entry.resolved.stream_row, entry.digest, &entry.resolved.haystack);
    }
    return Status::Ok();
  }

  const CitationStores& stores_;
  const CitationCheckOptions& options_;
  Verdict* v_;
  std::map<AuditKey2, Resolved> audit_;
  std::map<std::pair<int, int64_t>, StreamEntry> stream_;
};

}  // namespace

namespace {

// The integrity verdicts one answer needs, each computed once per distinct scope.
class VerdictCache {
 public:
  VerdictCache(AuditReader* reader, const std::optional<std::string>& tenant, Verdict* v,
               const AnchorTips* anchors)
      : reader_(reader), tenant_(tenant), v_(v), anchors_(anchors) {}

  // Null on a store error (then v_->error is set).
  const IntegrityVerdict* Get(const IntegrityScope& scope, const std::string& basis) {
    for (const auto& e : entries_) {
      if (e->scope.since == scope.since && e->scope.until == scope.until &&
          e->scope.nodes == scope.nodes) {
        return e.get();
      }
    }
    auto e = std::make_unique<IntegrityVerdict>();
    e->basis = basis;
    ++v_->integrity_verdicts;
    Status st =
        ComputeIntegrityVerdict(reader_, tenant_, scope, e.get(), kMaxVerdictSeqs, anchors_);
    if (!st.ok()) {
      if (v_->error.ok()) v_->error = st;
      return nullptr;
    }
    entries_.push_back(std::move(e));
    return entries_.back().get();
  }

 private:
  AuditReader* reader_;
  const std::optional<std::string>& tenant_;
  Verdict* v_;
  const AnchorTips* anchors_;
  std::vector<std::unique_ptr<IntegrityVerdict>> entries_;
};

std::optional<Micros> RowTime(const Resolved& r) {
  if (r.audit_row && r.audit_row->timestamp_ok) return r.audit_row->timestamp_us;
  if (r.stream_row && r.stream_row->timestamp_ok) return r.stream_row->timestamp_us;
  return std::nullopt;
}

struct Span {
  bool any = false;
  Micros first = 0, last = 0;
  void Add(Micros t) {
    if (!any || t < first) first = t;
    if (!any || t > last) last = t;
    any = true;
  }
};

std::string MarginText(Micros margin) {
  if (margin % kMicrosPerMinute == 0) return std::to_string(margin / kMicrosPerMinute) + " min";
  return std::to_string(margin / 1000000) + " s";
}

std::string Quote(const IntegrityAssertion& a) {
  return "'" + a.phrase + "'";
}

// The integrity_contradicted message of an "intact" claim whose scope is not ok.
std::string IntactContradiction(const IntegrityVerdict& iv) {
  const std::string window = FormatWindow(iv.scope.since, iv.scope.until);
  if (iv.too_large) {
    return "the claim asserts the chain is intact, but its scope (window " + window + ") spans " +
           std::to_string(iv.window_seqs) + " audit rows, more than the " +
           std::to_string(iv.max_seqs) +
           " one answer's verdict verifies, so it was not verified: narrow the claim's scope "
           "(cite rows close together, or give scope {since, until, nodes})";
  }
  if (iv.empty()) {
    return "the claim asserts the chain is intact, but its scope (window " + window +
           (iv.scope.nodes_listed() ? ", the nodes it names" : "") +
           ") holds none of your audit rows: nothing there was verified, so nothing can be "
           "called intact. Cite rows inside the window you mean, or drop \"integrity\"";
  }
  std::string what;
  for (const NodeIntegrity& n : iv.nodes) {
    if (n.ok) continue;
    if (!what.empty()) what += "; ";
    if (!n.present) {
      what += "no audit rows on " + n.source_node_id;
    } else if (n.first_break) {
      what += "BREAK on " + n.source_node_id + " at seq " + std::to_string(n.first_break->seq) +
              " (" + BreakPhrase(*n.first_break) + ")";
    } else {
      what += "BREAK on " + n.source_node_id;
    }
  }
  return "the claim asserts the chain is intact, but fasten's verdict over its scope (window " +
         window + ", " + (iv.scope.nodes_listed() ? "the nodes it names" : "every node") +
         ") is not ok: " + what +
         ". Report the break instead (a claim with \"integrity\": \"tampered\" citing the row that "
         "fails), or narrow the claim's scope to what verifies and say so";
}

}  // namespace

void ValidateAnswer(const Answer& answer, const CitationStores& stores,
                    const CitationCheckOptions& options, Verdict* out) {
  *out = Verdict();
  Verdict& v = *out;
  v.ledger_checked = options.ledger != nullptr;
  if (!stores.audit) {
    v.error = FailedPreconditionError("no audit store to check citations against");
    return;
  }
  Validator validator(stores, options, &v);
  Status st = validator.Run(answer);
  if (!st.ok()) {
    v.error = st;
    v.accepted = false;
    return;
  }
  VerdictCache verdicts(stores.audit, options.tenant, &v, options.anchors);
  const Micros margin = options.integrity_margin;
  if (answer.claims.empty()) {
    v.problems.push_back({kReasonNoClaims,
                          "the answer has no claims: state each finding as a claim with at least "
                          "one citation {stream, seq, hash}",
                          ""});
    ++v.rejections[kReasonNoClaims];
  }
  Span answer_span;          // every resolved cited row of the answer
  bool cites_audit = false;  // a well-formed audit citation
  bool integrity_talk = false;
  std::vector<IntegrityScope> claim_scopes(answer.claims.size());
  for (size_t ci = 0; ci < answer.claims.size(); ++ci) {
    const Claim& claim = answer.claims[ci];
    ClaimResult cr;
    cr.text = claim.text;
    cr.integrity.field = claim.integrity;
    cr.integrity.scope_explicit = claim.scope.has_value();
    const bool tampered = claim.integrity == IntegrityPolarity::kTampered;
    std::vector<const Haystack*> hay;
    Span claim_span;
    int audit_cited = 0;
    for (const Citation& c : claim.citations) {
      CitationResult r;
      r.citation = c;
      ++v.citations;
      if (!Validator::WellFormed(c)) {
        r.problems.push_back(
            {kReasonMalformed,
             "citation " + std::string(CitationStreamName(c.stream)) + " seq " +
                 std::to_string(c.seq) + " hash \"" + c.hash +
                 "\" is malformed: seq must be >= 1 and hash 64 lowercase hex characters, copied "
                 "from a tool result",
             ""});
      } else {
        if (c.stream == CitationStream::kAudit) {
          cites_audit = true;
          ++audit_cited;
        }
        const Resolved* res = validator.Find(c);
        const std::string* digest =
            c.stream == CitationStream::kAudit ? nullptr : validator.StreamDigest(c);
        if (!res || !res->found) {
          r.problems = res && !res->problems.empty() ? res->problems
                                                     : std::vector<CitationProblem>{NotFound(c)};
        } else {
          r.row_summary = res->summary;
          r.integrity = res->integrity;
          if (std::optional<Micros> t = RowTime(*res)) {
            claim_span.Add(*t);
            answer_span.Add(*t);
          }
          if (options.ledger && !options.ledger->Contains(c)) {
            r.problems.push_back(
                {kReasonNotShown,
                 "the " + CitationText(c) +
                     " was not returned to you by any tool in this run: cite only rows you were "
                     "shown, or fetch this one first (row_get) and check what it says",
                 ""});
          }
          if (digest && *digest != c.hash) {
            r.integrity = "digest differs";
            r.problems.push_back(
                {kReasonHashMismatch,
                 "the stored payload of " + std::string(CitationStreamName(c.stream)) +
                     " row seq " + std::to_string(c.seq) + " has content digest " + *digest +
                     ", not " + c.hash +
                     ": the row changed since it was read, or the digest was miscopied; cite "
                     "the digest the tools report now",
                 ""});
          }
          if (tampered && c.stream == CitationStream::kAudit) {
            // The one case where a row that fails verification is valid evidence: what it
            // fails is the finding; a row that verifies contradicts the claim.
            if (!res->tamper_why.empty()) {
              r.tamper_evidence = res->tamper_why;
            } else {
              r.problems.push_back(
                  {kReasonIntegrityContradicted,
                   "the claim is marked \"integrity\": \"tampered\", but the " + CitationText(c) +
                       " verifies (its hash recomputes and it links to the row before it), so it "
                       "is not evidence of tampering: cite the row that fails verification "
                       "(chain_verify names it), or drop \"integrity\"",
                   ""});
            }
            for (const CitationProblem& p : res->problems) {
              if (p.reason != kReasonHashMismatch && p.reason != kReasonChainBreak) {
                r.problems.push_back(p);
              }
            }
          } else {
            for (const CitationProblem& p : res->problems) r.problems.push_back(p);
          }
          hay.push_back(&res->haystack);
        }
      }
      r.ok = r.problems.empty();
      if (r.ok) ++v.citations_ok;
      for (const CitationProblem& p : r.problems) ++v.rejections[p.reason];
      cr.citations.push_back(std::move(r));
    }
    if (claim.citations.empty()) {
      cr.problems.push_back({kReasonUncited,
                             "this claim cites no row: add at least one citation {stream, seq, "
                             "hash} of a row that shows it, or drop the claim",
                             ""});
    } else if (!hay.empty()) {
      for (const GroundingToken& t : ExtractGroundingTokens(claim.text)) {
        bool ok = false;
        for (const Haystack* h : hay) {
          if (Grounded(t, *h)) {
            ok = true;
            break;
          }
        }
        if (ok) {
          cr.grounded.push_back(t.text);
          continue;
        }
        const std::string hint = Hint(t, hay);
        cr.problems.push_back(
            {kReasonUngrounded,
             std::string("value \"") + t.text + "\" (" + GroundingKindName(t.kind) +
                 ") not in cited rows" + (hint.empty() ? "" : " (they contain: " + hint + ")") +
                 ": correct the value, cite the row that contains it, or drop it from the claim",
             t.text});
      }
    }
    // Integrity: the words must carry the field, and the field must agree with the chain.
    IntegrityAssertion offending;
    switch (CheckIntegrityMarking(claim.text, claim.integrity, &offending)) {
      case IntegrityMarking::kConsistent:
        break;
      case IntegrityMarking::kUnmarked:
        cr.problems.push_back(
            {kReasonIntegrityUnmarked,
             "the claim says " + Quote(offending) +
                 " (an integrity statement: " + IntegrityPolarityName(offending.polarity) +
                 ") without the claim's \"integrity\" field: integrity is decided by the chain, "
                 "not by words. Add \"integrity\": \"" +
                 IntegrityPolarityName(offending.polarity) +
                 "\" to this claim (it is then checked against fasten's chain verdict), or "
                 "remove the statement",
             ""});
        break;
      case IntegrityMarking::kConflicting:
        cr.problems.push_back(
            {kReasonIntegrityUnmarked,
             "the claim is marked \"integrity\": \"" +
                 std::string(IntegrityPolarityName(claim.integrity)) + "\" but says " +
                 Quote(offending) +
                 " (an integrity statement: " + IntegrityPolarityName(offending.polarity) +
                 "): state one finding per claim, with the field that matches its words",
             ""});
        break;
    }
    if (claim.integrity != IntegrityPolarity::kNone ||
        DetectIntegrityAssertion(claim.text).polarity != IntegrityPolarity::kNone) {
      integrity_talk = true;
    }
    if (tampered && audit_cited == 0 && !claim.citations.empty()) {
      cr.problems.push_back(
          {kReasonIntegrityContradicted,
           "the claim is marked \"integrity\": \"tampered\" but cites no audit row: cite the "
           "audit row(s) that fail verification (chain_verify names the first break)",
           ""});
    }
    if (claim.integrity != IntegrityPolarity::kNone) {
      IntegrityScope scope;
      bool placed = true;
      if (claim_span.any) scope = WidenedScope(claim_span.first, claim_span.last, margin);
      if (claim.scope) {
        if (claim.scope->since) scope.since = *claim.scope->since;
        if (claim.scope->until) scope.until = *claim.scope->until;
        scope.nodes = claim.scope->nodes;
        placed = claim_span.any || (claim.scope->since && claim.scope->until);
      } else {
        placed = claim_span.any;
      }
      if (placed && scope.until < scope.since) {
        cr.problems.push_back(
            {kReasonIntegrityContradicted, "the claim's scope ends before it starts", ""});
        placed = false;
      }
      claim_scopes[ci] = scope;
      if (!placed) {
        if (!claim.citations.empty() && !hay.empty()) {
          cr.problems.push_back(
              {kReasonIntegrityContradicted,
               "the claim's window cannot be placed: none of its cited rows has a readable "
               "timestamp; give \"scope\": {\"since\", \"until\"}",
               ""});
        }
      } else if (claim.integrity == IntegrityPolarity::kIntact) {
        const std::string basis = claim.scope && (claim.scope->since || claim.scope->until)
                                      ? "claim scope"
                                      : "claim's cited rows ± " + MarginText(margin);
        const IntegrityVerdict* iv = verdicts.Get(scope, basis);
        if (!iv) return;  // store error: v.error is set, nothing is accepted
        cr.integrity.verdict = *iv;
        if (!iv->ok) {
          cr.problems.push_back({kReasonIntegrityContradicted, IntactContradiction(*iv), ""});
        }
      }
    }
    for (const CitationProblem& p : cr.problems) ++v.rejections[p.reason];
    cr.ok = cr.problems.empty() && std::all_of(cr.citations.begin(), cr.citations.end(),
                                               [](const CitationResult& r) { return r.ok; });
    if (cr.ok) ++v.claims_ok;
    v.claims.push_back(std::move(cr));
  }

  // The answer's window and its verdict.
  const std::vector<IntegrityAssertion> statements = FindIntegrityStatements(answer.prose);
  integrity_talk = integrity_talk || !statements.empty();
  std::optional<IntegrityScope> answer_scope;
  std::string basis;
  if (answer.window) {
    // A stated window never hides the cited rows' own surroundings: it is widened to cover
    // them (± the margin), so an answer cannot state a window that stops just short of a break
    // next to the rows it rests on.
    answer_scope = IntegrityScope{answer.window->first, answer.window->second, {}};
    basis = "stated window";
    if (answer_span.any) {
      IntegrityScope rows = WidenedScope(answer_span.first, answer_span.last, margin);
      if (rows.since < answer_scope->since || rows.until > answer_scope->until) {
        answer_scope->since = std::min(answer_scope->since, rows.since);
        answer_scope->until = std::max(answer_scope->until, rows.until);
        basis = "stated window, widened to the cited rows ± " + MarginText(margin);
      }
    }
  } else if (answer_span.any) {
    answer_scope = WidenedScope(answer_span.first, answer_span.last, margin);
    basis = "cited rows ± " + MarginText(margin);
  }
  if (answer_scope && options.answer_verdict && (cites_audit || answer.window || integrity_talk)) {
    const IntegrityVerdict* iv = verdicts.Get(*answer_scope, basis);
    if (!iv) {
      v.accepted = false;
      return;
    }
    v.integrity = *iv;
    v.integrity->basis = basis;
  }
  // The answer text may state integrity only as far as accepted claims of that polarity back it:
  // "intact" over the answer's whole window on every node; "tampered" by at least one accepted
  // tampered claim (one altered row makes the statement true; its row lies in the window).
  bool intact_reported = false, tampered_reported = false, anchored_reported = false;
  for (const IntegrityAssertion& a : statements) {
    // "Anchored" needs the checkpoints: every node of the answer's window anchored by one.
    if (SaysAnchored(a) && !anchored_reported && v.integrity) {
      std::string why;
      if (!v.integrity->anchors_checked) {
        why = "no checkpoint log was given to check it against";
      } else if (const NodeIntegrity* n = v.integrity->FirstUnanchored()) {
        why = "node " + n->source_node_id + " is not anchored" +
              (n->anchor_note.empty() ? std::string() : " (" + n->anchor_note + ")");
      }
      if (!why.empty()) {
        anchored_reported = true;
        v.problems.push_back({kReasonIntegrityContradicted,
                              "the answer text says " + Quote(a) +
                                  " (anchored), but fasten's checkpoints do not back it: " + why +
                                  "; remove the statement from the text",
                              ""});
        ++v.rejections[kReasonIntegrityContradicted];
      }
    }
    if (a.polarity == IntegrityPolarity::kIntact && !intact_reported) {
      bool backed = false;
      if (answer_scope && v.integrity) {
        std::vector<std::string> seen;
        for (const NodeIntegrity& n : v.integrity->nodes) seen.push_back(n.source_node_id);
        for (size_t i = 0; i < v.claims.size() && !backed; ++i) {
          backed = v.claims[i].ok && answer.claims[i].integrity == IntegrityPolarity::kIntact &&
                   ScopeCovers(claim_scopes[i], *answer_scope, seen);
        }
      }
      if (!backed) {
        intact_reported = true;
        v.problems.push_back(
            {kReasonIntegrityUnmarked,
             "the answer text says " + Quote(a) +
                 " (an integrity statement: intact), but no accepted claim marked \"integrity\": "
                 "\"intact\" covers the answer's whole window" +
                 (answer_scope ? " (" + FormatWindow(answer_scope->since, answer_scope->until) + ")"
                               : std::string()) +
                 " on every node: add such a claim (fasten checks it against the chain), or "
                 "remove the statement from the text",
             ""});
      }
    } else if (a.polarity == IntegrityPolarity::kTampered && !tampered_reported) {
      bool backed = false;
      for (size_t i = 0; i < v.claims.size() && !backed; ++i) {
        backed = v.claims[i].ok && answer.claims[i].integrity == IntegrityPolarity::kTampered;
      }
      if (!backed) {
        tampered_reported = true;
        v.problems.push_back(
            {kReasonIntegrityUnmarked,
             "the answer text says " + Quote(a) +
                 " (an integrity statement: tampered), but no accepted claim marked "
                 "\"integrity\": \"tampered\" backs it: add a claim with that field citing the "
                 "audit row that fails verification, or remove the statement from the text",
             ""});
      }
    }
  }
  for (const CitationProblem& p : v.problems) {
    if (p.reason == kReasonIntegrityUnmarked) ++v.rejections[p.reason];
  }
  v.accepted = v.error.ok() && !answer.claims.empty() && v.problems.empty() &&
               v.claims_ok == static_cast<int64_t>(v.claims.size());
}

json VerdictJson(const Verdict& v) {
  auto problems = [](const std::vector<CitationProblem>& ps) {
    json a = json::array();
    for (const CitationProblem& p : ps) {
      json o = {{"reason", p.reason}, {"message", p.message}};
      if (!p.value.empty()) o["value"] = p.value;
      a.push_back(std::move(o));
    }
    return a;
  };
  json claims = json::array();
  for (size_t i = 0; i < v.claims.size(); ++i) {
    const ClaimResult& c = v.claims[i];
    json cits = json::array();
    for (const CitationResult& r : c.citations) {
      json o = {{"stream", CitationStreamName(r.citation.stream)},
                {"seq", r.citation.seq},
                {"hash", r.citation.hash},
                {"ok", r.ok},
                {"problems", problems(r.problems)}};
      if (!r.row_summary.empty()) o["row"] = r.row_summary;
      if (!r.integrity.empty()) o["integrity"] = r.integrity;
      if (!r.tamper_evidence.empty()) o["tamper_evidence"] = r.tamper_evidence;
      cits.push_back(std::move(o));
    }
    json claim = {{"index", i},
                  {"text", c.text},
                  {"ok", c.ok},
                  {"citations", cits},
                  {"problems", problems(c.problems)},
                  {"grounded", c.grounded}};
    if (c.integrity.field != IntegrityPolarity::kNone) {
      json ci = {{"field", IntegrityPolarityName(c.integrity.field)},
                 {"scope_explicit", c.integrity.scope_explicit}};
      if (c.integrity.verdict) ci["verdict"] = IntegrityVerdictJson(*c.integrity.verdict);
      claim["integrity"] = std::move(ci);
    }
    claims.push_back(std::move(claim));
  }
  json checks = {"resolves", "tenant", "integrity", "link", "grounding", "integrity_claims"};
  if (v.ledger_checked) checks.push_back("ledger");
  json out = {{"accepted", v.accepted},
              {"claims", claims},
              {"problems", problems(v.problems)},
              {"summary",
               {{"claims", v.claims.size()},
                {"claims_accepted", v.claims_ok},
                {"citations", v.citations},
                {"citations_ok", v.citations_ok},
                {"rejections", v.rejections},
                {"store_round_trips", v.store_round_trips},
                {"integrity_verdicts", v.integrity_verdicts}}},
              {"checks", checks},
              {"note",
               "audit citations are checked against the hash chain; sys/api citations are "
               "content-addressed, not chained: a matching digest proves it is the row that was "
               "read, not that it is untampered"}};
  out["integrity"] = v.integrity ? IntegrityVerdictJson(*v.integrity) : json(nullptr);
  if (!v.error.ok()) {
    out["error"] = v.error.message();
    out["accepted"] = false;
  }
  const std::string repair = RepairText(v);
  if (!repair.empty()) out["repair"] = repair;
  return out;
}

std::string DescribeClaimIntegrity(const ClaimResult& c) {
  if (c.integrity.field == IntegrityPolarity::kNone) return "";
  std::string s = std::string("integrity: ") + IntegrityPolarityName(c.integrity.field);
  if (c.integrity.scope_explicit) s += " (over the scope the claim names)";
  if (c.integrity.verdict) s += " · " + c.integrity.verdict->line;
  std::string evidence;
  for (const CitationResult& r : c.citations) {
    if (r.tamper_evidence.empty()) continue;
    evidence += std::string(evidence.empty() ? "" : "; ") + "seq " +
                std::to_string(r.citation.seq) + " " + r.tamper_evidence;
  }
  if (!evidence.empty()) s += " · evidence: " + evidence;
  return s;
}

std::string RepairText(const Verdict& v) {
  if (v.accepted) return "";
  std::string s;
  if (!v.error.ok()) {
    return "The answer could not be checked (" + v.error.message() +
           "); it is not accepted. Retry later.";
  }
  s = "The answer was rejected. Fix every problem below and submit the whole answer again.\n";
  for (const CitationProblem& p : v.problems) s += "- " + p.reason + ": " + p.message + "\n";
  for (size_t i = 0; i < v.claims.size(); ++i) {
    const ClaimResult& c = v.claims[i];
    if (c.ok) continue;
    s += "- claim " + std::to_string(i + 1) + " \"" + c.text + "\":\n";
    for (const CitationResult& r : c.citations) {
      for (const CitationProblem& p : r.problems) s += "  - " + p.reason + ": " + p.message + "\n";
    }
    for (const CitationProblem& p : c.problems) s += "  - " + p.reason + ": " + p.message + "\n";
  }
  return s;
}

}  // namespace fasten
