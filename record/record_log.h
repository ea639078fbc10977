// The investigation record log: an append-only, hash-chained log in fasten-mcp's own state
// database (util/state_db.h), never in a fasten store. Every investigation appends one record
// (who asked what, which tools ran with which arguments, which rows the model was shown, every
// submitted answer and rejection, the verdict, tokens and cost); every MCP tools/call over HTTP
// appends a lighter access record. docs/investigations.md describes the contents.
//
// Table (created on the first Open, in the same file as the spend ledger):
//   investigation_records(
//     seq        INTEGER PRIMARY KEY,  -- 1, 2, 3, ... in append order, no gaps
//     id         TEXT UNIQUE,          -- "inv-" / "acc-" / "drp-" + 16 random hex digits
//     kind       TEXT,                 -- "investigation" | "access" | "records_dropped"
//     tenant     TEXT,                 -- the tenant the record belongs to; "*": the whole server
//     created_at TEXT,                 -- UTC, "YYYY-MM-DDTHH:MM:SS.ffffffZ"
//     record     TEXT,                 -- the canonical envelope below
//     prev_hash  TEXT,                 -- the previous record's hash; "genesis" for seq 1
//     hash       TEXT)                 -- 64 lowercase hex digits
//
// The envelope is the object
//   {"v":1,"seq":N,"id":ID,"kind":K,"tenant":T,"created_at":C,"content":{...}}
// rendered by validator/canonical.h (Canonicalizer::AppendJson: sorted keys, no whitespace,
// ASCII with \u escapes: the bytes rules C1-C9 of the audit chain), and
//   hash = lowercase hex SHA-256( ascii(prev_hash) || envelope bytes )
// through util/crypto.h, the one hashing path of the audit chain. The columns seq, id,
// kind, tenant and created_at repeat envelope members so that queries can use them; Verify
// checks that they agree.
//
// Verify walks the table in seq order in constant memory and reports, per record, the first
// that applies of:
//   record_missing      the seq is not the previous seq + 1 (or the first seq is not 1): the
//                       records in between were deleted;
//   record_out_of_order the envelope names another seq than the row it sits in: records were
//                       moved or swapped;
//   record_altered      the envelope is not JSON, its members disagree with the columns, or its
//                       hash does not recompute: the record was edited;
//   link_broken         prev_hash is not the previous record's hash ("genesis" for seq 1) while
//                       neither record was reported: a record was rewritten with a recomputed
//                       hash, or replaced.
// A link break right after a reported record is a consequence of that record's finding and is
// not reported again. Deleting the newest records leaves a log that verifies: record the tip
// (seq, hash) out of band (kTailTruncationNote).
//
// Thread-safe: one connection, serialised by a mutex. Several processes may append to one file:
// each append reads the tip inside its write transaction (BEGIN IMMEDIATE).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "store/tenant_scope.h"
#include "util/handles.h"
#include "util/status.h"

