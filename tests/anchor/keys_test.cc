#include "anchor/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "test_store.h"

namespace fasten::anchor {
namespace {

using fasten::testing::TempDir;

// The example key of Go's golang.org/x/mod/sumdb/note package (example_test.go, ExampleSign):
// the signer and verifier forms C2SP signed-note describes. Checked independently with Python
// (hashlib for the id, the `cryptography` package for the key) before it was written here.
constexpr char kGoPrivate[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kGoPublic[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

// A key of our own, made with Python from the seed 00 01 02 ... 1f and the name "fasten-mcp":
//   k = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
//   id = sha256(b"fasten-mcp\n\x01" + public)[:4]
constexpr char kOurPrivate[] =
    "PRIVATE+KEY+fasten-mcp+095837de+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
constexpr char kOurPublic[] = "fasten-mcp+095837de+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(KeyName, FollowsTheSignedNoteRules) {
  for (const char* good : {"fasten-mcp", "example.com/log", "PeterNeumann", "a", "caf\xC3\xA9"}) {
    EXPECT_TRUE(ValidKeyName(good)) << good;
  }
  EXPECT_TRUE(ValidKeyName(std::string(256, 'n')));
  EXPECT_FALSE(ValidKeyName(std::string(257, 'n')));
  for (const char* bad : {"", "a+b", "a b", "a\tb", "a\nb", "a\x7f", "a\xC2\x85",  // NEL
                          "a\xC2\xA0"
                          "b",  // NBSP
                          "a\xE3\x80\x80", "\xC3", "\xC0\xAF", "\xED\xA0\x80"}) {
    EXPECT_FALSE(ValidKeyName(bad)) << bad;
  }
  EXPECT_FALSE(ValidKeyName(std::string("a\0b", 3)));
}

TEST(KeyId, MatchesTheGoExampleKey) {
  Result<PublicKey> pub = PublicKey::Parse(kGoPublic);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->name(), "PeterNeumann");
  EXPECT_EQ(pub->id(), 0xc74f20a3u);
  EXPECT_EQ(KeyId("PeterNeumann", pub->raw()), 0xc74f20a3u);
  EXPECT_EQ(pub->Text(), kGoPublic);

  Result<PrivateKey> priv = PrivateKey::Parse(kGoPrivate);
  ASSERT_TRUE(priv.ok()) << priv.status().ToString();
  EXPECT_EQ(priv->id(), 0xc74f20a3u);
  EXPECT_EQ(priv->Text(), kGoPrivate);
  EXPECT_EQ(priv->Public().Text(), kGoPublic);
}

TEST(KeyId, MatchesAKeyMadeWithPython) {
  Result<PrivateKey> priv = PrivateKey::Parse(kOurPrivate);
  ASSERT_TRUE(priv.ok()) << priv.status().ToString();
  EXPECT_EQ(priv->id(), 0x095837deu);
  EXPECT_EQ(priv->Public().Text(), kOurPublic);
  Result<PublicKey> pub = PublicKey::Parse(std::string("  ") + kOurPublic + "\n");
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->raw(), priv->Public().raw());
}

TEST(Keys, GenerateSignVerifyRoundTrip) {
  Result<PrivateKey> key = PrivateKey::Generate("fasten-mcp");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  Result<PrivateKey> other = PrivateKey::Generate("fasten-mcp");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(key->Text(), other->Text());  // fresh randomness

  const std::string sig = key->Sign("hello\n");
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_TRUE(key->Public().Verify("hello\n", sig));
  EXPECT_FALSE(key->Public().Verify("hello!\n", sig));
  EXPECT_FALSE(other->Public().Verify("hello\n", sig));
  std::string flipped = sig;
  flipped[10] ^= 1;
  EXPECT_FALSE(key->Public().Verify("hello\n", flipped));
  EXPECT_FALSE(key->Public().Verify("hello\n", sig.substr(0, 63)));
  EXPECT_TRUE(key->Public().Verify("", key->Sign("")));

  // Both text forms parse back to the same key.
  Result<PrivateKey> again = PrivateKey::Parse(key->Text());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->Text(), key->Text());
  EXPECT_EQ(again->Sign("x\n"), key->Sign("x\n"));  // Ed25519 is deterministic
  Result<PublicKey> pub = PublicKey::Parse(key->Public().Text());
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->raw(), key->Public().raw());
  EXPECT_EQ(pub->id(), KeyId("fasten-mcp", pub->raw()));
}

