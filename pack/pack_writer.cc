#include "pack/pack_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "anchor/checkpoint.h"
#include "anchor/signed_note.h"
#include "pack/pack_format.h"
#include "tools/json_out.h"
#include "tools/row_json.h"
#include "tools/verify_json.h"
#include "util/crypto.h"
#include "validator/canonical.h"
#include "validator/chain.h"
#include "validator/digest.h"
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

// A byte range of a temporary file.
struct Chunk {
  int64_t offset = 0, size = 0;
};

// An anonymous temporary file written in chunks: the streams of every node (and the small
// members) append to it, so that a scan in storage order can write nodes interleaved and the
// members still come out in (node, seq) order, each a list of chunks.
class Spool {
 public:
  Status Open() {
    file_.reset(std::tmpfile());
    if (!file_) {
      return Status(StatusCode::kInternal,
                    std::string("cannot create a temporary file: ") + std::strerror(errno));
    }
    return Status::Ok();
  }
  Chunk Append(std::string_view bytes) {
    Chunk c{end_, static_cast<int64_t>(bytes.size())};
    if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_.get()) != bytes.size()) {
      ok_ = false;
    }
    end_ += c.size;
    return c;
  }
  // Makes the appended bytes readable; false when a write failed.
  bool Sync() { return ok_ && std::fflush(file_.get()) == 0; }
  // Reads `chunks` in order (after Sync()), in pieces of at most 1 MiB, each passed to `each`
  // until it returns false. False when a read fails.
  template <typename F>
  bool ReadChunks(const std::vector<Chunk>& chunks, F&& each) {
    std::string buf;
    for (const Chunk& c : chunks) {
      for (int64_t done = 0; done < c.size;) {
        buf.resize(static_cast<size_t>(std::min<int64_t>(c.size - done, 1 << 20)));
        if (pread(fileno(file_.get()), buf.data(), buf.size(), c.offset + done) !=
            static_cast<ssize_t>(buf.size())) {
          return false;
        }
        if (!each(std::string_view(buf))) return true;
        done += static_cast<int64_t>(buf.size());
      }
    }
    return true;
  }

 private:
  std::unique_ptr<FILE, FileCloser> file_;
  int64_t end_ = 0;
  bool ok_ = true;
};

// One stream of bytes in the spool: chunks, and a buffer not yet appended. The buffer is flushed
// at a 64th of what the stream holds, from 16 KiB up to 64 KiB: a small stream costs little
// memory, and a large one N / 64 KiB chunks (16 bytes each, 0.02% of N), plus those of flushes
// forced by the memory budget (Pass).
class SpoolStream {
 public:
  // Appends; *buffered grows by what stays in memory.
  void Write(std::string_view bytes, Spool* spool, int64_t* buffered) {
    buffer_.append(bytes);
    *buffered += static_cast<int64_t>(bytes.size());
    if (buffer_.size() >= FlushAt()) Flush(spool, buffered);
  }
  void Flush(Spool* spool, int64_t* buffered) {
    if (buffer_.empty()) return;
    flushed_ += static_cast<int64_t>(buffer_.size());
    AddChunk(spool->Append(buffer_));
    *buffered -= static_cast<int64_t>(buffer_.size());
    buffer_.clear();
  }
  // Moves `other`'s bytes to the end of this stream (its chunks by reference).
  void Splice(SpoolStream* other, Spool* spool, int64_t* buffered) {
    if (!other->chunks_.empty()) {
      Flush(spool, buffered);
      for (const Chunk& c : other->chunks_) AddChunk(c);
      flushed_ += other->flushed_;
      other->chunks_.clear();
      other->flushed_ = 0;
    }
    buffer_.append(other->buffer_);
    other->buffer_.clear();
    if (buffer_.size() >= FlushAt()) Flush(spool, buffered);
  }
  // Keeps the first `bytes` bytes (after Flush).
  void Truncate(int64_t bytes) {
    std::vector<Chunk> kept;
    for (const Chunk& c : chunks_) {
      if (bytes <= 0) break;
      kept.push_back({c.offset, std::min(c.size, bytes)});
      bytes -= kept.back().size;
    }
    chunks_ = std::move(kept);
    flushed_ = 0;
    for (const Chunk& c : chunks_) flushed_ += c.size;
  }
  const std::vector<Chunk>& chunks() const { return chunks_; }

