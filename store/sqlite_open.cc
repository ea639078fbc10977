#include "store/sqlite_open.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "util/sqlite.h"

namespace fasten {
namespace {

// A file: URI for `path` (RFC 3986 percent-encoding of what SQLite's URI parser treats
// specially), with `?immutable=1`.
std::string ImmutableUri(const std::string& path) {
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c <= 0x20 || c >= 0x7F) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      uri += buf;
    } else {
      uri += static_cast<char>(c);
    }
  }
  return uri + "?immutable=1";
}

std::string Directory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

bool IsReadOnlyWalCopy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char header[20];
  if (!f.read(header, sizeof header)) return false;
  if (std::string_view(header, 16) != std::string_view("SQLite format 3\0", 16)) return false;
  const bool wal = header[18] == 2 && header[19] == 2;
  struct stat st;
  return wal && stat((path + "-wal").c_str(), &st) != 0 &&
         access(Directory(path).c_str(), W_OK) != 0;
}

Status OpenSqliteReadOnly(const Dsn& dsn, int extra_flags, SqliteHandle* out, bool* immutable) {
  const bool frozen = dsn.immutable || IsReadOnlyWalCopy(dsn.path);
  if (immutable != nullptr) *immutable = frozen;
  const std::string name = frozen ? ImmutableUri(dsn.path) : dsn.path;
  int flags = SQLITE_OPEN_READONLY | extra_flags | (frozen ? SQLITE_OPEN_URI : 0);
  Status opened = SqliteOpen(name, flags, out);
  if (!opened.ok()) return opened.WithContext("cannot open " + dsn.path);
  sqlite3* raw = out->get();
  // A writer's commit, or another connection recovering a WAL index (several workers opening at
  // once), holds a lock for milliseconds: wait for it rather than fail the open.
  sqlite3_busy_timeout(raw, kSqliteBusyTimeoutMs);
  // Read the schema now, so that a WAL store whose -shm cannot be created fails here, with what
  // to do, rather than at the first query.
  int rc = SQLITE_OK;
  Status read = SqliteExec(raw, "SELECT count(*) FROM sqlite_master", &rc);
  if (!read.ok()) {
    const std::string why = read.message();
    if ((rc & 0xFF) == SQLITE_READONLY || (rc & 0xFF) == SQLITE_CANTOPEN) {
      return FailedPreconditionError(
          "cannot read " + dsn.path + ": " + why +
          ". It is a WAL-mode store in a directory this process cannot write, and SQLite needs "
          "to create its -shm index there. If nothing writes the store any more, open it "
          "immutable (append ?immutable=1 to the DSN; a leftover -wal file must first be "
          "checkpointed into it: sqlite3 FILE 'PRAGMA wal_checkpoint(TRUNCATE)' on a writable "
          "copy); otherwise give this process write access to the directory");
    }
    if ((rc & 0xFF) == SQLITE_NOTADB) {
      return FailedPreconditionError("cannot read " + dsn.path + ": " + why +
                                     " (the file is not a SQLite database)");
    }
    return UnavailableError("cannot read " + dsn.path + ": " + why);
  }
  return Status::Ok();
}

}  // namespace fasten
