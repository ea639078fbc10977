// The tenant of a sys/api stream row: the one definition every reader, tool and validator uses.
//
// Stream rows carry their tenant inside the JSON `payload` as a top-level "tenant_id" member
// (docs/format.md §4.2). Parsers disagree on odd payloads (SQLite's json_extract takes the
// first duplicate member and cuts a value at NUL; nlohmann takes the last; Postgres' json
// functions refuse \u0000 and lone surrogates), so a writer that can shape a payload could make a
// row look like one tenant's to a list and another's to a lookup. The rule here removes every such
// case: a payload whose tenant two parsers could read differently belongs to NO tenant.
//
// A payload is attributed to tenant T when ALL of these hold:
//   - it is strict RFC 8259 JSON text: valid UTF-8, no NaN/Infinity, no trailing bytes, no BOM,
//     nested at most kMaxPayloadDepth deep;
//   - it is an object with exactly one member whose decoded key is "tenant_id", and that key is
//     spelled plainly (no escape sequence in it);
//   - that member's value is a string whose decoded text T has no control character
//     (U+0000-U+001F, U+007F) and no lone surrogate;
//   - the payload holds no \u0000 escape and no lone surrogate escape anywhere (Postgres cannot
//     decode such a payload, so its SQL could not agree).
// A valid payload without a top-level "tenant_id" member (or not an object) has no tenant. Every
// other payload is ambiguous: invisible to every tenant-bound caller, visible in all-tenants mode,
// counted by `fasten-mcp verify`.
//
// The SQL prefilters (store/sqlite_reader.cc, store/pg_reader.cc, store/index_advice.cc) are
// supersets of this rule: every payload attributed to T here passes the prefilter for T. The
// rule always has the last word. The scanner is iterative (no recursion on input depth).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/json_parse.h"

namespace fasten {

// How deep a payload may nest (the top-level object is depth 1); deeper payloads are ambiguous.
// The limit every stored payload shown to a caller is held to (util/json_parse.h), and below
// SQLite's own JSON depth limit (2000), so json_valid accepts whatever this rule attributes.
inline constexpr int kMaxPayloadDepth = kMaxJsonDepth;

enum class Attribution {
  kNone,           // valid JSON, no top-level "tenant_id" member (or not an object)
  kAttributed,     // exactly one tenant: PayloadTenantResult::tenant
  kInvalidJson,    // not strict RFC 8259 JSON text, or not valid UTF-8
  kTooDeep,        // nested deeper than kMaxPayloadDepth
  kDuplicate,      // more than one top-level "tenant_id" member
  kEscapedKey,     // a top-level key spelled with escapes decodes to "tenant_id"
  kNotString,      // the "tenant_id" value is not a string
  kControlChar,    // the value holds U+0000-U+001F or U+007F
  kLoneSurrogate,  // the value holds a lone surrogate escape
  kUndecodable,    // \u0000 or a lone surrogate escape elsewhere in the payload
};

// Stable lower-case names for reports: "none", "attributed", "invalid_json", "too_deep",
// "duplicate", "escaped_key", "not_string", "control_char", "lone_surrogate", "undecodable".
const char* AttributionName(Attribution kind);

// True for every kind but kNone and kAttributed.
inline bool IsAmbiguous(Attribution kind) {
  return kind != Attribution::kNone && kind != Attribution::kAttributed;
}

struct PayloadTenantResult {
  std::optional<std::string> tenant;  // set only when kind == kAttributed
  Attribution kind = Attribution::kNone;
};

// Reads the tenant of `payload` by the rule above. Thread-safe; linear in the payload's size.
PayloadTenantResult PayloadTenant(std::string_view payload);

// True when `payload` is attributed to `tenant`.
bool PayloadBelongsTo(std::string_view payload, std::string_view tenant);

// The SQLite prefilter: the payload's tenant as SQLite's JSON functions read it. The stream reader
// compares it with `= ?` and `fasten-mcp index` indexes exactly this expression (the planner uses
// an expression index only for the identical expression). For every payload attributed to T it
// yields T: json_valid accepts strict JSON of depth <= kMaxPayloadDepth, and json_extract returns
// the one plainly spelled member's decoded value.
inline constexpr char kSqlitePayloadTenant[] =
    "(CASE WHEN json_valid(payload) THEN json_extract(payload, '$.tenant_id') END)";

// The Postgres prefilter function that `fasten-mcp index --apply` creates in the stream table's
// schema (Postgres 15 has no IS JSON test, so the function catches the cast's error). It returns
// the value of the single member whose decoded key is "tenant_id" (json keeps duplicate members),
// and NULL for anything else or on any error: for every payload attributed to T it returns T.
// IMMUTABLE (an index may use it), STRICT, and PARALLEL UNSAFE: its EXCEPTION block opens a
// subtransaction, which Postgres refuses inside a parallel index build or parallel query.
inline constexpr char kPgPayloadTenantFunction[] = "fasten_payload_tenant";
// CREATE FUNCTION statement for `schema` (a quoted identifier, e.g. "public").
std::string PgPayloadTenantFunctionDdl(const std::string& quoted_schema);

// Whether a caller may see a payload is TenantScope::SeesPayload (store/tenant_scope.h).

}  // namespace fasten