TEST(Keys, GenerateRefusesBadNames) {
  for (const char* bad : {"", "a b", "a+b"}) {
    Result<PrivateKey> key = PrivateKey::Generate(bad);
    EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(key.status().message().find("invalid key name"), std::string::npos);
  }
}

TEST(Keys, ParseErrorsSayWhatIsWrong) {
  struct Case {
    std::string text;
    std::string needle;
  };
  // The Go example's public key with one thing changed at a time.
  const std::string pub_b64 = "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  const std::vector<Case> pub_cases = {
      {"", "no '+'"},
      {"PeterNeumann", "no '+'"},
      {"PeterNeumann+c74f20a3", "8 hex digits"},
      {"PeterNeumann+c74f20+" + pub_b64, "8 hex digits"},
      {"PeterNeumann+c74f20zz+" + pub_b64, "8 hex digits"},
      {"Peter Neumann+c74f20a3+" + pub_b64, "invalid key name"},
      {"+c74f20a3+" + pub_b64, "invalid key name"},
      {"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "base64"},
      {"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW", "base64"},
      // 0x02 || key: the algorithm byte is wrong.
      {"PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm byte 2"},
      {"PeterNeumann+c74f20a3+", "algorithm (empty key)"},
      {"PeterNeumann+c74f20a3+ARpc", "32 bytes, found 2"},
      // The right key under another name or id.
      {"PeterNeumann+c74f20a4+" + pub_b64, "does not match"},
      {"PaulNeumann+c74f20a3+" + pub_b64, "does not match"},
      {kGoPrivate, "this is a private key"},
      {std::string(5000, 'a'), "4 KiB"},
  };
  for (const Case& c : pub_cases) {
    Result<PublicKey> k = PublicKey::Parse(c.text);
    ASSERT_FALSE(k.ok()) << c.text;
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(k.status().message().find(c.needle), std::string::npos)
        << c.text << " -> " << k.status().message();
  }
  const std::vector<Case> priv_cases = {
      {kGoPublic, "expected PRIVATE+KEY+"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
       "does not match"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
       "algorithm byte 2"},
      {"PRIVATE+KEY+Peter\nNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
       "invalid key name"},
      {"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFA==", "32 bytes"},
  };
  for (const Case& c : priv_cases) {
    Result<PrivateKey> k = PrivateKey::Parse(c.text);
    ASSERT_FALSE(k.ok()) << c.text;
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(k.status().message().find(c.needle), std::string::npos)
        << c.text << " -> " << k.status().message();
  }
}

TEST(KeyFiles, WriteKeyPairThenLoadBoth) {
  TempDir dir;
  Result<PrivateKey> key = PrivateKey::Generate("fasten-mcp");
  ASSERT_TRUE(key.ok());
  const std::string path = dir.File("anchor.key");
  ASSERT_TRUE(WriteKeyPair(*key, path).ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(path + ".pub"), 0644u);
  EXPECT_EQ(ReadFile(path), key->Text() + "\n");
  EXPECT_EQ(ReadFile(path + ".pub"), key->Public().Text() + "\n");

  Result<PrivateKey> loaded = PrivateKey::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->Text(), key->Text());
  Result<PublicKey> pub = PublicKey::Load(path + ".pub");
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->Text(), key->Public().Text());
}

TEST(KeyFiles, WriteKeyPairNeverOverwrites) {
  TempDir dir;
  Result<PrivateKey> key = PrivateKey::Generate("fasten-mcp");
  Result<PrivateKey> other = PrivateKey::Generate("fasten-mcp");
  ASSERT_TRUE(key.ok() && other.ok());
  const std::string path = dir.File("k");
  ASSERT_TRUE(WriteKeyPair(*key, path).ok());
  Status st = WriteKeyPair(*other, path);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  EXPECT_EQ(ReadFile(path), key->Text() + "\n");
  EXPECT_EQ(ReadFile(path + ".pub"), key->Public().Text() + "\n");

  // Only the .pub exists: refused, and no KEY is created.
  const std::string lone = dir.File("lone");
  WriteFile(lone + ".pub", "x\n", 0644);
  st = WriteKeyPair(*key, lone);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find(lone + ".pub"), std::string::npos) << st.message();
  struct stat sb {};
  EXPECT_NE(::stat(lone.c_str(), &sb), 0);
  EXPECT_EQ(ReadFile(lone + ".pub"), "x\n");

  // Only KEY exists: refused, no .pub.
  const std::string only = dir.File("only");
  WriteFile(only, "secret\n", 0600);
  st = WriteKeyPair(*key, only);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(::stat((only + ".pub").c_str(), &sb), 0);
  EXPECT_EQ(ReadFile(only), "secret\n");

  // A directory that does not exist: an error, nothing written.
  st = WriteKeyPair(*key, dir.File("no/such/dir/k"));
  EXPECT_FALSE(st.ok());
}

