#include "pack/pack_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

namespace fasten::pack {
namespace {

struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

std::string Why(struct archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "archive error";
}

}  // namespace

Result<std::vector<ArchiveMember>> ReadArchive(const std::string& path, size_t max_bytes) {
  std::unique_ptr<struct archive, ReadFree> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_none(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return InvalidArgumentError(path + ": " + Why(a.get()));
  }
  std::vector<ArchiveMember> out;
  size_t total = 0;
  archive_entry* e = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return InvalidArgumentError(path + ": " + Why(a.get()));
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    ArchiveMember m;
    m.name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    char buf[1 << 16];
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
      if (n < 0) return InvalidArgumentError(path + ": " + Why(a.get()));
      if (n == 0) break;
      total += static_cast<size_t>(n);
      if (total > max_bytes) return InvalidArgumentError(path + ": larger than the limit");
      m.data.append(buf, static_cast<size_t>(n));
    }
    out.push_back(std::move(m));
  }
  return out;
}

Status WriteArchive(const std::string& path, const std::vector<ArchiveMember>& members) {
  std::unique_ptr<struct archive, WriteFree> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  archive_write_add_filter_none(a.get());
  if (archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) {
    return NotFoundError("cannot create " + path + ": " + Why(a.get()));
  }
  for (const ArchiveMember& m : members) {
    std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), m.name.c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(m.data.size()));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
        (!m.data.empty() && archive_write_data(a.get(), m.data.data(), m.data.size()) !=
                                static_cast<la_ssize_t>(m.data.size()))) {
      return Status(StatusCode::kInternal, "cannot write " + m.name + ": " + Why(a.get()));
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return Status(StatusCode::kInternal, "cannot finish " + path + ": " + Why(a.get()));
  }
  return Status::Ok();
}

}  // namespace fasten::pack
