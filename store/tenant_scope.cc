#include "store/tenant_scope.h"

#include "store/payload_tenant.h"
#include "store/row.h"

namespace fasten {

bool TenantScope::Sees(const AuditRow& row) const {
  return !tenant_ || (!row.tenant_id.null && row.tenant_id.value == *tenant_);
}

bool TenantScope::SeesPayload(std::string_view payload) const {
  return !tenant_ || PayloadBelongsTo(payload, *tenant_);
}

std::string TenantScope::CursorKey() const {
  return tenant_ ? *tenant_ : std::string("\0*all-tenants", 13);
}

std::string TenantScope::RecordTenant() const {
  return tenant_ ? *tenant_ : std::string(kRecordAllTenants);
}

std::string TenantScope::Describe() const {
  return tenant_ ? "tenant " + *tenant_ : "all tenants";
}

}  // namespace fasten
