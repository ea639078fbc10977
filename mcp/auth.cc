#include "mcp/auth.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "util/base64.h"
#include "util/crypto.h"
#include "util/handles.h"
#include "util/json_parse.h"

namespace fasten::mcp {
namespace {

using nlohmann::json;

constexpr size_t kMaxNameLength = 128;
constexpr size_t kMaxCredentialLength = 8192;
constexpr size_t kDigestHexLength = 64;
constexpr size_t kMinDigestPrefix = 8;
constexpr off_t kMaxTokensFileBytes = 4 << 20;
constexpr char kTokenPrefix[] = "fmcp_";
constexpr char kDigestTag[] = "sha256:";

// Owning wrappers for the OpenSSL handles used only here.
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t';
}

bool IsToken68Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
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
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
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

// ---------------------------------------------------------------------------------------------
// Header parsing and names.

bool ExtractBearerToken(std::string_view authorization, std::string_view* token, std::string* why) {
  std::string_view v = authorization;
  while (!v.empty() && IsSpace(v.front())) v.remove_prefix(1);
  while (!v.empty() && IsSpace(v.back())) v.remove_suffix(1);
  if (v.empty()) {
    *why = "missing bearer token";
    return false;
  }
  size_t sp = 0;
  while (sp < v.size() && !IsSpace(v[sp])) ++sp;
  std::string_view scheme = v.substr(0, sp);
  static constexpr std::string_view kBearer = "bearer";
  bool is_bearer = scheme.size() == kBearer.size();
  for (size_t i = 0; is_bearer && i < scheme.size(); ++i) {
    char c = scheme[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    is_bearer = c == kBearer[i];
  }
  if (!is_bearer) {
    *why = "unsupported authorization scheme";
    return false;
  }
  std::string_view t = v.substr(sp);
  while (!t.empty() && IsSpace(t.front())) t.remove_prefix(1);
  if (t.empty()) {
    *why = "missing bearer token";
    return false;
  }
  if (t.size() > kMaxCredentialLength) {
    *why = "malformed bearer token";
    return false;
  }
  size_t i = 0;
  while (i < t.size() && IsToken68Char(t[i])) ++i;
  if (i == 0) {
    *why = "malformed bearer token";
    return false;
  }
  while (i < t.size() && t[i] == '=') ++i;
  if (i != t.size()) {
    *why = "malformed bearer token";
    return false;
  }
  *token = t;
  return true;
}

Status ValidateTokenName(std::string_view what, std::string_view name) {
  if (name.empty()) return InvalidArgumentError(std::string(what) + " is empty");
  if (name.size() > kMaxNameLength) {
    return InvalidArgumentError(std::string(what) + " is longer than 128 characters");
  }
  for (char c : name) {
    if (c <= ' ' || c > '~') {
      return InvalidArgumentError(std::string(what) +
                                  " must be printable ASCII without spaces or control characters");
    }
  }
  return Status::Ok();
}

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
  Fd fd(mkostemp(tmpl.data(), O_CLOEXEC));  // mode 0600
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
  Fd dir(open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) fsync(dir.get());  // best effort: the rename is already visible
  return Status::Ok();
}

Status TokensFileLock::Acquire(const std::string& tokens_path,
                               std::unique_ptr<TokensFileLock>* out) {
  std::string lock_path = tokens_path + ".lock";
  Fd fd(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
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

// ---------------------------------------------------------------------------------------------
// JwtAuthenticator.

struct JwtAuthenticator::Key {
  std::string secret;  // HS256
  Pkey pkey;           // RS256, ES256
};

namespace {

const char* AlgName(JwtOptions::Algorithm a) {
  switch (a) {
    case JwtOptions::Algorithm::kHs256:
      return "HS256";
    case JwtOptions::Algorithm::kRs256:
      return "RS256";
    case JwtOptions::Algorithm::kEs256:
      return "ES256";
  }
  return "?";
}

bool IsP256(EVP_PKEY* pkey) {
  char name[64];
  size_t len = 0;
  if (EVP_PKEY_get_group_name(pkey, name, sizeof name, &len) != 1) return false;
  int nid = OBJ_sn2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  return nid == NID_X9_62_prime256v1;
}

// The last second of 9999: the largest NumericDate accepted.
constexpr int64_t kMaxNumericDate = 253402300799;

enum class DateClaim { kAbsent, kMalformed, kOk };

// A NumericDate claim (RFC 7519 §2), held to whole seconds from 0 to kMaxNumericDate: floats
// (1e300, 1.5), integers out of range (2^70, negative) and other types are malformed.
DateClaim NumericDate(const json& claims, const char* name, int64_t* out) {
  auto it = claims.find(name);
  if (it == claims.end()) return DateClaim::kAbsent;
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(kMaxNumericDate)) return DateClaim::kMalformed;
    *out = static_cast<int64_t>(v);
    return DateClaim::kOk;
  }
  if (it->is_number_integer()) {  // signed: nlohmann keeps non-negative integers unsigned
    const int64_t v = it->get<int64_t>();
    if (v < 0 || v > kMaxNumericDate) return DateClaim::kMalformed;
    *out = v;
    return DateClaim::kOk;
  }
  return DateClaim::kMalformed;
}

}  // namespace

JwtAuthenticator::JwtAuthenticator(JwtOptions options, std::unique_ptr<Key> key)
    : options_(std::move(options)), key_(std::move(key)) {}

JwtAuthenticator::~JwtAuthenticator() {
  if (!key_->secret.empty()) OPENSSL_cleanse(key_->secret.data(), key_->secret.size());
}

Status JwtAuthenticator::Load(const JwtOptions& options, std::unique_ptr<JwtAuthenticator>* out) {
  Fd fd(open(options.key_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return InvalidArgumentError(Errno("cannot open JWT key file", options.key_file));
  }
  std::string key;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return UnavailableError(Errno("cannot read", options.key_file));
    if (n == 0) break;
    key.append(buf, static_cast<size_t>(n));
    if (key.size() > (1 << 20)) return InvalidArgumentError(options.key_file + " is too large");
  }
  OPENSSL_cleanse(buf, sizeof buf);
  if (options.algorithm == JwtOptions::Algorithm::kHs256) {
    if (!key.empty() && key.back() == '\n') key.pop_back();
    if (!key.empty() && key.back() == '\r') key.pop_back();
  }
  Status st = Create(options, key, out);
  OPENSSL_cleanse(key.data(), key.size());
  return st.ok() ? st : st.WithContext(options.key_file);
}

Status JwtAuthenticator::Create(const JwtOptions& options, std::string_view key,
                                std::unique_ptr<JwtAuthenticator>* out) {
  if (options.audiences.empty()) {
    return InvalidArgumentError("JWT: configure at least one accepted audience");
  }
  for (const std::string& aud : options.audiences) {
    if (aud.empty()) return InvalidArgumentError("JWT: an accepted audience is empty");
  }
  if (options.tenant_claim.empty()) return InvalidArgumentError("JWT: the tenant claim is empty");
  if (options.max_lifetime.count() < 0) {
    return InvalidArgumentError("JWT: the maximum lifetime is negative");
  }
  auto k = std::make_unique<Key>();
  if (options.algorithm == JwtOptions::Algorithm::kHs256) {
    if (key.size() < 32) {
      return InvalidArgumentError("JWT HS256: the shared secret must be at least 32 bytes");
    }
    // The classic confusion: a public key configured as an HMAC secret lets anyone who has the
    // public key mint tokens.
    if (key.find("-----BEGIN") != std::string_view::npos) {
      return InvalidArgumentError("JWT HS256: the secret looks like a PEM key; use RS256 or ES256");
    }
    k->secret = std::string(key);
  } else {
    Bio bio(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())));
    if (!bio) return InternalError("BIO_new_mem_buf failed");
    k->pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!k->pkey) {
      return InvalidArgumentError(std::string("JWT ") + AlgName(options.algorithm) +
                                  ": expected a PEM public key (BEGIN PUBLIC KEY)");
    }
    if (options.algorithm == JwtOptions::Algorithm::kRs256) {
      if (!EVP_PKEY_is_a(k->pkey.get(), "RSA") || EVP_PKEY_get_bits(k->pkey.get()) < 2048) {
        return InvalidArgumentError("JWT RS256: the key must be an RSA key of at least 2048 bits");
      }
    } else if (!EVP_PKEY_is_a(k->pkey.get(), "EC") || !IsP256(k->pkey.get())) {
      return InvalidArgumentError("JWT ES256: the key must be an EC key on P-256");
    }
  }
  out->reset(new JwtAuthenticator(options, std::move(k)));
  return Status::Ok();
}