 private:
  size_t FlushAt() const {
    return static_cast<size_t>(std::clamp<int64_t>(flushed_ / 64, 16 << 10, 64 << 10));
  }
  void AddChunk(const Chunk& c) {
    if (!chunks_.empty() && chunks_.back().offset + chunks_.back().size == c.offset) {
      chunks_.back().size += c.size;  // contiguous: one chunk
    } else {
      chunks_.push_back(c);
    }
  }

  std::vector<Chunk> chunks_;
  std::string buffer_;
  int64_t flushed_ = 0;  // bytes in chunks_
};

// A member of the archive: a name, its chunks in the spool, its size and SHA-256.
struct Member {
  std::string name;
  std::vector<Chunk> chunks;
  int64_t size = 0;
  std::string sha256;
};

// Appends `streams`' chunks in order to `m` and computes its size and digest from the spool.
Status FinishMember(Spool* spool, const std::vector<const SpoolStream*>& streams, Member* m) {
  if (!spool->Sync()) {
    return Status(StatusCode::kInternal, "cannot write a temporary file for " + m->name);
  }
  for (const SpoolStream* s : streams) {
    m->chunks.insert(m->chunks.end(), s->chunks().begin(), s->chunks().end());
  }
  DigestStream digest;
  if (!spool->ReadChunks(m->chunks, [&](std::string_view bytes) {
        digest.Update(bytes);
        return true;
      })) {
    return Status(StatusCode::kInternal, "cannot read back the temporary file of " + m->name);
  }
  m->size = digest.bytes();
  m->sha256 = digest.FinishHex();
  return Status::Ok();
}

// A member held whole: appended to the spool as one stream.
Status SmallMember(Spool* spool, std::string name, std::string_view bytes, Member* m) {
  SpoolStream s;
  int64_t buffered = 0;
  s.Write(bytes, spool, &buffered);
  s.Flush(spool, &buffered);
  m->name = std::move(name);
  return FinishMember(spool, {&s}, m);
}

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

bool WindowRow(const AuditRow& row, const PackOptions& o) {
  return o.scope->Sees(row) && row.timestamp_ok && row.timestamp_us >= o.since &&
         row.timestamp_us <= o.until;
}

Status WriteStream(StreamReader* reader, const PackOptions& o, Spool* spool, SpoolStream* out,
                   int64_t* rows) {
  StreamQuery q;
  q.since = o.since;
  q.until = o.until;
  Canonicalizer canon;
  Sha256 sha;
  std::string line;
  int64_t buffered = 0;
  bool complete = true;
  FASTEN_RETURN_IF_ERROR(reader->Scan(
      *o.scope, q, o.max_stream_rows,
      [&](const StreamRow& row) {
        ContentDigest d = StreamContentDigest(row.payload, &canon, &sha);
        line.clear();
        line += "{\"seq\":" + std::to_string(row.seq) + ",\"digest\":\"" + d.hex +
                "\",\"canonical\":" + (d.canonical ? "true" : "false") + ",\"payload\":";
        AppendJsonString(row.payload, &line);
        line += "}\n";
        out->Write(line, spool, &buffered);
        ++*rows;
      },
      &complete));
  out->Flush(spool, &buffered);
  if (!complete) {
    return ResourceExhaustedError(std::string("more than ") + std::to_string(o.max_stream_rows) +
                                  " " + StreamName(reader->kind()) +
                                  " rows in the window: narrow it or leave out --streams");
  }
  return Status::Ok();
}

Status CopyInto(struct archive* a, Spool* spool, const Member& m, time_t mtime) {
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), m.name.c_str());
  archive_entry_set_size(entry.get(), m.size);
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_mtime(entry.get(), mtime, 0);
  if (archive_write_header(a, entry.get()) != ARCHIVE_OK) {
    return Status(StatusCode::kInternal,
                  "cannot write the archive header of " + m.name + ": " + archive_error_string(a));
  }
  bool written = true;
  if (!spool->ReadChunks(m.chunks, [&](std::string_view bytes) {
        written = archive_write_data(a, bytes.data(), bytes.size()) ==
                  static_cast<la_ssize_t>(bytes.size());
        return written;
      })) {
    return Status(StatusCode::kInternal, "cannot read back the member " + m.name);
  }
  if (!written) {
    return Status(StatusCode::kInternal,
                  "cannot write " + m.name + " into the archive: " + archive_error_string(a));
  }
  return Status::Ok();
}

