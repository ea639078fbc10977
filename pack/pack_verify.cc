#include "pack/pack_verify.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "anchor/checkpoint.h"
#include "anchor/signed_note.h"
#include "anchor/tsa.h"
#include "pack/pack_format.h"
#include "record/record_log.h"
#include "store/payload_tenant.h"
#include "store/timestamp.h"
#include "util/batch_pipe.h"
#include "util/crypto.h"
#include "util/json_parse.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/digest.h"

namespace fasten::pack {
namespace {

using nlohmann::json;

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// Where the pack's bytes are: a file or memory.
struct Source {
  std::string path;
  std::string_view bytes;
  bool memory = false;
};

// One sequential pass over the archive's members.
class Archive {
 public:
  // False with *error when the archive cannot be opened as a tar.
  bool Open(const Source& src, std::string* error) {
    a_.reset(archive_read_new());
    if (!a_) {
      *error = "cannot allocate an archive reader";
      return false;
    }
    archive_read_support_format_tar(a_.get());
    archive_read_support_filter_none(a_.get());
    int r = src.memory ? archive_read_open_memory(a_.get(), src.bytes.data(), src.bytes.size())
                       : archive_read_open_filename(a_.get(), src.path.c_str(), 1 << 16);
    if (r != ARCHIVE_OK) {
      *error = Error();
      return false;
    }
    return true;
  }
  // 1: a member (name, size, regular); 0: the end; -1: *error.
  int Next(std::string* name, int64_t* size, bool* regular, std::string* error) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a_.get(), &e);
    if (r == ARCHIVE_EOF) return 0;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      *error = Error();
      return -1;
    }
    const char* p = archive_entry_pathname(e);
    *name = p ? p : "";
    *size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
    *regular = archive_entry_filetype(e) == AE_IFREG && archive_entry_sparse_count(e) == 0;
    return 1;
  }
  // Bytes read (0 at the member's end), or -1 with *error.
  int64_t Read(char* buf, size_t n, std::string* error) {
    la_ssize_t got = archive_read_data(a_.get(), buf, n);
    if (got < 0) {
      *error = Error();
      return -1;
    }
    return got;
  }
  std::string Error() {
    const char* e = archive_error_string(a_.get());
    return e ? e : "unreadable archive";
  }

 private:
  std::unique_ptr<struct archive, ArchiveReadFree> a_;
};

// Reads a member's data as lines (without "\n"), hashing every byte. A line longer than the
// limit is read through and reported as too long.
class Lines {
 public:
  Lines(Archive* a, size_t max_line) : a_(a), max_(max_line), buf_(1 << 16, '\0') {}
  // True with a line; false at the end or on error (error() non-empty).
  bool Next(std::string* line, bool* too_long) {
    line->clear();
    *too_long = false;
    bool any = false;
    for (;;) {
      if (pos_ == len_) {
        if (eof_) {
          if (!any) return false;
          ++number_;  // a last line without "\n"
          return true;
        }
        int64_t n = a_->Read(buf_.data(), buf_.size(), &error_);
        if (n <= 0) {
          eof_ = true;
          if (n < 0) return false;
          continue;
        }
        digest_.Update(std::string_view(buf_.data(), static_cast<size_t>(n)));
        pos_ = 0;
        len_ = static_cast<size_t>(n);
      }
      any = true;
      const char* start = buf_.data() + pos_;
      const void* nl = std::memchr(start, '\n', len_ - pos_);
      size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : len_ - pos_;
      if (!*too_long) {
        if (line->size() + take > max_) {
          *too_long = true;
          line->clear();
        } else {
          line->append(start, take);
        }
      }
      pos_ += take;
      if (nl) {
        ++pos_;
        ++number_;
        return true;
      }
    }
  }
  int64_t number() const { return number_; }
  const std::string& error() const { return error_; }
  int64_t bytes() const { return digest_.bytes(); }
  std::string FinishHex() { return digest_.FinishHex(); }

 private:
  Archive* a_;
  size_t max_;
  std::string buf_;
  size_t pos_ = 0, len_ = 0;
  bool eof_ = false;
  int64_t number_ = 0;
  std::string error_;
  DigestStream digest_;
};

struct ManifestNode {
  std::string node;
  int64_t from_seq = 0, to_seq = 0, rows = 0, links = 0;
  bool anchored = false;
  int64_t checkpoint_index = 0, anchor_seq = 0;
};

struct Manifest {
  std::string name, tenant;
  std::string investigation;  // the investigation record's id; empty: none
  Micros since = 0, until = 0;
  std::optional<std::string> node;
  std::vector<ManifestNode> nodes;
  std::map<std::string, int64_t> counts;
  struct Listed {
    int64_t size = 0;
    std::string sha256;
  };
  std::map<std::string, Listed> members;
};

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

class Verifier {
 public:
  Verifier(Source src, const VerifyPackOptions& options, PackReport* report)
      : src_(std::move(src)), options_(options), r_(*report) {}

  void Run() {
    if (!FirstPass()) return;
    MergeRows();
    Finish();
  }

