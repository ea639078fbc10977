// The launch configuration's scope issuer: the CLI flags that bind a command to one tenant
// (--tenant T, FASTEN_TENANT_ID) or, by the operator's explicit choice, to all tenants
// (--all-tenants, or a command run without --tenant over its whole store). One of the three
// issuers of TenantScope (store/tenant_scope.h); only app/ uses it (and the benchmarks, which act
// as the operator).
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "store/tenant_scope.h"

namespace fasten::app {

class LaunchScopes {
 public:
  // --tenant T.
  static TenantScope Tenant(std::string tenant) {
    return TenantScope::Tenant(ScopeIssuer(), std::move(tenant));
  }
  // --all-tenants (or an operator command over the whole store).
  static TenantScope AllTenants() { return TenantScope::AllTenants(ScopeIssuer()); }
  // An optional --tenant flag: that tenant when given, else the operator's whole store.
  static TenantScope FromFlag(const std::optional<std::string>& tenant) {
    return tenant ? Tenant(*tenant) : AllTenants();
  }
};

}  // namespace fasten::app
