#include "util/state_db.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "util/sqlite.h"

namespace fasten {

bool StatePathExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string StateParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status MakeStateDirs(const std::string& dir) {
  if (dir.empty() || dir == "." || dir == "/") return Status::Ok();
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return FailedPreconditionError(dir + " exists and is not a directory");
  }
  FASTEN_RETURN_IF_ERROR(MakeStateDirs(StateParentDir(dir)));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return UnavailableError("cannot create directory " + dir + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<SqliteHandle> OpenStateDb(const std::string& path, int flags, const std::string& what) {
  SqliteHandle db;
  Status st = SqliteOpen(path, flags | SQLITE_OPEN_NOMUTEX, &db);
  if (!st.ok()) return st.WithContext("cannot open " + what + " " + path);
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kStateBusyTimeoutMs);
  return db;
}

Status ExecStateSql(sqlite3* db, const char* sql, const std::string& what,
                    const std::string& path) {
  return SqliteExec(db, sql).WithContext("cannot write " + what + " " + path);
}

}  // namespace fasten
