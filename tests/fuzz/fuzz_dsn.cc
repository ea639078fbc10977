// Fuzzes store DSN parsing (store/dsn.h ParseDsn, Dsn::Display).
//
// Input: a DSN (any bytes). Checks:
// - a refusal is InvalidArgument; parsing is deterministic;
// - accepted ⇒ the table name, when given, passes the backend's identifier rule;
//   statement_timeout is 0..INT32_MAX ms and busy_poll_us 0..10000;
// - SQLite: the path is absolute and ParseDsn(Display()) names the same file and table when the
//   path has no character the DSN syntax gives a meaning to ('%', '?');
// - Postgres: conninfo keeps the scheme, never carries fasten's own parameters (table,
//   statement_timeout, busy_poll_us, wal), and Display() never shows a password libpq would read
//   (user:secret@host, password=, sslpassword=).
#include <cctype>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "store/dsn.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using fasten::Dsn;
using fasten::fuzz::AsText;

// The passwords libpq reads from a postgres URL: the user info's (up to the first '@' before any
// '/') and the values of password= and sslpassword= (after the first '?' following the user info).
std::vector<std::string> Passwords(const std::string& url) {
  std::vector<std::string> out;
  const size_t start = url.find("://") + 3;
  const size_t at = url.find_first_of("@/", start);
  size_t host = start;
  if (at != std::string::npos && url[at] == '@') {
    const size_t colon = url.find(':', start);
    if (colon < at) out.push_back(url.substr(colon + 1, at - colon - 1));
    host = at + 1;
  }
  size_t from = url.find('?', host);
  while (from != std::string::npos) {
    const size_t amp = url.find('&', from + 1);
    const std::string part = url.substr(from + 1, amp == std::string::npos ? amp : amp - from - 1);
    const size_t eq = part.find('=');
    std::string key = part.substr(0, eq);
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((key == "password" || key == "sslpassword") && eq != std::string::npos) {
      out.push_back(part.substr(eq + 1));
    }
    from = amp;
  }
  return out;
}

// How many times `needle` occurs in `s`.
size_t Occurrences(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);
  fasten::Result<Dsn> dsn = fasten::ParseDsn(text);
  fasten::Result<Dsn> again = fasten::ParseDsn(text);
  FUZZ_CHECK(dsn.ok() == again.ok());
  if (!dsn.ok()) {
    FUZZ_CHECK_MSG(dsn.status().code() == fasten::StatusCode::kInvalidArgument,
                   dsn.status().ToString());
    FUZZ_CHECK(dsn.status().message() == again.status().message());
    return 0;
  }
  FUZZ_CHECK(dsn->raw == text);
  if (dsn->statement_timeout_ms) {
    FUZZ_CHECK(*dsn->statement_timeout_ms >= 0 && *dsn->statement_timeout_ms <= INT32_MAX);
  }
  if (dsn->busy_poll_us) FUZZ_CHECK(*dsn->busy_poll_us >= 0 && *dsn->busy_poll_us <= 10000);
  const std::string shown = dsn->Display();
  if (dsn->kind == Dsn::Kind::kSqlite) {
    if (dsn->table) FUZZ_CHECK(fasten::IsValidSqliteTableName(*dsn->table));
    FUZZ_CHECK(!dsn->path.empty() && dsn->path.front() == '/');
    if (dsn->path.find_first_of("%?") == std::string::npos) {
      fasten::Result<Dsn> shown_dsn = fasten::ParseDsn(shown);
      FUZZ_CHECK_MSG(shown_dsn.ok(), shown + ": " + shown_dsn.status().ToString());
      FUZZ_CHECK_MSG(shown_dsn->path == dsn->path, shown);
      FUZZ_CHECK(shown_dsn->table == dsn->table);
    }
    return 0;
  }
  if (dsn->table) FUZZ_CHECK(fasten::IsValidPostgresTableName(*dsn->table));
  FUZZ_CHECK(dsn->conninfo.rfind("postgres://", 0) == 0 ||
             dsn->conninfo.rfind("postgresql://", 0) == 0);
  size_t q = dsn->conninfo.find('?');
  if (q != std::string::npos) {
    std::string query = "&" + dsn->conninfo.substr(q + 1);
    for (const char* own : {"&table=", "&statement_timeout=", "&busy_poll_us=", "&wal="}) {
      FUZZ_CHECK_MSG(query.find(own) == std::string::npos, dsn->conninfo);
    }
  }
  // Display() never shows a password libpq would read. Looked for: a password of 4 characters or
  // more (a shorter one can appear by chance), spelled as RFC 3986 allows in user info and query
  // values (printable, none of "?&@/#"; otherwise the URL reads several ways), and occurring once
  // in the DSN text (a copy in the path, the table or another value is not a password to libpq).
  for (const std::string& password : Passwords(dsn->conninfo)) {
    if (password.size() < 4 || Occurrences(dsn->raw, password) != 1) continue;
    bool plain = true;
    for (char c : password) plain = plain && c > ' ' && c < 0x7f && !std::strchr("?&@/#", c);
    if (!plain) continue;
    FUZZ_CHECK_MSG(shown.find(password) == std::string::npos,
                   "Display() shows the password " + password + ": " + shown);
  }
  return 0;
}