 private:
  void Found(PackFinding f) {
    ++r_.findings_total;
    if (r_.findings.size() < PackReport::kMaxFindings) r_.findings.push_back(std::move(f));
  }

  void Find(const char* kind, const std::string& member, std::string reason,
            const std::string& node = "", std::optional<int64_t> seq = std::nullopt,
            int64_t line = 0) {
    Found(PackFinding{kind, member, node, seq, line, std::move(reason)});
  }

  // Reads the whole member into *out (bounded), hashing it.
  bool ReadSmall(Archive* a, const std::string& name, int64_t size, int64_t max, std::string* out,
                 DigestStream* digest) {
    if (size > max) {
      Find(kLimit, name,
           name + " is " + std::to_string(size) + " bytes, more than the " + std::to_string(max) +
               " a pack member of its kind may hold");
      return false;
    }
    out->clear();
    std::string buf(1 << 16, '\0');
    std::string error;
    for (;;) {
      int64_t n = a->Read(buf.data(), buf.size(), &error);
      if (n < 0) {
        Find(kNotAPack, name, "cannot read " + name + ": " + error);
        return false;
      }
      if (n == 0) break;
      if (static_cast<int64_t>(out->size()) + n > max) {
        Find(kLimit, name, name + " is larger than " + std::to_string(max) + " bytes");
        return false;
      }
      out->append(buf.data(), static_cast<size_t>(n));
      digest->Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    }
    return true;
  }

  // Records a member as read and compares it with the manifest's listing.
  void CheckMember(const std::string& name, int64_t size, const std::string& sha256) {
    r_.members.push_back({name, size, sha256});
    auto it = m_.members.find(name);
    if (it == m_.members.end()) {
      Find(kMemberUnlisted, name, name + " is in the pack but not in the manifest");
      return;
    }
    if (it->second.size != size || it->second.sha256 != sha256) {
      Find(kMemberDigest, name,
           name + " does not match the manifest: " + std::to_string(size) + " bytes, sha256 " +
               sha256 + "; the manifest says " + std::to_string(it->second.size) +
               " bytes, sha256 " + it->second.sha256);
    }
  }

  bool ParseManifest(const std::string& text) {
    json j;
    Status st = ParseJsonStatus(text, JsonLimits{text.size(), 8}, kManifest, &j);
    if (!st.ok()) {
      Find(kManifestInvalid, kManifest, st.message());
      return false;
    }
    std::string why;
    auto str = [&](const json& o, const char* key, std::string* out) {
      auto it = o.find(key);
      if (it == o.end() || !it->is_string()) {
        why = std::string("'") + key + "' is missing or not a string";
        return false;
      }
      *out = it->get<std::string>();
      return true;
    };
    auto num = [&](const json& o, const char* key, int64_t* out) {
      auto it = o.find(key);
      if (it == o.end() || !it->is_number_integer()) {
        why = std::string("'") + key + "' is missing or not an integer";
        return false;
      }
      *out = it->get<int64_t>();
      return true;
    };
    auto fail = [&]() {
      Find(kManifestInvalid, kManifest, "the manifest is not a pack manifest: " + why);
      return false;
    };
    if (!j.is_object()) {
      why = "not an object";
      return fail();
    }
    std::string format, since, until;
    if (!str(j, "format", &format)) return fail();
    if (format != kFormat) {
      why = "format is '" + format + "', not '" + kFormat + "'";
      return fail();
    }
    if (!str(j, "name", &m_.name) || !str(j, "tenant", &m_.tenant)) return fail();
    str(j, "tool", &r_.tool);
    str(j, "created", &r_.created);
    str(j, "investigation", &m_.investigation);
    str(j, "store", &r_.store);
    r_.name = m_.name;
    r_.tenant = m_.tenant;
    auto w = j.find("window");
    if (w == j.end() || !w->is_object() || !str(*w, "since", &since) || !str(*w, "until", &until)) {
      if (why.empty()) why = "'window' is missing";
      return fail();
    }
    if (!ParseTimestamp(since, &m_.since) || !ParseTimestamp(until, &m_.until)) {
      why = "the window's bounds are not timestamps";
      return fail();
    }
    r_.since = since;
    r_.until = until;
    if (auto n = w->find("node"); n != w->end() && n->is_string()) {
      m_.node = n->get<std::string>();
      r_.node = m_.node;
    }
    auto nodes = j.find("nodes");
    if (nodes == j.end() || !nodes->is_array() || nodes->size() > kMaxNodes) {
      why = "'nodes' is missing, not an array or too long";
      return fail();
    }
    for (const json& n : *nodes) {
      ManifestNode mn;
      if (!n.is_object() || !str(n, "node", &mn.node) || !num(n, "from_seq", &mn.from_seq) ||
          !num(n, "to_seq", &mn.to_seq) || !num(n, "rows", &mn.rows) ||
          !num(n, "links", &mn.links)) {
        if (why.empty()) why = "a node entry is not an object";
        return fail();
      }
      auto anchored = n.find("anchored");
      mn.anchored = anchored != n.end() && anchored->is_boolean() && anchored->get<bool>();
      if (mn.anchored && (!num(n, "checkpoint_index", &mn.checkpoint_index) ||
                          !num(n, "anchor_seq", &mn.anchor_seq))) {
        return fail();
      }
      if (!m_.nodes.empty() && !(m_.nodes.back().node < mn.node)) {
        why = "nodes are not in ascending order";
        return fail();
      }
      m_.nodes.push_back(std::move(mn));
    }
    auto counts = j.find("counts");
    if (counts == j.end() || !counts->is_object()) {
      why = "'counts' is missing";
      return fail();
    }
    for (const char* c : {"audit_rows", "links", "checkpoints", "sys_rows", "api_rows"}) {
      int64_t v = 0;
      if (!num(*counts, c, &v)) return fail();
      m_.counts[c] = v;
    }
    auto members = j.find("members");
    if (members == j.end() || !members->is_array() || members->size() > kMaxMembers) {
      why = "'members' is missing, not an array or too long";
      return fail();
    }
    for (const json& mj : *members) {
      std::string name;
      Manifest::Listed l;
      if (!mj.is_object() || !str(mj, "name", &name) || !num(mj, "size", &l.size) ||
          !str(mj, "sha256", &l.sha256)) {
        if (why.empty()) why = "a member entry is not an object";
        return fail();
      }
      if (!KnownMember(name) || name == kManifest || name == kManifestSig || !IsHex64(l.sha256) ||
          !m_.members.emplace(name, l).second) {
        why = "member entry '" + name + "' is unknown, repeated or has a bad digest";
        return fail();
      }
    }
    for (const char* required : {kAudit, kLinks, kVerify, kCheckpoints}) {
      if (!m_.members.count(required)) {
        why = std::string("it does not list ") + required;
        return fail();
      }
    }
    return true;
  }

