#include "demo/demo_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "store/row.h"
#include "store/timestamp.h"
#include "util/crypto.h"
#include "util/sqlite.h"
#include "validator/canonical.h"

namespace fasten {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness (splitmix64): the same seed gives the same store on every platform.

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) / 9007199254740992.0 < p; }
  std::string Hex(int chars) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    while (static_cast<int>(s.size()) < chars) {
      uint64_t v = Next();
      for (int i = 0; i < 16 && static_cast<int>(s.size()) < chars; ++i, v >>= 4) s += kHex[v & 15];
    }
    return s;
  }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }

 private:
  uint64_t s_;
};

// ---------------------------------------------------------------------------------------------
// Writers and their spellings.

enum class Writer { kPythonNew, kPythonOld, kGo, kRust };

struct NodeDef {
  const char* id;
  Writer writer;
};
constexpr NodeDef kNodes[] = {{"edge-eu-1", Writer::kPythonNew},
                              {"edge-us-1", Writer::kPythonOld},
                              {"core-1", Writer::kGo},
                              {"mqtt-bridge-1", Writer::kRust}};

Writer WriterOf(const std::string& node) {
  for (const NodeDef& n : kNodes) {
    if (node == n.id) return n.writer;
  }
  return Writer::kPythonNew;
}

// Go's json.Marshal string escaping: <, >, & as \u003c-style escapes, raw UTF-8 otherwise.
void AppendGoString(const std::string& s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '<':
      case '>':
      case '&':
        *out += "\\u00";
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
        break;
      default:
        if (c < 0x20) {
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// A detail object with values kept as exact tokens, rendered the way each SDK stores it.
class Detail {
 public:
  Detail& Str(std::string k, std::string v) {
    kv_.push_back({std::move(k), std::move(v), true});
    return *this;
  }
  Detail& Tok(std::string k, std::string token) {
    kv_.push_back({std::move(k), std::move(token), false});
    return *this;
  }
  Detail& Int(std::string k, int64_t v) { return Tok(std::move(k), std::to_string(v)); }

  std::string Render(Writer w) const {
    std::vector<Item> items = kv_;
    // Go and Rust (serde_json's default map) write keys sorted; Python keeps insertion order.
    if (w == Writer::kGo || w == Writer::kRust) {
      std::stable_sort(items.begin(), items.end(),
                       [](const Item& a, const Item& b) { return a.key < b.key; });
    }
    const bool python = w == Writer::kPythonNew || w == Writer::kPythonOld;
    std::string out = "{";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += python ? ", " : ",";
      if (python)
        AppendCanonicalString(items[i].key, EscapeStyle::kPython, &out);
      else
        AppendGoString(items[i].key, &out);
      out += python ? ": " : ":";
      if (!items[i].is_string)
        out += items[i].value;
      else if (python)
        AppendCanonicalString(items[i].value, EscapeStyle::kPython, &out);
      else
        AppendGoString(items[i].value, &out);
    }
    return out + "}";
  }

 private:
  struct Item {
    std::string key, value;
    bool is_string;
  };
  std::vector<Item> kv_;
};

std::string StoredTimestamp(Writer w, Micros t, Rng* rng) {
  std::string s;
  switch (w) {
    case Writer::kPythonNew:
      AppendCanonicalTimestamp(t, &s);
      return s;
    case Writer::kPythonOld:
      AppendIsoformatTimestamp(t, &s);
      return s;
    case Writer::kGo: {
      // RFC3339Nano: nanoseconds, trailing zeros stripped (the hash truncates to micros).
      s = SecondPrefix(t);
      int64_t nanos =
          (((t % 1000000) + 1000000) % 1000000) * 1000 + static_cast<int64_t>(rng->Below(1000));
      if (nanos != 0) {
        char buf[16];
        std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(nanos));
        std::string frac(buf);
        while (frac.back() == '0') frac.pop_back();
        s += frac;
      }
      return s + "Z";
    }
    case Writer::kRust: {
      s = SecondPrefix(t);
      char buf[8];
      std::snprintf(buf, sizeof buf, ".%03lld",
                    static_cast<long long>((((t % 1000000) + 1000000) % 1000000) / 1000));
      return s + buf + "Z";
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// The store writer.

struct AuditSpec {
  Micros t = 0;
  std::string node, service, tenant;  // empty tenant = NULL
  std::string code, action, severity = "info", actor = "system", actor_kind = "service";
  std::string target, category, domain, method = "sdk", request_id;
  Detail detail;
  bool redact = false;
};

constexpr const char* kAuditDdl = R"sql(
CREATE TABLE audit_log (
  id TEXT PRIMARY KEY, origin_id TEXT NOT NULL, monotonic_seq INTEGER NOT NULL,
  timestamp TEXT NOT NULL, code TEXT NOT NULL, action TEXT NOT NULL, severity TEXT NOT NULL,
  service_id TEXT NOT NULL, source_node_id TEXT NOT NULL, tenant_id TEXT, actor TEXT NOT NULL,
  actor_kind TEXT NOT NULL, target TEXT NOT NULL, category TEXT NOT NULL, domain TEXT NOT NULL,
  method TEXT NOT NULL, request_id TEXT NOT NULL, detail TEXT NOT NULL,
  pii_in_detail INTEGER NOT NULL DEFAULT 0, shipped_at TEXT,
  wire_version TEXT NOT NULL DEFAULT '1', hash TEXT NOT NULL DEFAULT '',
  prev_hash TEXT NOT NULL DEFAULT 'genesis', canonical_form_id TEXT NOT NULL DEFAULT '1');
ALTER TABLE audit_log ADD COLUMN detail_salt TEXT;
ALTER TABLE audit_log ADD COLUMN detail_commitment TEXT;
CREATE TABLE api_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT, timestamp TEXT,
  level TEXT, service_id TEXT, event TEXT, method TEXT, path TEXT, status INTEGER,
  payload TEXT NOT NULL);
CREATE TABLE syslog (seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT, timestamp TEXT,
  level TEXT, service_id TEXT, event TEXT, method TEXT, path TEXT, status INTEGER,
  payload TEXT NOT NULL);
)sql";

constexpr const char* kIndexDdl = R"sql(
CREATE INDEX idx_audit_log_req ON audit_log(request_id);
CREATE INDEX idx_audit_log_code ON audit_log(code);
CREATE INDEX idx_audit_log_ts ON audit_log(timestamp);
CREATE INDEX idx_audit_log_seq ON audit_log(monotonic_seq);
CREATE INDEX idx_audit_log_svc ON audit_log(service_id);
CREATE INDEX idx_audit_log_unshipped ON audit_log(shipped_at) WHERE shipped_at IS NULL;
CREATE INDEX idx_audit_log_pii ON audit_log(pii_in_detail) WHERE pii_in_detail = 1;
CREATE INDEX idx_api_log_req ON api_log(request_id);
CREATE INDEX idx_api_log_ts ON api_log(timestamp);
CREATE INDEX idx_api_log_svc ON api_log(service_id);
CREATE INDEX idx_api_log_mth ON api_log(method);
CREATE INDEX idx_api_log_pth ON api_log(path);
CREATE INDEX idx_api_log_sts ON api_log(status);
CREATE INDEX idx_syslog_req ON syslog(request_id);
CREATE INDEX idx_syslog_ts ON syslog(timestamp);
CREATE INDEX idx_syslog_lvl ON syslog(level);
CREATE INDEX idx_syslog_svc ON syslog(service_id);
CREATE INDEX idx_syslog_evt ON syslog(event);
)sql";

