// THE visibility-rule table: which audit rows and which stream payloads a caller scoped to
// kVisibilityTenant sees. One table, run on every path that decides visibility: the C++
// predicates (TenantScope::Sees / SeesPayload, tests/store/tenant_scope_test.cc) and the SQLite
// and Postgres readers (tests/store/reader_contract_test.cc). The all-tenants scope sees every
// row of it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "store/payload_tenant.h"

namespace fasten::test_support {

inline constexpr char kVisibilityTenant[] = "acme";

struct AuditVisibilityCase {
  const char* name;
  std::optional<std::string> tenant_id;  // nullopt: NULL
  bool seen;                             // by the scope of kVisibilityTenant
};

inline std::vector<AuditVisibilityCase> AuditVisibilityCases() {
  return {
      {"null tenant", std::nullopt, false},
      {"equal", std::string("acme"), true},
      {"other tenant", std::string("globex"), false},
      {"empty string", std::string(""), false},
      {"case difference", std::string("ACME"), false},
      {"trailing space", std::string("acme "), false},
  };
}

struct PayloadVisibilityCase {
  const char* name;
  std::string payload;
  bool seen;  // by the scope of kVisibilityTenant
};

inline std::vector<PayloadVisibilityCase> PayloadVisibilityCases() {
  const std::string deep =
      std::string(kMaxPayloadDepth + 1, '[') + std::string(kMaxPayloadDepth + 1, ']');
  return {
      {"attributed", R"({"tenant_id":"acme","event":"a"})", true},
      {"attributed, spaced", R"({ "n": 1, "tenant_id" : "acme" })", true},
      {"other tenant", R"({"tenant_id":"globex"})", false},
      {"none", R"({"event":"b"})", false},
      {"nested only", R"({"x":{"tenant_id":"acme"}})", false},
      {"duplicate member", R"({"tenant_id":"acme","tenant_id":"acme"})", false},
      {"duplicate, two tenants", R"({"tenant_id":"globex","tenant_id":"acme"})", false},
      {"escaped key", R"({"tenant\u005fid":"acme"})", false},
      {"not a string", R"({"tenant_id":["acme"]})", false},
      {"control char", R"({"tenant_id":"acme\u0000"})", false},
      {"invalid JSON", R"({"tenant_id":"acme",})", false},
      {"not JSON", "tenant_id acme", false},
      {"too deep", R"({"tenant_id":"acme","x":)" + deep + "}", false},
      {"\\u0000 elsewhere", R"({"tenant_id":"acme","x":"a\u0000b"})", false},
      {"case difference", R"({"tenant_id":"ACME"})", false},
  };
}

}  // namespace fasten::test_support