// A row held back as a link record.
struct LinkRow {
  int64_t seq = 0;
  std::string hash, prev_hash;
};

// Rows copied in, their slots reused: a row copied into a slot that held one keeps the slot's
// string buffers, and the scan's own rows keep theirs (moving them out would make the scan
// allocate anew for every row).
class RowList {
 public:
  void Push(const AuditRow& row) {
    if (size_ < rows_.size()) {
      rows_[size_] = row;
    } else {
      rows_.push_back(row);
    }
    ++size_;
  }
  void Clear() { size_ = 0; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const AuditRow* begin() const { return rows_.data(); }
  const AuditRow* end() const { return rows_.data() + size_; }

 private:
  std::vector<AuditRow> rows_;
  size_t size_ = 0;
};

// The records of one node, built from its rows in seq order (in whatever interleaving with other
// nodes): the window's rows to audit.ndjson, every other row from the seq below the window's
// first row up to the anchoring checkpoint to links.ndjson, the rows from the first to the last
// window row to the chain verifier.
//
// Before the node's first window row its rows are not kept: only the rows of the two highest seqs
// seen (the row at first_seq - 1 is a link, rows sharing first_seq precede it in the span) and the
// last sealed row below them (the verifier's predecessor). After it, a row that is not a window
// row is held back in `tail` (as a link line) and shown to the verifier on trial: a later window
// row makes it part of the span (Commit), the node's end leaves it out (Rollback), and its link
// line is kept up to the anchoring checkpoint's seq.
class NodeBuilder {
 public:
  // Rows of one seq held before the first window row; more: the scan gives up (kAborted).
  static constexpr size_t kMaxHeld = 1024;

  explicit NodeBuilder(std::string node) : node_(std::move(node)) {
    AppendLinkLine(node_, 0, "", "", &prefix_);
    prefix_.resize(prefix_.find(",\"seq\":") + 7);  // {"node":"...","seq":
  }

  struct Sink {
    const PackOptions* options;
    ChainVerifier* verifier;
    Spool* spool;
    int64_t* buffered;  // bytes in stream buffers, all nodes
    int64_t* trial;     // rows held for the verifier, all nodes
    // The predecessor for a window starting at `first_seq`, when looked up before the scan.
    std::map<std::string, std::optional<Predecessor>>* predecessors;
    bool predecessors_known;
  };

  // False when the scan must give up (too many rows share a seq before the window).
  bool Add(const AuditRow& row, const Sink& k) {
    const bool window = WindowRow(row, *k.options);
    if (!started_ && !window) return Hold(row);
    if (!started_) Start(row.monotonic_seq, k);
    if (window) {
      EndTrial(k, /*commit=*/true);
      k.verifier->Add(row);
      line_.clear();
      AppendPackRowLine(row, &line_);
      line_.push_back('\n');
      audit_.Write(line_, k.spool, k.buffered);
      span_.last_seq = row.monotonic_seq;
      ++span_.rows;
      ++rows_;
      to_seq_ = row.monotonic_seq;
    } else {
      line_.clear();
      AppendLinkLine(node_, row.monotonic_seq, row.hash, row.prev_hash, &line_);
      line_.push_back('\n');
      tail_.Write(line_, k.spool, k.buffered);
      ++tail_lines_;
      if (marked_) {
        k.verifier->Add(row);
      } else {
        trial_.Push(row);
        ++*k.trial;
        // Held rows are bounded: past a few per node, or a few thousand in all, the verifier
        // takes them now and keeps a mark to return to.
        if (trial_.size() > 8 || *k.trial > 4096) {
          k.verifier->Mark(node_);
          marked_ = true;
          FeedTrial(k);
        }
      }
    }
    return true;
  }

