// Whole-archive reading and writing for tests and tools that take a pack apart and put it back
// together (the tamper tests). Members are held in memory: not for large packs.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace fasten::pack {

struct ArchiveMember {
  std::string name;
  std::string data;
};

// Every regular member of the tar at `path`, in order. InvalidArgument when it is not a tar or
// holds more than `max_bytes` of data.
Result<std::vector<ArchiveMember>> ReadArchive(const std::string& path,
                                               size_t max_bytes = size_t{1} << 30);
// Writes `members` as an uncompressed pax tar at `path` (replaced).
Status WriteArchive(const std::string& path, const std::vector<ArchiveMember>& members);

}  // namespace fasten::pack
