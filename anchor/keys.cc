#include "anchor/keys.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "anchor/utf8.h"
#include "util/base64.h"
#include "util/crypto.h"
#include "util/handles.h"

namespace fasten::anchor {
namespace {

constexpr unsigned char kAlgEd25519 = 0x01;
constexpr size_t kKeyBytes = 32;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxKeyFileBytes = 4096;
constexpr char kPrivatePrefix[] = "PRIVATE+KEY+";

using Pkey = EvpPkey;  // util/handles.h
using PkeyCtx = EvpPkeyCtx;
using MdCtx = EvpMdCtx;

const unsigned char* Bytes(std::string_view s) {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

// Wipes a string holding secret bytes before it is freed.
struct Wiper {
  std::string* s;
  ~Wiper() {
    if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  }
};

// Unicode White_Space, as Go's unicode.IsSpace sees it.
bool IsUnicodeSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

std::string HexId(uint32_t id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

bool ParseHexId(std::string_view text, uint32_t* out) {
  if (text.size() != 8) return false;
  uint32_t v = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<uint32_t>(d);
  }
  *out = v;
  return true;
}

std::string_view TrimSpace(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// A name for messages: printable ASCII as it is, other bytes as \xNN, cut at 64 bytes.
std::string Quote(std::string_view s) {
  std::string out = "'";
  size_t n = 0;
  for (char ch : s) {
    if (++n > 64) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7F && c != '\'' && c != '\\') {
      out += ch;
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "'";
}

// The fields shared by both text forms: "<name>+<hex id>+<base64(0x01 || 32 bytes)>".
struct KeyFields {
  std::string name;
  uint32_t id = 0;
  std::string key;  // 32 bytes
};

Result<KeyFields> ParseFields(std::string_view text, const char* what) {
  const std::string kind = what;
  const size_t plus1 = text.find('+');
  if (plus1 == std::string_view::npos) {
    return InvalidArgumentError(kind + ": expected NAME+ID+KEY, found no '+'");
  }
  KeyFields f;
  const std::string_view name = text.substr(0, plus1);
  if (!ValidKeyName(name)) {
    return InvalidArgumentError(kind + ": invalid key name " + Quote(name) +
                                " (1 to 256 bytes of UTF-8, no '+', spaces or control "
                                "characters)");
  }
  f.name = std::string(name);
  std::string_view rest = text.substr(plus1 + 1);
  const size_t plus2 = rest.find('+');
  if (plus2 == std::string_view::npos || !ParseHexId(rest.substr(0, plus2), &f.id)) {
    return InvalidArgumentError(kind +
                                ": the key id after the name must be 8 hex digits "
                                "followed by '+'");
  }
  const std::string_view b64 = rest.substr(plus2 + 1);
  std::optional<std::string> raw = Base64Decode(b64);
  if (!raw) {
    return InvalidArgumentError(kind + ": the key is not valid base64 (standard alphabet, padded)");
  }
  Wiper wipe{&*raw};
  if (raw->empty() || static_cast<unsigned char>((*raw)[0]) != kAlgEd25519) {
    return InvalidArgumentError(
        kind + ": unsupported key algorithm" +
        (raw->empty() ? std::string(" (empty key)")
                      : " byte " + std::to_string(static_cast<unsigned char>((*raw)[0]))) +
        "; only Ed25519 (1) is supported");
  }
  if (raw->size() != 1 + kKeyBytes) {
    return InvalidArgumentError(kind + ": an Ed25519 key is 32 bytes, found " +
                                std::to_string(raw->size() - 1));
  }
  f.key = raw->substr(1);
  return f;
}

// Reads at most kMaxKeyFileBytes of a regular file. `private_key` adds the permission check.
Result<std::string> ReadKeyFile(const std::string& path, bool private_key) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR) return NotFoundError("key file " + path + " not found");
    if (e == EACCES) {
      return Status(StatusCode::kPermissionDenied,
                    "cannot read key file " + path + ": " + std::strerror(e));
    }
    return NotFoundError("cannot open key file " + path + ": " + std::strerror(e));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return NotFoundError("cannot stat key file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return InvalidArgumentError("key file " + path + " is not a file");
  if (private_key && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status(StatusCode::kPermissionDenied, "private key file " + path +
                                                     " is accessible by group or others (mode " +
                                                     mode + "): run chmod 600 " + path);
  }
  if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes)) {
    return InvalidArgumentError("key file " + path + " is larger than 4 KiB: not a key file");
  }
  std::string data(kMaxKeyFileBytes + 1, '\0');
  size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      OPENSSL_cleanse(data.data(), data.size());
      return NotFoundError("cannot read key file " + path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxKeyFileBytes) {
    OPENSSL_cleanse(data.data(), data.size());
    return InvalidArgumentError("key file " + path + " is larger than 4 KiB: not a key file");
  }
  std::string out = data.substr(0, got);
  OPENSSL_cleanse(data.data(), data.size());
  return out;
}

// Writes all of `data` to a new file (O_EXCL) with exactly `mode`. Leaves no file behind on
// failure, except when the failure is that the file exists.
Status WriteNewFile(const std::string& path, std::string_view data, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    const int e = errno;
    if (e == EEXIST) {
      return FailedPreconditionError(path + " already exists: remove it or choose another path");
    }
    return Status(e == EACCES ? StatusCode::kPermissionDenied : StatusCode::kNotFound,
                  "cannot create " + path + ": " + std::strerror(e));
  }
  auto fail = [&](const char* step) {
    const int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return InternalError(std::string("cannot ") + step + " " + path + ": " + std::strerror(e));
  };
  // The umask may have narrowed the mode; the key pair's modes are part of the contract.
  if (::fchmod(fd, mode) != 0) return fail("set the mode of");
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("sync");
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(path.c_str());
    return InternalError("cannot close " + path + ": " + std::strerror(e));
  }
  return Status::Ok();
}

}  // namespace