  bool started() const { return started_; }
  // Appends the streams' buffers to the spool (memory is short).
  void Flush(Spool* spool, int64_t* buffered) {
    for (SpoolStream* s : {&audit_, &links_, &tail_}) s->Flush(spool, buffered);
  }
  const NodeSeqSpan& span() const { return span_; }
  const std::string& node() const { return node_; }

  // After the scan: the tail's rows stay out of the span; their link records are kept up to
  // `end_seq` (the anchoring checkpoint's seq, or the last window row's). Fills *ns.
  Status Finish(const Sink& k, int64_t end_seq, PackNodeSummary* ns) {
    EndTrial(k, /*commit=*/false);
    Flush(k.spool, k.buffered);
    if (!k.spool->Sync()) return Status(StatusCode::kInternal, "cannot write a temporary file");
    // Keep the tail's lines with seq <= end_seq: they are in seq order, each starting with the
    // node's prefix.
    int64_t keep = 0, kept = 0, last = to_seq_;
    std::string pending;  // a line split between two reads
    const bool read = k.spool->ReadChunks(tail_.chunks(), [&](std::string_view bytes) {
      pending += bytes;
      size_t at = 0;
      for (size_t nl; (nl = pending.find('\n', at)) != std::string::npos; at = nl + 1) {
        int64_t seq = 0;
        std::from_chars(pending.data() + at + prefix_.size(), pending.data() + nl, seq);
        if (seq > end_seq) return false;
        keep += static_cast<int64_t>(nl + 1 - at);
        ++kept;
        last = seq;
      }
      pending.erase(0, at);
      return true;
    });
    if (!read) return Status(StatusCode::kInternal, "cannot read back a temporary file");
    tail_.Truncate(keep);
    links_.Splice(&tail_, k.spool, k.buffered);
    links_.Flush(k.spool, k.buffered);
    ns->node = node_;
    ns->first_seq = span_.first_seq;
    ns->last_seq = span_.last_seq;
    ns->from_seq = from_seq_;
    ns->to_seq = last;
    ns->rows = rows_;
    ns->links = links_count_ + kept;
    return Status::Ok();
  }

  const SpoolStream& audit() const { return audit_; }
  const SpoolStream& links() const { return links_; }

 private:
  // A row before the window's first: keep the last two seqs' rows and the sealed row below.
  bool Hold(const AuditRow& row) {
    if (!held_.empty() && row.monotonic_seq != held_seq_) {
      below_.clear();
      for (const AuditRow& r : held_) {
        below_.push_back({r.monotonic_seq, r.hash, r.prev_hash});
        if (r.sealed()) pred_ = Predecessor{r.monotonic_seq, r.id, r.hash};
      }
      held_.Clear();
    }
    if (held_.size() >= kMaxHeld) return false;
    held_seq_ = row.monotonic_seq;
    held_.Push(row);
    return true;
  }

  // The first window row, at `seq`: the held rows go where they belong.
  void Start(int64_t seq, const Sink& k) {
    started_ = true;
    span_.source_node_id = node_;
    span_.first_seq = seq;
    span_.last_seq = seq;
    std::optional<Predecessor> pred = pred_;  // the last sealed row below held_seq_
    const bool held_in_span = !held_.empty() && held_seq_ == seq;
    std::vector<LinkRow> before;  // at seq - 1
    if (held_in_span) {
      if (!below_.empty() && below_.front().seq == seq - 1) before = std::move(below_);
    } else {
      for (const AuditRow& r : held_) {
        if (r.sealed()) pred = Predecessor{r.monotonic_seq, r.id, r.hash};
        if (r.monotonic_seq == seq - 1) before.push_back({r.monotonic_seq, r.hash, r.prev_hash});
      }
    }
    below_.clear();
    if (seq > 1 && !k.predecessors_known) (*k.predecessors)[node_] = pred;
    from_seq_ = seq;
    to_seq_ = seq;
    for (const LinkRow& r : before) WriteLink(r.seq, r.hash, r.prev_hash, k);
    if (!before.empty()) from_seq_ = before.front().seq;
    if (held_in_span) {
      for (const AuditRow& r : held_) {
        k.verifier->Add(r);
        WriteLink(r.monotonic_seq, r.hash, r.prev_hash, k);
        to_seq_ = r.monotonic_seq;
      }
    }
    held_ = RowList();  // not needed again: free it
  }

