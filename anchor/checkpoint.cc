#include "anchor/checkpoint.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "anchor/tsa.h"
#include "store/timestamp.h"
#include "util/base64.h"
#include "util/crypto.h"
#include "util/json_parse.h"
#include "util/line_reader.h"

namespace fasten::anchor {
namespace {

using nlohmann::json;

constexpr char kHeader[] = "fasten-mcp checkpoint v1";

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < '!' || u > '~' || c == '%') {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The inverse of PercentEncode, accepting only its output: bytes '!'..'~' other than '%' as
// themselves, every other byte as %XX with upper-case hex. So a body has one spelling, and
// Text() of a parsed body is the text it was parsed from.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (s[i] != '%') {
      if (u < '!' || u > '~') return std::nullopt;
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0 || (s[i + 1] >= 'a' && s[i + 1] <= 'f') ||
        (s[i + 2] >= 'a' && s[i + 2] <= 'f')) {
      return std::nullopt;
    }
    const auto c = static_cast<unsigned char>(hi * 16 + lo);
    if (c >= '!' && c <= '~' && c != '%') return std::nullopt;  // needed no escape
    out += static_cast<char>(c);
    i += 2;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (s.size() > 1 && s[0] == '0') return false;
  *out = v;
  return true;
}

bool IsLowerHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::vector<std::string_view> SplitSpaces(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= line.size()) {
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    out.push_back(line.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string TimeText(int64_t unix_s) {
  return SecondPrefix(unix_s * 1000000) + "Z";
}

bool ParseTimeText(std::string_view text, int64_t* unix_s) {
  Micros us = 0;
  if (text.size() != 20 || text.back() != 'Z' || !ParseTimestamp(text, &us)) return false;
  *unix_s = us / 1000000;
  return TimeText(*unix_s) == text;
}

std::string Short(const std::string& hash) {
  return hash.substr(0, 12);
}

std::string CheckpointName(const CheckpointBody& body) {
  return "checkpoint #" + std::to_string(body.index) + " (" + body.time + ")";
}

}  // namespace

std::string CheckpointBody::Text() const {
  std::string t = kHeader;
  t += "\nstore " + PercentEncode(store);
  t += "\nindex " + std::to_string(index);
  t += "\ntime " + time;
  t += "\nprev " + prev;
  for (const NodeTip& n : nodes) {
    t += "\nnode " + PercentEncode(n.node) + " " + std::to_string(n.seq) + " " + n.hash + " " +
         std::to_string(n.sealed);
  }
  t += "\n";
  return t;
}

Result<CheckpointBody> CheckpointBody::Parse(std::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return InvalidArgumentError("checkpoint text does not end in a newline");
  }
  std::vector<std::string_view> lines;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    lines.push_back(text.substr(i, j - i));
    i = j + 1;
  }
  auto bad = [](size_t line, const std::string& why) {
    return InvalidArgumentError("checkpoint line " + std::to_string(line + 1) + ": " + why);
  };
  if (lines.size() < 5 || lines[0] != kHeader) {
    return bad(0,
               std::string("expected \"") + kHeader + "\" and the store, index, time, prev lines");
  }
  CheckpointBody b;
  auto field = [&](size_t n, std::string_view key) -> std::optional<std::string_view> {
    std::string prefix = std::string(key) + " ";
    if (lines[n].substr(0, prefix.size()) != prefix) return std::nullopt;
    return lines[n].substr(prefix.size());
  };
  auto store = field(1, "store");
  std::optional<std::string> store_text = store ? PercentDecode(*store) : std::nullopt;
  if (!store_text) return bad(1, "expected \"store <identity>\"");
  b.store = *store_text;
  auto index = field(2, "index");
  if (!index || !ParseInt64(*index, &b.index) || b.index < 1) {
    return bad(2, "expected \"index <n>\" with n >= 1");
  }
  auto time = field(3, "time");
  int64_t unix_s = 0;
  if (!time || !ParseTimeText(*time, &unix_s)) {
    return bad(3, "expected \"time YYYY-MM-DDTHH:MM:SSZ\"");
  }
  b.time = std::string(*time);
  auto prev = field(4, "prev");
  if (!prev || !(*prev == "genesis" || IsLowerHex(*prev, 64))) {
    return bad(4, "expected \"prev <64 hex digits or genesis>\"");
  }
  b.prev = std::string(*prev);
  if ((b.index == 1) != (b.prev == "genesis")) {
    return bad(4, "prev is \"genesis\" exactly when index is 1");
  }
  if (lines.size() - 5 > kMaxCheckpointNodes) {
    return bad(5, "more than " + std::to_string(kMaxCheckpointNodes) + " nodes");
  }
  for (size_t n = 5; n < lines.size(); ++n) {
    auto rest = field(n, "node");
    std::vector<std::string_view> parts =
        rest ? SplitSpaces(*rest) : std::vector<std::string_view>{};
    NodeTip tip;
    std::optional<std::string> node = parts.size() == 4 ? PercentDecode(parts[0]) : std::nullopt;
    if (!node || !ParseInt64(parts[1], &tip.seq) || tip.seq < 1 || parts[2].empty() ||
        parts[2].size() > 256 || !ParseInt64(parts[3], &tip.sealed)) {
      return bad(n, "expected \"node <node> <seq> <hash> <sealed>\"");
    }
    tip.node = *node;
    tip.hash = std::string(parts[2]);
    for (char c : tip.hash) {
      if (c < '!' || c > '~') return bad(n, "the hash holds a space or control character");
    }
    if (!b.nodes.empty() && !(b.nodes.back().node < tip.node)) {
      return bad(n, "nodes are not in ascending order (or one is repeated)");
    }
    b.nodes.push_back(std::move(tip));
  }
  return b;
}

