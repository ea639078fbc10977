// Fuzzes the C2SP signed-note parsers (anchor/signed_note.h ParseNote, CheckNote, SignNote) and
// the key text forms (anchor/keys.h PublicKey::Parse, PrivateKey::Parse).
//
// Input: any bytes, given whole to each parser. A fixed Ed25519 key (seed 00 01 .. 1f, name
// "fasten-mcp") signs and verifies. Checks:
// - ParseNote: an accepted note is at most kMaxNoteBytes with 1 to kMaxSignatures lines; its
//   text is non-empty, ends in "\n" and has no blank line; every signer name is a valid key
//   name; and re-assembling text, blank line and "— name base64(id || signature)" lines gives
//   back exactly the input (base64 is canonical, so nothing else could have parsed);
// - CheckNote with the fixed key: every line is counted once as unknown, verified or bad; a
//   line is verified only when it really is the fixed key's signature of the text;
// - SignNote accepts a text exactly when ParseNote accepts that text signed and gives the text
//   back; signing an accepted
//   note's text with the fixed key and appending the line keeps it parseable (within the
//   bounds) and makes CheckNote verify it;
// - PublicKey::Parse / PrivateKey::Parse: an accepted key's id is KeyId(name, key), its Text()
//   parses back to the same key, and a private key's public half is what Generate-style
//   derivation gives (its Text() parses as a public key with the same id).
#include <string>
#include <vector>

#include "anchor/keys.h"
#include "anchor/signed_note.h"
#include "tests/fuzz/fuzz_util.h"
#include "util/base64.h"