  void CheckSignature(const std::string& sig) {
    Result<anchor::Note> note = anchor::ParseNote(sig);
    if (!note.ok()) {
      Find(kSignature, kManifestSig,
           "manifest.sig is not a signed note: " + note.status().message());
      return;
    }
    anchor::NoteCheck check = anchor::CheckNote(*note, options_.keys);
    r_.signed_by = check.verified_by;
    if (!check.ok()) {
      Find(kSignature, kManifestSig,
           check.bad.empty()
               ? "the manifest is not signed by any of the given keys (--pubkey)"
               : "the manifest's signature by " + check.bad.front() + " does not verify");
      return;
    }
    if (note->text != ManifestNoteText(m_.name, r_.manifest_sha256)) {
      Find(kSignature, kManifestSig,
           "the signed note does not name this manifest (name '" + m_.name + "', sha256 " +
               r_.manifest_sha256 + "): the manifest was replaced");
    }
  }

  const ManifestNode* NodeOf(const std::string& node) const {
    auto it =
        std::lower_bound(m_.nodes.begin(), m_.nodes.end(), node,
                         [](const ManifestNode& n, const std::string& v) { return n.node < v; });
    return it != m_.nodes.end() && it->node == node ? &*it : nullptr;
  }

  void ReadCheckpoints(Archive* a, int64_t size) {
    Lines lines(a, anchor::kMaxLogLineBytes);
    std::string line;
    bool too_long = false;
    (void)size;
    while (lines.Next(&line, &too_long)) {
      const int64_t n = lines.number();
      if (too_long) {
        Find(kLimit, kCheckpoints, "checkpoint line too long", "", std::nullopt, n);
        continue;
      }
      ++r_.checkpoints;
      Result<anchor::LogEntry> e = anchor::ParseLogLine(line, n);
      if (!e.ok()) {
        Find(kCheckpointInvalid, kCheckpoints, e.status().message(), "", std::nullopt, n);
        continue;
      }
      anchor::NoteCheck check = anchor::CheckNote(e->parsed, options_.keys);
      if (!check.ok()) {
        Find(kCheckpointInvalid, kCheckpoints,
             "checkpoint " + std::to_string(e->body.index) +
                 (check.bad.empty() ? " is not signed by any of the given keys"
                                    : "'s signature by " + check.bad.front() + " does not verify"),
             "", std::nullopt, n);
        continue;
      }
      if (!e->tsa_token.empty()) {
        ++r_.tsa_tokens;
        Result<anchor::TimestampInfo> ts =
            anchor::VerifyTimestampToken(e->tsa_token, e->parsed.text, options_.tsa_ca);
        if (!ts.ok()) {
          Find(kCheckpointInvalid, kCheckpoints,
               "checkpoint " + std::to_string(e->body.index) +
                   "'s timestamp token does not verify: " + ts.status().message(),
               "", std::nullopt, n);
          continue;
        }
        ++r_.tsa_verified;
        if (ts->trusted) ++r_.tsa_trusted;
      }
      ++r_.checkpoints_verified;
      for (const anchor::NodeTip& tip : e->body.nodes) {
        const ManifestNode* mn = NodeOf(tip.node);
        if (!mn) continue;
        if (mn->anchored && mn->checkpoint_index == e->body.index) {
          anchor_found_.insert(tip.node);
          if (tip.seq != mn->anchor_seq) {
            Find(kCheckpointMismatch, kCheckpoints,
                 "the manifest anchors node " + tip.node + " at seq " +
                     std::to_string(mn->anchor_seq) + " by checkpoint " +
                     std::to_string(e->body.index) + ", whose tip is seq " +
                     std::to_string(tip.seq),
                 tip.node, tip.seq, n);
          }
        }
        if (tip.seq >= mn->from_seq && tip.seq <= mn->to_seq && expected_.size() < 1000000) {
          expected_[{tip.node, tip.seq}] = {tip.hash, e->body.index};
        }
      }
    }
    if (!lines.error().empty()) Find(kNotAPack, kCheckpoints, "cannot read: " + lines.error());
    {
      const int64_t size = lines.bytes();
      CheckMember(kCheckpoints, size, lines.FinishHex());
    }
  }

