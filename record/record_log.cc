#include "record/record_log.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "util/crypto.h"
#include "util/json_parse.h"
#include "util/sqlite.h"
#include "util/state_db.h"
#include "validator/canonical.h"

namespace fasten::record {
namespace {

using nlohmann::json;

constexpr char kWhat[] = "investigation record log";
constexpr int kEnvelopeVersion = 1;
// Reading a stored envelope back: generous, but bounded (the table may have been edited).
constexpr JsonLimits kRecordLimits{64u << 20, 4 * kMaxJsonDepth};

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS investigation_records (
  seq        INTEGER PRIMARY KEY,
  id         TEXT    NOT NULL UNIQUE,
  kind       TEXT    NOT NULL,
  tenant     TEXT    NOT NULL,
  created_at TEXT    NOT NULL,
  record     TEXT    NOT NULL,
  prev_hash  TEXT    NOT NULL,
  hash       TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS investigation_records_tenant_kind
  ON investigation_records (tenant, kind, seq);
)sql";

constexpr char kColumns[] = "seq, id, kind, tenant, created_at, record, prev_hash, hash";

}  // namespace

std::string RecordTimeNow() {
  const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(us % 1000000));
  return buf;
}

namespace {

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A row of kColumns, its envelope parsed when it is JSON (*envelope null otherwise).
StoredRecord ReadRow(const SqliteStatement& s, json* envelope) {
  StoredRecord r;
  r.seq = s.ColumnInt64(0);
  r.id = s.ColumnText(1);
  r.kind = s.ColumnText(2);
  r.tenant = s.ColumnText(3);
  r.created_at = s.ColumnText(4);
  r.record = s.ColumnText(5);
  r.prev_hash = s.ColumnText(6);
  r.hash = s.ColumnText(7);
  json parsed;
  if (ParseJson(r.record, kRecordLimits, &parsed).ok() && parsed.is_object()) {
    auto c = parsed.find("content");
    if (c != parsed.end()) r.content = *c;
    if (envelope) *envelope = std::move(parsed);
  } else if (envelope) {
    *envelope = nullptr;
  }
  return r;
}

bool EnvelopeBytesWith(Canonicalizer& canon, int64_t seq, const std::string& id,
                       const std::string& kind, const std::string& tenant,
                       const std::string& created_at, const std::string& content_json,
                       std::string* out, std::string* error) {
  // The envelope as JSON text (any member order), then its canonical rendering.
  std::string text =
      "{\"v\":" + std::to_string(kEnvelopeVersion) + ",\"seq\":" + std::to_string(seq) + ",\"id\":";
  AppendCanonicalString(id, EscapeStyle::kPython, &text);
  text += ",\"kind\":";
  AppendCanonicalString(kind, EscapeStyle::kPython, &text);
  text += ",\"tenant\":";
  AppendCanonicalString(tenant, EscapeStyle::kPython, &text);
  text += ",\"created_at\":";
  AppendCanonicalString(created_at, EscapeStyle::kPython, &text);
  text += ",\"content\":";
  text += content_json;
  text += "}";
  out->clear();
  return canon.AppendJson(text, EscapeStyle::kPython, out, error);
}

// Why an envelope's members disagree with its row's columns; empty when they agree. The seq is
// judged separately (record_out_of_order).
std::string EnvelopeMismatch(const json& env, const StoredRecord& r) {
  auto str = [&](const char* key, const std::string& column) -> std::string {
    auto it = env.find(key);
    if (it == env.end() || !it->is_string()) return std::string("the envelope has no ") + key;
    if (it->get<std::string>() != column) {
      return std::string("the ") + key + " column (" + column + ") differs from the envelope's (" +
             it->get<std::string>() + ")";
    }
    return "";
  };
  auto v = env.find("v");
  if (v == env.end() || !v->is_number_integer() || v->get<int64_t>() != kEnvelopeVersion) {
    return "the envelope version is not " + std::to_string(kEnvelopeVersion);
  }
  if (!env.contains("content") || !env["content"].is_object()) {
    return "the envelope has no content object";
  }
  for (const auto& [key, column] : {std::pair<const char*, const std::string*>{"id", &r.id},
                                    {"kind", &r.kind},
                                    {"tenant", &r.tenant},
                                    {"created_at", &r.created_at}}) {
    std::string why = str(key, *column);
    if (!why.empty()) return why;
  }
  return "";
}

// What a failed read of the log at `path` is reported as.
std::string ReadContext(const std::string& path) {
  return "cannot read " + std::string(kWhat) + " " + path;
}

Result<bool> TableExists(sqlite3* db, const std::string& path) {
  Result<SqliteStatement> stmt = SqliteStatement::Prepare(
      db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'investigation_records'");
  if (!stmt.ok()) return stmt.status().WithContext(ReadContext(path));
  const int rc = stmt->Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return UnavailableError(ReadContext(path) + ": " + SqliteMessage(db));
  }
  return rc == SQLITE_ROW;
}

}  // namespace