bool JwtAuthenticator::VerifySignature(std::string_view signing_input,
                                       std::string_view signature) const {
  const auto* data = reinterpret_cast<const unsigned char*>(signing_input.data());
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  if (options_.algorithm == JwtOptions::Algorithm::kHs256) {
    unsigned char mac[kSha256Bytes];
    if (!HmacSha256(key_->secret, signing_input, mac)) return false;
    return signature.size() == kSha256Bytes && ConstantTimeEqual(mac, sig, kSha256Bytes);
  }
  std::string der;
  if (options_.algorithm == JwtOptions::Algorithm::kEs256) {
    // JWS carries R || S (32 bytes each); EVP wants a DER ECDSA-Sig-Value.
    if (signature.size() != 64) return false;
    EcdsaSig es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig, 32, nullptr);
    BIGNUM* s = BN_bin2bn(sig + 32, 32, nullptr);
    if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    int len = i2d_ECDSA_SIG(es.get(), nullptr);
    if (len <= 0) return false;
    der.resize(static_cast<size_t>(len));
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_ECDSA_SIG(es.get(), &p) != len) return false;
    sig = reinterpret_cast<const unsigned char*>(der.data());
    signature = der;
  } else if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key_->pkey.get()))) {
    return false;
  }
  EvpMdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, Sha256Md(), nullptr, key_->pkey.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), sig, signature.size(), data, signing_input.size()) == 1;
}