class StoreWriter {
 public:
  explicit StoreWriter(uint64_t seed) : rng_(seed) {}

  Status Open(const std::string& path) {
    if (!SqliteOpen(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db_).ok()) {
      return Error("cannot create " + path);
    }
    FASTEN_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"));
    FASTEN_RETURN_IF_ERROR(Exec(kAuditDdl));
    FASTEN_RETURN_IF_ERROR(Exec("BEGIN"));
    FASTEN_RETURN_IF_ERROR(Prepare(
        "INSERT INTO audit_log (id, origin_id, monotonic_seq, timestamp, code, action, severity, "
        "service_id, source_node_id, tenant_id, actor, actor_kind, target, category, domain, "
        "method, request_id, detail, pii_in_detail, shipped_at, wire_version, hash, prev_hash, "
        "canonical_form_id, detail_salt, detail_commitment) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        &audit_stmt_));
    FASTEN_RETURN_IF_ERROR(Prepare(
        "INSERT INTO api_log (request_id, timestamp, service_id, method, path, status, payload) "
        "VALUES (?,?,?,?,?,?,?)",
        &api_stmt_));
    FASTEN_RETURN_IF_ERROR(
        Prepare("INSERT INTO syslog (request_id, timestamp, level, service_id, event, payload) "
                "VALUES (?,?,?,?,?,?)",
                &sys_stmt_));
    return Status::Ok();
  }

  Status Finish() {
    FASTEN_RETURN_IF_ERROR(Exec("COMMIT"));
    FASTEN_RETURN_IF_ERROR(Exec(kIndexDdl));
    FASTEN_RETURN_IF_ERROR(Exec("ANALYZE"));
    audit_stmt_.reset();
    api_stmt_.reset();
    sys_stmt_.reset();
    // fasten's DDL puts its stores in WAL mode.
    return Exec("PRAGMA journal_mode=WAL");
  }

  Status Exec(const char* sql) {
    Status st = SqliteExec(db_.get(), sql);
    if (!st.ok()) return InternalError("demo store: " + st.message());
    return Status::Ok();
  }

  Rng& rng() { return rng_; }

  // Allocates, seals and inserts one audit row; returns it.
  Result<AuditRow> Audit(const AuditSpec& s) {
    const Writer w = WriterOf(s.node);
    Node& node = nodes_[s.node];
    AuditRow r;
    r.id = "evt-" + rng_.Hex(20);
    r.origin_id = r.id;
    r.monotonic_seq = ++node.seq;
    r.timestamp = StoredTimestamp(w, s.t, &rng_);
    r.timestamp_ok = ParseTimestamp(r.timestamp, &r.timestamp_us);
    r.code = s.code;
    r.action = s.action;
    r.severity = s.severity;
    r.service_id = s.service;
    r.source_node_id = s.node;
    if (!s.tenant.empty()) r.tenant_id.Set(s.tenant);
    r.actor = s.actor;
    r.actor_kind = s.actor_kind;
    r.target = s.target;
    r.category = s.category;
    r.domain = s.domain;
    r.method = s.method;
    r.request_id = s.request_id;
    r.detail.Set(s.detail.Render(w));
    r.wire_version = "1";
    std::string error;
    if (w == Writer::kRust) {
      // The Rust-core drainer writes no hash, prev_hash or form: the defaults stand.
      ++unsealed_;
    } else {
      r.prev_hash = node.last_hash.empty() ? "genesis" : node.last_hash;
      r.canonical_form_id = w == Writer::kPythonNew ? "2" : "1";
      if (w == Writer::kPythonNew) {
        r.detail_salt.Set(rng_.Hex(64));
        if (!canon_.DetailBytes(r, EscapeStyle::kPython, &bytes_, &error)) {
          return InternalError("demo detail: " + error);
        }
        r.detail_commitment.Set(sha_.Hex(r.detail_salt.value, bytes_));
      }
      if (!canon_.RowBytes(r, RowHashOptions(), &bytes_, &error)) {
        return InternalError("demo seal: " + error);
      }
      r.hash = sha_.Hex(bytes_);
      node.last_hash = r.hash;
      if (s.redact) {
        // Form-2 redaction: UPDATE ... SET detail = NULL, detail_salt = NULL.
        r.detail.SetNull();
        r.detail_salt.SetNull();
      }
    }
    FASTEN_RETURN_IF_ERROR(InsertAudit(r, w));
    ++audit_;
    return r;
  }

  Status Api(Micros t, const std::string& request_id, const std::string& tenant,
             const std::string& service, const std::string& method, const std::string& path,
             int status, const std::string& duration_ms) {
    std::string ts = CanonicalTimestamp(t);
    // Python's write_api spelling: json.dumps with default separators.
    Detail p;
    p.Str("method", method)
        .Str("path", path)
        .Int("status", status)
        .Tok("duration_ms", duration_ms)
        .Str("request_id", request_id)
        .Str("timestamp", ts)
        .Str("service_id", service);
    if (!tenant.empty()) p.Str("tenant_id", tenant);
    SqliteStatement& st = *api_stmt_;
    st.Reset();
    st.BindText(1, request_id);
    st.BindText(2, ts);
    st.BindText(3, service);
    st.BindText(4, method);
    st.BindText(5, path);
    st.BindInt64(6, status);
    st.BindText(7, p.Render(Writer::kPythonNew));
    ++api_;
    return Step(st);
  }

  Status Sys(Micros t, const std::string& request_id, const std::string& tenant,
             const std::string& service, const std::string& level, const std::string& event,
             const std::string& message, const Detail& extra = Detail()) {
    std::string ts = CanonicalTimestamp(t);
    // Go's LogSys spelling: compact, sorted keys.
    Detail p = extra;
    p.Str("level", level)
        .Str("event", event)
        .Str("timestamp", ts)
        .Str("request_id", request_id)
        .Str("service_id", service)
        .Str("message", message);
    if (!tenant.empty()) p.Str("tenant_id", tenant);
    SqliteStatement& st = *sys_stmt_;
    st.Reset();
    st.BindText(1, request_id);
    st.BindText(2, ts);
    st.BindText(3, level);
    st.BindText(4, service);
    st.BindText(5, event);
    st.BindText(6, p.Render(Writer::kGo));
    ++sys_;
    return Step(st);
  }

  int64_t audit_count() const { return audit_; }
  int64_t api_count() const { return api_; }
  int64_t sys_count() const { return sys_; }
  int64_t unsealed_count() const { return unsealed_; }
  sqlite3* db() { return db_.get(); }

 private:
  struct Node {
    int64_t seq = 0;
    std::string last_hash;
  };

  Status Error(const std::string& what) {
    return InternalError(what + ": " + SqliteMessage(db_.get()));
  }
  Status Prepare(const char* sql, std::optional<SqliteStatement>* out) {
    Result<SqliteStatement> stmt = SqliteStatement::Prepare(db_.get(), sql);
    if (!stmt.ok()) return Error("demo store prepare");
    out->emplace(std::move(stmt).value());
    return Status::Ok();
  }
  static void BindNullable(SqliteStatement& st, int i, const NullableText& v) {
    if (v.null)
      st.BindNull(i);
    else
      st.BindText(i, v.value);
  }
  Status Step(SqliteStatement& st) {
    if (st.Step() != SQLITE_DONE) return Error("demo store insert");
    return Status::Ok();
  }

  Status InsertAudit(const AuditRow& r, Writer) {
    SqliteStatement& st = *audit_stmt_;
    st.Reset();
    st.BindText(1, r.id);
    st.BindText(2, r.origin_id);
    st.BindInt64(3, r.monotonic_seq);
    st.BindText(4, r.timestamp);
    st.BindText(5, r.code);
    st.BindText(6, r.action);
    st.BindText(7, r.severity);
    st.BindText(8, r.service_id);
    st.BindText(9, r.source_node_id);
    BindNullable(st, 10, r.tenant_id);
    st.BindText(11, r.actor);
    st.BindText(12, r.actor_kind);
    st.BindText(13, r.target);
    st.BindText(14, r.category);
    st.BindText(15, r.domain);
    st.BindText(16, r.method);
    st.BindText(17, r.request_id);
    // The spec DDL keeps detail NOT NULL; a redacted row stores the JSON text null, as the
    // newest Python store does.
    st.BindText(18, r.detail.null ? std::string("null") : r.detail.value);
    st.BindInt64(19, 0);
    BindNullable(st, 20, r.shipped_at);
    st.BindText(21, r.wire_version);
    st.BindText(22, r.hash);
    st.BindText(23, r.prev_hash);
    st.BindText(24, r.canonical_form_id);
    BindNullable(st, 25, r.detail_salt);
    BindNullable(st, 26, r.detail_commitment);
    return Step(st);
  }

  Rng rng_;
  SqliteHandle db_;
  std::optional<SqliteStatement> audit_stmt_, api_stmt_, sys_stmt_;
  std::map<std::string, Node> nodes_;
  Canonicalizer canon_;
  Sha256 sha_;
  std::string bytes_;
  int64_t audit_ = 0, api_ = 0, sys_ = 0, unsealed_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Scenarios.

constexpr const char* kUsers[] = {"alice", "bob", "carol", "dmitri", "eve.ops", "farah", "gus"};
constexpr const char* kCurrencies[] = {"EUR", "USD", "GBP"};
constexpr const char* kDevices[] = {"plant-7/line-1", "plant-7/line-2", "plant-9/press-3",
                                    "warehouse-2/dock-1"};

std::string Money(Rng& rng) {
  // Python floats as json.dumps spells them: 12.5, 75.0, 199.99.
  int64_t cents = 500 + static_cast<int64_t>(rng.Below(30000));
  char buf[32];
  if (cents % 100 == 0)
    std::snprintf(buf, sizeof buf, "%lld.0", static_cast<long long>(cents / 100));
  else if (cents % 10 == 0)
    std::snprintf(buf, sizeof buf, "%lld.%lld", static_cast<long long>(cents / 100),
                  static_cast<long long>((cents % 100) / 10));
  else
    std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(cents / 100),
                  static_cast<long long>(cents % 100));
  return buf;
}

std::string Millis(Rng& rng, int lo, int hi) {
  int64_t tenths = lo * 10 + static_cast<int64_t>(rng.Below(static_cast<uint64_t>((hi - lo) * 10)));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%lld", static_cast<long long>(tenths / 10),
                static_cast<long long>(tenths % 10));
  return buf;
}

constexpr Micros kMs = 1000;
constexpr Micros kSec = 1000000;

class Scenarios {
 public:
  Scenarios(StoreWriter* w, Micros day) : w_(w), rng_(w->rng()), day_(day) {}

