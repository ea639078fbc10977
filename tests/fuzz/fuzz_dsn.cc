// Fuzzes store DSN parsing (store/dsn.h ParseDsn, Dsn::Display).
//
// Input: a DSN (any bytes). Checks:
// - a refusal is InvalidArgument; parsing is deterministic;
// - accepted ⇒ the table name, when given, passes the backend's identifier rule;
//   statement_timeout is 0..INT32_MAX ms and busy_poll_us 0..10000;
// - SQLite: the path is absolute and ParseDsn(Display()) names the same file and table when the
//   path has no character the DSN syntax gives a meaning to ('%', '?');
// - Postgres: conninfo keeps the scheme, never carries fasten's own parameters (table,
//   statement_timeout, busy_poll_us, wal), and Display() never shows a password, whether given
//   in the user info (user:secret@host) or as a password= parameter.
#include <climits>
#include <string>
#include <vector>

#include "store/dsn.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using fasten::Dsn;
using fasten::fuzz::AsText;

// The places a password of a postgres URL takes, as libpq reads it: ":PASSWORD@" in the user
// info (up to the first '@' before any '/'), and "password=PASSWORD" parameters.
std::vector<std::string> PasswordSpellings(const std::string& conninfo) {
  std::vector<std::string> out;
  size_t start = conninfo.find("://") + 3;
  size_t at = conninfo.find_first_of("@/", start);
  if (at != std::string::npos && conninfo[at] == '@') {
    size_t colon = conninfo.find(':', start);
    if (colon < at && colon + 1 < at) out.push_back(conninfo.substr(colon, at - colon + 1));
  }
  size_t q = conninfo.find('?');
  while (q != std::string::npos) {
    size_t amp = conninfo.find('&', q + 1);
    std::string part = conninfo.substr(q + 1, amp == std::string::npos ? amp : amp - q - 1);
    if (part.rfind("password=", 0) == 0 && part.size() > 9) out.push_back(part);
    q = amp;
  }
  return out;
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
  for (const std::string& password : PasswordSpellings(dsn->conninfo)) {
    FUZZ_CHECK_MSG(shown.find(password) == std::string::npos,
                   "Display() shows the password (" + password + "): " + shown);
  }
  return 0;
}
