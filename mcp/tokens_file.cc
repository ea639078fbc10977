#include "mcp/tokens_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <mutex>
#include <set>

#include "util/base64.h"
#include "util/crypto.h"
#include "util/handles.h"

namespace fasten::mcp {
namespace {

constexpr size_t kDigestHexLength = 64;
constexpr size_t kMinDigestPrefix = 8;
constexpr off_t kMaxTokensFileBytes = 4 << 20;
constexpr char kTokenPrefix[] = "fmcp_";
constexpr char kDigestTag[] = "sha256:";

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t';
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "YYYY-MM-DDTHH:MM:SSZ" by shape (digits where digits belong).
bool IsIsoSeconds(std::string_view s) {
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:ddZ";
  if (s.size() != sizeof kShape - 1) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (kShape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != kShape[i]) return false;
  }
  return true;
}

std::string IsoSeconds(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Identity of a file version: a rename-over gives a new inode, an in-place edit a new size or
// mtime.
struct FileId {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;

  static FileId Of(const struct stat& st) {
    return FileId{true, st.st_dev, st.st_ino, st.st_size,
                  static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  }
  bool operator==(const FileId&) const = default;
};

// Reads and parses `path`; *id is the identity of what was read (or of what was found when the
// read fails after opening).
Status ReadTokensFileWithId(const std::string& path, std::vector<TokenRecord>* records,
                            FileId* id) {
  *id = FileId();
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return NotFoundError("no tokens file at " + path);
    return UnavailableError(Errno("cannot open tokens file", path));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return UnavailableError(Errno("cannot stat", path));
  *id = FileId::Of(st);
  if (!S_ISREG(st.st_mode)) return FailedPreconditionError(path + " is not a regular file");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return FailedPreconditionError("tokens file " + path +
                                   " is writable by group or others (anyone who can write it can "
                                   "add a token): chmod 600 " +
                                   path);
  }
  if (st.st_size > kMaxTokensFileBytes) {
    return DataLossError("tokens file " + path + " is larger than 4 MiB");
  }
  std::string text;
  text.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return UnavailableError(Errno("cannot read", path));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  Status st_parse = ParseTokensFile(text, records);
  if (!st_parse.ok()) return st_parse.WithContext("tokens file " + path);
  return Status::Ok();
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string NormalizeDigestPrefix(std::string key) {
  if (key.rfind(kDigestTag, 0) == 0) key = key.substr(sizeof kDigestTag - 1);
  for (char& c : key) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

}  // namespace

std::string TokenDigest(std::string_view token) {
  Sha256 sha;
  return sha.Hex(token);
}

Status NewToken(std::string* token) {
  unsigned char bytes[32];
  if (!RandomBytes(bytes, sizeof bytes)) {
    return UnavailableError("RAND_bytes failed: no secure randomness for a new token");
  }
  *token = kTokenPrefix +
           Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
  OPENSSL_cleanse(bytes, sizeof bytes);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The tokens file.

Status ParseTokensFile(std::string_view text, std::vector<TokenRecord>* records) {
  records->clear();
  std::set<std::string> digests, labels;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && IsSpace(line.front())) line.remove_prefix(1);
    while (!line.empty() && IsSpace(line.back())) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&](const std::string& what) {
      return DataLossError("line " + std::to_string(line_no) + ": " + what);
    };
    std::vector<std::string_view> fields;
    while (!line.empty()) {
      size_t end = 0;
      while (end < line.size() && !IsSpace(line[end])) ++end;
      fields.push_back(line.substr(0, end));
      line.remove_prefix(end);
      while (!line.empty() && IsSpace(line.front())) line.remove_prefix(1);
    }
    TokenRecord r;
    std::string_view first = fields[0];
    if (first.rfind(kDigestTag, 0) != 0) return bad("expected sha256:<64 hex digits> first");
    r.digest = std::string(first.substr(sizeof kDigestTag - 1));
    if (r.digest.size() != kDigestHexLength || !IsLowerHex(r.digest)) {
      return bad("expected sha256:<64 lowercase hex digits> first");
    }
    bool has_tenant = false, has_label = false, has_created = false;
    for (size_t i = 1; i < fields.size(); ++i) {
      std::string_view f = fields[i];
      size_t eq = f.find('=');
      if (eq == std::string_view::npos) return bad("expected key=value fields after the digest");
      std::string_view key = f.substr(0, eq), value = f.substr(eq + 1);
      bool* seen = nullptr;
      std::string* dest = nullptr;
      if (key == "tenant") {
        seen = &has_tenant;
        dest = &r.tenant;
      } else if (key == "label") {
        seen = &has_label;
        dest = &r.label;
      } else if (key == "created") {
        seen = &has_created;
        dest = &r.created;
      } else {
        return bad("unknown field '" + std::string(key) + "'");
      }
      if (*seen) return bad("field '" + std::string(key) + "' given twice");
      *seen = true;
      *dest = std::string(value);
    }
    if (!has_tenant) return bad("no tenant=");
    if (!has_label) return bad("no label=");
    Status st = ValidateTokenName("tenant", r.tenant);
    if (st.ok()) st = ValidateTokenName("label", r.label);
    if (!st.ok()) return bad(st.message());
    if (has_created && !IsIsoSeconds(r.created)) {
      return bad("created= must be YYYY-MM-DDTHH:MM:SSZ");
    }
    if (!digests.insert(r.digest).second) return bad("the same token digest appears twice");
    if (!labels.insert(r.label).second) return bad("label '" + r.label + "' appears twice");
    records->push_back(std::move(r));
  }
  return Status::Ok();
}

std::string FormatTokensFile(const std::vector<TokenRecord>& records) {
  std::string out =
      "# fasten-mcp tokens file: one bearer token per line, stored as the SHA-256 of the token\n"
      "# (the token itself is never stored). Managed by `fasten-mcp token add|list|revoke`.\n"
      "# sha256:<64 hex> tenant=<tenant> label=<label> created=<YYYY-MM-DDTHH:MM:SSZ>\n";
  for (const TokenRecord& r : records) {
    out += kDigestTag + r.digest + " tenant=" + r.tenant + " label=" + r.label;
    if (!r.created.empty()) out += " created=" + r.created;
    out += "\n";
  }
  return out;
}

Status ReadTokensFile(const std::string& path, std::vector<TokenRecord>* records) {
  FileId id;
  return ReadTokensFileWithId(path, records, &id);
}

Status WriteTokensFile(const std::string& path, const std::vector<TokenRecord>& records) {
  std::string text = FormatTokensFile(records);
  std::string tmpl = path + ".tmp-XXXXXX";
  UniqueFd fd(mkostemp(tmpl.data(), O_CLOEXEC));  // mode 0600
  if (fd.get() < 0) return UnavailableError(Errno("cannot create a temporary file beside", path));
  auto fail = [&](const std::string& what) {
    Status st = UnavailableError(Errno(what, tmpl));
    unlink(tmpl.c_str());
    return st;
  };
  if (fchmod(fd.get(), 0600) != 0) return fail("cannot chmod");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) return fail("cannot fsync");
  if (close(fd.release()) != 0) return fail("cannot close");
  if (rename(tmpl.c_str(), path.c_str()) != 0) return fail("cannot rename over " + path + " from");
  UniqueFd dir(open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) fsync(dir.get());  // best effort: the rename is already visible
  return Status::Ok();
}