  void ReadStream(Archive* a, const std::string& name, int64_t* count) {
    Lines lines(a, kMaxRowLineBytes);
    std::string line;
    bool too_long = false;
    Canonicalizer canon;
    Sha256 sha;
    while (lines.Next(&line, &too_long)) {
      const int64_t n = lines.number();
      if (too_long) {
        Find(kLimit, name, "line too long", "", std::nullopt, n);
        continue;
      }
      ++*count;
      json j;
      if (!ParseJson(line, JsonLimits{line.size(), 4}, &j).ok() || !j.is_object() ||
          !j.contains("seq") || !j["seq"].is_number_integer() || !j.contains("digest") ||
          !j["digest"].is_string() || !j.contains("payload") || !j["payload"].is_string()) {
        Find(kRowInvalid, name, "not a stream row line {seq, digest, payload}", "", std::nullopt,
             n);
        continue;
      }
      const std::string payload = j["payload"].get<std::string>();
      const int64_t seq = j["seq"].get<int64_t>();
      if (StreamContentDigest(payload, &canon, &sha).hex != j["digest"].get<std::string>()) {
        Find(kStreamDigest, name, "the row's digest does not match its payload", "", seq, n);
      }
      PayloadTenantResult t = PayloadTenant(payload);
      if (t.kind != Attribution::kAttributed || t.tenant != m_.tenant) {
        Find(kRowOutside, name, "the row is not tenant " + m_.tenant + "'s", "", seq, n);
      }
    }
    if (!lines.error().empty()) Find(kNotAPack, name, "cannot read: " + lines.error());
    {
      const int64_t size = lines.bytes();
      CheckMember(name, size, lines.FinishHex());
    }
  }

  void CheckTenantJson(const std::string& name, const std::string& text, const char* key) {
    json j;
    Status st = ParseJsonStatus(text, JsonLimits{text.size(), kMaxJsonDepth}, name, &j);
    if (!st.ok()) {
      Find(kManifestInvalid, name, st.message());
      return;
    }
    if (!j.is_object() || !j.contains(key) || !j[key].is_string() ||
        j[key].get<std::string>() != m_.tenant) {
      Find(kRowOutside, name, name + " is not tenant " + m_.tenant + "'s");
    }
  }

  // The investigation record is the manifest's and its hash recomputes from its envelope
  // (record/record_log.h): it is the record as the log hashed it. Its link to the record before it
  // is not in the pack.
  void CheckInvestigation(const std::string& text) {
    json j;
    if (!ParseJsonStatus(text, JsonLimits{text.size(), kMaxJsonDepth}, kInvestigation, &j).ok() ||
        !j.is_object()) {
      return;  // CheckTenantJson reported it
    }
    auto get = [&](const char* key, std::string* out) {
      auto it = j.find(key);
      if (it == j.end() || !it->is_string()) return false;
      *out = it->get<std::string>();
      return true;
    };
    std::string id, kind, tenant, created_at, prev_hash, hash, envelope, error;
    auto seq = j.find("seq");
    auto content = j.find("content");
    if (!get("id", &id) || !get("kind", &kind) || !get("tenant", &tenant) ||
        !get("created_at", &created_at) || !get("prev_hash", &prev_hash) || !get("hash", &hash) ||
        seq == j.end() || !seq->is_number_integer() || content == j.end()) {
      Find(kInvestigationInvalid, kInvestigation,
           "not an investigation record: seq, id, kind, tenant, created_at, content, prev_hash "
           "and hash are required");
      return;
    }
    if (id != m_.investigation) {
      Find(kInvestigationInvalid, kInvestigation,
           "the record is " + id + ", the manifest names '" + m_.investigation + "'");
    }
    if (!record::EnvelopeBytes(seq->get<int64_t>(), id, kind, tenant, created_at, content->dump(),
                               &envelope, &error)) {
      Find(kInvestigationInvalid, kInvestigation, "the record's content is not JSON: " + error);
      return;
    }
    if (Sha256().Hex(prev_hash, envelope) != hash) {
      Find(kInvestigationInvalid, kInvestigation,
           "the record's hash does not recompute: it was edited after it was logged");
      return;
    }
    r_.investigation_verified = true;
  }