bool EnvelopeBytes(int64_t seq, const std::string& id, const std::string& kind,
                   const std::string& tenant, const std::string& created_at,
                   const std::string& content_json, std::string* out, std::string* error) {
  Canonicalizer canon;
  return EnvelopeBytesWith(canon, seq, id, kind, tenant, created_at, content_json, out, error);
}

json RecordJson(const StoredRecord& r) {
  return {{"seq", r.seq},
          {"id", r.id},
          {"kind", r.kind},
          {"tenant", r.tenant},
          {"created_at", r.created_at},
          {"content", r.content},
          {"prev_hash", r.prev_hash},
          {"hash", r.hash}};
}

Status ParseKindFilter(const std::string& text, std::string* kind) {
  if (text == "all") {
    kind->clear();
  } else if (text == kKindInvestigation || text == kKindAccess || text == kKindDropped) {
    *kind = text;
  } else {
    return InvalidArgumentError("kind is investigation, access, records_dropped or all; got \"" +
                                text + "\"");
  }
  return Status::Ok();
}

json RecordSummaryJson(const StoredRecord& r) {
  json out = {{"seq", r.seq},
              {"id", r.id},
              {"kind", r.kind},
              {"tenant", r.tenant},
              {"created_at", r.created_at},
              {"hash", r.hash}};
  if (!r.content.is_object()) {
    out["content_unreadable"] = true;
    return out;
  }
  static constexpr const char* kInvestigation[] = {"credential", "question", "provider",
                                                   "model",      "outcome",  "cost_usd"};
  static constexpr const char* kAccess[] = {"credential", "tool", "status", "error_code", "rows"};
  static constexpr const char* kDropped[] = {"dropped", "first_dropped_at", "last_dropped_at"};
  auto copy = [&](const auto& keys) {
    for (const char* k : keys) {
      if (auto it = r.content.find(k); it != r.content.end()) out[k] = *it;
    }
  };
  if (r.kind == kKindInvestigation) copy(kInvestigation);
  if (r.kind == kKindAccess) copy(kAccess);
  if (r.kind == kKindDropped) copy(kDropped);
  return out;
}

