#include "util/line_reader.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace fasten {
namespace {

struct Read {
  std::string line;
  bool too_long;
};

std::vector<Read> ReadAll(const std::string& text, size_t max) {
  std::istringstream in(text);
  std::vector<Read> out;
  std::string line;
  bool too_long = false;
  while (ReadBoundedLine(in, max, &line, &too_long)) out.push_back({line, too_long});
  return out;
}

TEST(ReadBoundedLine, SplitsLinesKeepingEmptyOnesAndALastLineWithoutNewline) {
  std::vector<Read> r = ReadAll("a\n\nbc\r\nlast", 100);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].line, "a");
  EXPECT_EQ(r[1].line, "");
  EXPECT_EQ(r[2].line, "bc\r");  // a '\r' is the caller's to strip
  EXPECT_EQ(r[3].line, "last");
  for (const Read& x : r) EXPECT_FALSE(x.too_long);
  EXPECT_TRUE(ReadAll("", 100).empty());
  EXPECT_EQ(ReadAll("\n", 100).size(), 1u);
}

TEST(ReadBoundedLine, ALineOverTheLimitIsDrainedAndTheNextOneIsIntact) {
  const std::string huge(3 * 65536 + 17, 'x');
  std::vector<Read> r = ReadAll("ok\n" + huge + "\nnext\n" + huge, 1000);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].line, "ok");
  EXPECT_TRUE(r[1].too_long);
  EXPECT_TRUE(r[1].line.empty());
  EXPECT_EQ(r[2].line, "next");
  EXPECT_FALSE(r[2].too_long);
  EXPECT_TRUE(r[3].too_long);  // also without a final newline
}

TEST(ReadBoundedLine, LinesAtTheLimitAndAtTheBufferSizeAreKept) {
  for (size_t n : {size_t{1000}, size_t{65535}, size_t{65536}, size_t{65537}, size_t{200000}}) {
    const std::string text(n, 'y');
    std::vector<Read> r = ReadAll(text + "\n" + text, n);
    ASSERT_EQ(r.size(), 2u) << n;
    EXPECT_EQ(r[0].line, text) << n;
    EXPECT_EQ(r[1].line, text) << n;
    EXPECT_FALSE(r[0].too_long || r[1].too_long) << n;
    EXPECT_TRUE(ReadAll(text + "z\n", n)[0].too_long) << n;
  }
}

}  // namespace
}  // namespace fasten
