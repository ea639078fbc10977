#include "app/cli.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "util/duration.h"

namespace fasten {
namespace {

// Parses `--flag value` for a command that knows only that flag.
Args ParseOne(const std::string& flag, const std::string& value) {
  std::vector<std::string> words = {"fasten-mcp", "serve", "--" + flag, value};
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  Result<Args> args = Args::Parse("serve", static_cast<int>(argv.size()), argv.data(), 2,
                                  {FlagSpec{flag.c_str(), true}});
  EXPECT_TRUE(args.ok()) << args.status().ToString();
  return *args;
}

TEST(CliSeconds, WholeAndDecimalSecondsBecomeMilliseconds) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"60", 60000}, {"0.5", 500}, {"1.25", 1250}, {"0.1", 100}, {"2.007", 2007}, {"007", 7000}};
  for (const auto& [text, ms] : cases) {
    std::optional<int64_t> out;
    Status st =
        ParseOne("call-timeout", text).GetSecondsAsMillis("call-timeout", 100, 86400 * 1000, &out);
    ASSERT_TRUE(st.ok()) << text << ": " << st.ToString();
    EXPECT_EQ(out, ms) << text;
  }
}

TEST(CliSeconds, BadValuesNameTheFlagTheRangeAndTheValue) {
  for (const char* bad : {"", "abc", "-1", ".5", "5.", "1.2345", "1e3", "0x10", "1,5", " 1", "0.05",
                          "86400.001", "99999999999999999999"}) {
    std::optional<int64_t> out = 42;
    Status st =
        ParseOne("call-timeout", bad).GetSecondsAsMillis("call-timeout", 100, 86400 * 1000, &out);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << "'" << bad << "'";
    EXPECT_NE(st.message().find("--call-timeout must be seconds from 0.1 to 86400"),
              std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find("got '" + std::string(bad) + "'"), std::string::npos)
        << st.message();
    EXPECT_FALSE(out.has_value()) << bad;
  }
}

TEST(CliSeconds, AnAbsentFlagLeavesTheDefault) {
  std::optional<int64_t> out = 42;
  Status st = ParseOne("read-timeout", "10").GetSecondsAsMillis("call-timeout", 100, 1000, &out);
  EXPECT_TRUE(st.ok());
  EXPECT_FALSE(out.has_value());
}

TEST(FormatSeconds, ShowsOnlyTheDecimalsThatAreThere) {
  using std::chrono::milliseconds;
  EXPECT_EQ(FormatSeconds(milliseconds(60000)), "60");
  EXPECT_EQ(FormatSeconds(milliseconds(500)), "0.5");
  EXPECT_EQ(FormatSeconds(milliseconds(1250)), "1.25");
  EXPECT_EQ(FormatSeconds(milliseconds(2007)), "2.007");
  EXPECT_EQ(FormatSeconds(milliseconds(0)), "0");
}

}  // namespace
}  // namespace fasten
