// Reading lines of untrusted text with a bound: a line longer than the limit is consumed to its
// end (so the next line starts cleanly) but never held in memory whole.
#pragma once

#include <cstddef>
#include <istream>
#include <string>

namespace fasten {

// Reads the next line of `in` (up to '\n', which is consumed and not stored; a last line without
// one counts) into *line. Returns false at end of input when nothing was read. A line longer
// than `max_bytes` is read through and dropped: *line is empty and *too_long is true. Memory used
// is at most max_bytes plus a 64 KiB buffer, whatever the input holds.
bool ReadBoundedLine(std::istream& in, size_t max_bytes, std::string* line, bool* too_long);

}  // namespace fasten