  void WriteLink(int64_t seq, std::string_view hash, std::string_view prev_hash, const Sink& k) {
    line_.clear();
    AppendLinkLine(node_, seq, hash, prev_hash, &line_);
    line_.push_back('\n');
    links_.Write(line_, k.spool, k.buffered);
    ++links_count_;
  }

  void FeedTrial(const Sink& k) {
    for (const AuditRow& r : trial_) k.verifier->Add(r);
    *k.trial -= static_cast<int64_t>(trial_.size());
    trial_.Clear();
  }

  // A window row (commit) or the node's end: the tail joins the span, or leaves it.
  void EndTrial(const Sink& k, bool commit) {
    if (commit) {
      if (marked_) k.verifier->Commit(node_);
      FeedTrial(k);
      if (tail_lines_ > 0) {
        links_.Splice(&tail_, k.spool, k.buffered);
        links_count_ += tail_lines_;
        tail_lines_ = 0;
      }
    } else {
      if (marked_) k.verifier->Rollback(node_);
      *k.trial -= static_cast<int64_t>(trial_.size());
      trial_.Clear();
    }
    marked_ = false;
  }

  std::string node_, prefix_, line_;
  bool started_ = false;
  RowList held_;  // rows of seq held_seq_
  int64_t held_seq_ = 0;
  std::vector<LinkRow> below_;  // rows of the seq before held_seq_
  std::optional<Predecessor> pred_;
  NodeSeqSpan span_;
  int64_t from_seq_ = 0, to_seq_ = 0, rows_ = 0, links_count_ = 0;
  SpoolStream audit_, links_, tail_;
  int64_t tail_lines_ = 0;
  RowList trial_;
  bool marked_ = false;
};

std::string RfcTime(int64_t unix_s) {
  return CanonicalTimestamp(unix_s * 1000000);
}

// One pass over the store: the scan's rows through a NodeBuilder per node.
class Pass {
 public:
  explicit Pass(const PackOptions& o) : o_(o) {
    ChainVerifier::Options vo;
    vo.scope = *o.scope;
    vo.predecessor = [this](const std::string& node, int64_t seq) -> std::optional<Predecessor> {
      auto it = predecessors_.find(node);
      if (it == predecessors_.end() || !it->second || it->second->seq >= seq) return std::nullopt;
      return it->second;
    };
    verifier_ = std::make_unique<ChainVerifier>(std::move(vo));
  }

  // Predecessors looked up before the scan (a scan that starts at the window's first seq).
  void SetPredecessors(std::map<std::string, std::optional<Predecessor>> known) {
    predecessors_ = std::move(known);
    predecessors_known_ = true;
  }

  // kAborted when the storage order does not serve (the caller scans node by node).
  Status Run(const std::vector<ScanRange>& ranges) {
    FASTEN_RETURN_IF_ERROR(spool_.Open());
    const NodeBuilder::Sink sink = Sink();
    NodeBuilder* b = nullptr;
    Status stop;
    Status st = ScanPipelined(*o_.scope, o_.reader, ranges, [&](AuditRow& row) {
      if (!b || row.source_node_id != b->node()) {
        auto it = builders_.find(row.source_node_id);
        if (it == builders_.end()) {
          if (builders_.size() >= 4 * kMaxNodes) {
            stop = AbortedError("too many nodes to follow at once");
            return false;
          }
          it = builders_.emplace(row.source_node_id, NodeBuilder(row.source_node_id)).first;
        }
        b = &it->second;
      }
      const bool was_started = b->started();
      if (!b->Add(row, sink)) {
        stop = AbortedError("too many rows of node '" + b->node() + "' share a seq");
        return false;
      }
      if (!was_started && b->started() && ++started_ > static_cast<int64_t>(kMaxNodes)) {
        stop =
            ResourceExhaustedError("the window has rows on more than " + std::to_string(kMaxNodes) +
                                   " nodes, more than a pack holds: narrow it with --node");
        return false;
      }
      if (buffered_ > (32 << 20)) {  // the budget of all nodes' buffers
        for (auto& [node, builder] : builders_) builder.Flush(&spool_, &buffered_);
      }
      if ((++rows_ & 4095) == 0 && o_.progress) o_.progress(rows_);
      return true;
    });
    FASTEN_RETURN_IF_ERROR(st);
    return stop;
  }

