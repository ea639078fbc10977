// Golden snapshots of every tool's input and output schema, and of tools/list as the server sends
// it (modern era), under tests/tools/schemas/. A schema is what models and clients are written
// against, so a change must be deliberate and show up as a diff in review: this test compares
// ToolRegistry::Default() with the committed files byte for byte (pretty-printed, keys sorted, one
// trailing newline) and names the tool and the file on a mismatch.
//
// After an intended change, regenerate the files and commit them with the change:
//   FASTEN_UPDATE_GOLDENS=1 build/tests/fasten_unit_tests --gtest_filter='ToolSchemaGoldens.*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "mcp/dispatcher.h"
#include "mcp/mcp_test_util.h"
#include "support/test_scopes.h"
#include "tools/cursor.h"
#include "tools/registry.h"

namespace fasten {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const char kRegenerate[] =
    "If the change is intended, regenerate the goldens and commit the diff:\n"
    "  FASTEN_UPDATE_GOLDENS=1 build/tests/fasten_unit_tests --gtest_filter='ToolSchemaGoldens.*'";

fs::path GoldenDir() {
  return fs::path(FASTEN_SCHEMA_GOLDENS);
}

bool Updating() {
  const char* v = std::getenv("FASTEN_UPDATE_GOLDENS");
  return v != nullptr && std::string(v) == "1";
}

// nlohmann::json keeps object members in a std::map, so dump() sorts keys at every level.
std::string Render(const json& value) {
  return value.dump(2) + "\n";
}

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "line N: expected '…' / actual '…'" for the first differing line.
std::string FirstDifference(const std::string& expected, const std::string& actual) {
  std::istringstream e(expected), a(actual);
  std::string le, la;
  for (int line = 1;; ++line) {
    const bool more_e = static_cast<bool>(std::getline(e, le));
    const bool more_a = static_cast<bool>(std::getline(a, la));
    if (!more_e && !more_a) return "only in line endings or the final newline";
    if (!more_e || !more_a || le != la) {
      return "first difference at line " + std::to_string(line) +
             ":\n  golden: " + (more_e ? le : "(end of file)") +
             "\n  actual: " + (more_a ? la : "(end of file)");
    }
  }
}

// Compares `value` with the golden file `name`, or rewrites it when updating.
void CheckGolden(const std::string& what, const std::string& name, const json& value) {
  const fs::path path = GoldenDir() / name;
  const std::string actual = Render(value);
  if (Updating()) {
    fs::create_directories(GoldenDir());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << actual;
    ASSERT_TRUE(out.good()) << "cannot write " << path;
    return;
  }
  std::optional<std::string> golden = ReadFile(path);
  ASSERT_TRUE(golden.has_value()) << what << ": no golden file " << path << ".\n" << kRegenerate;
  EXPECT_EQ(*golden, actual) << what << " differs from its golden file " << path << " ("
                             << FirstDifference(*golden, actual) << ").\n"
                             << kRegenerate;
}

// The golden files every tool and the tools/list snapshot should have.
std::set<std::string> ExpectedFiles(const ToolRegistry& registry) {
  std::set<std::string> names = {"tools-list.json"};
  for (const ToolDef& t : registry.tools()) {
    names.insert(t.name + ".input.json");
    names.insert(t.name + ".output.json");
  }
  return names;
}

TEST(ToolSchemaGoldens, EveryToolHasBothSchemas) {
  ToolRegistry registry = ToolRegistry::Default();
  ASSERT_EQ(registry.tools().size(), 11u) << "a tool was added or removed: update this count, "
                                             "docs/tools.md and the goldens";
  for (const ToolDef& t : registry.tools()) {
    SCOPED_TRACE("tool " + t.name);
    CheckGolden("tool '" + t.name + "': input schema", t.name + ".input.json", t.input_schema);
    CheckGolden("tool '" + t.name + "': output schema", t.name + ".output.json", t.output_schema);
  }
}

TEST(ToolSchemaGoldens, ToolsListAsServed) {
  ToolRegistry registry = ToolRegistry::Default();
  CursorSigner cursors = CursorSigner::WithRandomKey();
  mcp::Dispatcher dispatcher(&registry, &cursors, mcp::ServerInfo{"fasten-mcp", "golden", "t"});
  mcp::Connection connection;
  mcp::CallContext ctx{test_support::TestScopes::AllTenants()};
  ctx.connection = &connection;
  json r = dispatcher.HandleRequest({{"jsonrpc", "2.0"},
                                     {"id", 1},
                                     {"method", "tools/list"},
                                     {"params", {{"_meta", fasten::testing::ModernMeta()}}}},
                                    ctx);
  ASSERT_TRUE(r.contains("result")) << r.dump();
  CheckGolden("tools/list (2026-07-28)", "tools-list.json", r["result"]);
}

// A golden file without a tool (a tool renamed or removed) is stale; updating deletes it.
TEST(ToolSchemaGoldens, NoStaleFiles) {
  const std::set<std::string> expected = ExpectedFiles(ToolRegistry::Default());
  ASSERT_TRUE(fs::is_directory(GoldenDir())) << GoldenDir() << " is missing.\n" << kRegenerate;
  size_t found = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(GoldenDir())) {
    const std::string name = e.path().filename().string();
    if (expected.count(name)) {
      ++found;
      continue;
    }
    if (Updating()) {
      fs::remove(e.path());
      continue;
    }
    ADD_FAILURE() << "stale golden file " << e.path() << " (no tool has it).\n" << kRegenerate;
  }
  if (!Updating()) {
    EXPECT_EQ(found, expected.size()) << kRegenerate;
  }
}

}  // namespace
}  // namespace fasten
