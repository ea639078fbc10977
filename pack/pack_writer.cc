#include "pack/pack_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "anchor/checkpoint.h"
#include "anchor/signed_note.h"
#include "pack/pack_format.h"
#include "tools/json_out.h"
#include "tools/row_json.h"
#include "tools/verify_json.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/digest.h"
#include "validator/sha256.h"
#include "validator/verify_store.h"

namespace fasten::pack {
namespace {

using nlohmann::json;

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// One member being written: an anonymous temporary file, its size and SHA-256 as it grows.
class MemberFile {
 public:
  explicit MemberFile(std::string name) : name_(std::move(name)) {}

  Status Open() {
    file_.reset(std::tmpfile());
    if (!file_) return Status(StatusCode::kInternal, "cannot create a temporary file: " + Errno());
    return Status::Ok();
  }
  // Appends `bytes` (buffered).
  void Write(std::string_view bytes) {
    digest_.Update(bytes);
    buffer_.append(bytes);
    if (buffer_.size() >= (1 << 16)) Flush();
  }
  Status Finish() {
    Flush();
    if (!ok_ || std::fflush(file_.get()) != 0) {
      return Status(StatusCode::kInternal, "cannot write a temporary file for " + name_);
    }
    size_ = digest_.bytes();
    sha256_ = digest_.FinishHex();
    return Status::Ok();
  }

  const std::string& name() const { return name_; }
  int64_t size() const { return size_; }
  const std::string& sha256() const { return sha256_; }
  FILE* file() const { return file_.get(); }

 private:
  static std::string Errno() { return std::strerror(errno); }
  void Flush() {
    if (!buffer_.empty() &&
        std::fwrite(buffer_.data(), 1, buffer_.size(), file_.get()) != buffer_.size()) {
      ok_ = false;
    }
    buffer_.clear();
  }

