// Fuzzes the tenant attribution of stream payloads (store/payload_tenant.h): the rule that decides
// which tenant may see a sys/api row, and the SQLite prefilter that must agree with it.
//
// Input: a stored payload (any bytes). Checks, against references built here: nlohmann/json's
// strict parser (with a SAX handler that sees duplicate top-level keys) and SQLite's own JSON
// functions on an in-memory database:
// - attributed to T ⇒ the payload is strict JSON (nlohmann accepts it; no NUL, no BOM, no \u0000
//   escape, no lone surrogate escape, nested at most kMaxPayloadDepth), a top-level object with
//   exactly one member named "tenant_id", a string equal to T without control characters;
//   and SQLite's prefilter kSqlitePayloadTenant yields exactly T (so an index on it finds the row);
// - conversely, such a payload without any backslash (so no escaped key) is attributed to T;
// - "none" ⇒ JSON (lone surrogate escapes aside) nested at most kMaxPayloadDepth, without a
//   top-level "tenant_id" member; and such a payload without backslashes is "none";
// - PayloadBelongsTo and TenantScope::SeesPayload agree with the attribution; all-tenants mode
//   sees all.
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/payload_tenant.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/support/test_scopes.h"
#include "util/json_parse.h"

namespace {

using fasten::Attribution;
using fasten::fuzz::AsText;
using nlohmann::json;

// Top-level members of an object, duplicates kept, as nlohmann's SAX parser reports them.
class TopLevel final : public nlohmann::json_sax<json> {
 public:
  struct Member {
    std::string key;
    json value;  // the scalar, or a discarded value for a container
  };
  std::vector<Member> members;
  bool object = false;
  int deepest = 0;

  bool null() override { return Scalar(json()); }
  bool boolean(bool v) override { return Scalar(json(v)); }
  bool number_integer(number_integer_t v) override { return Scalar(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Scalar(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return Scalar(json(v)); }
  bool string(string_t& v) override { return Scalar(json(v)); }
  bool binary(binary_t&) override { return Scalar(json()); }
  bool start_object(std::size_t) override { return Open(true); }
  bool start_array(std::size_t) override { return Open(false); }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }
  bool key(string_t& k) override {
    if (depth_ == 1) members.push_back({k, json(json::value_t::discarded)});
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool Scalar(json&& v) {
    if (depth_ == 1 && object && !members.empty()) members.back().value = std::move(v);
    return true;
  }
  bool Open(bool is_object) {
    if (depth_ == 0) object = is_object;
    deepest = std::max(deepest, ++depth_);
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }
  int depth_ = 0;
};

// SQLite's reading of the payload's tenant through the prefilter expression.
std::optional<std::string> SqlitePrefilter(std::string_view payload) {
  static sqlite3* db = [] {
    sqlite3* d = nullptr;
    FUZZ_CHECK(sqlite3_open(":memory:", &d) == SQLITE_OK);
    return d;
  }();
  static sqlite3_stmt* stmt = [] {
    const std::string sql =
        std::string("SELECT ") + fasten::kSqlitePayloadTenant + " FROM (SELECT ?1 AS payload)";
    sqlite3_stmt* s = nullptr;
    FUZZ_CHECK_MSG(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK,
                   sqlite3_errmsg(db));
    return s;
  }();
  sqlite3_reset(stmt);
  sqlite3_bind_text(stmt, 1, payload.data(), static_cast<int>(payload.size()), SQLITE_TRANSIENT);
  std::optional<std::string> out;
  if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_type(stmt, 0) == SQLITE_TEXT) {
    out = std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
                      static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
  }
  return out;
}

bool HasControl(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// \u0000 in any hex case.
bool HasNulEscape(std::string_view text) {
  for (size_t i = text.find("\\u"); i != std::string_view::npos; i = text.find("\\u", i + 1)) {
    // An escaped backslash before it ("\\u0000" is a backslash, then u0000) does not count.
    size_t slashes = 0;
    for (size_t k = i; k > 0 && text[k - 1] == '\\'; --k) ++slashes;
    if (slashes % 2 == 1) continue;
    if (text.substr(i + 2, 4) == "0000") return true;
  }
  return false;
}

// True when nlohmann refuses `text` only for a number beyond a double.
bool NumberOverflow(const std::string& text) {
  try {
    json parsed = json::parse(text);
    (void)parsed;
  } catch (const json::exception& e) {
    return std::string_view(e.what()).find("number overflow") != std::string_view::npos;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view payload = AsText(data, size);
  const fasten::PayloadTenantResult r = fasten::PayloadTenant(payload);
  FUZZ_CHECK(r.tenant.has_value() == (r.kind == Attribution::kAttributed));

  // The reference reading: nlohmann on the text with lone surrogate escapes made U+FFFD
  // ("valid": JSON but for them), and strict when there are none and no \u0000 either.
  std::string replaced(payload);
  const bool lone_surrogate = fasten::ReplaceLoneSurrogateEscapes(&replaced) > 0;
  const bool valid = payload.find('\0') == std::string_view::npos &&
                     payload.substr(0, 3) != "\xEF\xBB\xBF" &&
                     json::accept(replaced.begin(), replaced.end());
  // nlohmann refuses numbers beyond a double (1e400), which RFC 8259 allows: no verdict then.
  if (!valid && NumberOverflow(replaced)) return 0;
  const bool strict = valid && !lone_surrogate && !HasNulEscape(payload);
  TopLevel top;
  if (valid) json::sax_parse(replaced.begin(), replaced.end(), &top);
  std::vector<const TopLevel::Member*> tenant_members;
  for (const TopLevel::Member& m : top.members) {
    if (m.key == "tenant_id") tenant_members.push_back(&m);
  }
  const bool shallow = top.deepest <= fasten::kMaxPayloadDepth;
  const bool one_string = strict && shallow && top.object && tenant_members.size() == 1 &&
                          tenant_members[0]->value.is_string() &&
                          !HasControl(tenant_members[0]->value.get<std::string>());

  if (r.kind == Attribution::kAttributed) {
    FUZZ_CHECK_MSG(one_string, "attributed to " + *r.tenant + " but not plainly one tenant");
    FUZZ_CHECK(tenant_members[0]->value.get<std::string>() == *r.tenant);
    const std::optional<std::string> sql = SqlitePrefilter(payload);
    FUZZ_CHECK_MSG(
        sql && *sql == *r.tenant,
        "SQLite's prefilter reads " + (sql ? *sql : std::string("NULL")) + ", not " + *r.tenant);
  }
  if (one_string && payload.find('\\') == std::string_view::npos) {
    FUZZ_CHECK_MSG(r.kind == Attribution::kAttributed,
                   std::string("plainly one tenant, yet ") + fasten::AttributionName(r.kind));
  }
  if (r.kind == Attribution::kNone) {
    FUZZ_CHECK(valid && shallow && tenant_members.empty());
  }
  if (valid && shallow && tenant_members.empty() && payload.find('\\') == std::string_view::npos) {
    FUZZ_CHECK_MSG(r.kind == Attribution::kNone, fasten::AttributionName(r.kind));
  }

  FUZZ_CHECK(fasten::test_support::TestScopes::AllTenants().SeesPayload(payload));
  for (const std::string& t : {std::string("acme"), r.tenant.value_or("globex")}) {
    const bool belongs = r.tenant && *r.tenant == t;
    FUZZ_CHECK(fasten::PayloadBelongsTo(payload, t) == belongs);
    FUZZ_CHECK(fasten::test_support::TestScopes::Tenant(t).SeesPayload(payload) == belongs);
  }
  return 0;
}