  bool FirstPass() {
    Archive a;
    std::string error, name;
    if (!a.Open(src_, &error)) {
      Find(kNotAPack, "", "not a readable pack (an uncompressed tar): " + error);
      return false;
    }
    std::set<std::string> seen;
    int64_t size = 0;
    bool regular = false;
    size_t index = 0;
    for (;;) {
      int r = a.Next(&name, &size, &regular, &error);
      if (r == 0) break;
      if (r < 0) {
        Find(kNotAPack, "",
             (index == 0 ? "not a readable pack (an uncompressed tar): "
                         : "the archive is damaged after member " + std::to_string(index) + ": ") +
                 error);
        return false;
      }
      ++index;
      if (index > kMaxMembers) {
        Find(kLimit, "", "more than " + std::to_string(kMaxMembers) + " members");
        return false;
      }
      if (index == 1 && name != kManifest) {
        Find(kNotAPack, name, "the first member is '" + name + "', not manifest.json");
        return false;
      }
      if (!regular || size < 0) {
        Find(kMemberUnlisted, name, "member '" + name + "' is not a regular file");
        continue;
      }
      if (!seen.insert(name).second) {
        Find(kMemberUnlisted, name, "member '" + name + "' appears twice");
        continue;
      }
      DigestStream digest;
      std::string text;
      if (name == kManifest) {
        if (!ReadSmall(&a, name, size, kMaxManifestBytes, &text, &digest)) return false;
        r_.manifest_sha256 = digest.FinishHex();
        if (!ParseManifest(text)) return false;
      } else if (name == kManifestSig) {
        if (!ReadSmall(&a, name, size, anchor::kMaxNoteBytes, &text, &digest)) continue;
        have_sig_ = true;
        CheckSignature(text);
      } else if (name == kAudit || name == kLinks) {
        continue;  // hashed while merged (MergeRows)
      } else if (name == kCheckpoints) {
        ReadCheckpoints(&a, size);
      } else if (name == kSys) {
        ReadStream(&a, name, &r_.sys_rows);
      } else if (name == kApi) {
        ReadStream(&a, name, &r_.api_rows);
      } else if (name == kVerify || name == kInvestigation) {
        if (!ReadSmall(&a, name, size, kMaxSmallMemberBytes, &text, &digest)) continue;
        {
          const int64_t size = digest.bytes();
          CheckMember(name, size, digest.FinishHex());
        }
        CheckTenantJson(name, text, "tenant");
        if (name == kInvestigation) {
          r_.investigation = true;
          CheckInvestigation(text);
        }
      } else {
        Find(kMemberUnlisted, name, "'" + name + "' is not a member of a pack");
      }
    }
    if (index == 0) {
      Find(kNotAPack, "", "not a readable pack: the archive holds no member (no manifest.json)");
      return false;
    }
    if (!have_sig_) Find(kSignature, kManifestSig, "the pack has no manifest.sig: it is unsigned");
    for (const auto& [listed, l] : m_.members) {
      if (!seen.count(listed)) {
        Find(kMemberMissing, listed, listed + " is listed in the manifest but not in the pack");
      }
    }
    have_audit_ = seen.count(kAudit) > 0;
    have_links_ = seen.count(kLinks) > 0;
    return true;
  }

  // Positions `a` at the data of member `name`.
  bool Seek(Archive* a, const char* name) {
    std::string error, got;
    int64_t size = 0;
    bool regular = false;
    if (!a->Open(src_, &error)) return false;
    for (;;) {
      int r = a->Next(&got, &size, &regular, &error);
      if (r <= 0) return false;
      if (got == name) return true;
    }
  }

  struct Record {
    bool own = false;
    std::string node;
    int64_t seq = 0;
    std::string hash, prev_hash;
    int64_t line = 0;
  };

  // One row of audit.ndjson as read and checked on the reading thread: its record (when the line
  // is a row) and the findings about it, reported when the merge reaches it.
  struct OwnItem {
    bool has_record = false;
    AuditRow row;  // parsed; its hash is checked on the merge's thread
    std::vector<PackFinding> findings;
    int64_t lines = 0, line = 0;
  };
  using OwnPipe = BatchPipe<OwnItem>;

