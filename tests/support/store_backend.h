// A fresh, empty store on one backend, for the reader contract suite: SQLite (a file in a
// temporary directory) or Postgres (a new database on the shared test cluster, with TEXT or
// TIMESTAMPTZ timestamp columns). Fixtures write through it; readers open its DSN.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "store/row.h"
#include "test_store.h"

namespace fasten::testing {

struct BackendParam {
  bool postgres = false;
  bool timestamptz = false;  // Postgres: `timestamp`/`shipped_at` declared TIMESTAMPTZ
  std::string Name() const {
    return !postgres ? "Sqlite" : timestamptz ? "PostgresTimestamptz" : "PostgresText";
  }
};

class StoreBackend {
 public:
  // Creates an empty store (fails the test when it cannot).
  static std::unique_ptr<StoreBackend> Create(const BackendParam& param);
  virtual ~StoreBackend() = default;

  const BackendParam& param() const { return param_; }
  Dialect dialect() const { return {param_.postgres, param_.timestamptz}; }

  // The store's DSN followed by `query` (e.g. "?table=x").
  virtual std::string Dsn(const std::string& query = "") const = 0;
  // Runs SQL (several statements allowed); fails the test on error.
  virtual void Exec(const std::string& sql) = 0;
  // Inserts rows, writing only the columns `table` has.
  virtual void Insert(const std::string& table, const std::vector<AuditRow>& rows) = 0;

  // The writers' DDL in this backend's dialect.
  std::string SpecDdl(const std::string& t) const { return testing::SpecDdl(t, dialect()); }
  std::string PythonNewestDdl(const std::string& t) const {
    return testing::PythonNewestDdl(t, dialect());
  }
  std::string CppHeaderDdl(const std::string& t) const {
    return testing::CppHeaderDdl(t, dialect());
  }
  std::string OlderGoDdl(const std::string& t) const { return testing::OlderGoDdl(t, dialect()); }
  // A stream table (docs/format.md §4.1) in this dialect.
  std::string StreamDdl(const std::string& t) const;

 protected:
  BackendParam param_;
};

}  // namespace fasten::testing