namespace fasten::record {

inline constexpr char kKindInvestigation[] = "investigation";
inline constexpr char kKindAccess[] = "access";
inline constexpr char kKindDropped[] = "records_dropped";
// The tenant of a record that belongs to the whole server (records_dropped markers, calls on a
// server that serves every tenant).
inline constexpr const char* kAllTenants = kRecordAllTenants;  // store/tenant_scope.h
inline constexpr char kGenesis[] = "genesis";

inline constexpr char kReasonMissing[] = "record_missing";
inline constexpr char kReasonOutOfOrder[] = "record_out_of_order";
inline constexpr char kReasonAltered[] = "record_altered";
inline constexpr char kReasonLinkBroken[] = "link_broken";

inline constexpr char kTailTruncationNote[] =
    "Tail truncation is not detectable without an external anchor: deleting the newest records "
    "leaves a log that verifies. Record the tip (seq, hash) out of band.";

// A record to append.
struct NewRecord {
  std::string kind;    // kKind*
  std::string tenant;  // kAllTenants for the whole server
  nlohmann::json content = nlohmann::json::object();
  // When set, the log stores SHA-256(canonical(*digest_only)) as content[digest_field] (64 hex)
  // instead of the value itself, computed at append time (off the caller's path when the append
  // runs on a background writer). Access records keep their arguments this way.
  std::optional<nlohmann::json> digest_only;
  std::string digest_field;
};

// A record as stored (the envelope parsed when it is JSON).
struct StoredRecord {
  int64_t seq = 0;
  std::string id, kind, tenant, created_at;
  std::string record;  // the envelope text as stored
  std::string prev_hash, hash;
  // The envelope's "content", or null when the envelope is not JSON (Verify reports it).
  nlohmann::json content;
};

// The most records one List returns.
inline constexpr int64_t kMaxListLimit = 1000;

// A kind filter as a person writes it ("investigation", "access", "records_dropped" or "all")
// into ListOptions::kind ("" for all). InvalidArgument naming the choices otherwise.
Status ParseKindFilter(const std::string& text, std::string* kind);

struct ListOptions {
  std::optional<std::string> tenant;      // nullopt: every tenant
  std::string kind = kKindInvestigation;  // empty: every kind
  int64_t limit = 50;                     // 1..kMaxListLimit
  std::optional<int64_t> before_seq;      // only records with seq < before_seq (paging)
};

struct RecordFinding {
  int64_t seq = 0;
  std::string id;      // as the row stores it (may be edited too)
  std::string reason;  // kReason*
  std::string detail;  // for a person
};

struct VerifyReport {
  bool ok = true;
  int64_t records = 0;  // rows read
  int64_t findings_total = 0;
  std::vector<RecordFinding> findings;  // the first kMaxFindings
  int64_t tip_seq = 0;                  // of the last row read
  std::string tip_hash;
  bool table_exists = true;
  static constexpr size_t kMaxFindings = 1000;
};

class RecordLog {
 public:
  // Opens (creating the file, its directory and the table when needed) the log at `path`.
  static Result<std::unique_ptr<RecordLog>> Open(const std::string& path);
  // Opens an existing state database read-only: NotFound when there is no file. A database
  // without the table reads as an empty log (VerifyReport::table_exists false). Append fails.
  static Result<std::unique_ptr<RecordLog>> OpenReadOnly(const std::string& path);
  ~RecordLog();
  RecordLog(const RecordLog&) = delete;
  RecordLog& operator=(const RecordLog&) = delete;

  // Appends `records` in order in one transaction; returns their ids. Nothing is appended on
  // error.
  Result<std::vector<std::string>> Append(const std::vector<NewRecord>& records);
  Result<std::string> Append(const NewRecord& record);

  // Records newest first.
  Result<std::vector<StoredRecord>> List(const ListOptions& options);
  // The record `id` of `tenant` (nullopt: any tenant). A record of another tenant is NotFound
  // with exactly the message of an id that does not exist.
  Result<StoredRecord> Get(const std::string& id, const std::optional<std::string>& tenant);
  // Walks the whole log (see the file comment).
  Result<VerifyReport> Verify();

  const std::string& path() const { return path_; }

 private:
  RecordLog(std::string path, SqliteHandle db, bool read_only, bool has_table);
  bool HasTable();  // REQUIRES: mu_ held

  const std::string path_;
  const bool read_only_;
  std::mutex mu_;
  SqliteHandle db_;  // guarded by mu_
  bool has_table_;   // guarded by mu_
};

// The envelope of a record as it is hashed: canonical JSON of {"v":1, "seq", "id", "kind",
// "tenant", "created_at", "content"}. `content_json` is JSON text. False with *error when it is
// not JSON.
bool EnvelopeBytes(int64_t seq, const std::string& id, const std::string& kind,
                   const std::string& tenant, const std::string& created_at,
                   const std::string& content_json, std::string* out, std::string* error);

// A record's JSON for `show`, `list --json` and the HTTP API: seq, id, kind, tenant, created_at,
// content, prev_hash, hash.
nlohmann::json RecordJson(const StoredRecord& record);

// A record's line in a list: seq, id, kind, tenant, created_at, hash and, from its content,
// credential and (investigations) question, provider, model, outcome, cost_usd, or (access)
// tool, status, rows, or (records_dropped) dropped.
nlohmann::json RecordSummaryJson(const StoredRecord& record);

// A fresh record id: the kind's prefix ("inv-", "acc-", "drp-") and 16 random hex digits.
std::string NewRecordId(const std::string& kind);

// The current UTC time as a record's created_at: "YYYY-MM-DDTHH:MM:SS.ffffffZ".
std::string RecordTimeNow();

// True for text that can be a record id (1..64 of [a-z0-9-]); anything else is never looked up.
bool IsRecordIdSyntax(const std::string& id);

}  // namespace fasten::record
