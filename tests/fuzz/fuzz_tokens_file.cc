// Fuzzes the tokens file parser (mcp/auth.h ParseTokensFile, FormatTokensFile).
//
// Input: the text of a tokens file. Checks:
// - a refusal is DataLoss naming a line ("line N: ...") that exists;
// - accepted ⇒ every record is well formed (64 lowercase hex digest; tenant and label pass
//   ValidateTokenName; created empty or YYYY-MM-DDTHH:MM:SSZ), digests and labels are unique, and
//   there is at most one record per non-comment line;
// - accepted ⇒ FormatTokensFile then ParseTokensFile gives the same records (the file that
//   `token add|revoke` writes reads back as what was written), and formatting is a fixed point.
#include <set>
#include <string>
#include <vector>

#include "mcp/tokens_file.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using fasten::StatusCode;
using fasten::fuzz::AsText;
using fasten::mcp::TokenRecord;

bool Same(const std::vector<TokenRecord>& a, const std::vector<TokenRecord>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].digest != b[i].digest || a[i].tenant != b[i].tenant || a[i].label != b[i].label ||
        a[i].created != b[i].created) {
      return false;
    }
  }
  return true;
}

bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsCreated(const std::string& s) {
  if (s.empty()) return true;
  const std::string shape = "dddd-dd-ddTdd:dd:ddZ";
  if (s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = AsText(data, size);
  std::vector<TokenRecord> records;
  fasten::Status st = fasten::mcp::ParseTokensFile(text, &records);
  size_t lines = 1;
  for (char c : text) lines += c == '\n';
  if (!st.ok()) {
    FUZZ_CHECK_MSG(st.code() == StatusCode::kDataLoss, st.ToString());
    FUZZ_CHECK_MSG(st.message().rfind("line ", 0) == 0, st.message());
    size_t n = std::stoul(st.message().substr(5));
    FUZZ_CHECK(n >= 1 && n <= lines);
    return 0;
  }
  FUZZ_CHECK(records.size() <= lines);
  std::set<std::string> digests, labels;
  for (const TokenRecord& r : records) {
    FUZZ_CHECK(IsLowerHex64(r.digest));
    FUZZ_CHECK(fasten::mcp::ValidateTokenName("tenant", r.tenant).ok());
    FUZZ_CHECK(fasten::mcp::ValidateTokenName("label", r.label).ok());
    FUZZ_CHECK(IsCreated(r.created));
    FUZZ_CHECK(digests.insert(r.digest).second);
    FUZZ_CHECK(labels.insert(r.label).second);
  }
  const std::string formatted = fasten::mcp::FormatTokensFile(records);
  std::vector<TokenRecord> again;
  st = fasten::mcp::ParseTokensFile(formatted, &again);
  FUZZ_CHECK_MSG(st.ok(), st.ToString() + "\n" + formatted);
  FUZZ_CHECK_MSG(Same(records, again), formatted);
  FUZZ_CHECK(fasten::mcp::FormatTokensFile(again) == formatted);
  return 0;
}