std::optional<Principal> JwtAuthenticator::Authenticate(std::string_view authorization,
                                                        std::string* why) const {
  std::string_view token;
  if (!ExtractBearerToken(authorization, &token, why)) return std::nullopt;
  auto fail = [&](std::string reason) {
    *why = std::move(reason);
    return std::nullopt;
  };
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail("malformed JWT");
  }
  std::optional<std::string> header_bytes = Base64UrlDecode(token.substr(0, dot1));
  std::optional<std::string> payload_bytes =
      Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  std::optional<std::string> signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_bytes || !payload_bytes || !signature) return fail("malformed JWT");
  // The token is at most 8192 characters, so each part is small; its depth is held low as well.
  constexpr JsonLimits kJwtPartLimits{kMaxCredentialLength, 8};
  json header;
  if (!ParseJson(*header_bytes, kJwtPartLimits, &header).ok() || !header.is_object()) {
    return fail("malformed JWT");
  }
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() ||
      alg->get<std::string>() != AlgName(options_.algorithm)) {
    return fail("JWT algorithm not accepted");
  }
  if (header.contains("crit")) return fail("JWT crit header not supported");
  if (!VerifySignature(token.substr(0, dot2), *signature)) return fail("bad JWT signature");

  json claims;
  if (!ParseJson(*payload_bytes, kJwtPartLimits, &claims).ok() || !claims.is_object()) {
    return fail("malformed JWT");
  }
  std::chrono::system_clock::time_point now_tp =
      options_.clock ? options_.clock() : std::chrono::system_clock::now();
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(now_tp.time_since_epoch()).count();
  const int64_t leeway = options_.leeway.count();
  int64_t exp = 0, nbf = 0, iat = 0;
  const DateClaim has_exp = NumericDate(claims, "exp", &exp);
  const DateClaim has_nbf = NumericDate(claims, "nbf", &nbf);
  const DateClaim has_iat = NumericDate(claims, "iat", &iat);
  if (has_exp == DateClaim::kAbsent) return fail("JWT has no exp");
  if (has_exp == DateClaim::kMalformed) {
    return fail("malformed JWT: exp is not a date (whole seconds, 0 to 253402300799)");
  }
  if (has_nbf == DateClaim::kMalformed) {
    return fail("malformed JWT: nbf is not a date (whole seconds, 0 to 253402300799)");
  }
  if (has_iat == DateClaim::kMalformed) {
    return fail("malformed JWT: iat is not a date (whole seconds, 0 to 253402300799)");
  }
  // Every date is at most kMaxNumericDate and leeway is small: no sum below overflows.
  if (now >= exp + leeway) return fail("token expired");
  if (has_nbf == DateClaim::kOk && now + leeway < nbf) return fail("token not yet valid");
  if (has_iat == DateClaim::kOk && now + leeway < iat) return fail("token not yet valid");
  if (options_.max_lifetime.count() > 0 &&
      exp - (has_iat == DateClaim::kOk ? iat : now) > options_.max_lifetime.count()) {
    return fail("JWT lifetime over the server's maximum (" +
                std::to_string(options_.max_lifetime.count()) + " s)");
  }
  bool aud_ok = false;
  auto aud = claims.find("aud");
  if (aud != claims.end()) {
    auto accepted = [&](const json& v) {
      if (!v.is_string()) return false;
      const std::string& s = v.get_ref<const std::string&>();
      for (const std::string& a : options_.audiences) {
        if (s == a) return true;
      }
      return false;
    };
    if (aud->is_array()) {
      for (const json& v : *aud) aud_ok = aud_ok || accepted(v);
    } else {
      aud_ok = accepted(*aud);
    }
  }
  if (!aud_ok) return fail("JWT audience mismatch");
  if (options_.issuer) {
    auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string() || iss->get<std::string>() != *options_.issuer) {
      return fail("JWT issuer mismatch");
    }
  }
  auto tenant = claims.find(options_.tenant_claim);
  if (tenant == claims.end() || !tenant->is_string()) return fail("JWT missing tenant claim");
  Principal p;
  p.tenant = tenant->get<std::string>();
  if (!ValidateTokenName("tenant", p.tenant).ok()) return fail("JWT tenant claim invalid");
  p.token_label = "jwt";
  auto sub = claims.find("sub");
  if (sub != claims.end() && sub->is_string() &&
      ValidateTokenName("sub", sub->get_ref<const std::string&>()).ok()) {
    p.token_label += ":" + sub->get<std::string>();
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// AnyOfAuthenticator.

AnyOfAuthenticator::AnyOfAuthenticator(std::vector<std::unique_ptr<Authenticator>> parts)
    : parts_(std::move(parts)) {}

std::optional<Principal> AnyOfAuthenticator::Authenticate(std::string_view authorization,
                                                          std::string* why) const {
  std::vector<std::string> reasons;
  for (const auto& part : parts_) {
    std::string reason;
    std::optional<Principal> p = part->Authenticate(authorization, &reason);
    if (p) return p;
    bool seen = false;
    for (const std::string& r : reasons) seen = seen || r == reason;
    if (!seen) reasons.push_back(std::move(reason));
  }
  std::string joined;
  for (const std::string& r : reasons) joined += (joined.empty() ? "" : "; ") + r;
  *why = joined.empty() ? "no authenticator configured" : joined;
  return std::nullopt;
}

}  // namespace fasten::mcp