std::string NewRecordId(const std::string& kind) {
  unsigned char bytes[8];
  if (!RandomBytes(bytes, sizeof bytes)) {
    // Ids need to be unique, not secret: the clock and a counter will do.
    static std::atomic<uint64_t> counter{0};
    uint64_t v =
        static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (counter.fetch_add(1) << 48);
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(v >> (8 * i));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = kind == kKindInvestigation ? "inv-" : kind == kKindAccess ? "acc-" : "drp-";
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

bool IsRecordIdSyntax(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

RecordLog::RecordLog(std::string path, SqliteHandle db, bool read_only, bool has_table)
    : path_(std::move(path)), read_only_(read_only), db_(std::move(db)), has_table_(has_table) {}

RecordLog::~RecordLog() = default;

Result<std::unique_ptr<RecordLog>> RecordLog::Open(const std::string& path) {
  if (path.empty()) return InvalidArgumentError("no path for the " + std::string(kWhat));
  Status st = MakeStateDirs(StateParentDir(path));
  if (!st.ok()) return st.WithContext(std::string(kWhat) + " " + path);
  Result<SqliteHandle> db = OpenStateDb(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kWhat);
  if (!db.ok()) return db.status();
  sqlite3* h = db->get();
  // WAL: `investigations list` reads while serve appends. FULL: an appended record survives a
  // crash.
  FASTEN_RETURN_IF_ERROR(ExecStateSql(h, "PRAGMA journal_mode=WAL", kWhat, path));
  FASTEN_RETURN_IF_ERROR(ExecStateSql(h, "PRAGMA synchronous=FULL", kWhat, path));
  FASTEN_RETURN_IF_ERROR(ExecStateSql(h, kSchema, kWhat, path));
  return std::unique_ptr<RecordLog>(new RecordLog(path, std::move(db).value(), false, true));
}

Result<std::unique_ptr<RecordLog>> RecordLog::OpenReadOnly(const std::string& path) {
  if (path.empty()) return InvalidArgumentError("no path for the " + std::string(kWhat));
  if (!StatePathExists(path)) return NotFoundError("no state database at " + path);
  Result<SqliteHandle> db = OpenStateDb(path, SQLITE_OPEN_READONLY, kWhat);
  if (!db.ok()) return db.status();
  // Fails here, not at the first query, when the file is not a database.
  Result<bool> exists = TableExists(db->get(), path);
  if (!exists.ok()) return exists.status();
  return std::unique_ptr<RecordLog>(new RecordLog(path, std::move(db).value(), true, *exists));
}

bool RecordLog::HasTable() {
  if (has_table_) return true;
  Result<bool> exists = TableExists(db_.get(), path_);
  has_table_ = exists.ok() && *exists;
  return has_table_;
}

Result<std::string> RecordLog::Append(const NewRecord& record) {
  Result<std::vector<std::string>> ids = Append(std::vector<NewRecord>{record});
  if (!ids.ok()) return ids.status();
  return ids->front();
}

Result<std::vector<std::string>> RecordLog::Append(const std::vector<NewRecord>& records) {
  if (read_only_) return FailedPreconditionError(std::string(kWhat) + " opened read-only");
  std::vector<std::string> ids;
  if (records.empty()) return ids;
  Canonicalizer canon;
  Sha256 sha;
  std::lock_guard<std::mutex> lock(mu_);
  sqlite3* h = db_.get();
  auto fail = [&](const std::string& why) -> Status {
    (void)ExecStateSql(h, "ROLLBACK", kWhat, path_);
    return UnavailableError("cannot append to " + std::string(kWhat) + " " + path_ + ": " + why);
  };
  // IMMEDIATE: the tip read below cannot change under us, whoever else appends.
  FASTEN_RETURN_IF_ERROR(ExecStateSql(h, "BEGIN IMMEDIATE", kWhat, path_));
  int64_t seq = 0;
  std::string prev = kGenesis;
  {
    Result<SqliteStatement> tip = SqliteStatement::Prepare(
        h, "SELECT seq, hash FROM investigation_records ORDER BY seq DESC LIMIT 1");
    if (!tip.ok()) return fail(tip.status().message());
    int rc = tip->Step();
    if (rc == SQLITE_ROW) {
      seq = tip->ColumnInt64(0);
      prev = tip->ColumnText(1);
    } else if (rc != SQLITE_DONE) {
      return fail(SqliteMessage(h));
    }
  }
  Result<SqliteStatement> insert = SqliteStatement::Prepare(
      h,
      "INSERT INTO investigation_records (seq, id, kind, tenant, created_at, record, prev_hash, "
      "hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert.ok()) return fail(insert.status().message());
  std::string bytes, error;
  for (const NewRecord& r : records) {
    ++seq;
    const std::string id = NewRecordId(r.kind);
    const std::string created_at = RecordTimeNow();
    std::string content_json;
    if (r.digest_only) {
      json content = r.content;
      std::string canonical;
      if (!canon.AppendJson(Dump(*r.digest_only), EscapeStyle::kPython, &canonical, &error)) {
        return fail("digest input: " + error);
      }
      content[r.digest_field] = sha.Hex(canonical);
      content_json = Dump(content);
    } else {
      content_json = Dump(r.content);
    }
    if (!EnvelopeBytesWith(canon, seq, id, r.kind, r.tenant, created_at, content_json, &bytes,
                           &error)) {
      return fail("record content: " + error);
    }
    const std::string hash = sha.Hex(prev, bytes);
    insert->Reset();
    insert->BindInt64(1, seq);
    insert->BindText(2, id);
    insert->BindText(3, r.kind);
    insert->BindText(4, r.tenant);
    insert->BindText(5, created_at);
    insert->BindText(6, bytes);
    insert->BindText(7, prev);
    insert->BindText(8, hash);
    if (insert->Step() != SQLITE_DONE) return fail(SqliteMessage(h));
    ids.push_back(id);
    prev = hash;
  }
  insert->Finalize();
  Status commit = ExecStateSql(h, "COMMIT", kWhat, path_);
  if (!commit.ok()) {
    (void)ExecStateSql(h, "ROLLBACK", kWhat, path_);
    return commit;
  }
  return ids;
}

Result<std::vector<StoredRecord>> RecordLog::List(const ListOptions& options) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StoredRecord> out;
  if (!HasTable()) return out;
  std::string sql = std::string("SELECT ") + kColumns + " FROM investigation_records WHERE 1";
  if (options.tenant) sql += " AND tenant = ?1";
  if (!options.kind.empty()) sql += " AND kind = ?2";
  if (options.before_seq) sql += " AND seq < ?3";
  sql += " ORDER BY seq DESC LIMIT ?4";
  Result<SqliteStatement> stmt = SqliteStatement::Prepare(db_.get(), sql);
  if (!stmt.ok()) return stmt.status().WithContext(ReadContext(path_));
  if (options.tenant) stmt->BindText(1, *options.tenant);
  if (!options.kind.empty()) stmt->BindText(2, options.kind);
  if (options.before_seq) stmt->BindInt64(3, *options.before_seq);
  stmt->BindInt64(4, std::clamp<int64_t>(options.limit, 1, kMaxListLimit));
  int rc;
  while ((rc = stmt->Step()) == SQLITE_ROW) out.push_back(ReadRow(*stmt, nullptr));
  if (rc != SQLITE_DONE) {
    return UnavailableError(ReadContext(path_) + ": " + SqliteMessage(db_.get()));
  }
  return out;
}

Result<StoredRecord> RecordLog::Get(const std::string& id,
                                    const std::optional<std::string>& tenant) {
  // One message for "no such id" and "another tenant's id": nothing leaks.
  const Status not_found = NotFoundError("no record " + id);
  if (!IsRecordIdSyntax(id)) return not_found;
  std::lock_guard<std::mutex> lock(mu_);
  if (!HasTable()) return not_found;
  Result<SqliteStatement> stmt = SqliteStatement::Prepare(
      db_.get(), std::string("SELECT ") + kColumns + " FROM investigation_records WHERE id = ?");
  if (!stmt.ok()) return stmt.status().WithContext(ReadContext(path_));
  stmt->BindText(1, id);
  const int rc = stmt->Step();
  if (rc == SQLITE_DONE) return not_found;
  if (rc != SQLITE_ROW) {
    return UnavailableError(ReadContext(path_) + ": " + SqliteMessage(db_.get()));
  }
  StoredRecord r = ReadRow(*stmt, nullptr);
  if (tenant && r.tenant != *tenant) return not_found;
  return r;
}

Result<VerifyReport> RecordLog::Verify() {
  std::lock_guard<std::mutex> lock(mu_);
  VerifyReport report;
  if (!HasTable()) {
    report.table_exists = false;
    return report;
  }
  Result<SqliteStatement> stmt = SqliteStatement::Prepare(
      db_.get(), std::string("SELECT ") + kColumns + " FROM investigation_records ORDER BY seq");
  if (!stmt.ok()) return stmt.status().WithContext(ReadContext(path_));
  Canonicalizer canon;
  Sha256 sha;
  std::string bytes, error;
  int64_t last_seq = 0;
  std::string last_hash = kGenesis;
  bool last_reported = false;
  // The finding for row `r` (its envelope parsed into `env`), or nullopt when it is sound.
  auto judge = [&](const StoredRecord& r,
                   const json& env) -> std::optional<std::pair<const char*, std::string>> {
    if (r.seq != last_seq + 1) {
      return std::pair{kReasonMissing, r.seq == last_seq + 2
                                           ? "seq " + std::to_string(last_seq + 1) + " is missing"
                                           : "seqs " + std::to_string(last_seq + 1) + " to " +
                                                 std::to_string(r.seq - 1) + " are missing"};
    }
    if (!env.is_object()) {
      return std::pair{kReasonAltered, std::string("the stored record is not a JSON object")};
    }
    auto seq = env.find("seq");
    if (seq == env.end() || !seq->is_number_integer()) {
      return std::pair{kReasonAltered, std::string("the envelope has no seq")};
    }
    if (seq->get<int64_t>() != r.seq) {
      return std::pair{kReasonOutOfOrder, "the record was written as seq " +
                                              std::to_string(seq->get<int64_t>()) +
                                              " and sits at seq " + std::to_string(r.seq)};
    }
    if (std::string why = EnvelopeMismatch(env, r); !why.empty()) {
      return std::pair{kReasonAltered, why};
    }
    bytes.clear();
    if (!canon.AppendJson(r.record, EscapeStyle::kPython, &bytes, &error)) {
      return std::pair{kReasonAltered, "the stored record is not JSON: " + error};
    }
    if (std::string hash = sha.Hex(r.prev_hash, bytes); hash != r.hash) {
      return std::pair{kReasonAltered,
                       "the hash does not recompute: SHA-256(prev_hash || "
                       "record) is " +
                           hash + ", the row says " + r.hash};
    }
    if (r.prev_hash != last_hash && !last_reported) {
      return std::pair{
          kReasonLinkBroken,
          "prev_hash " + r.prev_hash + " is not the hash of " +
              (last_seq == 0 ? std::string("the log's start (genesis)")
                             : "seq " + std::to_string(last_seq) + " (" + last_hash + ")") +
              ": that record was rewritten with a recomputed hash, or replaced"};
    }
    return std::nullopt;
  };
  int rc;
  while ((rc = stmt->Step()) == SQLITE_ROW) {
    json env;
    StoredRecord r = ReadRow(*stmt, &env);
    ++report.records;
    auto finding = judge(r, env);
    if (finding) {
      report.ok = false;
      ++report.findings_total;
      if (report.findings.size() < VerifyReport::kMaxFindings) {
        report.findings.push_back({r.seq, r.id, finding->first, std::move(finding->second)});
      }
    }
    last_reported = finding.has_value();
    last_seq = r.seq;
    last_hash = r.hash;
  }
  if (rc != SQLITE_DONE) {
    return UnavailableError(ReadContext(path_) + ": " + SqliteMessage(db_.get()));
  }
  report.tip_seq = last_seq;
  report.tip_hash = report.records > 0 ? last_hash : "";
  return report;
}

}  // namespace fasten::record