TEST(KeyFiles, PrivateKeyReadableByOthersIsRefused) {
  TempDir dir;
  const std::string path = dir.File("k");
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    WriteFile(path, std::string(kOurPrivate) + "\n", mode);
    Result<PrivateKey> k = PrivateKey::Load(path);
    EXPECT_EQ(k.status().code(), StatusCode::kPermissionDenied) << std::oct << mode;
    EXPECT_NE(k.status().message().find("chmod 600 " + path), std::string::npos)
        << k.status().message();
  }
  WriteFile(path, std::string(kOurPrivate) + "\n", 0600);
  EXPECT_TRUE(PrivateKey::Load(path).ok());
  WriteFile(path, kOurPrivate, 0400);  // no newline: accepted too
  EXPECT_TRUE(PrivateKey::Load(path).ok());
}

TEST(KeyFiles, LoadErrorsNameTheFile) {
  TempDir dir;
  Result<PublicKey> missing = PublicKey::Load(dir.File("nope.pub"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.pub"), std::string::npos);
  EXPECT_EQ(PrivateKey::Load(dir.File("nope")).status().code(), StatusCode::kNotFound);

  const std::string big = dir.File("big.pub");
  WriteFile(big, std::string(5000, 'a'), 0644);
  Result<PublicKey> k = PublicKey::Load(big);
  EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(k.status().message().find("4 KiB"), std::string::npos);

  const std::string bad = dir.File("bad.pub");
  WriteFile(bad, "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n", 0644);
  k = PublicKey::Load(bad);
  EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(k.status().message().find(bad), std::string::npos) << k.status().message();

  Result<PublicKey> d = PublicKey::Load(dir.path());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
}

TEST(KeyFiles, LoadPublicKeysRefusesAConflictingPair) {
  TempDir dir;
  WriteFile(dir.File("a.pub"), std::string(kGoPublic) + "\n", 0644);
  WriteFile(dir.File("b.pub"), std::string(kOurPublic) + "\n", 0644);
  WriteFile(dir.File("a2.pub"), std::string(kGoPublic) + "\n", 0644);
  Result<std::vector<PublicKey>> keys =
      LoadPublicKeys({dir.File("a.pub"), dir.File("b.pub"), dir.File("a2.pub")});
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->size(), 2u);  // the identical copy counted once

  // Same name and id, different keys: two real keys whose 32-bit ids collide under the name "c",
  // found with Python by a birthday search over the seeds sha256(b"collide%d" % i) (i = 20647
  // and 47546). Refused, naming both files.
  WriteFile(dir.File("c1.pub"), "c+795e7c5d+AVEHo4DpNiH5KNEtt7qI4K8eHKNyKvLYf1S7tkzPSp9r\n", 0644);
  WriteFile(dir.File("c2.pub"), "c+795e7c5d+AV6PdfpzxVfUBKXVK5QR17FDrLtTZ7rz3oHjxrEm2BZ0\n", 0644);
  ASSERT_TRUE(PublicKey::Load(dir.File("c1.pub")).ok());
  ASSERT_TRUE(PublicKey::Load(dir.File("c2.pub")).ok());
  Result<std::vector<PublicKey>> clash = LoadPublicKeys({dir.File("c1.pub"), dir.File("c2.pub")});
  EXPECT_EQ(clash.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(clash.status().message().find("c1.pub"), std::string::npos);
  EXPECT_NE(clash.status().message().find("c2.pub"), std::string::npos);
  EXPECT_NE(clash.status().message().find("different keys"), std::string::npos);

  Result<std::vector<PublicKey>> missing = LoadPublicKeys({dir.File("a.pub"), dir.File("x.pub")});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace fasten::anchor