  Status Background(Micros t) {
    const std::string tenant = rng_.Chance(0.6) ? "acme" : "globex";
    const std::string rid = rng_.Hex(12);
    const uint64_t kind = rng_.Below(100);
    const std::string user = rng_.Pick(kUsers);
    if (kind < 30) return Checkout(t, rid, tenant, user);
    if (kind < 50) return Login(t, rid, tenant, user);
    if (kind < 75) return Telemetry(t, tenant);
    if (kind < 85) return ConfigRead(t, rid, tenant, user);
    if (kind < 95) return OrderView(t, rid, tenant, user);
    return Export(t, rid, tenant, user);
  }

  Status Checkout(Micros t, const std::string& rid, const std::string& tenant,
                  const std::string& user) {
    const std::string order = "ord-" + std::to_string(10000 + rng_.Below(90000));
    const bool edge_eu = rng_.Chance(0.5);
    const std::string node = edge_eu ? "edge-eu-1" : "edge-us-1";
    if (rng_.Chance(0.03)) {
      FASTEN_RETURN_IF_ERROR(w_->Api(t, rid, tenant, "checkout-api", "POST", "/v1/orders", 500,
                                     Millis(rng_, 2000, 5000)));
      FASTEN_RETURN_IF_ERROR(w_->Sys(t + 3 * kMs, rid, tenant, "checkout-api", "error",
                                     "order_failed", "database timeout while reserving stock",
                                     Detail().Str("order_id", order)));
      AuditSpec a = Spec(t + 4 * kMs, node, "checkout-api", tenant, rid);
      a.code = "ORDER_FAILED";
      a.action = "create";
      a.severity = "error";
      a.actor = user;
      a.actor_kind = "user";
      a.target = "order/" + order;
      a.category = "order";
      a.domain = "sales";
      a.method = "http";
      a.detail.Str("order_id", order)
          .Str("error", "stock reservation timed out")
          .Int("http_status", 500);
      return w_->Audit(a).status();
    }
    const std::string amount = Money(rng_);
    const std::string currency = rng_.Pick(kCurrencies);
    FASTEN_RETURN_IF_ERROR(
        w_->Api(t, rid, tenant, "checkout-api", "POST", "/v1/orders", 201, Millis(rng_, 30, 180)));
    AuditSpec a = Spec(t + 2 * kMs, node, "checkout-api", tenant, rid);
    a.code = "ORDER_PLACED";
    a.action = "create";
    a.actor = user;
    a.actor_kind = "user";
    a.target = "order/" + order;
    a.category = "order";
    a.domain = "sales";
    a.method = "http";
    a.detail.Str("order_id", order)
        .Int("items", 1 + static_cast<int64_t>(rng_.Below(5)))
        .Tok("total", amount)
        .Str("currency", currency);
    FASTEN_RETURN_IF_ERROR(w_->Audit(a).status());
    FASTEN_RETURN_IF_ERROR(w_->Sys(t + 5 * kMs, rid, tenant, "checkout-api", "info",
                                   "order_created", "order " + order + " created"));
    FASTEN_RETURN_IF_ERROR(w_->Api(t + 20 * kMs, rid, tenant, "payments-worker", "POST",
                                   "/v1/payments/capture", 200, Millis(rng_, 80, 400)));
    AuditSpec p = Spec(t + 120 * kMs, "edge-us-1", "payments-worker", tenant, rid);
    p.code = "PAYMENT_CAPTURED";
    p.action = "update";
    p.actor = "payments-worker";
    p.target = "order/" + order;
    p.category = "payment";
    p.domain = "billing";
    p.detail.Tok("amount", amount).Str("currency", currency).Str("provider", "stripe");
    return w_->Audit(p).status();
  }

