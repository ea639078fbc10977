// Fuzzes the URL query parser of the HTTP API routes (app/cli.h ParseQueryParams: GET
// /api/v1/spend and /api/v1/investigations) and the integer check their `limit` uses
// (ParseIntInRange).
//
// Input: the query text after '?' (any bytes). Checks:
// - on success every key is one of the known ones, and its value is the text after the last
//   "key=" part of the input for that key (a repeated key keeps its last value), with no '&';
// - on failure the message names the unknown key's text and lists the known keys;
// - ParseIntInRange accepts exactly the decimal texts (no sign, spaces or other bytes) whose
//   value lies in [lo, hi], and returns that value.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/cli.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using fasten::fuzz::AsText;

// The reference: split on '&', then on the first '='.
std::map<std::string, std::string> Reference(const std::string& query) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (!query.empty()) {
    const size_t amp = query.find('&', pos);
    const std::string part = query.substr(pos, amp == std::string::npos ? amp : amp - pos);
    const size_t eq = part.find('=');
    const std::string key = part.substr(0, eq);
    if (!key.empty()) out[key] = eq == std::string::npos ? "" : part.substr(eq + 1);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string query(AsText(data, size));
  const std::vector<std::string> known = {"kind", "limit", "before"};
  std::map<std::string, std::string> params;
  fasten::Status st = fasten::ParseQueryParams(query, known, &params);
  const std::map<std::string, std::string> ref = Reference(query);
  bool all_known = true;
  for (const auto& [k, v] : ref) {
    if (k != "kind" && k != "limit" && k != "before") all_known = false;
  }
  FUZZ_CHECK_MSG(st.ok() == all_known, st.message());
  if (st.ok()) {
    FUZZ_CHECK_MSG(params == ref, query);
    for (const auto& [k, v] : params) FUZZ_CHECK_MSG(v.find('&') == std::string::npos, v);
  } else {
    FUZZ_CHECK_MSG(st.message().find("kind, limit, before") != std::string::npos, st.message());
  }
  // The limit check, on the same bytes.
  std::optional<int64_t> n = fasten::ParseIntInRange(query, 1, 1000);
  bool decimal = !query.empty() && query.size() <= 18;
  for (char c : query) decimal = decimal && c >= '0' && c <= '9';
  if (decimal) {
    const long long v = std::stoll(query);
    FUZZ_CHECK_MSG(n.has_value() == (v >= 1 && v <= 1000), query);
    if (n) FUZZ_CHECK_MSG(*n == v, query);
  } else if (query.size() <= 18) {
    FUZZ_CHECK_MSG(!n.has_value(), query);
  }
  return 0;
}
