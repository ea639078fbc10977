#include "app/cli.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "util/duration.h"

namespace fasten {

Result<Args> Args::Parse(const std::string& command, int argc, char** argv, int start,
                         const std::vector<FlagSpec>& specs) {
  Args args;
  bool only_positionals = false;
  for (int i = start; i < argc; ++i) {
    std::string a = argv[i];
    if (only_positionals || a.size() < 2 || a[0] != '-' || a == "-") {
      args.positionals_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positionals = true;
      continue;
    }
    if (a == "-h") a = "--help";
    if (a.rfind("--", 0) != 0) {
      return InvalidArgumentError("unknown option '" + a + "' for '" + command +
                                  "' (see fasten-mcp " + command + " --help)");
    }
    std::string name = a.substr(2), value;
    bool has_inline = false;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (name == s.name) spec = &s;
    }
    if (name == "help") {
      args.values_["help"] = "";
      continue;
    }
    if (!spec) {
      return InvalidArgumentError("unknown option '--" + name + "' for '" + command +
                                  "' (see fasten-mcp " + command + " --help)");
    }
    if (spec->takes_value && !has_inline) {
      if (i + 1 >= argc) {
        return InvalidArgumentError("option '--" + name + "' needs a value (see fasten-mcp " +
                                    command + " --help)");
      }
      value = argv[++i];
    } else if (!spec->takes_value && has_inline) {
      return InvalidArgumentError("option '--" + name + "' takes no value");
    }
    args.values_[name] = value;
    args.all_[name].push_back(value);
  }
  return args;
}

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

Status Args::GetInt(const std::string& name, int64_t lo, int64_t hi,
                    std::optional<int64_t>* out) const {
  out->reset();
  auto v = Get(name);
  if (!v) return Status::Ok();
  *out = ParseIntInRange(*v, lo, hi);
  if (!*out) {
    return InvalidArgumentError("--" + name + " must be an integer from " + std::to_string(lo) +
                                " to " + std::to_string(hi) + ", got '" + *v + "'");
  }
  return Status::Ok();
}

std::optional<int64_t> ParseIntInRange(std::string_view text, int64_t lo, int64_t hi) {
  int64_t n = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), n);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || n < lo || n > hi) {
    return std::nullopt;
  }
  return n;
}

Status ParseQueryParams(const std::string& query, const std::vector<std::string>& known,
                        std::map<std::string, std::string>* out) {
  out->clear();
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t amp = query.find('&', pos);
    std::string part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    size_t eq = part.find('=');
    std::string key = part.substr(0, eq),
                value = eq == std::string::npos ? "" : part.substr(eq + 1);
    if (!key.empty()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string names;
        for (const std::string& k : known) names += (names.empty() ? "" : ", ") + k;
        return InvalidArgumentError("unknown parameter \"" + key + "\" (" + names + ")");
      }
      (*out)[key] = value;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return Status::Ok();
}

Status Args::GetSecondsAsMillis(const std::string& name, int64_t lo_ms, int64_t hi_ms,
                                std::optional<int64_t>* out) const {
  out->reset();
  auto v = Get(name);
  if (!v) return Status::Ok();
  const std::string& text = *v;
  const std::optional<std::chrono::milliseconds> d = ParseSeconds(text);
  const int64_t ms = d ? d->count() : 0;
  if (!d || ms < lo_ms || ms > hi_ms) {
    return InvalidArgumentError("--" + name + " must be seconds from " +
                                FormatSeconds(std::chrono::milliseconds(lo_ms)) + " to " +
                                FormatSeconds(std::chrono::milliseconds(hi_ms)) +
                                " (up to 3 decimals, e.g. 0.5), got '" + text + "'");
  }
  *out = ms;
  return Status::Ok();
}

std::optional<std::string> Env::Get(const std::string& name) const {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

}  // namespace fasten