  Status Login(Micros t, const std::string& rid, const std::string& tenant,
               const std::string& user) {
    const bool failed = rng_.Chance(0.05);
    FASTEN_RETURN_IF_ERROR(w_->Api(t, rid, tenant, "checkout-api", "POST", "/v1/sessions",
                                   failed ? 401 : 200, Millis(rng_, 20, 90)));
    if (failed) {
      FASTEN_RETURN_IF_ERROR(w_->Sys(t + kMs, rid, tenant, "checkout-api", "warn", "login_failed",
                                     "invalid credentials for " + user));
    }
    AuditSpec a = Spec(t + 2 * kMs, "edge-eu-1", "checkout-api", tenant, rid);
    a.code = failed ? "USER_LOGIN_FAILED" : "USER_LOGIN";
    a.action = "login";
    a.severity = failed ? "warn" : "info";
    a.actor = user;
    a.actor_kind = "user";
    a.target = "user/" + user;
    a.category = "auth";
    a.domain = "identity";
    a.method = "http";
    a.detail.Str("ip", "203.0.113." + std::to_string(rng_.Below(250) + 1))
        .Str("user_agent", rng_.Chance(0.5) ? "Mozilla/5.0 <Firefox>" : "okhttp/4.12 & retrofit");
    if (failed) a.detail.Str("reason", "bad_password");
    return w_->Audit(a).status();
  }

