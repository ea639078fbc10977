#include "validator/digest.h"

#include "util/crypto.h"
#include "validator/canonical.h"

namespace fasten {

ContentDigest StreamContentDigest(std::string_view payload, Canonicalizer* canon, Sha256* sha) {
  std::string bytes, error;
  ContentDigest d;
  if (canon->AppendJson(payload, EscapeStyle::kPython, &bytes, &error)) {
    d.hex = sha->Hex(bytes);
  } else {
    d.hex = sha->Hex(payload);
    d.canonical = false;
  }
  return d;
}

ContentDigest StreamContentDigest(std::string_view payload) {
  Canonicalizer canon;
  Sha256 sha;
  return StreamContentDigest(payload, &canon, &sha);
}

}  // namespace fasten