  // The window, per node (ascending).
  std::vector<NodeSeqSpan> Spans() const {
    std::vector<NodeSeqSpan> spans;
    for (const auto& [node, b] : builders_) {
      if (b.started()) spans.push_back(b.span());
    }
    return spans;
  }

  // Ends every node: `anchors` say up to where its links go. Fills the nodes' summaries.
  Status Finish(const std::map<std::string, Anchor>& anchors, PackSummary* summary) {
    const NodeBuilder::Sink sink = Sink();
    for (auto& [node, b] : builders_) {
      if (!b.started()) continue;
      PackNodeSummary ns;
      auto a = anchors.find(node);
      FASTEN_RETURN_IF_ERROR(
          b.Finish(sink, a != anchors.end() ? a->second.seq : b.span().last_seq, &ns));
      if (a != anchors.end()) {
        ns.anchored = true;
        ns.checkpoint_index = a->second.index;
        ns.anchor_seq = a->second.seq;
      }
      summary->audit_rows += ns.rows;
      summary->links += ns.links;
      summary->nodes.push_back(std::move(ns));
    }
    summary->rows_scanned = rows_;
    std::vector<const SpoolStream*> audit, links;
    for (const auto& [node, b] : builders_) {
      if (!b.started()) continue;
      audit.push_back(&b.audit());
      links.push_back(&b.links());
    }
    audit_.name = kAudit;
    links_.name = kLinks;
    // The two digests at once (each reads its chunks back: pread, safe to share).
    if (!spool_.Sync()) return Status(StatusCode::kInternal, "cannot write a temporary file");
    std::future<Status> links_done =
        std::async(std::launch::async, [&] { return FinishMember(&spool_, links, &links_); });
    Status audit_status = FinishMember(&spool_, audit, &audit_);
    Status links_status = links_done.get();
    FASTEN_RETURN_IF_ERROR(audit_status);
    return links_status;
  }

  ChainVerifier* verifier() { return verifier_.get(); }
  Spool* spool() { return &spool_; }
  Member& audit() { return audit_; }
  Member& links() { return links_; }

 private:
  NodeBuilder::Sink Sink() {
    return NodeBuilder::Sink{
        &o_, verifier_.get(), &spool_, &buffered_, &trial_, &predecessors_, predecessors_known_};
  }

