// C2SP signed notes (https://c2sp.org/signed-note): a UTF-8 text ending in "\n", a blank line,
// then one signature line per signer:
//   "— <key name> <base64(4-byte big-endian key id || 64-byte Ed25519 signature)>\n"
// ("—" is U+2014 EM DASH). The signature is over the text bytes exactly (its final "\n"
// included). Unknown signers' lines are kept and ignored, so a note can carry cosignatures of
// witnesses this program does not know.
//
// Bounds and grammar: a note is at most kMaxNoteBytes and kMaxSignatures signature lines; the
// text is non-empty valid UTF-8 ending in "\n", with no control character other than "\n" and no
// blank line of its own (the one blank line separates the text from the signatures).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "anchor/keys.h"
#include "util/status.h"

namespace fasten::anchor {

inline constexpr size_t kMaxNoteBytes = 1 << 20;
inline constexpr size_t kMaxSignatures = 100;

struct NoteSignature {
  std::string name;
  uint32_t id = 0;
  std::string signature;  // 64 bytes for Ed25519; whatever the line held otherwise
};

struct Note {
  std::string text;  // ends in "\n"
  std::vector<NoteSignature> signatures;
};

// The signed note of `text` (which must be valid note text: InvalidArgument otherwise) by each
// of `signers`, in order.
Result<std::string> SignNote(std::string_view text, const std::vector<const PrivateKey*>& signers);

// Splits a signed note into text and signature lines, checking the grammar and the bounds
// above. InvalidArgument saying what is wrong and where. Never verifies a signature.
Result<Note> ParseNote(std::string_view signed_note);

// What opening a note against known keys found.
struct NoteCheck {
  std::vector<std::string> verified_by;  // "name+id" of each known key whose signature verifies
  std::vector<std::string> bad;          // "name+id" of known keys whose signature does NOT verify
  size_t unknown = 0;                    // lines of keys not in `keys`
  bool ok() const { return !verified_by.empty() && bad.empty(); }
};

// Checks every signature line of `note` made by one of `keys` (matched by name and id).
NoteCheck CheckNote(const Note& note, const std::vector<PublicKey>& keys);

}  // namespace fasten::anchor