bool ValidKeyName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (size_t i = 0; i < name.size();) {
    uint32_t cp;
    size_t len;
    len = Utf8At(name, i, &cp);
    if (len == 0) return false;
    if (cp == '+' || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || IsUnicodeSpace(cp)) return false;
    i += len;
  }
  return true;
}

uint32_t KeyId(std::string_view name, std::string_view public_key) {
  std::string input;
  input.reserve(name.size() + 2 + public_key.size());
  input.append(name);
  input.push_back('\n');
  input.push_back(static_cast<char>(kAlgEd25519));
  input.append(public_key);
  unsigned char digest[kSha256Bytes];
  if (!Sha256Bytes(input, digest)) {
    return 0;  // OpenSSL without SHA-256: no id matches, every key is refused.
  }
  return (static_cast<uint32_t>(digest[0]) << 24) | (static_cast<uint32_t>(digest[1]) << 16) |
         (static_cast<uint32_t>(digest[2]) << 8) | static_cast<uint32_t>(digest[3]);
}

// --- PublicKey ---------------------------------------------------------------------------------

Result<PublicKey> PublicKey::Parse(std::string_view text) {
  text = TrimSpace(text);
  if (text.size() > kMaxKeyFileBytes) return InvalidArgumentError("public key: longer than 4 KiB");
  if (text.starts_with(kPrivatePrefix)) {
    return InvalidArgumentError(
        "public key: this is a private key (PRIVATE+KEY+...); use the "
        ".pub file");
  }
  Result<KeyFields> f = ParseFields(text, "public key");
  if (!f.ok()) return f.status();
  if (KeyId(f->name, f->key) != f->id) {
    return InvalidArgumentError("public key: the key id " + HexId(f->id) +
                                " does not match the name and key (expected " +
                                HexId(KeyId(f->name, f->key)) + ")");
  }
  PublicKey k;
  k.name_ = std::move(f->name);
  k.id_ = f->id;
  k.raw_ = std::move(f->key);
  return k;
}

Result<PublicKey> PublicKey::Load(const std::string& path) {
  Result<std::string> text = ReadKeyFile(path, /*private_key=*/false);
  if (!text.ok()) return text.status();
  Result<PublicKey> k = Parse(*text);
  if (!k.ok()) return k.status().WithContext(path);
  return k;
}

std::string PublicKey::Text() const {
  return name_ + "+" + HexId(id_) + "+" +
         Base64Encode(std::string(1, static_cast<char>(kAlgEd25519)) + raw_);
}

bool PublicKey::Verify(std::string_view message, std::string_view signature) const {
  if (signature.size() != 64 || raw_.size() != kKeyBytes) return false;
  Pkey pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(raw_), raw_.size()));
  if (!pkey) return false;
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
                          message.size()) == 1;
}

// --- PrivateKey --------------------------------------------------------------------------------

Result<PrivateKey> PrivateKey::Generate(std::string_view name) {
  if (!ValidKeyName(name)) {
    return InvalidArgumentError("invalid key name " + Quote(name) +
                                " (1 to 256 bytes of UTF-8, no '+', spaces or control "
                                "characters)");
  }
  PkeyCtx ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return InternalError("Ed25519 key generation failed (OpenSSL)");
  }
  Pkey pkey(raw);
  PrivateKey k;
  k.seed_.assign(kKeyBytes, '\0');
  k.public_raw_.assign(kKeyBytes, '\0');
  size_t seed_len = kKeyBytes, pub_len = kKeyBytes;
  if (EVP_PKEY_get_raw_private_key(pkey.get(), reinterpret_cast<unsigned char*>(k.seed_.data()),
                                   &seed_len) != 1 ||
      EVP_PKEY_get_raw_public_key(
          pkey.get(), reinterpret_cast<unsigned char*>(k.public_raw_.data()), &pub_len) != 1 ||
      seed_len != kKeyBytes || pub_len != kKeyBytes) {
    OPENSSL_cleanse(k.seed_.data(), k.seed_.size());
    return InternalError("Ed25519 key generation failed (OpenSSL raw key export)");
  }
  k.name_ = std::string(name);
  k.id_ = KeyId(k.name_, k.public_raw_);
  return k;
}