  // Reads the next row of audit.ndjson into *item, checking its tenant, window and node; false
  // at the end. Touches no state of the merge: it runs on its own thread.
  bool ReadOwn(Lines* lines, std::string* line, OwnItem* item) {
    AuditRow* row = &item->row;
    item->has_record = false;
    item->findings.clear();
    item->lines = 0;
    auto find = [&](const char* kind, std::string reason, const std::string& node = "",
                    std::optional<int64_t> seq = std::nullopt) {
      item->findings.push_back(
          PackFinding{kind, kAudit, node, seq, lines->number(), std::move(reason)});
    };
    bool too_long = false;
    while (lines->Next(line, &too_long)) {
      if (too_long) {
        find(kLimit, "row line longer than " + std::to_string(kMaxRowLineBytes) + " bytes");
        continue;
      }
      ++item->lines;
      Status st = PackRowFromLine(*line, row);
      if (!st.ok()) {
        find(kRowInvalid, "not an audit row: " + st.message());
        continue;
      }
      const std::string& node = row->source_node_id;
      const int64_t seq = row->monotonic_seq;
      if (!row->tenant_id.has_value() || row->tenant_id.value != m_.tenant) {
        find(kRowOutside, "the row is not tenant " + m_.tenant + "'s", node, seq);
      }
      if (!row->timestamp_ok || row->timestamp_us < m_.since || row->timestamp_us > m_.until) {
        find(kRowOutside, "the row's timestamp '" + row->timestamp + "' is not in the window", node,
             seq);
      }
      if (!NodeOf(node))
        find(kRowOutside, "the row's node is not one of the manifest's", node, seq);
      item->has_record = true;
      item->line = lines->number();
      return true;
    }
    return !item->findings.empty();  // findings after the last row: an item without a record
  }

  // The row's hash, and its record for the merge.
  void CheckOwn(const AuditRow& row, int64_t line, Record* out) {
    RowCheck check = checker_.Check(row);
    if (!check.sealed) {
      ++r_.unsealed;
    } else if (check.ok()) {
      ++r_.rows_verified;
    } else {
      Find(kRowHash, kAudit, "the row does not verify: " + check.Summary(), row.source_node_id,
           row.monotonic_seq, line);
    }
    out->own = true;
    out->node = row.source_node_id;
    out->seq = row.monotonic_seq;
    out->hash = row.hash;
    out->prev_hash = row.prev_hash;
    out->line = line;
  }

  // The producer: every item of audit.ndjson into `pipe`, then Close().
  void ProduceOwn(Lines* lines, OwnPipe* pipe) {
    std::string line;
    std::unique_ptr<OwnPipe::Batch> batch = pipe->TakeFree();
    while (ReadOwn(lines, &line, &batch->items[batch->size])) {
      if (++batch->size == batch->items.size()) {
        pipe->PutFull(std::move(batch));
        batch = pipe->TakeFree();
      }
    }
    if (batch->size > 0) pipe->PutFull(std::move(batch));
    pipe->Close();
  }

  // The merge's side of the pipe: the next own record, its findings reported; false at the end.
  class OwnSource {
   public:
    OwnSource(Verifier* v, OwnPipe* pipe) : v_(v), pipe_(pipe) {}
    bool Next(Record* out) {
      for (;;) {
        if (!batch_ || at_ == batch_->size) {
          if (batch_) {
            batch_->size = 0;
            pipe_->PutFree(std::move(batch_));
          }
          batch_ = pipe_->TakeFull();
          at_ = 0;
          if (!batch_) return false;
        }
        OwnItem& item = batch_->items[at_++];
        for (PackFinding& f : item.findings) v_->Found(std::move(f));
        v_->r_.audit_rows += item.lines;
        if (item.has_record) {
          v_->CheckOwn(item.row, item.line, out);
          return true;
        }
      }
    }
    // Returns the batch it holds (the producer may wait for a free one).
    void Drain() {
      Record r;
      while (Next(&r)) {
      }
    }

   private:
    Verifier* v_;
    OwnPipe* pipe_;
    std::unique_ptr<OwnPipe::Batch> batch_;
    size_t at_ = 0;
  };

  bool NextLink(Lines* lines, Record* out) {
    while (lines->Next(&line_, &too_long_)) {
      const int64_t n = lines->number();
      if (too_long_) {
        Find(kLimit, kLinks, "link line too long", "", std::nullopt, n);
        continue;
      }
      ++r_.links;
      Status st = ParseLinkLine(line_, &link_);
      if (!st.ok()) {
        Find(kRowInvalid, kLinks, "not a link record: " + st.message(), "", std::nullopt, n);
        continue;
      }
      if (!NodeOf(link_.node)) {
        Find(kRowOutside, kLinks, "the link's node is not one of the manifest's", link_.node,
             link_.seq, n);
      }
      out->own = false;
      out->node = std::move(link_.node);
      out->seq = link_.seq;
      out->hash = std::move(link_.hash);
      out->prev_hash = std::move(link_.prev_hash);
      out->line = n;
      return true;
    }
    return false;
  }

  static bool Less(const Record& a, const Record& b) {
    return a.node != b.node ? a.node < b.node : a.seq < b.seq;
  }

  void EndNode() {
    if (cur_node_.empty() && !have_prev_) return;
    const ManifestNode* mn = NodeOf(cur_node_);
    if (mn) {
      PackNodeReport& nr = NodeReport(*mn);
      nr.rows = node_rows_;
      nr.links = node_links_;
      if (node_rows_ != mn->rows || node_links_ != mn->links || first_seq_ != mn->from_seq ||
          prev_.seq != mn->to_seq) {
        Find(kCountMismatch, "",
             "node " + cur_node_ + ": the pack holds seq " + std::to_string(first_seq_) + ".." +
                 std::to_string(prev_.seq) + ", " + std::to_string(node_rows_) + " row(s) and " +
                 std::to_string(node_links_) + " link(s); the manifest says seq " +
                 std::to_string(mn->from_seq) + ".." + std::to_string(mn->to_seq) + ", " +
                 std::to_string(mn->rows) + " and " + std::to_string(mn->links),
             cur_node_);
      }
      nodes_seen_.insert(cur_node_);
    }
  }

