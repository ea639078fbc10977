// The fasten-mcp subcommands. Each returns the process exit status:
// 0 success, 1 a finding (a chain break, a rejected answer), 2 usage or I/O error.
#pragma once

#include <iosfwd>

#include "app/cli.h"

namespace fasten {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFinding = 1;
inline constexpr int kExitUsage = 2;

struct CommandIo {
  std::ostream& out;
  std::ostream& err;
  const Env& env;
};

int RunDemo(int argc, char** argv, CommandIo io);
int RunVerify(int argc, char** argv, CommandIo io);
int RunDoctor(int argc, char** argv, CommandIo io);
int RunQuery(int argc, char** argv, CommandIo io);
int RunTrace(int argc, char** argv, CommandIo io);
int RunServe(int argc, char** argv, CommandIo io);
int RunConfig(int argc, char** argv, CommandIo io);
int RunIndex(int argc, char** argv, CommandIo io);
int RunToken(int argc, char** argv, CommandIo io);
int RunValidate(int argc, char** argv, CommandIo io);
int RunInvestigate(int argc, char** argv, CommandIo io);
int RunSpend(int argc, char** argv, CommandIo io);
int RunInvestigations(int argc, char** argv, CommandIo io);
int RunPack(int argc, char** argv, CommandIo io);
int RunVerifyPack(int argc, char** argv, CommandIo io);
int RunCheckpoint(int argc, char** argv, CommandIo io);
int RunKeygen(int argc, char** argv, CommandIo io);

extern const char kDemoHelp[];
extern const char kVerifyHelp[];
extern const char kQueryHelp[];
extern const char kTraceHelp[];
extern const char kServeHelp[];
extern const char kConfigHelp[];
extern const char kIndexHelp[];
extern const char kTokenHelp[];
extern const char kValidateHelp[];
extern const char kInvestigateHelp[];
extern const char kSpendHelp[];
extern const char kInvestigationsHelp[];
extern const char kPackHelp[];
extern const char kVerifyPackHelp[];
extern const char kCheckpointHelp[];
extern const char kKeygenHelp[];

}  // namespace fasten
