#include "anchor/signed_note.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "test_store.h"
#include "util/base64.h"

namespace fasten::anchor {
namespace {

using fasten::testing::TempDir;

constexpr char kGoPrivate[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kGoPublic[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr char kGoText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
// The signed note of Go's golang.org/x/mod/sumdb/note ExampleSign (example_test.go), which
// Python's `cryptography` reproduces from the seed above.
constexpr char kGoSigned[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

// Our own vector, made with Python (hashlib + cryptography) from the seed 00 01 .. 1f.
constexpr char kOurPrivate[] =
    "PRIVATE+KEY+fasten-mcp+095837de+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
constexpr char kOurText[] = "fasten-mcp test vector\nline two\n";
constexpr char kOurSigLine[] =
    "\xE2\x80\x94 fasten-mcp "
    "CVg33jRcTwRwkeYWxihYi1adkSneivHJHkBLjZu0+li95MdBudJcgk5E1Gg/+t8Lpmsk+tppFdtUvlc/"
    "hYSTz7af7QI=\n";

PrivateKey MustParse(const char* text) {
  Result<PrivateKey> k = PrivateKey::Parse(text);
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return *k;
}

PrivateKey MustGenerate(const std::string& name) {
  Result<PrivateKey> k = PrivateKey::Generate(name);
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return *k;
}

TEST(SignedNote, SignsExactlyLikeTheGoExample) {
  const PrivateKey key = MustParse(kGoPrivate);
  Result<std::string> note = SignNote(kGoText, {&key});
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  EXPECT_EQ(*note, kGoSigned);

  Result<Note> parsed = ParseNote(kGoSigned);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->text, kGoText);
  ASSERT_EQ(parsed->signatures.size(), 1u);
  EXPECT_EQ(parsed->signatures[0].name, "PeterNeumann");
  EXPECT_EQ(parsed->signatures[0].id, 0xc74f20a3u);
  EXPECT_EQ(parsed->signatures[0].signature.size(), 64u);

  Result<PublicKey> pub = PublicKey::Parse(kGoPublic);
  ASSERT_TRUE(pub.ok());
  NoteCheck check = CheckNote(*parsed, {*pub});
  EXPECT_TRUE(check.ok());
  EXPECT_EQ(check.verified_by, std::vector<std::string>{"PeterNeumann+c74f20a3"});
  EXPECT_TRUE(check.bad.empty());
  EXPECT_EQ(check.unknown, 0u);
}

TEST(SignedNote, SignsExactlyLikePython) {
  const PrivateKey key = MustParse(kOurPrivate);
  Result<std::string> note = SignNote(kOurText, {&key});
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  EXPECT_EQ(*note, std::string(kOurText) + "\n" + kOurSigLine);
}

// An Ed25519 signature made by our code, verified by an independent implementation: Python's
// `cryptography` package (skipped when it is not installed) and hashlib for the key id.
TEST(SignedNote, PythonVerifiesOurSignatures) {
  if (std::system("python3 -c 'import cryptography' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 with the cryptography package is not available";
  }
  TempDir dir;
  const PrivateKey key = MustGenerate("example.com/anchor");
  const std::string text = "example.com/anchor\n42\nq83hm2vo3b2LX6J4Cfp5S0I+d6nTOFEYv7mvKQ5ECtU=\n";
  Result<std::string> note = SignNote(text, {&key});
  ASSERT_TRUE(note.ok());
  {
    std::ofstream(dir.File("note"), std::ios::binary) << *note;
    std::ofstream(dir.File("key.pub"), std::ios::binary) << key.Public().Text();
  }
  const std::string script = R"PY(
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
d = sys.argv[1]
name, kid, k = open(d + "/key.pub").read().split("+", 2)  # base64 may hold "+"
raw = base64.b64decode(k, validate=True)
assert raw[0] == 1 and len(raw) == 33
assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == kid, "key id"
note = open(d + "/note", "rb").read()
text, sigs = note.split(b"\n\n")
line = sigs.decode().rstrip("\n")
prefix = "\u2014 " + name + " "
assert line.startswith(prefix), line
blob = base64.b64decode(line[len(prefix):], validate=True)
assert blob[:4].hex() == kid, "signature key id"
Ed25519PublicKey.from_public_bytes(raw[1:]).verify(blob[4:], text + b"\n")
print("ok")
)PY";
  { std::ofstream(dir.File("check.py")) << script; }
  const std::string cmd = "python3 " + dir.File("check.py") + " " + dir.path() + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "ok\n");
}

TEST(SignedNote, RoundTripWithSeveralSignersAndUnknownOnes) {
  const PrivateKey a = MustGenerate("log.example/a");
  const PrivateKey b = MustGenerate("witness.example/b");
  const std::string text = "one\ntwo\n";
  Result<std::string> note = SignNote(text, {&a, &b});
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  Result<Note> parsed = ParseNote(*note);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->signatures.size(), 2u);
  EXPECT_EQ(parsed->signatures[1].name, "witness.example/b");

  NoteCheck only_a = CheckNote(*parsed, {a.Public()});
  EXPECT_TRUE(only_a.ok());
  EXPECT_EQ(only_a.verified_by.size(), 1u);
  EXPECT_EQ(only_a.unknown, 1u);  // b's line: kept and counted, not an error

  NoteCheck both = CheckNote(*parsed, {b.Public(), a.Public()});
  EXPECT_TRUE(both.ok());
  EXPECT_EQ(both.verified_by.size(), 2u);
  EXPECT_EQ(both.unknown, 0u);

  NoteCheck none = CheckNote(*parsed, {});
  EXPECT_FALSE(none.ok());
  EXPECT_EQ(none.unknown, 2u);
}

TEST(SignedNote, TamperedTextFails) {
  const PrivateKey key = MustGenerate("fasten-mcp");
  Result<std::string> note = SignNote("tree size 10\n", {&key});
  ASSERT_TRUE(note.ok());
  std::string tampered = *note;
  tampered.replace(tampered.find("10"), 2, "11");
  Result<Note> parsed = ParseNote(tampered);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  NoteCheck check = CheckNote(*parsed, {key.Public()});
  EXPECT_FALSE(check.ok());
  EXPECT_TRUE(check.verified_by.empty());
  EXPECT_EQ(check.bad.size(), 1u);
}

TEST(SignedNote, TamperedSignatureFails) {
  const PrivateKey key = MustGenerate("fasten-mcp");
  Result<Note> parsed = ParseNote(SignNote("x\n", {&key}).value());
  ASSERT_TRUE(parsed.ok());
  parsed->signatures[0].signature[5] ^= 0x20;
  EXPECT_EQ(CheckNote(*parsed, {key.Public()}).bad.size(), 1u);
  parsed->signatures[0].signature.resize(63);
  EXPECT_EQ(CheckNote(*parsed, {key.Public()}).bad.size(), 1u);
}

TEST(SignedNote, WrongKeyFails) {
  // Another key under the same name: a different id, so its line is unknown to the verifier.
  const PrivateKey key = MustGenerate("fasten-mcp");
  const PrivateKey other = MustGenerate("fasten-mcp");
  Result<Note> parsed = ParseNote(SignNote("x\n", {&key}).value());
  ASSERT_TRUE(parsed.ok());
  NoteCheck check = CheckNote(*parsed, {other.Public()});
  EXPECT_FALSE(check.ok());
  EXPECT_EQ(check.unknown, 1u);
  // A line that claims the verifier's name and id but was signed by another key: bad.
  parsed->signatures[0].id = other.id();
  check = CheckNote(*parsed, {other.Public()});
  EXPECT_FALSE(check.ok());
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", other.id());
  EXPECT_EQ(check.bad, std::vector<std::string>{"fasten-mcp+" + std::string(hex)});
}

TEST(SignedNote, SignRefusesBadText) {
  const PrivateKey key = MustGenerate("fasten-mcp");
  for (const std::string& bad :
       {std::string(""), std::string("no newline"), std::string("a\n\nb\n"), std::string("\na\n"),
        std::string("tab\there\n"), std::string("bad \xff utf8\n"), std::string("cr\r\n")}) {
    Result<std::string> note = SignNote(bad, {&key});
    EXPECT_EQ(note.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(SignNote("a\n", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SignNote(std::string(kMaxNoteBytes, 'a') + "\n", {&key}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(SignedNote, MalformedNotesAreRejectedWithClearMessages) {
  const std::string sig_line = kOurSigLine;
  const std::string text = kOurText;
  struct Case {
    std::string note;
    std::string needle;
  };
  std::string many = text + "\n";
  for (size_t i = 0; i <= kMaxSignatures; ++i) many += sig_line;
  const std::vector<Case> cases = {
      {"", "empty"},
      {text + sig_line, "no blank line"},
      {text + "\n", "no signature lines"},
      {text + "\n" + sig_line.substr(0, sig_line.size() - 1), "does not end in a newline"},
      {"a\x01"
       "b\n\n" +
           sig_line,
       "control character U+0001"},
      {"a\x7f\n\n" + sig_line, "control character U+007F"},
      {"a\r\n\n" + sig_line, "control character U+000D"},
      {"caf\xC3\n\n" + sig_line, "not valid UTF-8 at byte 3"},
      {"\xED\xA0\x80\n\n" + sig_line, "not valid UTF-8"},  // a surrogate
      {"\xC0\xAF\n\n" + sig_line, "not valid UTF-8"},      // overlong '/'
      {"a\n\nb\n\n" + sig_line, "blank line of its own (line 2)"},
      {"\n\n" + sig_line, "starts with a blank line"},
      {text + "\n- fasten-mcp AAAA\n", "does not start with"},
      {text + "\n\xE2\x80\x94 fasten-mcp\n", "NAME SIGNATURE"},
      {text + "\n\xE2\x80\x94  AAAAAAAA\n", "invalid key name"},
      {text + "\n\xE2\x80\x94 fasten-mcp CVg33jRc!\n", "not valid base64"},
      {text + "\n\xE2\x80\x94 fasten-mcp CVg33jRcTw\n", "not valid base64"},  // no padding
      {text + "\n\xE2\x80\x94 fasten-mcp AAAA\n", "too short"},
      {text + "\n" + sig_line + "\n", "blank line"},  // a blank line after the signatures
      {text + "\n" + sig_line + "trailing\n", "does not start with"},
      {many, "more than 100 signature lines (line " + std::to_string(3 + kMaxSignatures + 1)},
      {std::string(kMaxNoteBytes - 100, 'a') + "\n\n" + sig_line + sig_line, "more than the limit"},
  };
  for (const Case& c : cases) {
    Result<Note> n = ParseNote(c.note);
    ASSERT_FALSE(n.ok()) << c.note.substr(0, 200);
    EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(n.status().message().find(c.needle), std::string::npos)
        << c.note.substr(0, 200) << " -> " << n.status().message();
  }
  // Exactly kMaxSignatures lines parse.
  std::string hundred = text + "\n";
  for (size_t i = 0; i < kMaxSignatures; ++i) hundred += sig_line;
  Result<Note> n = ParseNote(hundred);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->signatures.size(), kMaxSignatures);
  // A duplicated line of a known key counts once.
  const PrivateKey key = MustParse(kOurPrivate);
  NoteCheck check = CheckNote(*n, {key.Public()});
  EXPECT_TRUE(check.ok());
  EXPECT_EQ(check.verified_by.size(), 1u);
}

TEST(SignedNote, UnicodeTextAndForeignSignaturesAreKept) {
  const PrivateKey key = MustGenerate("fasten-mcp");
  const std::string text = "caf\xC3\xA9 \xE2\x80\x94 \xF0\x9F\x94\x92\n";
  Result<std::string> note = SignNote(text, {&key});
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  // A witness cosignature of another algorithm: whatever follows the 4-byte id is kept.
  const std::string foreign =
      "\xE2\x80\x94 witness.example " + Base64Encode(std::string("\x01\x02\x03\x04xyz", 7)) + "\n";
  Result<Note> parsed = ParseNote(*note + foreign);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->signatures.size(), 2u);
  EXPECT_EQ(parsed->signatures[1].id, 0x01020304u);
  EXPECT_EQ(parsed->signatures[1].signature, "xyz");
  NoteCheck check = CheckNote(*parsed, {key.Public()});
  EXPECT_TRUE(check.ok());
  EXPECT_EQ(check.unknown, 1u);
}

}  // namespace
}  // namespace fasten::anchor