  Status Telemetry(Micros t, const std::string& tenant) {
    const std::string rid = "bg-iot-gateway-" + rng_.Hex(8);
    const std::string device = rng_.Pick(kDevices);
    const bool bridge = rng_.Chance(0.15);  // drained through the Rust core: unsealed
    AuditSpec a = Spec(t, bridge ? "mqtt-bridge-1" : "core-1", "iot-gateway", tenant, rid);
    a.code = "DEVICE_TELEMETRY_INGESTED";
    a.action = "ingest";
    a.actor = "device/" + device;
    a.target = "topic/" + device + "/temp";
    a.category = "telemetry";
    a.domain = "iot";
    a.method = "mqtt";
    a.detail.Str("topic", device + "/temp")
        .Int("qos", 1)
        .Int("messages", 1 + static_cast<int64_t>(rng_.Below(40)));
    FASTEN_RETURN_IF_ERROR(w_->Audit(a).status());
    if (rng_.Chance(0.3)) {
      return w_->Sys(t + kMs, rid, tenant, "iot-gateway", "debug", "mqtt_batch_received",
                     "batch from " + device, Detail().Str("topic", device + "/temp"));
    }
    return Status::Ok();
  }

  Status ConfigRead(Micros t, const std::string& rid, const std::string& tenant,
                    const std::string& user) {
    FASTEN_RETURN_IF_ERROR(w_->Api(t, rid, tenant, "config-service", "GET", "/v1/config/mqtt", 200,
                                   Millis(rng_, 3, 25)));
    AuditSpec a = Spec(t + kMs, "core-1", "config-service", tenant, rid);
    a.code = "CONFIG_READ";
    a.action = "read";
    a.actor = user;
    a.actor_kind = "user";
    a.target = "config/mqtt";
    a.category = "config";
    a.domain = "platform";
    a.method = "http";
    a.detail.Str("section", "mqtt").Int("version", 40 + static_cast<int64_t>(rng_.Below(3)));
    return w_->Audit(a).status();
  }

