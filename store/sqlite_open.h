// Opening a SQLite store read-only, including a copy in a read-only directory.
//
// A store is opened with SQLITE_OPEN_READONLY and never written. For a store in WAL mode, SQLite
// itself keeps two companion files beside it while it is read: `-wal` (the log a live writer
// appends to) and `-shm` (its shared-memory index). A reader must create `-shm` when it is
// missing, and SQLite leaves both files in place afterwards; the database file itself is not
// touched. That is what lets a reader see a live writer's newest rows consistently.
//
// A copy that nobody writes any more can be opened without any companion file in SQLite's
// immutable mode (no locks, no -wal or -shm, nothing created): with `?immutable=1` in the DSN,
// or automatically for a WAL-mode store with no `-wal` file in a directory this process cannot
// write (where no writer could commit either). Immutable mode must not be used on a store that
// is still written: SQLite then does not notice changes and may read torn pages.
#pragma once

#include <sqlite3.h>

#include "store/dsn.h"
#include "util/handles.h"
#include "util/status.h"

namespace fasten {

// Opens dsn.path read-only (adding `extra_flags`, e.g. SQLITE_OPEN_NOMUTEX), immutable when the
// DSN asks for it or the store is a read-only WAL copy (see above). `*immutable` (may be null)
// says which. Errors say what to fix.
Status OpenSqliteReadOnly(const Dsn& dsn, int extra_flags, SqliteHandle* out, bool* immutable);

// True for a WAL-mode database file (header bytes 18-19 == 2) with no `-wal` file beside it, in
// a directory this process cannot write.
bool IsReadOnlyWalCopy(const std::string& path);

}  // namespace fasten
