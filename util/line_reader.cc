#include "util/line_reader.h"

namespace fasten {

bool ReadBoundedLine(std::istream& in, size_t max_bytes, std::string* line, bool* too_long) {
  line->clear();
  *too_long = false;
  bool got = false;
  char buf[65536];
  while (true) {
    in.getline(buf, sizeof buf);
    const std::streamsize n = in.gcount();
    const bool complete = !in.fail() && !in.eof();  // the newline was consumed (and counted)
    if (n > 0) got = true;
    const size_t chars = static_cast<size_t>(complete ? n - 1 : n);
    if (!*too_long) {
      line->append(buf, chars);
      if (line->size() > max_bytes) {
        *too_long = true;
        line->clear();
        line->shrink_to_fit();
      }
    }
    if (complete || in.eof()) break;
    if (n == 0) break;  // failed without reading anything
    in.clear();         // the buffer filled: the line goes on
  }
  return got;
}

}  // namespace fasten
