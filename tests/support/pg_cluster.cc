#include "support/pg_cluster.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace fasten::testing {
namespace {

std::string ScriptPath() {
  return std::string(FASTEN_SOURCE_DIR) + "/scripts/pg-cluster.sh";
}

}  // namespace

Status RunClusterScript(const std::string& args, std::string* out) {
  std::string cmd = "bash '" + ScriptPath() + "' " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return InternalError("cannot run " + cmd);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int rc = pclose(p);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (rc != 0) return UnavailableError("pg-cluster.sh " + args + " failed: " + text);
  if (out) *out = text;
  return Status::Ok();
}

Status PgCluster::Start(std::unique_ptr<PgCluster>* out) {
  char tmpl[] = "/tmp/fasten-pg-XXXXXX";
  if (!mkdtemp(tmpl)) return InternalError("mkdtemp failed");
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->dir_ = tmpl;
  // The watchdog: blocks reading a pipe whose only writer is this process (close-on-exec, so
  // the server does not inherit it); at EOF it stops the server and removes the directory.
  int fds[2];
  if (pipe(fds) != 0) return InternalError("pipe failed");
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    dup2(fds[0], 0);
    close(fds[0]);
    close(fds[1]);
    const std::string script = ScriptPath();
    execl("/bin/bash", "bash", "-c",
          "cat >/dev/null; bash \"$0\" stop \"$1\" >/dev/null 2>&1; rm -rf \"$1\"", script.c_str(),
          c->dir_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[0]);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  c->watchdog_ = pid;
  c->watchdog_fd_ = fds[1];
  std::string text;
  FASTEN_RETURN_IF_ERROR(RunClusterScript("start '" + c->dir_ + "'", &text));
  size_t nl = text.rfind('\n');
  c->dsn_ = nl == std::string::npos ? text : text.substr(nl + 1);
  *out = std::move(c);
  return Status::Ok();
}

PgCluster::~PgCluster() {
  Status ignored = Stop();
  (void)ignored;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  if (watchdog_fd_ >= 0) close(watchdog_fd_);
  if (watchdog_ > 0) waitpid(watchdog_, nullptr, 0);
}

std::string PgCluster::DsnFor(const std::string& database) const {
  return dsn_.substr(0, dsn_.rfind('/') + 1) + database;
}

Status PgCluster::Stop() {
  return RunClusterScript("stop '" + dir_ + "'", nullptr);
}

Status PgCluster::Restart() {
  return RunClusterScript("start '" + dir_ + "'", nullptr);
}

PgCluster* SharedPgCluster() {
  static std::unique_ptr<PgCluster> cluster;
  static Status status;
  static bool tried = false;
  if (!tried) {
    tried = true;
    status = PgCluster::Start(&cluster);
    // Stopped at exit even when a test calls exit(); the watchdog covers crashes.
    std::atexit([] { cluster.reset(); });
  }
  EXPECT_TRUE(status.ok()) << status.ToString();
  return cluster.get();
}

}  // namespace fasten::testing
