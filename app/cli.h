// Command-line parsing for the fasten-mcp subcommands: --flag VALUE, --flag=VALUE, boolean
// flags and positionals. Unknown flags are errors that name the command's help.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace fasten {

struct FlagSpec {
  const char* name;  // without the leading "--"
  bool takes_value;
};

class Args {
 public:
  // Parses argv[start..argc). `command` names the subcommand in error messages.
  static Result<Args> Parse(const std::string& command, int argc, char** argv, int start,
                            const std::vector<FlagSpec>& specs);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value of a flag (a repeated flag keeps its last value)...
  std::optional<std::string> Get(const std::string& name) const;
  // ... or all of them, in order (for flags that may be repeated, e.g. --pubkey A --pubkey B).
  std::vector<std::string> GetAll(const std::string& name) const {
    auto it = all_.find(name);
    return it == all_.end() ? std::vector<std::string>{} : it->second;
  }
  const std::vector<std::string>& positionals() const { return positionals_; }

  // Parses an integer flag within [lo, hi]; InvalidArgument naming the flag otherwise.
  Status GetInt(const std::string& name, int64_t lo, int64_t hi, std::optional<int64_t>* out) const;
  // Parses a duration flag given in seconds with up to 3 decimals ("60", "0.5", "1.25") into
  // milliseconds within [lo_ms, hi_ms]; InvalidArgument naming the flag otherwise.
  Status GetSecondsAsMillis(const std::string& name, int64_t lo_ms, int64_t hi_ms,
                            std::optional<int64_t>* out) const;

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> all_;
  std::vector<std::string> positionals_;
};

// `text` as a decimal integer within [lo, hi]; nullopt otherwise (signs, spaces, trailing
// characters, overflow).
std::optional<int64_t> ParseIntInRange(std::string_view text, int64_t lo, int64_t hi);

// A URL query ("a=1&b=2", without '?') into *out. Keys outside `known` are InvalidArgument
// naming the known ones; a repeated key keeps its last value; empty parts are skipped. Values
// are taken as they are (no percent-decoding).
Status ParseQueryParams(const std::string& query, const std::vector<std::string>& known,
                        std::map<std::string, std::string>* out);

// The process environment, read in one place (app/). Tests pass their own.
class Env {
 public:
  virtual ~Env() = default;
  virtual std::optional<std::string> Get(const std::string& name) const;
};

}  // namespace fasten
