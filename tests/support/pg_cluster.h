// A throwaway PostgreSQL cluster for tests, run by scripts/pg-cluster.sh in a fresh temporary
// directory on a free loopback port (Unix socket in the same directory; as root the server runs
// as the `postgres` user).
//
// The cluster is stopped and its directory removed by the destructor, and also if the test
// process dies: a watchdog process waits on a pipe that closes when this process exits.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "util/status.h"

namespace fasten::testing {

class PgCluster {
 public:
  static Status Start(std::unique_ptr<PgCluster>* out);
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // postgres://fasten@127.0.0.1:PORT/fasten (superuser fasten, trust authentication).
  const std::string& dsn() const { return dsn_; }
  // The same server, another database.
  std::string DsnFor(const std::string& database) const;
  const std::string& dir() const { return dir_; }

  // Fast shutdown; Restart() brings the server back on the same port.
  Status Stop();
  Status Restart();

 private:
  PgCluster() = default;
  std::string dir_, dsn_;
  pid_t watchdog_ = -1;
  int watchdog_fd_ = -1;
};

// The cluster shared by one test binary: started on first use, stopped at exit.
// Fails the calling test when no cluster can be started.
PgCluster* SharedPgCluster();

// Runs scripts/pg-cluster.sh with `args`; returns its stdout (trimmed); error on a non-zero exit.
Status RunClusterScript(const std::string& args, std::string* out);

}  // namespace fasten::testing