Result<PrivateKey> PrivateKey::Parse(std::string_view text) {
  text = TrimSpace(text);
  if (text.size() > kMaxKeyFileBytes) {
    return InvalidArgumentError("private key: longer than 4 KiB");
  }
  if (!text.starts_with(kPrivatePrefix)) {
    return InvalidArgumentError("private key: expected PRIVATE+KEY+NAME+ID+KEY");
  }
  Result<KeyFields> f = ParseFields(text.substr(sizeof kPrivatePrefix - 1), "private key");
  if (!f.ok()) return f.status();
  Wiper wipe{&f->key};
  Pkey pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(f->key), f->key.size()));
  std::string pub(kKeyBytes, '\0');
  size_t pub_len = kKeyBytes;
  if (!pkey ||
      EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<unsigned char*>(pub.data()),
                                  &pub_len) != 1 ||
      pub_len != kKeyBytes) {
    return InternalError("private key: OpenSSL refused the Ed25519 seed");
  }
  if (KeyId(f->name, pub) != f->id) {
    return InvalidArgumentError("private key: the key id " + HexId(f->id) +
                                " does not match the name and key (expected " +
                                HexId(KeyId(f->name, pub)) + ")");
  }
  PrivateKey k;
  k.name_ = std::move(f->name);
  k.id_ = f->id;
  k.seed_ = f->key;
  k.public_raw_ = std::move(pub);
  return k;
}

Result<PrivateKey> PrivateKey::Load(const std::string& path) {
  Result<std::string> text = ReadKeyFile(path, /*private_key=*/true);
  if (!text.ok()) return text.status();
  Wiper wipe{&*text};
  Result<PrivateKey> k = Parse(*text);
  if (!k.ok()) return k.status().WithContext(path);
  return k;
}

PublicKey PrivateKey::Public() const {
  PublicKey p;
  p.name_ = name_;
  p.id_ = id_;
  p.raw_ = public_raw_;
  return p;
}

std::string PrivateKey::Text() const {
  std::string raw = std::string(1, static_cast<char>(kAlgEd25519)) + seed_;
  Wiper wipe{&raw};
  return kPrivatePrefix + name_ + "+" + HexId(id_) + "+" + Base64Encode(raw);
}

std::string PrivateKey::Sign(std::string_view message) const {
  if (seed_.size() != kKeyBytes) return {};
  Pkey pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(seed_), seed_.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return {};
  }
  std::string sig(64, '\0');
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, Bytes(message),
                     message.size()) != 1 ||
      len != 64) {
    return {};
  }
  return sig;
}

// --- files -------------------------------------------------------------------------------------

Status WriteKeyPair(const PrivateKey& key, const std::string& path) {
  if (path.empty()) return InvalidArgumentError("no key file path given");
  const std::string pub_path = path + ".pub";
  for (const std::string& p : {path, pub_path}) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0) {
      return FailedPreconditionError(p +
                                     " already exists: fasten-mcp never overwrites a key; remove "
                                     "it or choose another path");
    }
  }
  std::string secret = key.Text() + "\n";
  Wiper wipe{&secret};
  FASTEN_RETURN_IF_ERROR(WriteNewFile(path, secret, 0600));
  Status st = WriteNewFile(pub_path, key.Public().Text() + "\n", 0644);
  if (!st.ok()) {
    ::unlink(path.c_str());  // ours: created exclusively above
    return st;
  }
  return Status::Ok();
}

Result<std::vector<PublicKey>> LoadPublicKeys(const std::vector<std::string>& paths) {
  std::vector<PublicKey> keys;
  std::vector<std::string> from;
  for (const std::string& path : paths) {
    Result<PublicKey> k = PublicKey::Load(path);
    if (!k.ok()) return k.status();
    bool duplicate = false;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].name() != k->name() || keys[i].id() != k->id()) continue;
      if (keys[i].raw() != k->raw()) {
        return InvalidArgumentError("public keys " + from[i] + " and " + path +
                                    " have the same name and id (" + k->name() + "+" +
                                    HexId(k->id()) + ") but different keys");
      }
      duplicate = true;
    }
    if (duplicate) continue;
    keys.push_back(std::move(*k));
    from.push_back(path);
  }
  return keys;
}

}  // namespace fasten::anchor