  std::string name_;
  std::unique_ptr<FILE, FileCloser> file_;
  DigestStream digest_;
  std::string buffer_;
  bool ok_ = true;
  int64_t size_ = 0;
  std::string sha256_;
};

struct Anchor {
  int64_t index = 0, seq = 0;
  std::string hash;
};

// Reads the checkpoint log: for each node, the first checkpoint (verified with `key`) whose tip
// is at or above `last_seq`. The lines of the checkpoints chosen go to *lines (log order).
Status ChooseCheckpoints(const std::string& path, const anchor::PublicKey& key,
                         const std::vector<NodeSeqSpan>& spans, std::map<std::string, Anchor>* out,
                         std::vector<std::string>* lines, int64_t* skipped) {
  std::map<std::string, int64_t> want;  // node -> last window seq
  for (const NodeSeqSpan& s : spans) want[s.source_node_id] = s.last_seq;
  const std::vector<anchor::PublicKey> keys = {key};
  Status st = anchor::ReadLog(
      path,
      [&](anchor::LogEntry&& entry) {
        if (!anchor::CheckNote(entry.parsed, keys).ok()) {
          ++*skipped;
          return;
        }
        bool used = false;
        for (const anchor::NodeTip& tip : entry.body.nodes) {
          auto it = want.find(tip.node);
          if (it == want.end() || out->count(tip.node) || tip.seq < it->second) continue;
          (*out)[tip.node] = Anchor{entry.body.index, tip.seq, tip.hash};
          used = true;
        }
        if (used) lines->push_back(anchor::LogLine(entry.note, entry.tsa_token));
      },
      [&](int64_t, const Status&) { ++*skipped; });
  if (st.code() == StatusCode::kNotFound) {
    return NotFoundError("no checkpoint log at " + path + " (check --checkpoints)");
  }
  return st;
}

bool OwnRow(const AuditRow& row, const PackOptions& o) {
  return row.tenant_id.has_value() && row.tenant_id.value == o.tenant && row.timestamp_ok &&
         row.timestamp_us >= o.since && row.timestamp_us <= o.until;
}

Status WriteStream(StreamReader* reader, const PackOptions& o, MemberFile* file, int64_t* rows) {
  StreamQuery q;
  q.tenant_id = o.tenant;
  q.since = o.since;
  q.until = o.until;
  Canonicalizer canon;
  Sha256 sha;
  std::string line;
  bool complete = true;
  FASTEN_RETURN_IF_ERROR(reader->Scan(
      q, o.max_stream_rows,
      [&](const StreamRow& row) {
        ContentDigest d = StreamContentDigest(row.payload, &canon, &sha);
        line.clear();
        line += "{\"seq\":" + std::to_string(row.seq) + ",\"digest\":\"" + d.hex +
                "\",\"canonical\":" + (d.canonical ? "true" : "false") + ",\"payload\":";
        AppendJsonString(row.payload, &line);
        line += "}\n";
        file->Write(line);
        ++*rows;
      },
      &complete));
  if (!complete) {
    return ResourceExhaustedError(std::string("more than ") + std::to_string(o.max_stream_rows) +
                                  " " + StreamName(reader->kind()) +
                                  " rows in the window: narrow it or leave out --streams");
  }
  return Status::Ok();
}

Status CopyInto(struct archive* a, const std::string& name, FILE* file, int64_t size,
                time_t mtime) {
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_size(entry.get(), size);
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_mtime(entry.get(), mtime, 0);
  if (archive_write_header(a, entry.get()) != ARCHIVE_OK) {
    return Status(StatusCode::kInternal,
                  "cannot write the archive header of " + name + ": " + archive_error_string(a));
  }
  std::rewind(file);
  std::string buf(1 << 16, '\0');
  int64_t left = size;
  while (left > 0) {
    size_t n = std::fread(buf.data(), 1, std::min<int64_t>(left, buf.size()), file);
    if (n == 0) return Status(StatusCode::kInternal, "cannot read back the member " + name);
    if (archive_write_data(a, buf.data(), n) != static_cast<la_ssize_t>(n)) {
      return Status(StatusCode::kInternal,
                    "cannot write " + name + " into the archive: " + archive_error_string(a));
    }
    left -= static_cast<int64_t>(n);
  }
  return Status::Ok();
}

std::string RfcTime(int64_t unix_s) {
  return CanonicalTimestamp(unix_s * 1000000);
}

}  // namespace

Status WritePack(const PackOptions& o, PackSummary* summary) {
  *summary = PackSummary();
  if (!o.reader || !o.key) return InvalidArgumentError("a pack needs a store and a key");
  if (o.tenant.empty()) return InvalidArgumentError("a pack is of one tenant: give --tenant");
  if (o.since > o.until) return InvalidArgumentError("--since is after --until; swap them");
  if (!ValidPackName(o.name)) {
    return InvalidArgumentError("the pack name must be 1 to 200 printable ASCII characters");
  }
  if (o.out_path.empty()) return InvalidArgumentError("give the pack file: --out FILE");
  const int64_t now = o.now_unix ? *o.now_unix : static_cast<int64_t>(std::time(nullptr));

  // The window, per node.
  std::vector<NodeSeqSpan> spans;
  SeqSpanQuery sq;
  sq.since = o.since;
  sq.until = o.until;
  sq.source_node_id = o.node;
  sq.tenant_id = o.tenant;
  FASTEN_RETURN_IF_ERROR(o.reader->SeqSpans(sq, &spans));
  if (spans.empty()) {
    return FailedPreconditionError("tenant '" + o.tenant + "' has no audit rows in the window" +
                                   (o.node ? " on node '" + *o.node + "'" : std::string()) +
                                   ": nothing to pack (check --tenant, --since, --until)");
  }
  if (spans.size() > kMaxNodes) return ResourceExhaustedError("more nodes than a pack holds");

  // The anchoring checkpoints.
  std::map<std::string, Anchor> anchors;
  std::vector<std::string> checkpoint_lines;
  if (!o.checkpoints_path.empty()) {
    FASTEN_RETURN_IF_ERROR(ChooseCheckpoints(o.checkpoints_path, o.key->Public(), spans, &anchors,
                                             &checkpoint_lines, &summary->checkpoints_skipped));
  }

  MemberFile audit(kAudit), links(kLinks), verify(kVerify), checkpoints(kCheckpoints);
  for (MemberFile* m : {&audit, &links, &verify, &checkpoints}) FASTEN_RETURN_IF_ERROR(m->Open());

  // One scan per node: own rows to audit.ndjson, every other record to links.ndjson, the
  // window's rows to the chain verifier (as VerifyStore verifies a time window).
  // The predecessors the verifier checks each node's first window row against, looked up
  // before the scan: the scan runs on its own thread and owns the reader while it runs.
  std::map<std::string, std::optional<Predecessor>> predecessors;
  for (const NodeSeqSpan& span : spans) {
    if (span.first_seq <= 1) continue;
    std::optional<Predecessor> pred;
    FASTEN_RETURN_IF_ERROR(o.reader->FindPredecessor(span.source_node_id, span.first_seq, &pred));
    predecessors[span.source_node_id] = pred;
  }
  ChainVerifier::Options vo;
  vo.visible_tenant = o.tenant;
  vo.predecessor = [&](const std::string& node, int64_t seq) -> std::optional<Predecessor> {
    auto it = predecessors.find(node);
    if (it == predecessors.end() || !it->second || it->second->seq >= seq) return std::nullopt;
    return it->second;
  };
  ChainVerifier verifier(std::move(vo));
  std::vector<ScanRange> ranges;
  std::map<std::string, size_t> node_index;
  for (const NodeSeqSpan& span : spans) {
    PackNodeSummary ns;
    ns.node = span.source_node_id;
    ns.first_seq = span.first_seq;
    ns.last_seq = span.last_seq;
    auto a = anchors.find(span.source_node_id);
    ns.anchored = a != anchors.end();
    if (ns.anchored) {
      ns.checkpoint_index = a->second.index;
      ns.anchor_seq = a->second.seq;
    }
    ScanRange range;
    range.source_node_id = span.source_node_id;
    range.from_seq = std::max<int64_t>(0, span.first_seq - 1);
    range.to_seq = ns.anchored ? ns.anchor_seq : span.last_seq;
    range.order = ScanRange::Order::kSeq;
    ranges.push_back(range);
    node_index[ns.node] = summary->nodes.size();
    summary->nodes.push_back(std::move(ns));
  }
  // One scan per node, on a second thread: own rows to audit.ndjson, every other record to
  // links.ndjson, the window's rows to the chain verifier (as VerifyStore verifies a time
  // window), formatted and written on this thread.
  std::string line;
  int64_t rows = 0;
  PackNodeSummary* ns = nullptr;
  const NodeSeqSpan* span = nullptr;
  bool first = true;
  FASTEN_RETURN_IF_ERROR(ScanPipelined(o.reader, ranges, [&](AuditRow& row) {
    if (!ns || row.source_node_id != ns->node) {
      const size_t i = node_index.at(row.source_node_id);
      ns = &summary->nodes[i];
      span = &spans[i];
      first = true;
    }
    if (first) ns->from_seq = row.monotonic_seq;
    first = false;
    ns->to_seq = row.monotonic_seq;
    const bool in_span =
        row.monotonic_seq >= span->first_seq && row.monotonic_seq <= span->last_seq;
    if (in_span) verifier.Add(row);
    line.clear();
    if (in_span && OwnRow(row, o)) {
      AppendPackRowLine(row, &line);
      line.push_back('\n');
      audit.Write(line);
      ++ns->rows;
    } else {
      AppendLinkLine(row.source_node_id, row.monotonic_seq, row.hash, row.prev_hash, &line);
      line.push_back('\n');
      links.Write(line);
      ++ns->links;
    }
    if ((++rows & 4095) == 0 && o.progress) o.progress(rows);
  }));
  for (const PackNodeSummary& n : summary->nodes) {
    summary->audit_rows += n.rows;
    summary->links += n.links;
  }
  summary->rows_scanned = rows;
  VerifyReport report = verifier.Finish();
  summary->chain_ok = report.ok;
  {
    json vj = VerifyReportJson(report);
    vj["window"] = TimeWindowJson(o.since, o.until, o.node, spans);
    vj["tenant"] = o.tenant;
    verify.Write(DumpJson(vj, 2));
    verify.Write("\n");
  }
  for (const std::string& l : checkpoint_lines) {
    checkpoints.Write(l);
    checkpoints.Write("\n");
  }
  summary->checkpoints = static_cast<int64_t>(checkpoint_lines.size());

  std::vector<MemberFile*> members = {&audit, &links, &verify, &checkpoints};
  std::unique_ptr<MemberFile> sys, api, investigation;
  for (auto [reader, holder, name, count] : {std::tuple{o.sys, &sys, kSys, &summary->sys_rows},
                                             std::tuple{o.api, &api, kApi, &summary->api_rows}}) {
    if (!reader) continue;
    *holder = std::make_unique<MemberFile>(name);
    FASTEN_RETURN_IF_ERROR((*holder)->Open());
    FASTEN_RETURN_IF_ERROR(WriteStream(reader, o, holder->get(), count));
    members.push_back(holder->get());
  }
  if (!o.investigation_json.empty()) {
    investigation = std::make_unique<MemberFile>(kInvestigation);
    FASTEN_RETURN_IF_ERROR(investigation->Open());
    investigation->Write(o.investigation_json);
    investigation->Write("\n");
    members.push_back(investigation.get());
  }
  for (MemberFile* m : members) FASTEN_RETURN_IF_ERROR(m->Finish());

  // The manifest and its signature.
  json manifest = json::object();
  manifest["format"] = kFormat;
  manifest["name"] = o.name;
  manifest["tool"] = o.tool;
  manifest["created"] = RfcTime(now);
  manifest["store"] = o.store_identity;
  manifest["tenant"] = o.tenant;
  manifest["window"] = {{"since", CanonicalTimestamp(o.since)},
                        {"until", CanonicalTimestamp(o.until)},
                        {"node", o.node ? json(*o.node) : json(nullptr)}};
  json nodes = json::array();
  for (const PackNodeSummary& n : summary->nodes) {
    json j = {{"node", n.node},         {"first_seq", n.first_seq}, {"last_seq", n.last_seq},
              {"from_seq", n.from_seq}, {"to_seq", n.to_seq},       {"rows", n.rows},
              {"links", n.links},       {"anchored", n.anchored}};
    if (n.anchored) {
      j["checkpoint_index"] = n.checkpoint_index;
      j["anchor_seq"] = n.anchor_seq;
    } else {
      j["status"] = "not anchored";
    }
    nodes.push_back(std::move(j));
  }
  manifest["nodes"] = std::move(nodes);
  manifest["counts"] = {{"audit_rows", summary->audit_rows},
                        {"links", summary->links},
                        {"checkpoints", summary->checkpoints},
                        {"sys_rows", summary->sys_rows},
                        {"api_rows", summary->api_rows}};
  manifest["chain_ok"] = summary->chain_ok;
  if (!o.investigation_id.empty()) manifest["investigation"] = o.investigation_id;
  json listed = json::array();
  for (const MemberFile* m : members) {
    listed.push_back({{"name", m->name()}, {"size", m->size()}, {"sha256", m->sha256()}});
  }
  manifest["members"] = std::move(listed);
  const std::string manifest_text = DumpJson(manifest, 2) + "\n";
  summary->manifest_sha256 = Sha256().Hex(manifest_text);
  Result<std::string> sig =
      anchor::SignNote(ManifestNoteText(o.name, summary->manifest_sha256), {o.key});
  if (!sig.ok()) return sig.status();

  MemberFile manifest_file(kManifest), sig_file(kManifestSig);
  FASTEN_RETURN_IF_ERROR(manifest_file.Open());
  FASTEN_RETURN_IF_ERROR(sig_file.Open());
  manifest_file.Write(manifest_text);
  sig_file.Write(*sig);
  FASTEN_RETURN_IF_ERROR(manifest_file.Finish());
  FASTEN_RETURN_IF_ERROR(sig_file.Finish());
  members.insert(members.begin(), {&manifest_file, &sig_file});

  // The archive: a temporary file beside the pack, renamed over it when complete.
  const std::string tmp = o.out_path + ".tmp-" + std::to_string(getpid());
  std::unique_ptr<struct archive, ArchiveWriteFree> a(archive_write_new());
  if (!a) return Status(StatusCode::kInternal, "cannot allocate an archive writer");
  archive_write_set_format_pax_restricted(a.get());
  archive_write_add_filter_none(a.get());
  if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK) {
    return NotFoundError("cannot create " + tmp + ": " + archive_error_string(a.get()) +
                         " (check the directory of --out)");
  }
  Status st;
  for (const MemberFile* m : members) {
    st = CopyInto(a.get(), m->name(), m->file(), m->size(), static_cast<time_t>(now));
    if (!st.ok()) break;
  }
  if (st.ok() && archive_write_close(a.get()) != ARCHIVE_OK) {
    st = Status(StatusCode::kInternal,
                std::string("cannot finish the archive: ") + archive_error_string(a.get()));
  }
  a.reset();
  std::error_code ec;
  if (st.ok()) {
    std::filesystem::rename(tmp, o.out_path, ec);
    if (ec) st = Status(StatusCode::kInternal, "cannot rename " + tmp + ": " + ec.message());
  }
  if (!st.ok()) {
    std::filesystem::remove(tmp, ec);
    return st;
  }
  summary->bytes = static_cast<int64_t>(std::filesystem::file_size(o.out_path, ec));
  return Status::Ok();
}

}  // namespace fasten::pack