  Status OrderView(Micros t, const std::string& rid, const std::string& tenant,
                   const std::string&) {
    const std::string order = "ord-" + std::to_string(10000 + rng_.Below(90000));
    const int status = rng_.Chance(0.04) ? 404 : 200;
    FASTEN_RETURN_IF_ERROR(w_->Api(t, rid, tenant, "checkout-api", "GET", "/v1/orders/" + order,
                                   status, Millis(rng_, 4, 40)));
    return w_->Sys(t + kMs, rid, tenant, "checkout-api", status == 200 ? "info" : "warn",
                   status == 200 ? "order_viewed" : "order_not_found", "GET order " + order);
  }

  Status Export(Micros t, const std::string& rid, const std::string& tenant,
                const std::string& user) {
    FASTEN_RETURN_IF_ERROR(w_->Api(t, rid, tenant, "checkout-api", "POST", "/v1/reports/export",
                                   200, Millis(rng_, 200, 900)));
    AuditSpec a = Spec(t + 3 * kMs, "edge-eu-1", "checkout-api", tenant, rid);
    a.code = "REPORT_EXPORTED";
    a.action = "export";
    a.actor = user;
    a.actor_kind = "user";
    a.target = "report/monthly-sales";
    a.category = "report";
    a.domain = "sales";
    a.method = "http";
    a.detail.Str("format", "csv")
        .Int("rows", static_cast<int64_t>(rng_.Below(5000)))
        .Str("customer", rng_.Chance(0.5) ? "José Müller GmbH" : "Åsa & Søn AB");
    return w_->Audit(a).status();
  }

  // Refund 3a7b1c9e4d20 at 14:32: the Stripe webhook answers 502, the refund is rolled back.
  Status RefundIncident() {
    const Micros t = day_ + (14 * 3600 + 32 * 60 + 1) * kSec + 104 * kMs;
    const std::string rid = "3a7b1c9e4d20", tenant = "acme", order = "ord-88412";
    FASTEN_RETURN_IF_ERROR(w_->Api(t, rid, tenant, "checkout-api", "POST",
                                   "/v1/orders/" + order + "/refunds", 202, "38.2"));
    AuditSpec a = Spec(t + 2 * kMs, "edge-eu-1", "checkout-api", tenant, rid);
    a.code = "REFUND_REQUESTED";
    a.action = "create";
    a.actor = "alice";
    a.actor_kind = "user";
    a.target = "order/" + order;
    a.category = "payment";
    a.domain = "billing";
    a.method = "http";
    a.detail.Str("refund_id", "rf_5T2x9")
        .Tok("amount", "75.0")
        .Str("currency", "EUR")
        .Str("reason", "damaged item");
    FASTEN_RETURN_IF_ERROR(w_->Audit(a).status());
    FASTEN_RETURN_IF_ERROR(w_->Sys(t + 10 * kMs, rid, tenant, "payments-worker", "info",
                                   "refund_initiated", "refund rf_5T2x9 sent to stripe",
                                   Detail().Str("refund_id", "rf_5T2x9")));
    for (int attempt = 1; attempt <= 3; ++attempt) {
      Micros at = t + attempt * 10 * kSec;
      FASTEN_RETURN_IF_ERROR(w_->Api(at, rid, tenant, "payments-worker", "POST",
                                     "/v1/webhooks/stripe/refund", 502, "10004.7"));
      FASTEN_RETURN_IF_ERROR(w_->Sys(at + kMs, rid, tenant, "payments-worker",
                                     attempt < 3 ? "warn" : "error", "stripe_webhook_failed",
                                     "Stripe webhook returned 502 Bad Gateway",
                                     Detail().Int("attempt", attempt).Int("status", 502)));
    }
    AuditSpec r = Spec(t + 31 * kSec, "edge-us-1", "payments-worker", tenant, rid);
    r.code = "REFUND_ROLLED_BACK";
    r.action = "rollback";
    r.severity = "error";
    r.actor = "payments-worker";
    r.target = "order/" + order;
    r.category = "payment";
    r.domain = "billing";
    r.detail.Str("refund_id", "rf_5T2x9")
        .Tok("amount", "75.0")
        .Str("currency", "EUR")
        .Str("reason", "stripe_webhook_502")
        .Int("stripe_status", 502)
        .Int("attempts", 3);
    Result<AuditRow> rolled = w_->Audit(r);
    if (!rolled.ok()) return rolled.status();
    refund_rollback_ = *rolled;
    return w_->Sys(t + 31 * kSec + kMs, rid, tenant, "payments-worker", "error",
                   "refund_rolled_back", "refund rf_5T2x9 rolled back after 3 failed webhooks");
  }

