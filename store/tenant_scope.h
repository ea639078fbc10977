// TenantScope: which tenant's rows a caller may see. Exactly one tenant, or all tenants (the
// operator-chosen all-tenants mode). The store owns the visibility rule: every reader call takes a
// scope (store/reader.h), and TenantScope::Sees / SeesPayload are THE audit and stream predicates;
// nothing else in the code base compares tenants to decide what a caller sees.
//
// A scope cannot be made from a string by arbitrary code. It is not default-constructible and has
// no converting constructor: only an issuer can make one, and an issuer needs a ScopeIssuer, a
// passkey whose constructor is private and whose friends are the places that bind a caller to a
// tenant:
//   - app::LaunchScopes        the launch configuration (CLI --tenant / --all-tenants flags of
//                              serve, verify, query, pack, investigate, validate, ...);
//   - mcp::CredentialScopes    the MCP transports' credential binding (the stdio launch tenant,
//                              an HTTP bearer token's or JWT's principal);
//   - test_support::TestScopes tests only (tests/support/test_scopes.h).
// Code elsewhere receives scopes and passes them on; it can copy one, never forge one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace fasten {

struct AuditRow;
class TenantScope;

namespace app {
class LaunchScopes;
}
namespace mcp {
class CredentialScopes;
}
namespace test_support {  // not `testing`: that would hide GoogleTest's ::testing in fasten
class TestScopes;
}

// The tenant written into the record log (record/record_log.h) for the all-tenants mode.
inline constexpr char kRecordAllTenants[] = "*";

// The passkey: only the friends below can make one, and only with one can a scope be made.
class ScopeIssuer {
 private:
  ScopeIssuer() = default;
  friend class app::LaunchScopes;
  friend class mcp::CredentialScopes;
  friend class test_support::TestScopes;
};

class TenantScope {
 public:
  // The scope of exactly `tenant` (any text, the empty string included: it names a tenant no row
  // has, since stored tenants are compared byte for byte).
  static TenantScope Tenant(ScopeIssuer, std::string tenant) {
    return TenantScope(std::optional<std::string>(std::move(tenant)));
  }
  // Every tenant's rows.
  static TenantScope AllTenants(ScopeIssuer) { return TenantScope(std::nullopt); }

  bool all_tenants() const { return !tenant_.has_value(); }
  // The one tenant; nullopt in the all-tenants mode.
  const std::optional<std::string>& tenant() const { return tenant_; }

  // THE audit visibility predicate: all tenants, or the row's tenant_id is non-null and equal
  // (byte for byte) to the scope's tenant.
  bool Sees(const AuditRow& row) const;
  // THE stream visibility predicate: all tenants, or the payload is attributed to the scope's
  // tenant by store/payload_tenant.h's rule (a payload two parsers could read differently,
  // e.g. one with two "tenant_id" members, belongs to no tenant).
  bool SeesPayload(std::string_view payload) const;

  // The tenant key cursors are bound to (tools/cursor.h): the tenant, or in the all-tenants mode
  // a key no tenant can have (it begins with NUL, which no attributed tenant holds).
  std::string CursorKey() const;
  // The tenant the record log stores (record/record_log.h): the tenant, or kRecordAllTenants.
  std::string RecordTenant() const;
  // For people: "tenant acme" or "all tenants".
  std::string Describe() const;

  friend bool operator==(const TenantScope&, const TenantScope&) = default;

 private:
  explicit TenantScope(std::optional<std::string> tenant) : tenant_(std::move(tenant)) {}

  std::optional<std::string> tenant_;
};

}  // namespace fasten
