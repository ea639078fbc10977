#include "anchor/signed_note.h"

#include <cstdio>

#include "anchor/utf8.h"
#include "util/base64.h"

namespace fasten::anchor {
namespace {

constexpr std::string_view kEmDashSpace = "\xE2\x80\x94 ";  // "— "

std::string HexId(uint32_t id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

// The 1-based line of byte `at` in `s`.
size_t LineOf(std::string_view s, size_t at) {
  size_t line = 1;
  for (size_t i = 0; i < at && i < s.size(); ++i) line += s[i] == '\n';
  return line;
}

// Checks the note text grammar (see signed_note.h). `what` prefixes messages.
Status CheckText(std::string_view text) {
  if (text.empty()) return InvalidArgumentError("note text is empty");
  if (text.back() != '\n') return InvalidArgumentError("note text does not end in a newline");
  if (text.front() == '\n') {
    return InvalidArgumentError("note text starts with a blank line (line 1)");
  }
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t n = Utf8At(text, i, &cp);
    if (n == 0) {
      return InvalidArgumentError("note text is not valid UTF-8 at byte " + std::to_string(i) +
                                  " (line " + std::to_string(LineOf(text, i)) + ")");
    }
    if (cp == '\n') {
      if (i + 1 < text.size() && text[i + 1] == '\n') {
        return InvalidArgumentError("note text has a blank line of its own (line " +
                                    std::to_string(LineOf(text, i) + 1) +
                                    "); only one blank line, before the signatures, is allowed");
      }
    } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
      return InvalidArgumentError(std::string("note text has the control character ") + buf +
                                  " at byte " + std::to_string(i) + " (line " +
                                  std::to_string(LineOf(text, i)) + ")");
    }
    i += n;
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> SignNote(std::string_view text, const std::vector<const PrivateKey*>& signers) {
  if (text.size() > kMaxNoteBytes) {
    return InvalidArgumentError("note text is larger than the " + std::to_string(kMaxNoteBytes) +
                                "-byte limit of a note");
  }
  FASTEN_RETURN_IF_ERROR(CheckText(text));
  if (signers.empty()) return InvalidArgumentError("a signed note needs at least one signer");
  if (signers.size() > kMaxSignatures) {
    return InvalidArgumentError("more than " + std::to_string(kMaxSignatures) +
                                " signers for one note");
  }
  std::string out(text);
  out += '\n';
  for (const PrivateKey* key : signers) {
    if (key == nullptr) return InvalidArgumentError("null signer");
    const std::string sig = key->Sign(text);
    if (sig.size() != 64) {
      return InternalError("Ed25519 signing failed for key " + key->name() + " (OpenSSL)");
    }
    const uint32_t id = key->id();
    std::string blob;
    blob.push_back(static_cast<char>(id >> 24));
    blob.push_back(static_cast<char>(id >> 16));
    blob.push_back(static_cast<char>(id >> 8));
    blob.push_back(static_cast<char>(id));
    blob += sig;
    out += kEmDashSpace;
    out += key->name();
    out += ' ';
    out += Base64Encode(blob);
    out += '\n';
  }
  if (out.size() > kMaxNoteBytes) {
    return InvalidArgumentError("the signed note would be larger than the " +
                                std::to_string(kMaxNoteBytes) + "-byte limit of a note");
  }
  return out;
}

Result<Note> ParseNote(std::string_view signed_note) {
  if (signed_note.size() > kMaxNoteBytes) {
    return InvalidArgumentError("signed note is " + std::to_string(signed_note.size()) +
                                " bytes, more than the limit of " + std::to_string(kMaxNoteBytes));
  }
  if (signed_note.empty()) return InvalidArgumentError("signed note is empty");
  if (signed_note.back() != '\n') {
    return InvalidArgumentError("signed note does not end in a newline");
  }
  const size_t split = signed_note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return InvalidArgumentError(
        "signed note has no blank line separating the text from the signatures");
  }
  Note note;
  const std::string_view text = signed_note.substr(0, split + 1);
  FASTEN_RETURN_IF_ERROR(CheckText(text));
  note.text = std::string(text);
  std::string_view sigs = signed_note.substr(split + 2);
  if (sigs.empty()) return InvalidArgumentError("signed note has no signature lines");
  size_t line_no = LineOf(text, text.size());  // the blank line
  while (!sigs.empty()) {
    ++line_no;
    const size_t eol = sigs.find('\n');  // found: sigs ends in '\n'
    const std::string_view line = sigs.substr(0, eol);
    sigs.remove_prefix(eol + 1);
    const std::string where = " (line " + std::to_string(line_no) + ")";
    if (note.signatures.size() == kMaxSignatures) {
      return InvalidArgumentError("signed note has more than " + std::to_string(kMaxSignatures) +
                                  " signature lines" + where);
    }
    if (!line.starts_with(kEmDashSpace)) {
      return InvalidArgumentError(
          "signature line does not start with \"\xE2\x80\x94 \" (U+2014 "
          "EM DASH, space)" +
          where);
    }
    const std::string_view rest = line.substr(kEmDashSpace.size());
    const size_t space = rest.find(' ');
    if (space == std::string_view::npos) {
      return InvalidArgumentError("signature line is not \"\xE2\x80\x94 NAME SIGNATURE\"" + where);
    }
    const std::string_view name = rest.substr(0, space);
    if (!ValidKeyName(name)) {
      return InvalidArgumentError("signature line has an invalid key name" + where);
    }
    std::optional<std::string> blob = Base64Decode(rest.substr(space + 1));
    if (!blob) {
      return InvalidArgumentError("signature of " + std::string(name) +
                                  " is not valid base64 (standard alphabet, padded)" + where);
    }
    if (blob->size() < 5) {
      return InvalidArgumentError("signature of " + std::string(name) +
                                  " is too short for a key id and a signature" + where);
    }
    NoteSignature sig;
    sig.name = std::string(name);
    sig.id = (static_cast<uint32_t>(static_cast<unsigned char>((*blob)[0])) << 24) |
             (static_cast<uint32_t>(static_cast<unsigned char>((*blob)[1])) << 16) |
             (static_cast<uint32_t>(static_cast<unsigned char>((*blob)[2])) << 8) |
             static_cast<uint32_t>(static_cast<unsigned char>((*blob)[3]));
    sig.signature = blob->substr(4);
    note.signatures.push_back(std::move(sig));
  }
  return note;
}

NoteCheck CheckNote(const Note& note, const std::vector<PublicKey>& keys) {
  NoteCheck check;
  auto add = [](std::vector<std::string>* list, const std::string& item) {
    for (const std::string& s : *list) {
      if (s == item) return;
    }
    list->push_back(item);
  };
  for (const NoteSignature& sig : note.signatures) {
    bool known = false, verified = false;
    for (const PublicKey& key : keys) {
      if (key.name() != sig.name || key.id() != sig.id) continue;
      known = true;
      if (key.Verify(note.text, sig.signature)) verified = true;
    }
    if (!known) {
      ++check.unknown;
      continue;
    }
    const std::string label = sig.name + "+" + HexId(sig.id);
    add(verified ? &check.verified_by : &check.bad, label);
  }
  return check;
}

}  // namespace fasten::anchor
