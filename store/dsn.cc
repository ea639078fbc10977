#include "store/dsn.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace fasten {
namespace {

bool IsIdent(std::string_view s) {
  if (s.empty()) return false;
  auto head = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!head(s[0])) return false;
  for (char c : s.substr(1)) {
    if (!head(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof buf) == nullptr) return path;
  std::string cwd(buf);
  std::string rel = path;
  while (rel.rfind("./", 0) == 0) rel = rel.substr(2);
  return cwd + (cwd.back() == '/' ? "" : "/") + rel;
}

// "30s", "500ms", "2m", "1h" or plain milliseconds.
bool ParseDurationMs(const std::string& text, int64_t* out) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return false;
  int64_t n = std::stoll(text.substr(0, digits));
  std::string unit = text.substr(digits);
  int64_t scale = 0;
  if (unit.empty() || unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m" || unit == "min") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 3600 * 1000;
  } else {
    return false;
  }
  *out = n * scale;
  return *out <= INT32_MAX;  // Postgres' limit for the setting
}

// Splits "a=1&b=2" and applies fasten's parameters; returns the others unchanged.
Status ApplyQuery(std::string_view query, Dsn* dsn, std::string* rest) {
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t amp = query.find('&', pos);
    std::string_view part = query.substr(pos, amp == std::string_view::npos ? amp : amp - pos);
    size_t eq = part.find('=');
    std::string key(part.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1));
    if (key == "table") {
      dsn->table = value;
    } else if (key == "wal") {
      dsn->wal = value != "false";
    } else if (key == "immutable") {
      if (value != "1" && value != "true" && value != "0" && value != "false") {
        return InvalidArgumentError("invalid immutable '" + value +
                                    "' in DSN: use immutable=1 (a SQLite copy nothing writes)");
      }
      dsn->immutable = value == "1" || value == "true";
    } else if (key == "statement_timeout") {
      int64_t ms = 0;
      if (!ParseDurationMs(value, &ms)) {
        return InvalidArgumentError("invalid statement_timeout '" + value +
                                    "' in DSN: use e.g. 30s, 500ms, 2m, or milliseconds");
      }
      dsn->statement_timeout_ms = ms;
    } else if (key == "busy_poll_us") {
      char* end = nullptr;
      errno = 0;
      const long long us = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || us < 0 || us > 10000) {
        return InvalidArgumentError("invalid busy_poll_us '" + value +
                                    "' in DSN: use microseconds from 0 (off) to 10000");
      }
      dsn->busy_poll_us = us;
    } else if (!part.empty()) {
      if (!rest->empty()) rest->push_back('&');
      rest->append(part);
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return Status::Ok();
}

}  // namespace

bool IsValidSqliteTableName(std::string_view name) {
  return IsIdent(name);
}

bool IsValidPostgresTableName(std::string_view name) {
  size_t dot = name.find('.');
  if (dot == std::string_view::npos) return IsIdent(name);
  return IsIdent(name.substr(0, dot)) && IsIdent(name.substr(dot + 1));
}

std::string Dsn::Display() const {
  if (kind == Kind::kSqlite) {
    return "sqlite:///" + path + (table ? "?table=" + *table : "");
  }
  // Hide any password, where libpq would read one: in the user info, up to the first '@' before
  // any '/' (postgres://user:secret@host -> postgres://user@host), and in the query, where every
  // parameter whose name mentions a password is dropped (libpq reads password= and
  // sslpassword=; a garbled name such as "x?password" goes too, its value being a secret).
  std::string shown = conninfo;
  size_t query_from = 0;
  if (const size_t scheme = shown.find("://"); scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t at = shown.find_first_of("@/", start);
    query_from = start;
    if (at != std::string::npos && shown[at] == '@') {
      const size_t colon = shown.find(':', start);
      if (colon < at) shown.erase(colon, at - colon);
      query_from = shown.find('@', start) + 1;
    }
  }
  if (const size_t q = shown.find('?', query_from); q != std::string::npos) {
    std::string_view query = std::string_view(shown).substr(q + 1);
    std::string kept;
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view part = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      std::string key(part.substr(0, part.find('=')));
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (key.find("password") != std::string::npos) continue;
      kept += (kept.empty() ? "" : "&") + std::string(part);
    }
    shown.resize(q);
    if (!kept.empty()) shown += "?" + kept;
  }
  return shown +
         (table ? std::string(shown.find('?') == std::string::npos ? "?" : "&") + "table=" + *table
                : "");
}

Result<Dsn> ParseDsn(std::string_view text) {
  Dsn dsn;
  dsn.raw = std::string(text);
  if (text.empty()) return InvalidArgumentError("empty store DSN");
  std::string_view body = text;
  size_t q = body.find('?');
  std::string_view query = q == std::string_view::npos ? "" : body.substr(q + 1);
  std::string_view head = body.substr(0, q);
  std::string rest;
  if (head.rfind("postgres://", 0) == 0 || head.rfind("postgresql://", 0) == 0) {
    dsn.kind = Dsn::Kind::kPostgres;
    FASTEN_RETURN_IF_ERROR(ApplyQuery(query, &dsn, &rest));
    if (dsn.immutable) {
      return InvalidArgumentError("immutable=1 applies to SQLite stores only");
    }
    dsn.conninfo = std::string(head) + (rest.empty() ? "" : "?" + rest);
    if (dsn.table && !IsValidPostgresTableName(*dsn.table)) {
      return InvalidArgumentError("invalid table name '" + *dsn.table +
                                  "' in DSN: use letters, digits and '_', optionally one "
                                  "'schema.' prefix");
    }
    return dsn;
  }
  std::string path;
  if (head.rfind("sqlite:", 0) == 0) {
    if (head.rfind("sqlite:///", 0) != 0) {
      return InvalidArgumentError("invalid SQLite DSN '" + std::string(text) +
                                  "': write sqlite:///relative/path.db or "
                                  "sqlite:////absolute/path.db");
    }
    path = PercentDecode(head.substr(10));  // keeps a leading '/' for the 4-slash form
  } else if (head.find("://") != std::string_view::npos) {
    return InvalidArgumentError("unsupported store DSN '" + std::string(text) +
                                "': expected sqlite:///PATH or postgres://...");
  } else {
    path = PercentDecode(head);  // a bare file path
  }
  if (path.empty())
    return InvalidArgumentError("SQLite DSN '" + std::string(text) + "' has no path");
  FASTEN_RETURN_IF_ERROR(ApplyQuery(query, &dsn, &rest));
  if (dsn.table && !IsValidSqliteTableName(*dsn.table)) {
    return InvalidArgumentError("invalid table name '" + *dsn.table +
                                "' in DSN: SQLite table names are letters, digits and '_', "
                                "not starting with a digit");
  }
  dsn.kind = Dsn::Kind::kSqlite;
  dsn.path = AbsolutePath(path);
  return dsn;
}

}  // namespace fasten