namespace {

using fasten::fuzz::AsText;
namespace anchor = fasten::anchor;

const anchor::PrivateKey& FixedKey() {
  static const anchor::PrivateKey* key = [] {
    auto k = anchor::PrivateKey::Parse(
        "PRIVATE+KEY+fasten-mcp+095837de+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f");
    FUZZ_CHECK_MSG(k.ok(), k.status().ToString());
    return new anchor::PrivateKey(std::move(k).value());
  }();
  return *key;
}

std::string SigLine(const anchor::NoteSignature& s) {
  std::string blob;
  blob.push_back(static_cast<char>(s.id >> 24));
  blob.push_back(static_cast<char>(s.id >> 16));
  blob.push_back(static_cast<char>(s.id >> 8));
  blob.push_back(static_cast<char>(s.id));
  blob += s.signature;
  return "\xE2\x80\x94 " + s.name + " " + fasten::Base64Encode(blob) + "\n";
}

void CheckNoteParser(std::string_view input) {
  const anchor::PrivateKey& key = FixedKey();
  const anchor::PublicKey pub = key.Public();
  fasten::Result<anchor::Note> note = anchor::ParseNote(input);
  if (!note.ok()) {
    FUZZ_CHECK(note.status().code() == fasten::StatusCode::kInvalidArgument);
    FUZZ_CHECK(!note.status().message().empty());
  } else {
    FUZZ_CHECK(input.size() <= anchor::kMaxNoteBytes);
    FUZZ_CHECK(!note->signatures.empty() && note->signatures.size() <= anchor::kMaxSignatures);
    FUZZ_CHECK(!note->text.empty() && note->text.back() == '\n');
    FUZZ_CHECK(note->text.find("\n\n") == std::string::npos && note->text.front() != '\n');
    std::string rebuilt = note->text + "\n";
    for (const anchor::NoteSignature& s : note->signatures) {
      FUZZ_CHECK(anchor::ValidKeyName(s.name));
      rebuilt += SigLine(s);
    }
    FUZZ_CHECK_MSG(rebuilt == input, rebuilt);

    anchor::NoteCheck check = anchor::CheckNote(*note, {pub});
    size_t ours = 0, really_signed = 0;
    for (const anchor::NoteSignature& s : note->signatures) {
      if (s.name == pub.name() && s.id == pub.id()) {
        ++ours;
        if (pub.Verify(note->text, s.signature)) ++really_signed;
      }
    }
    FUZZ_CHECK(check.unknown + ours == note->signatures.size());
    FUZZ_CHECK(check.verified_by.size() == (really_signed > 0 ? 1u : 0u));
    FUZZ_CHECK(check.bad.size() == (really_signed < ours ? 1u : 0u));

    // Our cosignature on the same text.
    const std::string line = SigLine({pub.name(), pub.id(), key.Sign(note->text)});
    const std::string cosigned = std::string(input) + line;
    fasten::Result<anchor::Note> again = anchor::ParseNote(cosigned);
    if (note->signatures.size() < anchor::kMaxSignatures &&
        cosigned.size() <= anchor::kMaxNoteBytes) {
      FUZZ_CHECK_MSG(again.ok(), again.status().ToString());
      FUZZ_CHECK(anchor::CheckNote(*again, {pub}).verified_by.size() == 1);
    } else {
      FUZZ_CHECK(!again.ok());
    }
  }

  // The input as note text: SignNote accepts it exactly when the signed note parses.
  fasten::Result<std::string> signed_note = anchor::SignNote(input, {&key});
  fasten::Result<anchor::Note> reparsed = anchor::ParseNote(
      std::string(input) + "\n" + SigLine({pub.name(), pub.id(), key.Sign(input)}));
  // (The text must come back whole: an input that is itself a note cut before its last
  // newline parses with the appended line completing its own last signature line.)
  FUZZ_CHECK_MSG(signed_note.ok() == (reparsed.ok() && reparsed->text == input),
                 signed_note.status().ToString() + " / " + reparsed.status().ToString());
  if (signed_note.ok()) {
    fasten::Result<anchor::Note> n = anchor::ParseNote(*signed_note);
    FUZZ_CHECK(n.ok() && n->text == input && n->signatures.size() == 1);
    const anchor::NoteCheck check = anchor::CheckNote(*n, {pub});
    FUZZ_CHECK(check.ok() && check.unknown == 0);
  }
}

void CheckKeyParsers(std::string_view input) {
  fasten::Result<anchor::PublicKey> pub = anchor::PublicKey::Parse(input);
  if (pub.ok()) {
    FUZZ_CHECK(anchor::ValidKeyName(pub->name()));
    FUZZ_CHECK(pub->raw().size() == 32);
    FUZZ_CHECK(pub->id() == anchor::KeyId(pub->name(), pub->raw()));
    fasten::Result<anchor::PublicKey> back = anchor::PublicKey::Parse(pub->Text());
    FUZZ_CHECK(back.ok() && back->Text() == pub->Text() && back->raw() == pub->raw());
  } else {
    FUZZ_CHECK(pub.status().code() == fasten::StatusCode::kInvalidArgument);
  }
  fasten::Result<anchor::PrivateKey> priv = anchor::PrivateKey::Parse(input);
  if (priv.ok()) {
    FUZZ_CHECK(anchor::ValidKeyName(priv->name()));
    FUZZ_CHECK(priv->id() == anchor::KeyId(priv->name(), priv->Public().raw()));
    fasten::Result<anchor::PrivateKey> back = anchor::PrivateKey::Parse(priv->Text());
    FUZZ_CHECK(back.ok() && back->Text() == priv->Text());
    fasten::Result<anchor::PublicKey> half = anchor::PublicKey::Parse(priv->Public().Text());
    FUZZ_CHECK(half.ok() && half->id() == priv->id());
    FUZZ_CHECK(half->Verify("m\n", priv->Sign("m\n")));
  } else {
    FUZZ_CHECK(priv.status().code() == fasten::StatusCode::kInvalidArgument);
  }
  FUZZ_CHECK(!(pub.ok() && priv.ok()));  // the two forms never overlap
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = AsText(data, size);
  CheckNoteParser(input);
  CheckKeyParsers(input);
  return 0;
}