  const PackOptions& o_;
  std::unique_ptr<ChainVerifier> verifier_;
  std::map<std::string, std::optional<Predecessor>> predecessors_;
  bool predecessors_known_ = false;
  Spool spool_;
  std::map<std::string, NodeBuilder> builders_;  // byte order
  int64_t buffered_ = 0, trial_ = 0, rows_ = 0, started_ = 0;
  Member audit_, links_;
};

Status NoRows(const PackOptions& o) {
  return FailedPreconditionError("tenant '" + *o.scope->tenant() +
                                 "' has no audit rows in the window" +
                                 (o.node ? " on node '" + *o.node + "'" : std::string()) +
                                 ": nothing to pack (check --tenant, --since, --until)");
}

// The plan kAuto picks: storage order unless the window covers under a quarter of the time
// between the store's oldest and newest rows.
PackPlan ChoosePlan(const PackOptions& o) {
  if (o.plan != PackPlan::kAuto) return o.plan;
  std::optional<Micros> oldest, newest;
  if (!o.reader->TimeBounds(*o.scope, &oldest, &newest).ok() || !oldest || !newest ||
      *newest <= *oldest) {
    return PackPlan::kStorageOrder;
  }
  const Micros from = std::max(o.since, *oldest), to = std::min(o.until, *newest);
  const double covered = to > from ? static_cast<double>(to - from) : 0.0;
  return covered * 4 >= static_cast<double>(*newest - *oldest) ? PackPlan::kStorageOrder
                                                               : PackPlan::kPerNode;
}

// Node by node in seq order, each from the seq below its window to its anchoring checkpoint:
// reads only the window (with the (source_node_id, monotonic_seq) index).
Status PerNodePass(const PackOptions& o, Pass* pass, std::vector<NodeSeqSpan>* spans,
                   std::map<std::string, Anchor>* anchors, std::vector<std::string>* lines,
                   int64_t* skipped) {
  SeqSpanQuery sq;
  sq.since = o.since;
  sq.until = o.until;
  sq.source_node_id = o.node;
  FASTEN_RETURN_IF_ERROR(o.reader->SeqSpans(*o.scope, sq, spans));
  if (spans->empty()) return NoRows(o);
  if (spans->size() > kMaxNodes) return ResourceExhaustedError("more nodes than a pack holds");
  if (!o.checkpoints_path.empty()) {
    FASTEN_RETURN_IF_ERROR(
        ChooseCheckpoints(o.checkpoints_path, o.key->Public(), *spans, anchors, lines, skipped));
  }
  // The scan runs on its own thread and owns the reader while it runs: predecessors first.
  std::map<std::string, std::optional<Predecessor>> predecessors;
  std::vector<ScanRange> ranges;
  for (const NodeSeqSpan& span : *spans) {
    if (span.first_seq > 1) {
      FASTEN_RETURN_IF_ERROR(o.reader->FindPredecessor(
          *o.scope, span.source_node_id, span.first_seq, &predecessors[span.source_node_id]));
    }
    auto a = anchors->find(span.source_node_id);
    ScanRange range;
    range.source_node_id = span.source_node_id;
    range.from_seq = std::max<int64_t>(0, span.first_seq - 1);
    range.to_seq = a != anchors->end() ? a->second.seq : span.last_seq;
    range.order = ScanRange::Order::kSeq;
    ranges.push_back(range);
  }
  pass->SetPredecessors(std::move(predecessors));
  return pass->Run(ranges);
}

}  // namespace

const char* PackPlanName(PackPlan plan) {
  switch (plan) {
    case PackPlan::kStorageOrder:
      return "storage order";
    case PackPlan::kPerNode:
      return "per node";
    case PackPlan::kAuto:
      break;
  }
  return "auto";
}