  PackNodeReport& NodeReport(const ManifestNode& mn) {
    for (PackNodeReport& n : r_.nodes) {
      if (n.node == mn.node) return n;
    }
    r_.nodes.push_back(PackNodeReport{mn.node, mn.from_seq, mn.to_seq, 0, 0, mn.anchored,
                                      mn.checkpoint_index, mn.anchor_seq, false});
    return r_.nodes.back();
  }

  void Take(const Record& rec) {
    const char* member = rec.own ? kAudit : kLinks;
    if (have_prev_ && rec.node == cur_node_ && rec.seq == prev_.seq) {
      Find(kOrder, member,
           "two records of node " + rec.node + " have seq " + std::to_string(rec.seq), rec.node,
           rec.seq, rec.line);
    }
    if (!have_prev_ || rec.node != cur_node_) {
      EndNode();
      cur_node_ = rec.node;
      first_seq_ = rec.seq;
      node_rows_ = node_links_ = 0;
      if (nodes_seen_.count(rec.node)) {
        Find(kOrder, member, "records of node " + rec.node + " are not together", rec.node, rec.seq,
             rec.line);
      }
    } else if (!prev_.hash.empty() && !rec.hash.empty() && rec.prev_hash != prev_.hash) {
      Find(kLinkBroken, member,
           "prev_hash " + rec.prev_hash + " is not the hash of seq " + std::to_string(prev_.seq) +
               " (" + prev_.hash + ")",
           rec.node, rec.seq, rec.line);
    }
    ++(rec.own ? node_rows_ : node_links_);
    auto e = expected_.find({rec.node, rec.seq});
    if (e != expected_.end()) {
      if (e->second.first != rec.hash) {
        Find(kCheckpointMismatch, member,
             "checkpoint " + std::to_string(e->second.second) + " says seq " +
                 std::to_string(rec.seq) + " of node " + rec.node + " has hash " + e->second.first +
                 "; the pack's record has " + rec.hash,
             rec.node, rec.seq, rec.line);
      } else if (const ManifestNode* mn = NodeOf(rec.node);
                 mn && mn->anchored && mn->anchor_seq == rec.seq) {
        NodeReport(*mn).anchor_verified = true;
      }
      expected_.erase(e);
    }
    prev_ = rec;
    have_prev_ = true;
  }

  void MergeRows() {
    if (!have_audit_ || !have_links_) return;
    Archive aa, la;
    if (!Seek(&aa, kAudit) || !Seek(&la, kLinks)) {
      Find(kNotAPack, "", "cannot read audit.ndjson and links.ndjson again");
      return;
    }
    Lines audit(&aa, kMaxRowLineBytes), links(&la, kMaxLinkLineBytes);
    // audit.ndjson is read, parsed and hashed on a second thread, merged here in order.
    OwnPipe pipe(6, 256);
    std::thread producer([&] { ProduceOwn(&audit, &pipe); });
    OwnSource own_rows(this, &pipe);
    Record own, link, last_own, last_link;
    bool has_own = own_rows.Next(&own), has_link = NextLink(&links, &link);
    bool any_own = false, any_link = false;
    while (has_own || has_link) {
      const bool take_own = has_own && (!has_link || !Less(link, own));
      Record& rec = take_own ? own : link;
      Record& last = take_own ? last_own : last_link;
      bool& any = take_own ? any_own : any_link;
      if (any && !Less(last, rec)) {
        Find(kOrder, take_own ? kAudit : kLinks,
             "records are not in (node, seq) order: seq " + std::to_string(rec.seq) + " of node " +
                 rec.node + " comes after seq " + std::to_string(last.seq) + " of node " +
                 last.node,
             rec.node, rec.seq, rec.line);
      }
      last = rec;
      any = true;
      Take(rec);
      if (take_own) {
        has_own = own_rows.Next(&own);
      } else {
        has_link = NextLink(&links, &link);
      }
    }
    own_rows.Drain();
    producer.join();
    EndNode();
    if (!audit.error().empty()) Find(kNotAPack, kAudit, "cannot read: " + audit.error());
    if (!links.error().empty()) Find(kNotAPack, kLinks, "cannot read: " + links.error());
    {
      const int64_t size = audit.bytes();
      CheckMember(kAudit, size, audit.FinishHex());
    }
    {
      const int64_t size = links.bytes();
      CheckMember(kLinks, size, links.FinishHex());
    }
  }