  // 09:14 bob lowers MQTT QoS on mqtt-bridge-1 to 0; messages are lost until 09:41.
  Status MqttIncident() {
    const Micros change = day_ + (9 * 3600 + 14 * 60 + 7) * kSec + 311 * kMs;
    const std::string tenant = "globex";
    auto config = [&](Micros t, const std::string& rid, int old_qos, int new_qos) -> Status {
      FASTEN_RETURN_IF_ERROR(
          w_->Api(t, rid, tenant, "config-service", "PATCH", "/v1/config/mqtt", 200, "14.9"));
      AuditSpec a = Spec(t + 2 * kMs, "core-1", "config-service", tenant, rid);
      a.code = "CONFIG_NODE_UPDATED";
      a.action = "update";
      a.severity = "warn";
      a.actor = "bob";
      a.actor_kind = "user";
      a.target = "mqtt-bridge-1/qos";
      a.category = "config";
      a.domain = "platform";
      a.method = "http";
      a.detail.Str("key", "mqtt.qos")
          .Int("old", old_qos)
          .Int("new", new_qos)
          .Str("node", "mqtt-bridge-1");
      FASTEN_RETURN_IF_ERROR(w_->Audit(a).status());
      return w_->Sys(t + 5 * kMs, rid, tenant, "config-service", "info", "config_applied",
                     "mqtt.qos " + std::to_string(old_qos) + " -> " + std::to_string(new_qos));
    };
    FASTEN_RETURN_IF_ERROR(config(change, "c0f1e2d3a4b5", 1, 0));
    for (int i = 0; i < 40; ++i) {
      Micros t = change + (60 + i * 39) * kSec + static_cast<Micros>(rng_.Below(900)) * kMs;
      const std::string device = rng_.Pick(kDevices);
      const std::string rid = "bg-iot-gateway-" + rng_.Hex(8);
      FASTEN_RETURN_IF_ERROR(w_->Sys(t, rid, tenant, "iot-gateway", "warn", "mqtt_message_dropped",
                                     "broker queue full at QoS 0",
                                     Detail().Str("topic", device + "/temp").Int("qos", 0)));
      if (i % 3 == 0) {
        AuditSpec a = Spec(t + kMs, "core-1", "iot-gateway", tenant, rid);
        a.code = "MQTT_MESSAGE_LOST";
        a.action = "ingest";
        a.severity = "error";
        a.actor = "device/" + device;
        a.target = "topic/" + device + "/temp";
        a.category = "telemetry";
        a.domain = "iot";
        a.method = "mqtt";
        a.detail.Str("topic", device + "/temp")
            .Int("qos", 0)
            .Int("lost", 5 + static_cast<int64_t>(rng_.Below(60)));
        FASTEN_RETURN_IF_ERROR(w_->Audit(a).status());
      }
    }
    return config(change + 27 * 60 * kSec, "d9e8f7a6b5c4", 0, 1);
  }

  // The nightly export job: one scheduler run (one request_id) that touches both tenants.
  Status NightlyExport() {
    const Micros t = day_ + 2 * 3600 * kSec + 500 * kMs;
    const std::string rid = "sched-5e1f0a7c";
    int i = 0;
    for (const char* tenant : {"acme", "globex"}) {
      const Micros at = t + (i++) * 40 * kSec;
      FASTEN_RETURN_IF_ERROR(w_->Sys(at, rid, tenant, "checkout-api", "info", "export_started",
                                     std::string("nightly export for ") + tenant));
      AuditSpec a = Spec(at + 30 * kSec, "edge-eu-1", "checkout-api", tenant, rid);
      a.code = "REPORT_EXPORTED";
      a.action = "export";
      a.actor = "export-job";
      a.actor_kind = "schedule";
      a.target = std::string("report/nightly-") + tenant;
      a.category = "report";
      a.domain = "sales";
      a.method = "scheduler";
      a.detail.Str("format", "parquet").Int("rows", 1000 + static_cast<int64_t>(rng_.Below(9000)));
      FASTEN_RETURN_IF_ERROR(w_->Audit(a).status());
    }
    return Status::Ok();
  }

