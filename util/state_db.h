// fasten-mcp's own state database: one SQLite file the operator owns (the spend ledger,
// llm/spend_ledger.h, and the investigation record log, record/record_log.h, keep their tables in
// it), never a fasten store. These helpers open it the same way for every owner of a table.
//
// Path: --state PATH, else $FASTEN_STATE_DIR/state.db, else $XDG_STATE_HOME/fasten-mcp/state.db,
// else ~/.local/state/fasten-mcp/state.db (llm::DefaultStatePath). Stateless functions;
// thread-safe.
#pragma once

#include <string>

#include "util/handles.h"
#include "util/status.h"

namespace fasten {

// How long a statement waits for another connection's write lock (serve's writers, a
// concurrent `investigate`).
inline constexpr int kStateBusyTimeoutMs = 10000;

// True when something exists at `path`.
bool StatePathExists(const std::string& path);

// The directory of `path` ("." when it has none).
std::string StateParentDir(const std::string& path);

// mkdir -p `dir`, creating what is missing with mode 0700 (the state is the operator's, not the
// world's). FailedPrecondition when a component exists and is not a directory.
Status MakeStateDirs(const std::string& dir);

// Opens `path` with `flags` (SQLITE_OPEN_READONLY, or READWRITE | CREATE), adding NOMUTEX (the
// caller serialises), with extended result codes and a busy timeout of kStateBusyTimeoutMs.
// `what` names the database in errors ("spend state database").
Result<SqliteHandle> OpenStateDb(const std::string& path, int flags, const std::string& what);

// Runs `sql` (one or more statements). Unavailable "cannot write WHAT PATH: ..." on failure.
Status ExecStateSql(sqlite3* db, const char* sql, const std::string& what, const std::string& path);

}  // namespace fasten
