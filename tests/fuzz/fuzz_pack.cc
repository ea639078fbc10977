// Fuzzes the evidence pack verifier (pack/pack_verify.h VerifyPackBytes): the tar reader
// (libarchive), the manifest and its signed note, the member digests, the audit row and link line
// parsers, the (node, seq) merge, the checkpoint lines and the sys/api stream lines.
//
// Input: any bytes, as a whole pack file. A fixed Ed25519 key (seed 00 01 .. 1f, name
// "fasten-mcp", the key of fuzz_signed_note) is the verifier's one key; the seed packs under
// corpus/pack/ were written with it (`fasten-mcp pack --key` with this key's text). Checks:
// - the verdict is the findings: ok() exactly when findings_total is 0, and the report lists
//   min(findings_total, kMaxFindings) findings;
// - every finding has one of the documented kinds and a non-empty reason, and a line >= 0;
// - a pack that verifies: is signed by the fixed key, names a 64-hex manifest digest, read every
//   required member, verified every sealed audit row (rows_verified + unsealed = audit_rows),
//   every checkpoint line and every TSA token (none trusted: no CA is given), and every node the
//   manifest anchors is anchor_verified; the same bytes verified with another key, or with no key,
//   do not verify;
// - the JSON report (as verify-pack --json prints it) serialises for any bytes (invalid UTF-8 in
//   member names or reasons is replaced, never thrown), parses back, and agrees with the report;
// - deterministic: a second run gives the same JSON report.
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "anchor/keys.h"
#include "pack/pack_format.h"
#include "pack/pack_verify.h"
#include "tests/fuzz/fuzz_util.h"
#include "tools/row_json.h"

namespace {

namespace anchor = fasten::anchor;
namespace pack = fasten::pack;

anchor::PublicKey KeyOf(const char* text) {
  auto k = anchor::PrivateKey::Parse(text);
  FUZZ_CHECK_MSG(k.ok(), k.status().ToString());
  return k->Public();
}

// The key the seed packs were signed with (see the first comment).
const anchor::PublicKey& FixedKey() {
  static const anchor::PublicKey* key = new anchor::PublicKey(
      KeyOf("PRIVATE+KEY+fasten-mcp+095837de+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f"));
  return *key;
}

// Another key of the same name (generated once): never verifies a pack the fixed key signed.
const anchor::PublicKey& OtherKey() {
  static const anchor::PublicKey* key = [] {
    auto k = anchor::PrivateKey::Generate("fasten-mcp");
    FUZZ_CHECK_MSG(k.ok(), k.status().ToString());
    return new anchor::PublicKey(k->Public());
  }();
  return *key;
}

const std::set<std::string>& Kinds() {
  static const std::set<std::string>* kinds = new std::set<std::string>{pack::kNotAPack,
                                                                        pack::kManifestInvalid,
                                                                        pack::kSignature,
                                                                        pack::kMemberMissing,
                                                                        pack::kMemberUnlisted,
                                                                        pack::kMemberDigest,
                                                                        pack::kLimit,
                                                                        pack::kRowInvalid,
                                                                        pack::kRowOutside,
                                                                        pack::kRowHash,
                                                                        pack::kLinkBroken,
                                                                        pack::kOrder,
                                                                        pack::kCheckpointInvalid,
                                                                        pack::kCheckpointMismatch,
                                                                        pack::kCountMismatch,
                                                                        pack::kStreamDigest};
  return *kinds;
}

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void CheckReport(const pack::PackReport& r) {
  FUZZ_CHECK(r.ok() == (r.findings_total == 0));
  FUZZ_CHECK(r.findings_total >= 0);
  FUZZ_CHECK(r.findings.size() == std::min<size_t>(static_cast<size_t>(r.findings_total),
                                                   pack::PackReport::kMaxFindings));
  for (const pack::PackFinding& f : r.findings) {
    FUZZ_CHECK_MSG(Kinds().count(f.kind) == 1, f.kind);
    FUZZ_CHECK_MSG(!f.reason.empty(), f.kind);
    FUZZ_CHECK(f.line >= 0);
  }
  if (!r.ok()) return;
  FUZZ_CHECK(!r.signed_by.empty());
  FUZZ_CHECK(IsHex64(r.manifest_sha256));
  std::set<std::string> members;
  for (const auto& m : r.members) {
    FUZZ_CHECK(IsHex64(m.sha256));
    FUZZ_CHECK(m.size >= 0);
    members.insert(m.name);
  }
  for (const char* required : {pack::kAudit, pack::kLinks, pack::kVerify, pack::kCheckpoints}) {
    FUZZ_CHECK_MSG(members.count(required) == 1, required);
  }
  FUZZ_CHECK(r.rows_verified + r.unsealed == r.audit_rows);
  FUZZ_CHECK(r.checkpoints_verified == r.checkpoints);
  FUZZ_CHECK(r.tsa_verified == r.tsa_tokens);
  FUZZ_CHECK(r.tsa_trusted == 0);
  for (const pack::PackNodeReport& n : r.nodes) {
    FUZZ_CHECK_MSG(!n.anchored || n.anchor_verified, n.node);
    FUZZ_CHECK(n.from_seq <= n.to_seq);
  }
}

std::string CheckJson(const pack::PackReport& r) {
  const nlohmann::json j = pack::PackReportJson(r);
  const std::string text = fasten::DumpJson(j, 2);
  const nlohmann::json back = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK_MSG(back.is_object(), text);
  FUZZ_CHECK(back["ok"] == r.ok());
  FUZZ_CHECK(back["findings_total"] == r.findings_total);
  FUZZ_CHECK(back["findings"].size() == r.findings.size());
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fasten::fuzz::AsText(data, size);
  pack::VerifyPackOptions options;
  options.keys = {FixedKey()};
  const pack::PackReport r = pack::VerifyPackBytes(input, options);
  CheckReport(r);
  const std::string text = CheckJson(r);
  FUZZ_CHECK_MSG(CheckJson(pack::VerifyPackBytes(input, options)) == text, "not deterministic");
  if (r.ok()) {
    for (const std::vector<anchor::PublicKey>& keys :
         {std::vector<anchor::PublicKey>{OtherKey()}, std::vector<anchor::PublicKey>{}}) {
      pack::VerifyPackOptions other;
      other.keys = keys;
      const pack::PackReport o = pack::VerifyPackBytes(input, other);
      CheckReport(o);
      FUZZ_CHECK_MSG(!o.ok(), "verified without the signing key");
    }
  }
  return 0;
}