  // A profile update that is later redacted, with its AUDIT_ROW_REDACTED event.
  Status Redaction() {
    const Micros t = day_ + (6 * 3600 + 2 * 60) * kSec + 77 * kMs;
    const std::string rid = "5be0c4a19f02";
    AuditSpec a = Spec(t, "edge-eu-1", "checkout-api", "acme", rid);
    a.code = "USER_PROFILE_UPDATED";
    a.action = "update";
    a.actor = "carol";
    a.actor_kind = "user";
    a.target = "user/carol";
    a.category = "account";
    a.domain = "identity";
    a.method = "http";
    a.detail.Str("field", "home_address").Str("new", "Rua das Flores 12, Lisboa");
    a.redact = true;
    Result<AuditRow> row = w_->Audit(a);
    if (!row.ok()) return row.status();
    AuditSpec e =
        Spec(t + 3 * 3600 * kSec, "edge-eu-1", "checkout-api", "acme", "sched-" + rng_.Hex(8));
    e.code = "AUDIT_ROW_REDACTED";
    e.action = "redact";
    e.actor = "retention-job";
    e.actor_kind = "schedule";
    e.target = row->id;
    e.category = "compliance";
    e.domain = "audit";
    e.method = "scheduler";
    e.detail.Int("redacted_seq", row->monotonic_seq).Str("reason", "gdpr-erasure-2026");
    return w_->Audit(e).status();
  }

  const AuditRow& refund_rollback() const { return refund_rollback_; }

 private:
  AuditSpec Spec(Micros t, const std::string& node, const std::string& service,
                 const std::string& tenant, const std::string& rid) {
    AuditSpec s;
    s.t = t;
    s.node = node;
    s.service = service;
    s.tenant = tenant;
    s.request_id = rid;
    return s;
  }

  StoreWriter* w_;
  Rng& rng_;
  Micros day_;
  AuditRow refund_rollback_;
};

Status Generate(const DemoOptions& o, const std::string& tmp, DemoSummary* summary) {
  StoreWriter writer(o.seed);
  FASTEN_RETURN_IF_ERROR(writer.Open(tmp));
  Micros day = 0;
  ParseTimestamp("2026-11-20T00:00:00Z", &day);
  Scenarios sc(&writer, day);
  // Fixed incidents, injected when background time passes them.
  struct Incident {
    Micros at;
    std::function<Status()> run;
  };
  std::vector<Incident> incidents = {
      {day + 2 * 3600 * kSec, [&] { return sc.NightlyExport(); }},
      {day + 6 * 3600 * kSec, [&] { return sc.Redaction(); }},
      {day + (9 * 3600 + 14 * 60) * kSec, [&] { return sc.MqttIncident(); }},
      {day + (14 * 3600 + 32 * 60) * kSec, [&] { return sc.RefundIncident(); }},
  };
  // Background requests spread over the day; about 1.35 audit rows per request.
  const double requests = std::max<double>(100, static_cast<double>(o.audit_rows) / 1.35);
  const Micros mean_gap = static_cast<Micros>(86400.0 * kSec / requests);
  Micros t = day + 5 * kSec;
  size_t next = 0;
  while (writer.audit_count() < o.audit_rows || next < incidents.size()) {
    while (next < incidents.size() && incidents[next].at <= t) {
      FASTEN_RETURN_IF_ERROR(incidents[next].run());
      ++next;
    }
    FASTEN_RETURN_IF_ERROR(sc.Background(t));
    t += 1 + static_cast<Micros>(writer.rng().Below(static_cast<uint64_t>(2 * mean_gap)));
  }
  if (o.tamper) {
    // Someone edits the rolled-back refund's amount in place: a form-1 row, so its hash breaks.
    const AuditRow& r = sc.refund_rollback();
    std::string detail = r.detail.value;
    size_t pos = detail.find("\"amount\": 75.0");
    if (pos == std::string::npos) return InternalError("demo: tamper target not found");
    detail.replace(pos, 14, "\"amount\": 7.5");
    std::string sql = "UPDATE audit_log SET detail = '" + detail + "' WHERE id = '" + r.id + "'";
    FASTEN_RETURN_IF_ERROR(writer.Exec(sql.c_str()));
    summary->tampered_node = r.source_node_id;
    summary->tampered_id = r.id;
    summary->tampered_seq = r.monotonic_seq;
    summary->tampered_what = "detail.amount 75.0 -> 7.5 (REFUND_ROLLED_BACK)";
  }
  FASTEN_RETURN_IF_ERROR(writer.Finish());
  summary->audit_rows = writer.audit_count();
  summary->sys_rows = writer.sys_count();
  summary->api_rows = writer.api_count();
  summary->unsealed = writer.unsealed_count();
  for (const NodeDef& n : kNodes) summary->nodes.push_back(n.id);
  return Status::Ok();
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

Status WriteDemoStore(const DemoOptions& o, DemoSummary* summary) {
  *summary = DemoSummary();
  if (o.path.empty()) return InvalidArgumentError("demo: --out PATH is required");
  if (Exists(o.path) && !o.overwrite) {
    return InvalidArgumentError("refusing to overwrite existing " + o.path +
                                " (pass --force to replace it)");
  }
  const std::string tmp = o.path + ".tmp-" + std::to_string(getpid());
  std::remove(tmp.c_str());
  Status st = Generate(o, tmp, summary);
  if (!st.ok()) {
    std::remove(tmp.c_str());
    return st;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((o.path + suffix).c_str());
  if (std::rename(tmp.c_str(), o.path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return UnavailableError("cannot write " + o.path + ": rename failed");
  }
  return Status::Ok();
}

}  // namespace fasten