std::string CheckpointDigest(std::string_view text) {
  Sha256 sha;
  return sha.Hex(text);
}

std::string LogLine(const std::string& signed_note, const std::string& tsa_token) {
  json j = {{"note", signed_note}};
  if (!tsa_token.empty()) j["tsa_token"] = Base64Encode(tsa_token);
  return j.dump();
}

Result<LogEntry> ParseLogLine(std::string_view line, int64_t line_number) {
  LogEntry e;
  e.line = line_number;
  json j;
  FASTEN_RETURN_IF_ERROR(ParseJsonStatus(line, JsonLimits{kMaxLogLineBytes, 4},
                                         "checkpoint log line " + std::to_string(line_number), &j));
  if (!j.is_object() || !j.contains("note") || !j["note"].is_string()) {
    return InvalidArgumentError("checkpoint log line " + std::to_string(line_number) +
                                ": expected {\"note\": \"<signed note>\", \"tsa_token\": ...}");
  }
  e.note = j["note"].get<std::string>();
  if (j.contains("tsa_token")) {
    const json& t = j["tsa_token"];
    std::optional<std::string> der =
        t.is_string() ? Base64Decode(t.get<std::string>()) : std::nullopt;
    if (!der || der->empty()) {
      return InvalidArgumentError("checkpoint log line " + std::to_string(line_number) +
                                  ": tsa_token is not base64 DER");
    }
    e.tsa_token = std::move(*der);
  }
  Result<Note> note = ParseNote(e.note);
  if (!note.ok()) {
    return note.status().WithContext("checkpoint log line " + std::to_string(line_number));
  }
  e.parsed = std::move(note.value());
  Result<CheckpointBody> body = CheckpointBody::Parse(e.parsed.text);
  if (!body.ok()) {
    return body.status().WithContext("checkpoint log line " + std::to_string(line_number));
  }
  e.body = std::move(body.value());
  return e;
}

Status ReadLog(const std::string& path, const std::function<void(LogEntry&&)>& on_entry,
               const std::function<void(int64_t line, const Status&)>& on_bad) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return NotFoundError("checkpoint log " + path + " not found");
    return UnavailableError("cannot read checkpoint log " + path + ": " + std::strerror(errno));
  }
  std::string line;
  bool too_long = false;
  int64_t n = 0;
  while (ReadBoundedLine(in, kMaxLogLineBytes, &line, &too_long)) {
    ++n;
    if (too_long) {
      on_bad(n,
             InvalidArgumentError("checkpoint log line " + std::to_string(n) + " is longer than " +
                                  std::to_string(kMaxLogLineBytes) + " bytes"));
      continue;
    }
    if (line.empty()) {
      on_bad(n, InvalidArgumentError("checkpoint log line " + std::to_string(n) + " is empty"));
      continue;
    }
    Result<LogEntry> e = ParseLogLine(line, n);
    if (e.ok()) {
      on_entry(std::move(e.value()));
    } else {
      on_bad(n, e.status());
    }
  }
  if (in.bad()) return UnavailableError("error reading checkpoint log " + path);
  return Status::Ok();
}

