// The MCP transports' scope issuer: the tenant a credential binds a caller to (an HTTP bearer
// token's or JWT's principal, mcp/auth.h). One of the three issuers of TenantScope
// (store/tenant_scope.h); only mcp/ uses it. A launch-bound tenant (stdio, HTTP without auth) is
// issued by the launch configuration (app/launch_scopes.h) and handed to the transport.
#pragma once

#include "mcp/auth.h"
#include "store/tenant_scope.h"

namespace fasten::mcp {

class CredentialScopes {
 public:
  // The scope of an authenticated principal: exactly its tenant.
  static TenantScope ForPrincipal(const Principal& principal) {
    return TenantScope::Tenant(ScopeIssuer(), principal.tenant);
  }
  // The server's own readiness probe (GET /readyz): no caller, and no row it reads is shown
  // (only whether the query ran).
  static TenantScope ForProbe() { return TenantScope::AllTenants(ScopeIssuer()); }
};

}  // namespace fasten::mcp
