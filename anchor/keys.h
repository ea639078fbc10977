// Ed25519 keys in the C2SP signed-note formats (https://c2sp.org/signed-note), through OpenSSL EVP.
//
// A key has a name (the signer's identity: non-empty, at most 256 bytes, no '+', no whitespace, no
// control characters) and a key id: the first four bytes, big-endian, of
//   SHA-256(name || "\n" || 0x01 || public key)
// where 0x01 is the Ed25519 algorithm byte. Names let keys rotate: a verifier holds several public
// keys and picks the one whose (name, id) a signature line names.
//
// Text forms, one line each (the files keygen writes end in "\n"; readers accept it or not):
//   verifier (KEY.pub)  <name>+<8 hex id>+<base64(0x01 || 32-byte public key)>
//   signer   (KEY)      PRIVATE+KEY+<name>+<8 hex id>+<base64(0x01 || 32-byte seed)>
// (base64 is the standard alphabet with padding, RFC 4648 §4). A key whose id does not match its
// name and key is refused.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace fasten::anchor {

// True when `name` is a valid key name (see above).
bool ValidKeyName(std::string_view name);

// The key id of an Ed25519 public key (32 bytes) under `name`.
uint32_t KeyId(std::string_view name, std::string_view public_key);

class PublicKey {
 public:
  // Parses the verifier text form (surrounding whitespace ignored). InvalidArgument saying what
  // is wrong: format, name, base64, algorithm, length, or an id that does not match.
  static Result<PublicKey> Parse(std::string_view text);
  // Reads and parses a file (at most 4 KiB). NotFound / InvalidArgument naming the file.
  static Result<PublicKey> Load(const std::string& path);

  const std::string& name() const { return name_; }
  uint32_t id() const { return id_; }
  const std::string& raw() const { return raw_; }  // 32 bytes
  std::string Text() const;                        // the verifier form, no newline

  // True when `signature` (64 bytes) is a valid Ed25519 signature of `message`.
  bool Verify(std::string_view message, std::string_view signature) const;

 private:
  friend class PrivateKey;  // Public()
  std::string name_;
  uint32_t id_ = 0;
  std::string raw_;
};

class PrivateKey {
 public:
  // A fresh key from the system's random source (RAND_bytes through EVP_PKEY_keygen).
  static Result<PrivateKey> Generate(std::string_view name);
  // Parses the signer text form. InvalidArgument as PublicKey::Parse.
  static Result<PrivateKey> Parse(std::string_view text);
  // Reads and parses a file (at most 4 KiB). NotFound / InvalidArgument / PermissionDenied
  // (the file grants any access to group or others, as ssh refuses such keys: "chmod 600 KEY").
  static Result<PrivateKey> Load(const std::string& path);

  const std::string& name() const { return name_; }
  uint32_t id() const { return id_; }
  PublicKey Public() const;
  std::string Text() const;  // the signer form, no newline

  // The 64-byte Ed25519 signature of `message`.
  std::string Sign(std::string_view message) const;

 private:
  std::string name_;
  uint32_t id_ = 0;
  std::string seed_;  // 32 bytes
  std::string public_raw_;
};

// Writes `key` to `path` (mode 0600, created exclusively) and its public key to `path`.pub (mode
// 0644, exclusively). FailedPrecondition, naming the file, when either exists: nothing is written.
Status WriteKeyPair(const PrivateKey& key, const std::string& path);

// Loads every public key file of `paths`. InvalidArgument for two keys with the same name and id
// but different keys.
Result<std::vector<PublicKey>> LoadPublicKeys(const std::vector<std::string>& paths);

}  // namespace fasten::anchor