Status ReadTips(const TenantScope& scope, AuditReader* reader, const CheckpointBody* previous,
                std::vector<NodeTip>* out) {
  out->clear();
  std::vector<std::string> nodes;
  FASTEN_RETURN_IF_ERROR(reader->Nodes(scope, kMaxCheckpointNodes + 1, &nodes));
  if (nodes.size() > kMaxCheckpointNodes) {
    return ResourceExhaustedError("the store has more than " + std::to_string(kMaxCheckpointNodes) +
                                  " nodes: a checkpoint holds at most that many");
  }
  std::map<std::string, const NodeTip*> before;
  if (previous) {
    for (const NodeTip& t : previous->nodes) before[t.node] = &t;
  }
  for (const std::string& node : nodes) {
    std::optional<Predecessor> tip;
    FASTEN_RETURN_IF_ERROR(reader->Tip(scope, node, &tip));
    if (!tip) continue;  // no sealed row yet: nothing to anchor
    NodeTip t;
    t.node = node;
    t.seq = tip->seq;
    t.hash = tip->hash;
    auto it = before.find(node);
    int64_t from = 0, base = 0;
    if (it != before.end() && it->second->seq <= t.seq) {
      from = it->second->seq;
      base = it->second->sealed;
    }
    int64_t added = 0;
    FASTEN_RETURN_IF_ERROR(reader->CountSealed(scope, node, from, t.seq, &added));
    t.sealed = base + added;
    out->push_back(std::move(t));
  }
  return Status::Ok();
}