  void Finish() {
    for (const ManifestNode& mn : m_.nodes) {
      NodeReport(mn);
      if (!nodes_seen_.count(mn.node)) {
        Find(kCountMismatch, "", "node " + mn.node + " is in the manifest but has no record",
             mn.node);
      }
      if (mn.anchored && !anchor_found_.count(mn.node)) {
        Find(kCheckpointMismatch, kCheckpoints,
             "the manifest anchors node " + mn.node + " by checkpoint " +
                 std::to_string(mn.checkpoint_index) + ", which is not among the verified ones",
             mn.node, mn.anchor_seq);
      }
    }
    for (const auto& [key, value] : expected_) {
      Find(kCheckpointMismatch, kCheckpoints,
           "checkpoint " + std::to_string(value.second) + " names seq " +
               std::to_string(key.second) + " of node " + key.first +
               ", which the pack does not hold",
           key.first, key.second);
    }
    auto count = [&](const char* key, int64_t got) {
      if (m_.counts[key] != got) {
        Find(kCountMismatch, "",
             std::string(key) + ": the pack holds " + std::to_string(got) + ", the manifest says " +
                 std::to_string(m_.counts[key]));
      }
    };
    count("audit_rows", r_.audit_rows);
    count("links", r_.links);
    count("checkpoints", r_.checkpoints);
    count("sys_rows", r_.sys_rows);
    count("api_rows", r_.api_rows);
  }

  Source src_;
  const VerifyPackOptions& options_;
  PackReport& r_;
  Manifest m_;
  bool have_sig_ = false, have_audit_ = false, have_links_ = false;
  std::set<std::string> anchor_found_;
  std::map<std::pair<std::string, int64_t>, std::pair<std::string, int64_t>> expected_;
  // Merge state.
  RowChecker checker_;
  AuditRow row_;
  LinkRecord link_;
  std::string line_;
  bool too_long_ = false;
  std::string cur_node_;
  Record prev_;
  bool have_prev_ = false;
  int64_t first_seq_ = 0, node_rows_ = 0, node_links_ = 0;
  std::set<std::string> nodes_seen_;
};

}  // namespace

PackReport VerifyPack(const std::string& path, const VerifyPackOptions& options) {
  PackReport report;
  report.path = path;
  Source src;
  src.path = path;
  Verifier(std::move(src), options, &report).Run();
  return report;
}

PackReport VerifyPackBytes(std::string_view bytes, const VerifyPackOptions& options) {
  PackReport report;
  Source src;
  src.bytes = bytes;
  src.memory = true;
  Verifier(std::move(src), options, &report).Run();
  return report;
}

json PackReportJson(const PackReport& r) {
  json j = json::object();
  j["ok"] = r.ok();
  j["pack"] = r.path;
  j["name"] = r.name;
  j["tenant"] = r.tenant;
  j["store"] = r.store;
  j["tool"] = r.tool;
  j["created"] = r.created;
  j["window"] = {
      {"since", r.since}, {"until", r.until}, {"node", r.node ? json(*r.node) : json(nullptr)}};
  j["manifest_sha256"] = r.manifest_sha256;
  j["signed_by"] = r.signed_by;
  json members = json::array();
  for (const auto& m : r.members) {
    members.push_back({{"name", m.name}, {"size", m.size}, {"sha256", m.sha256}});
  }
  j["members"] = std::move(members);
  json nodes = json::array();
  for (const PackNodeReport& n : r.nodes) {
    json nj = {{"node", n.node}, {"from_seq", n.from_seq}, {"to_seq", n.to_seq},
               {"rows", n.rows}, {"links", n.links},       {"anchored", n.anchored}};
    if (n.anchored) {
      nj["checkpoint_index"] = n.checkpoint_index;
      nj["anchor_seq"] = n.anchor_seq;
      nj["anchor_verified"] = n.anchor_verified;
    } else {
      nj["status"] = "not anchored";
    }
    nodes.push_back(std::move(nj));
  }
  j["nodes"] = std::move(nodes);
  j["counts"] = {
      {"audit_rows", r.audit_rows},       {"rows_verified", r.rows_verified},
      {"unsealed", r.unsealed},           {"links", r.links},
      {"sys_rows", r.sys_rows},           {"api_rows", r.api_rows},
      {"investigation", r.investigation}, {"investigation_verified", r.investigation_verified}};
  j["checkpoints"] = {{"lines", r.checkpoints},
                      {"verified", r.checkpoints_verified},
                      {"tsa_tokens", r.tsa_tokens},
                      {"tsa_verified", r.tsa_verified},
                      {"tsa_trusted", r.tsa_trusted}};
  json findings = json::array();
  for (const PackFinding& f : r.findings) {
    json fj = {{"kind", f.kind}, {"reason", f.reason}};
    if (!f.member.empty()) fj["member"] = f.member;
    if (!f.node.empty()) fj["node"] = f.node;
    if (f.seq) fj["seq"] = *f.seq;
    if (f.line) fj["line"] = f.line;
    findings.push_back(std::move(fj));
  }
  j["findings"] = std::move(findings);
  j["findings_total"] = r.findings_total;
  return j;
}

}  // namespace fasten::pack
