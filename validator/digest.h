// Content digests of sys/api stream rows, so they can be cited (docs/format.md §4.4).
//
// Stream rows are NOT hash-chained: a digest proves "this is the row the model was shown", not
// that the row is untampered. The digest is the lowercase hex SHA-256 of the canonical JSON
// (validator/canonical.h rules) of the stored payload, so the same row read from SQLite or
// Postgres, or re-spelled by another writer, keeps its digest. A payload that is not JSON is
// digested as its raw bytes, and says so.
#pragma once

#include <string>
#include <string_view>

namespace fasten {

inline constexpr const char* kStreamDigestLabel = "content-addressed, not chained";

struct ContentDigest {
  std::string hex;
  bool canonical = true;  // false: payload was not JSON; digest over the raw bytes
};

class Canonicalizer;
class Sha256;

ContentDigest StreamContentDigest(std::string_view payload, Canonicalizer* canon, Sha256* sha);
// Convenience overload with its own (per-call) state.
ContentDigest StreamContentDigest(std::string_view payload);

}  // namespace fasten