Status WritePack(const PackOptions& o, PackSummary* summary) {
  *summary = PackSummary();
  if (!o.reader || !o.key) return InvalidArgumentError("a pack needs a store and a key");
  if (!o.scope || o.scope->all_tenants() || o.scope->tenant()->empty()) {
    return InvalidArgumentError("a pack is of one tenant: give --tenant");
  }
  if (o.since > o.until) return InvalidArgumentError("--since is after --until; swap them");
  if (!ValidPackName(o.name)) {
    return InvalidArgumentError("the pack name must be 1 to 200 printable ASCII characters");
  }
  if (o.out_path.empty()) return InvalidArgumentError("give the pack file: --out FILE");
  const int64_t now = o.now_unix ? *o.now_unix : static_cast<int64_t>(std::time(nullptr));

  // The records, the window (per node) and the anchoring checkpoints.
  std::unique_ptr<Pass> pass = std::make_unique<Pass>(o);
  std::vector<NodeSeqSpan> spans;
  std::map<std::string, Anchor> anchors;
  std::vector<std::string> checkpoint_lines;
  summary->plan = ChoosePlan(o);
  if (summary->plan == PackPlan::kStorageOrder) {
    ScanRange all;
    all.source_node_id = o.node;
    all.order = ScanRange::Order::kPhysical;
    Status st = pass->Run({all});
    if (st.code() == StatusCode::kAborted) {
      // Rows stored too far out of seq order, or too many nodes or duplicates to follow at once.
      summary->plan = PackPlan::kPerNode;
      pass = std::make_unique<Pass>(o);
    } else {
      FASTEN_RETURN_IF_ERROR(st);
      spans = pass->Spans();
      if (spans.empty()) return NoRows(o);
      if (!o.checkpoints_path.empty()) {
        FASTEN_RETURN_IF_ERROR(ChooseCheckpoints(o.checkpoints_path, o.key->Public(), spans,
                                                 &anchors, &checkpoint_lines,
                                                 &summary->checkpoints_skipped));
      }
    }
  }
  if (summary->plan == PackPlan::kPerNode) {
    FASTEN_RETURN_IF_ERROR(PerNodePass(o, pass.get(), &spans, &anchors, &checkpoint_lines,
                                       &summary->checkpoints_skipped));
  }
  FASTEN_RETURN_IF_ERROR(pass->Finish(anchors, summary));
  Spool* spool = pass->spool();
  VerifyReport report = pass->verifier()->Finish();
  summary->chain_ok = report.ok;
  summary->checkpoints = static_cast<int64_t>(checkpoint_lines.size());

  std::vector<Member> members(2);  // the manifest and its signature go first
  members.push_back(std::move(pass->audit()));
  members.push_back(std::move(pass->links()));
  {
    json vj = VerifyReportJson(report);
    vj["window"] = TimeWindowJson(o.since, o.until, o.node, spans);
    vj["tenant"] = *o.scope->tenant();
    FASTEN_RETURN_IF_ERROR(
        SmallMember(spool, kVerify, DumpJson(vj, 2) + "\n", &members.emplace_back()));
  }
  {
    std::string text;
    for (const std::string& l : checkpoint_lines) text += l + "\n";
    FASTEN_RETURN_IF_ERROR(SmallMember(spool, kCheckpoints, text, &members.emplace_back()));
  }
  for (auto [reader, name, count] :
       {std::tuple{o.sys, kSys, &summary->sys_rows}, std::tuple{o.api, kApi, &summary->api_rows}}) {
    if (!reader) continue;
    SpoolStream stream;
    FASTEN_RETURN_IF_ERROR(WriteStream(reader, o, spool, &stream, count));
    Member& m = members.emplace_back();
    m.name = name;
    FASTEN_RETURN_IF_ERROR(FinishMember(spool, {&stream}, &m));
  }
  if (!o.investigation_json.empty()) {
    FASTEN_RETURN_IF_ERROR(
        SmallMember(spool, kInvestigation, o.investigation_json + "\n", &members.emplace_back()));
  }

  // The manifest and its signature.
  json manifest = json::object();
  manifest["format"] = kFormat;
  manifest["name"] = o.name;
  manifest["tool"] = o.tool;
  manifest["created"] = RfcTime(now);
  manifest["store"] = o.store_identity;
  manifest["tenant"] = *o.scope->tenant();
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
  for (size_t i = 2; i < members.size(); ++i) {
    const Member& m = members[i];
    listed.push_back({{"name", m.name}, {"size", m.size}, {"sha256", m.sha256}});
  }
  manifest["members"] = std::move(listed);
  const std::string manifest_text = DumpJson(manifest, 2) + "\n";
  summary->manifest_sha256 = Sha256().Hex(manifest_text);
  Result<std::string> sig =
      anchor::SignNote(ManifestNoteText(o.name, summary->manifest_sha256), {o.key});
  if (!sig.ok()) return sig.status();
  FASTEN_RETURN_IF_ERROR(SmallMember(spool, kManifest, manifest_text, &members[0]));
  FASTEN_RETURN_IF_ERROR(SmallMember(spool, kManifestSig, *sig, &members[1]));

  // The archive: a temporary file beside the pack, renamed over it when complete.
  const std::string tmp = o.out_path + ".tmp-" + std::to_string(getpid());
  std::unique_ptr<struct archive, ArchiveWriteFree> a(archive_write_new());
  if (!a) return Status(StatusCode::kInternal, "cannot allocate an archive writer");
  archive_write_set_format_pax_restricted(a.get());
  archive_write_add_filter_none(a.get());
  // Large writes (the default is 10 KiB blocks); the last block is not padded to one.
  archive_write_set_bytes_per_block(a.get(), 1 << 20);
  archive_write_set_bytes_in_last_block(a.get(), 1);
  if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK) {
    return NotFoundError("cannot create " + tmp + ": " + archive_error_string(a.get()) +
                         " (check the directory of --out)");
  }
  Status st;
  for (const Member& m : members) {
    st = CopyInto(a.get(), spool, m, static_cast<time_t>(now));
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