Status TokensFileLock::Acquire(const std::string& tokens_path,
                               std::unique_ptr<TokensFileLock>* out) {
  std::string lock_path = tokens_path + ".lock";
  UniqueFd fd(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return UnavailableError(Errno("cannot open lock file", lock_path));
  while (flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return UnavailableError(Errno("cannot lock", lock_path));
  }
  out->reset(new TokensFileLock(fd.release()));
  return Status::Ok();
}

TokensFileLock::~TokensFileLock() {
  close(fd_);
}  // releases the flock

Status AddToken(const std::string& path, const std::string& tenant, const std::string& label,
                std::chrono::system_clock::time_point now, std::string* token,
                TokenRecord* record) {
  FASTEN_RETURN_IF_ERROR(ValidateTokenName("tenant", tenant));
  if (!label.empty()) FASTEN_RETURN_IF_ERROR(ValidateTokenName("label", label));
  std::unique_ptr<TokensFileLock> lock;
  FASTEN_RETURN_IF_ERROR(TokensFileLock::Acquire(path, &lock));
  std::vector<TokenRecord> records;
  Status st = ReadTokensFile(path, &records);
  if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  std::string new_token;
  FASTEN_RETURN_IF_ERROR(NewToken(&new_token));
  TokenRecord r;
  r.digest = TokenDigest(new_token);
  r.tenant = tenant;
  r.label = label.empty() ? tenant + "-" + r.digest.substr(0, 8) : label;
  r.created = IsoSeconds(now);
  for (const TokenRecord& e : records) {
    if (e.label == r.label) {
      return InvalidArgumentError("label '" + r.label + "' is already in " + path +
                                  ": choose another with --label");
    }
    // 256 random bits never collide; a match means broken randomness, not bad luck.
    if (e.digest == r.digest) return InternalError("new token collides with an existing one");
  }
  records.push_back(r);
  FASTEN_RETURN_IF_ERROR(WriteTokensFile(path, records));
  *token = std::move(new_token);
  *record = std::move(r);
  return Status::Ok();
}

Status RevokeToken(const std::string& path, bool by_label, const std::string& key,
                   TokenRecord* removed) {
  std::string prefix;
  if (by_label) {
    FASTEN_RETURN_IF_ERROR(ValidateTokenName("label", key));
  } else {
    prefix = NormalizeDigestPrefix(key);
    if (prefix.size() < kMinDigestPrefix || prefix.size() > kDigestHexLength ||
        !IsLowerHex(prefix)) {
      return InvalidArgumentError(
          "--digest needs 8 to 64 hex digits of the token's digest (see "
          "fasten-mcp token list)");
    }
  }
  std::unique_ptr<TokensFileLock> lock;
  FASTEN_RETURN_IF_ERROR(TokensFileLock::Acquire(path, &lock));
  std::vector<TokenRecord> records;
  FASTEN_RETURN_IF_ERROR(ReadTokensFile(path, &records));
  std::vector<size_t> hits;
  for (size_t i = 0; i < records.size(); ++i) {
    bool match = by_label ? records[i].label == key : records[i].digest.rfind(prefix, 0) == 0;
    if (match) hits.push_back(i);
  }
  std::string what = by_label ? "label '" + key + "'" : "digest prefix " + prefix;
  if (hits.empty()) return NotFoundError("no token in " + path + " has " + what);
  if (hits.size() > 1) {
    std::string labels;
    for (size_t i : hits) labels += (labels.empty() ? "" : ", ") + records[i].label;
    return InvalidArgumentError(what + " matches " + std::to_string(hits.size()) + " tokens (" +
                                labels + "): give a longer prefix or --label");
  }
  *removed = records[hits[0]];
  records.erase(records.begin() + static_cast<std::ptrdiff_t>(hits[0]));
  return WriteTokensFile(path, records);
}

// ---------------------------------------------------------------------------------------------
// TokenFileAuthenticator.

struct TokenFileAuthenticator::State {
  mutable std::mutex mu;
  std::shared_ptr<const std::vector<TokenRecord>> current;  // guarded by mu

  // Held by the one thread looking at the file; the others skip the check.
  std::mutex reload_mu;
  std::atomic<int64_t> next_check_ns{0};  // steady_clock
  FileId seen;                            // guarded by reload_mu: the last version looked at
  bool failing = false;                   // guarded by reload_mu: a failure was logged

  void MaybeReload(const std::string& path, const TokenFileOptions& options);
};

void TokenFileAuthenticator::State::MaybeReload(const std::string& path,
                                                const TokenFileOptions& options) {
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  if (now < next_check_ns.load(std::memory_order_relaxed)) return;
  std::unique_lock<std::mutex> lock(reload_mu, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (now < next_check_ns.load(std::memory_order_relaxed)) return;
  next_check_ns.store(
      now + std::chrono::duration_cast<std::chrono::nanoseconds>(options.reload_interval).count(),
      std::memory_order_relaxed);
  struct stat st;
  FileId id;
  if (stat(path.c_str(), &st) == 0) id = FileId::Of(st);
  if (id == seen) return;
  auto records = std::make_shared<std::vector<TokenRecord>>();
  Status s = ReadTokensFileWithId(path, records.get(), &seen);
  if (!s.ok()) {
    if (!failing) {
      options.log("tokens file not reloaded, keeping the last good set of tokens: " + s.message());
    }
    failing = true;
    return;
  }
  if (options.notice) {
    options.notice("tokens file " + path + " reloaded: " + std::to_string(records->size()) +
                   " token(s)");
  }
  failing = false;
  std::lock_guard<std::mutex> guard(mu);
  current = std::move(records);
}

TokenFileAuthenticator::TokenFileAuthenticator(std::string path, TokenFileOptions options)
    : path_(std::move(path)), options_(std::move(options)), state_(std::make_unique<State>()) {}

TokenFileAuthenticator::~TokenFileAuthenticator() = default;

Status TokenFileAuthenticator::Load(const std::string& path,
                                    std::unique_ptr<TokenFileAuthenticator>* out) {
  return Load(path, TokenFileOptions(), out);
}

Status TokenFileAuthenticator::Load(const std::string& path, TokenFileOptions options,
                                    std::unique_ptr<TokenFileAuthenticator>* out) {
  if (!options.log) {
    options.log = [](const std::string& message) {
      std::cerr << "fasten-mcp: " << message << "\n";
    };
  }
  auto records = std::make_shared<std::vector<TokenRecord>>();
  FileId id;
  FASTEN_RETURN_IF_ERROR(ReadTokensFileWithId(path, records.get(), &id));
  std::unique_ptr<TokenFileAuthenticator> a(new TokenFileAuthenticator(path, std::move(options)));
  a->state_->seen = id;
  a->state_->current = std::move(records);
  a->state_->next_check_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          (std::chrono::steady_clock::now() + a->options_.reload_interval).time_since_epoch())
          .count();
  *out = std::move(a);
  return Status::Ok();
}

std::shared_ptr<const std::vector<TokenRecord>> TokenFileAuthenticator::Current() const {
  state_->MaybeReload(path_, options_);
  std::lock_guard<std::mutex> guard(state_->mu);
  return state_->current;
}

size_t TokenFileAuthenticator::token_count() const {
  return Current()->size();
}

std::optional<Principal> TokenFileAuthenticator::Authenticate(std::string_view authorization,
                                                              std::string* why) const {
  std::string_view token;
  if (!ExtractBearerToken(authorization, &token, why)) return std::nullopt;
  std::shared_ptr<const std::vector<TokenRecord>> records = Current();
  std::string digest = TokenDigest(token);
  // Every stored digest is compared, in constant time, and the match is selected with a mask:
  // the time taken depends on the number of tokens, not on which (if any) matched.
  size_t hit = 0;  // index + 1 of the match, 0 for none
  for (size_t i = 0; i < records->size(); ++i) {
    size_t equal = static_cast<size_t>(
        ConstantTimeEqual(digest.data(), (*records)[i].digest.data(), kDigestHexLength));
    size_t mask = 0 - equal;
    hit = (hit & ~mask) | ((i + 1) & mask);
  }
  OPENSSL_cleanse(digest.data(), digest.size());
  if (hit == 0) {
    *why = "unknown or revoked token";
    return std::nullopt;
  }
  const TokenRecord& r = (*records)[hit - 1];
  return Principal{r.tenant, r.label};
}

}  // namespace fasten::mcp
