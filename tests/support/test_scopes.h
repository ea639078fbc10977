// The test-only scope issuer (store/tenant_scope.h): tests make the scopes their cases need.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "store/tenant_scope.h"

namespace fasten::test_support {

class TestScopes {
 public:
  static TenantScope Tenant(std::string tenant) {
    return TenantScope::Tenant(ScopeIssuer(), std::move(tenant));
  }
  static TenantScope AllTenants() { return TenantScope::AllTenants(ScopeIssuer()); }
  // nullopt: all tenants (for table-driven tests written with optional tenants).
  static TenantScope Of(const std::optional<std::string>& tenant) {
    return tenant ? Tenant(*tenant) : AllTenants();
  }
};

}  // namespace fasten::test_support