namespace {

// The last line of an open file (without its newline), reading only the tail. *empty when the
// file has no bytes.
Status LastLine(int fd, const std::string& path, std::string* line, bool* empty) {
  struct stat st;
  if (fstat(fd, &st) != 0) return UnavailableError("cannot stat " + path);
  *empty = st.st_size == 0;
  line->clear();
  if (*empty) return Status::Ok();
  const off_t want = std::min<off_t>(st.st_size, static_cast<off_t>(kMaxLogLineBytes) + 2);
  std::string tail(static_cast<size_t>(want), '\0');
  ssize_t got = pread(fd, tail.data(), tail.size(), st.st_size - want);
  if (got != want) return UnavailableError("cannot read " + path + ": " + std::strerror(errno));
  if (tail.back() != '\n') {
    return FailedPreconditionError("checkpoint log " + path +
                                   " ends in a partial line (a write was cut short?): move the "
                                   "log aside and verify it, or remove the partial line");
  }
  tail.pop_back();
  size_t nl = tail.rfind('\n');
  if (nl == std::string::npos && want < st.st_size) {
    return FailedPreconditionError("the last line of checkpoint log " + path + " is too long");
  }
  *line = nl == std::string::npos ? tail : tail.substr(nl + 1);
  return Status::Ok();
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

Status AppendCheckpoint(const TenantScope& scope, AuditReader* reader, const std::string& path,
                        const AppendOptions& options, CheckpointBody* out,
                        std::vector<std::string>* warnings) {
  warnings->clear();
  if (options.key == nullptr) return InvalidArgumentError("no signing key");
  Fd f;
  f.fd = open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (f.fd < 0) {
    return UnavailableError("cannot open checkpoint log " + path + ": " + std::strerror(errno));
  }
  if (flock(f.fd, LOCK_EX) != 0) {
    return UnavailableError("cannot lock checkpoint log " + path + ": " + std::strerror(errno));
  }
  std::string last;
  bool empty = true;
  FASTEN_RETURN_IF_ERROR(LastLine(f.fd, path, &last, &empty));
  std::optional<LogEntry> previous;
  if (!empty) {
    Result<LogEntry> e = ParseLogLine(last, 0);
    if (!e.ok()) {
      return FailedPreconditionError("the last line of checkpoint log " + path +
                                     " does not parse (" + e.status().message() +
                                     "): run fasten-mcp verify --checkpoints on it");
    }
    previous = std::move(e.value());
  }
  // Were the previous checkpoint's tips kept? One batched lookup.
  if (previous) {
    const CheckpointBody& pb = previous->body;
    std::vector<std::pair<int64_t, std::string>> pairs;
    for (const NodeTip& t : pb.nodes) pairs.emplace_back(t.seq, t.hash);
    std::vector<AuditRow> rows;
    if (!pairs.empty() && pairs.size() <= AuditReader::kMaxBatchPairs) {
      FASTEN_RETURN_IF_ERROR(reader->FindBySeqHashBatch(scope, pairs, &rows));
    }
    std::set<std::pair<std::string, int64_t>> found;
    for (const AuditRow& r : rows) found.emplace(r.source_node_id, r.monotonic_seq);
    for (const NodeTip& t : pb.nodes) {
      if (!found.count({t.node, t.seq})) {
        warnings->push_back("node " + t.node + ": the row at seq " + std::to_string(t.seq) +
                            " anchored by " + CheckpointName(pb) +
                            " is gone or changed; run fasten-mcp verify --checkpoints");
      }
    }
  }
  CheckpointBody body;
  body.store = options.store;
  body.index = previous ? previous->body.index + 1 : 1;
  const int64_t now = options.now_unix ? *options.now_unix : NowMicros() / 1000000;
  body.time = TimeText(now);
  body.prev = previous ? CheckpointDigest(previous->parsed.text) : "genesis";
  FASTEN_RETURN_IF_ERROR(
      ReadTips(scope, reader, previous ? &previous->body : nullptr, &body.nodes));
  if (body.nodes.empty()) {
    return FailedPreconditionError("the store has no sealed audit row: nothing to anchor");
  }
  const std::string text = body.Text();
  Result<std::string> note = SignNote(text, {options.key});
  if (!note.ok()) return note.status();
  std::string token;
  if (options.timestamp) {
    Result<std::string> t = options.timestamp(text);
    if (!t.ok()) return t.status().WithContext("timestamp authority");
    token = std::move(t.value());
  }
  std::string line = LogLine(note.value(), token) + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(f.fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return UnavailableError("cannot append to checkpoint log " + path + ": " +
                              std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(f.fd) != 0) {
    return UnavailableError("cannot sync checkpoint log " + path + ": " + std::strerror(errno));
  }
  *out = std::move(body);
  return Status::Ok();
}

Status CheckLog(const std::string& path, const LogCheckOptions& options, AnchorReport* report,
                std::vector<CheckpointBody>* good) {
  report->log = path;
  good->clear();
  std::set<std::string> keys_used;
  std::optional<CheckpointBody> before;  // the previous entry that parsed
  std::string before_digest;
  int64_t before_time = 0;
  auto broken = [&](int64_t line, int64_t index, const std::string& reason) {
    AnchorFinding f;
    f.kind = kCheckpointLogBroken;
    f.line = line;
    f.checkpoint_index = index;
    f.reason = reason;
    report->findings.push_back(std::move(f));
  };
  Status st = ReadLog(
      path,
      [&](LogEntry&& e) {
        ++report->checkpoints;
        const CheckpointBody& b = e.body;
        const std::string where = "line " + std::to_string(e.line) + " (" + CheckpointName(b) + ")";
        NoteCheck check = CheckNote(e.parsed, options.keys);
        bool signed_ok = check.ok();
        if (!check.bad.empty()) {
          std::string names;
          for (const std::string& k : check.bad) names += (names.empty() ? "" : ", ") + k;
          broken(e.line, b.index,
                 where + ": the signature of " + names +
                     " does not verify: the checkpoint was edited after it was signed");
        } else if (check.verified_by.empty()) {
          std::string names;
          for (const NoteSignature& s : e.parsed.signatures) {
            names += (names.empty() ? "" : ", ") + s.name;
          }
          broken(e.line, b.index,
                 where + ": no signature by a trusted key (signed by " +
                     (names.empty() ? std::string("nobody") : names) +
                     "); pass the signer's public key with --pubkey");
        }
        for (const std::string& k : check.verified_by) keys_used.insert(k);
        if (signed_ok) ++report->signatures_verified;
        int64_t unix_s = 0;
        ParseTimeText(b.time, &unix_s);
        if (before) {
          if (b.index != before->index + 1) {
            broken(e.line, b.index,
                   where + " follows checkpoint #" + std::to_string(before->index) +
                       ": a checkpoint was removed, or the log was reordered");
          } else if (b.prev != before_digest) {
            broken(e.line, b.index,
                   where + " does not link to checkpoint #" + std::to_string(before->index) +
                       " (its prev is not that checkpoint's digest): a checkpoint was edited, "
                       "removed or reordered");
          }
          if (unix_s < before_time) {
            broken(e.line, b.index,
                   where + " is older than checkpoint #" + std::to_string(before->index) + " (" +
                       before->time + "): the log was reordered or a checkpoint backdated");
          }
        } else if (b.index != 1) {
          broken(e.line, b.index,
                 where +
                     " is the first checkpoint of the log but not #1: the log's beginning "
                     "was removed");
        }
        if (!e.tsa_token.empty()) {
          ++report->tsa_tokens;
          Result<TimestampInfo> ts =
              VerifyTimestampToken(e.tsa_token, e.parsed.text, options.tsa_ca);
          if (!ts.ok()) {
            broken(e.line, b.index,
                   where + ": its RFC 3161 timestamp does not verify: " + ts.status().message());
            signed_ok = false;
          } else {
            ++report->tsa_verified;
            if (ts->trusted) ++report->tsa_trusted;
            int64_t skew = ts->gen_time_unix - unix_s;
            if (skew > options.max_tsa_skew_s || skew < -options.max_tsa_skew_s) {
              broken(e.line, b.index,
                     where + ": the timestamp authority dated it " + ts->gen_time + ", not " +
                         b.time +
                         ": the checkpoint was backdated (or the clock is "
                         "off by more than " +
                         std::to_string(options.max_tsa_skew_s) + " s)");
            }
          }
        }
        if (report->first_time.empty()) report->first_time = b.time;
        report->last_time = b.time;
        before_digest = CheckpointDigest(e.parsed.text);
        before_time = unix_s;
        before = b;
        if (signed_ok) good->push_back(std::move(e.body));
      },
      [&](int64_t line, const Status& why) {
        ++report->checkpoints;
        broken(line, 0, "line " + std::to_string(line) + ": " + why.message());
      });
  FASTEN_RETURN_IF_ERROR(st);
  report->keys.assign(keys_used.begin(), keys_used.end());
  if (report->checkpoints == 0) {
    broken(0, 0, "the checkpoint log " + path + " holds no checkpoint");
  }
  return Status::Ok();
}

Status CheckStore(const TenantScope& scope, AuditReader* reader,
                  const std::vector<CheckpointBody>& good, const VerifyReport* chain,
                  AnchorReport* report) {
  struct Want {
    std::string node;
    int64_t seq;
    std::string hash;
    const CheckpointBody* checkpoint;  // the first checkpoint naming it
    const CheckpointBody* last;        // the newest one
  };
  std::map<std::pair<std::string, int64_t>, Want> wants;
  for (const CheckpointBody& b : good) {
    for (const NodeTip& t : b.nodes) {
      auto key = std::make_pair(t.node, t.seq);
      auto it = wants.find(key);
      if (it == wants.end()) {
        wants.emplace(key, Want{t.node, t.seq, t.hash, &b, &b});
      } else if (it->second.hash == t.hash) {
        it->second.last = &b;
      } else if (it->second.hash != t.hash) {
        AnchorFinding f;
        f.kind = kCheckpointLogBroken;
        f.node = t.node;
        f.seq = t.seq;
        f.checkpoint_index = b.index;
        f.reason = CheckpointName(b) + " records seq " + std::to_string(t.seq) + " of " + t.node +
                   " with hash " + Short(t.hash) + "…, " + CheckpointName(*it->second.checkpoint) +
                   " with " + Short(it->second.hash) + "…: the chain was rewritten between them";
        report->findings.push_back(std::move(f));
      }
    }
  }
  // Which (node, seq, hash) exist: batched, indexed lookups.
  std::set<std::pair<std::string, int64_t>> found;
  std::vector<std::pair<int64_t, std::string>> batch;
  std::vector<const Want*> batch_wants;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    std::vector<AuditRow> rows;
    FASTEN_RETURN_IF_ERROR(reader->FindBySeqHashBatch(scope, batch, &rows));
    for (const AuditRow& r : rows) found.emplace(r.source_node_id, r.monotonic_seq);
    batch.clear();
    return Status::Ok();
  };
  for (const auto& [key, w] : wants) {
    batch.emplace_back(w.seq, w.hash);
    if (batch.size() == AuditReader::kMaxBatchPairs) FASTEN_RETURN_IF_ERROR(flush());
  }
  FASTEN_RETURN_IF_ERROR(flush());

  std::map<std::string, NodeAnchor> nodes;
  std::map<std::string, std::optional<Predecessor>> tips;  // current tips, looked up on demand
  std::set<std::pair<std::string, std::string>> reported;  // (node, kind): first one only
  std::map<std::pair<std::string, std::string>, int64_t> more;
  auto finding = [&](const Want& w, const std::string& kind, const std::string& reason) {
    if (!reported.insert({w.node, kind}).second) {
      ++more[{w.node, kind}];
      return;
    }
    AnchorFinding f;
    f.kind = kind;
    f.node = w.node;
    f.seq = w.seq;
    f.checkpoint_index = w.checkpoint->index;
    f.reason = reason;
    report->findings.push_back(std::move(f));
    NodeAnchor& n = nodes[w.node];
    if (n.status.empty() || n.status == "anchored") n.status = kind;
  };
  for (const auto& [key, w] : wants) {
    NodeAnchor& n = nodes[w.node];
    n.node = w.node;
    if (found.count(key)) {
      if (w.seq >= n.anchored_seq) {
        n.anchored_seq = w.seq;
        n.anchored_hash = w.hash;
        n.checkpoint_index = w.last->index;
        n.checkpoint_time = w.last->time;
      }
      if (n.status.empty()) n.status = "anchored";
      continue;
    }
    auto tip_it = tips.find(w.node);
    if (tip_it == tips.end()) {
      std::optional<Predecessor> tip;
      FASTEN_RETURN_IF_ERROR(reader->Tip(scope, w.node, &tip));
      tip_it = tips.emplace(w.node, tip).first;
    }
    std::optional<AuditRow> below, above;
    FASTEN_RETURN_IF_ERROR(reader->FindNeighbours(scope, w.node, w.seq + 1, &below, &above));
    const std::string who = CheckpointName(*w.checkpoint);
    if (!tip_it->second && !below && !above) {
      finding(w, kNodeMissing,
              "node " + w.node + " has no row in the store, but " + who + " anchored it at seq " +
                  std::to_string(w.seq));
    } else if (below && below->monotonic_seq == w.seq) {
      finding(w, kCheckpointMismatch,
              "seq " + std::to_string(w.seq) + " of " + w.node + " has hash " + Short(below->hash) +
                  "…, " + who + " recorded " + Short(w.hash) +
                  "…: that row or one before it was changed and the chain re-sealed");
    } else if (!above) {
      int64_t last = below ? below->monotonic_seq : 0;
      finding(w, kTruncatedAfterCheckpoint,
              w.node + " now ends at seq " + std::to_string(last) + ", but " + who +
                  " anchored seq " + std::to_string(w.seq) + ": " + std::to_string(w.seq - last) +
                  " checkpointed row(s) are gone");
    } else {
      finding(w, kCheckpointMismatch,
              "seq " + std::to_string(w.seq) + " of " + w.node + ", anchored by " + who +
                  ", is gone while later rows remain: rows were deleted and the chain re-sealed");
    }
  }
  for (auto& f : report->findings) {
    auto it = more.find({f.node, f.kind});
    if (it != more.end() && f.seq) {
      f.reason += " (and " + std::to_string(it->second) + " more checkpoint(s) of this node)";
      more.erase(it);
    }
  }
  if (chain) {
    for (const NodeReport& r : chain->nodes) {
      auto it = nodes.find(r.source_node_id);
      if (it == nodes.end()) {
        NodeAnchor n;
        n.node = r.source_node_id;
        n.status = "not_yet_anchored";
        n.not_yet_anchored = r.tip_seq.value_or(0);
        nodes.emplace(n.node, n);
      } else if (r.tip_seq && *r.tip_seq > it->second.anchored_seq) {
        it->second.not_yet_anchored = *r.tip_seq - it->second.anchored_seq;
      }
    }
  }
  report->nodes.clear();
  for (auto& [name, n] : nodes) report->nodes.push_back(std::move(n));
  return Status::Ok();
}

Status VerifyAnchors(AuditReader* reader, const AnchorConfig& config, const VerifyReport* chain,
                     AnchorReport* report) {
  std::vector<CheckpointBody> good;
  FASTEN_RETURN_IF_ERROR(CheckLog(config.log, config.check, report, &good));
  if (!config.scope) return FailedPreconditionError("the checkpoint log has no store scope");
  return CheckStore(*config.scope, reader, good, chain, report);
}

void RestrictToNodes(AnchorReport* report, const std::set<std::string>& nodes) {
  std::vector<NodeAnchor> kept;
  for (NodeAnchor& n : report->nodes) {
    if (nodes.count(n.node)) kept.push_back(std::move(n));
  }
  report->nodes = std::move(kept);
  std::vector<AnchorFinding> findings;
  for (AnchorFinding& f : report->findings) {
    if (f.node.empty() || nodes.count(f.node)) findings.push_back(std::move(f));
  }
  report->findings = std::move(findings);
}

nlohmann::json AnchorReportJson(const AnchorReport& report, bool tenant_view) {
  json j;
  j["ok"] = report.ok();
  j["log"] = report.log;
  j["checkpoints"] = report.checkpoints;
  j["signatures_verified"] = report.signatures_verified;
  j["keys"] = report.keys;
  j["tsa"] = {{"tokens", report.tsa_tokens},
              {"verified", report.tsa_verified},
              {"trusted", report.tsa_trusted}};
  j["first_time"] = report.first_time;
  j["last_time"] = report.last_time;
  json nodes = json::array();
  for (const NodeAnchor& n : report.nodes) {
    json o = {{"node", n.node},
              {"status", n.status},
              {"checkpoint_index", n.checkpoint_index},
              {"checkpoint_time", n.checkpoint_time}};
    if (!tenant_view) {
      o["anchored_seq"] = n.anchored_seq;
      o["anchored_hash"] = n.anchored_hash;
      o["not_yet_anchored"] = n.not_yet_anchored;
    }
    nodes.push_back(std::move(o));
  }
  j["nodes"] = std::move(nodes);
  json findings = json::array();
  for (const AnchorFinding& f : report.findings) {
    json o = {{"kind", f.kind}, {"checkpoint_index", f.checkpoint_index}};
    if (!f.node.empty()) o["node"] = f.node;
    if (f.line > 0) o["line"] = f.line;
    if (tenant_view) {
      // A log finding about the log itself names lines and checkpoints only; one about a node
      // (two checkpoints disagreeing on a row) would name the row: say which node only.
      o["reason"] = f.kind == kCheckpointLogBroken && f.node.empty()
                        ? f.reason
                        : "node " + f.node + " does not match checkpoint #" +
                              std::to_string(f.checkpoint_index) + " (" + f.kind + ")";
    } else {
      if (f.seq) o["seq"] = *f.seq;
      o["reason"] = f.reason;
    }
    findings.push_back(std::move(o));
  }
  j["findings"] = std::move(findings);
  return j;
}

std::string AnchorReportText(const AnchorReport& report) {
  std::ostringstream o;
  o << "checkpoints: " << report.checkpoints << " in " << report.log;
  if (!report.first_time.empty())
    o << " (" << report.first_time << " … " << report.last_time << ")";
  o << ", " << report.signatures_verified << " signed by a trusted key";
  if (!report.keys.empty()) {
    o << " (";
    for (size_t i = 0; i < report.keys.size(); ++i) o << (i ? ", " : "") << report.keys[i];
    o << ")";
  }
  if (report.tsa_tokens > 0) {
    o << "; RFC 3161 timestamps: " << report.tsa_verified << "/" << report.tsa_tokens << " verify, "
      << report.tsa_trusted << " from a trusted TSA";
  }
  for (const NodeAnchor& n : report.nodes) {
    o << "\n  " << n.node << ": ";
    if (n.status == "anchored") {
      o << "anchored through seq " << n.anchored_seq << " by checkpoint #" << n.checkpoint_index
        << " (" << n.checkpoint_time << ")";
    } else if (n.status == "not_yet_anchored") {
      o << (n.not_yet_anchored > 0 ? "not yet anchored (no checkpoint names this node)"
                                   : "nothing to anchor (no sealed row)");
    } else {
      o << n.status;
    }
    if (n.not_yet_anchored > 0 && n.status != "not_yet_anchored") {
      o << "; " << n.not_yet_anchored << " newer seq(s) not yet anchored";
    }
  }
  for (const AnchorFinding& f : report.findings) o << "\n  " << f.kind << ": " << f.reason;
  if (report.ok()) {
    o << "\nanchors: OK";
  } else {
    o << "\nanchors: FAILED (" << report.findings.size() << " finding"
      << (report.findings.size() == 1 ? "" : "s") << ")";
  }
  return o.str();
}

}  // namespace fasten::anchor
