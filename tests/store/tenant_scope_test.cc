// TenantScope: what the type system enforces (static_asserts: compiling this file is the test),
// and the C++ column of the visibility-rule table (tests/support/visibility_cases.h).
#include "store/tenant_scope.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <type_traits>

#include "mcp/dispatcher.h"
#include "store/reader.h"
#include "support/test_scopes.h"
#include "support/visibility_cases.h"
#include "tools/registry.h"

namespace fasten {
namespace {

// A scope cannot be made out of nothing, nor from a string by arbitrary code.
static_assert(!std::is_default_constructible_v<TenantScope>);
static_assert(!std::is_constructible_v<TenantScope, std::string>);
static_assert(!std::is_constructible_v<TenantScope, const std::string&>);
static_assert(!std::is_constructible_v<TenantScope, const char*>);
static_assert(!std::is_constructible_v<TenantScope, std::optional<std::string>>);
static_assert(!std::is_constructible_v<TenantScope, std::nullopt_t>);
static_assert(!std::is_convertible_v<std::string, TenantScope>);
static_assert(!std::is_convertible_v<const char*, TenantScope>);
static_assert(!std::is_convertible_v<std::optional<std::string>, TenantScope>);
// Its factories need the passkey, which only the issuers (friends) can make.
static_assert(!std::is_default_constructible_v<ScopeIssuer>);
template <typename Issuer>
concept MakesIssuer = requires {
  Issuer{};
};
static_assert(!MakesIssuer<ScopeIssuer>);
// Copying a scope that was issued is fine.
static_assert(std::is_copy_constructible_v<TenantScope>);

// Nothing that runs a tool or a call exists without a scope.
static_assert(!std::is_default_constructible_v<ToolEnv>);
static_assert(!std::is_default_constructible_v<mcp::CallContext>);

// The readers cannot be asked without a scope (the scope is every call's first parameter).
template <typename R>
concept AuditQueryWithoutScope = requires(R& r, const AuditQuery& q, AuditPage* p) {
  r.Query(q, p);
};
template <typename R>
concept AuditQueryWithScope = requires(R& r, const TenantScope& s, const AuditQuery& q,
                                       AuditPage* p) {
  r.Query(s, q, p);
};
template <typename R>
concept StreamQueryWithoutScope = requires(R& r, const StreamQuery& q, StreamPage* p) {
  r.Query(q, p);
};
template <typename R>
concept StreamQueryWithScope = requires(R& r, const TenantScope& s, const StreamQuery& q,
                                        StreamPage* p) {
  r.Query(s, q, p);
};
template <typename R>
concept FindBySeqHashWithoutScope = requires(R& r, std::vector<AuditRow>* out) {
  r.FindBySeqHash(int64_t{1}, std::string(), out);
};
template <typename R>
concept FindBySeqWithoutScope = requires(R& r, std::optional<StreamRow>* out) {
  r.FindBySeq(int64_t{1}, out);
};
template <typename R>
concept QueryWithTenantString = requires(R& r, const AuditQuery& q, AuditPage* p) {
  r.Query(std::string("acme"), q, p);
};
static_assert(!AuditQueryWithoutScope<AuditReader>);
static_assert(AuditQueryWithScope<AuditReader>);
static_assert(!StreamQueryWithoutScope<StreamReader>);
static_assert(StreamQueryWithScope<StreamReader>);
static_assert(!FindBySeqHashWithoutScope<AuditReader>);
static_assert(!FindBySeqWithoutScope<StreamReader>);
static_assert(!QueryWithTenantString<AuditReader>);
// No query struct carries a tenant any more.
template <typename Q>
concept HasTenantMember = requires(Q q) {
  q.tenant_id;
};
static_assert(!HasTenantMember<AuditQuery>);
static_assert(!HasTenantMember<StreamQuery>);
static_assert(!HasTenantMember<SeqSpanQuery>);

using test_support::TestScopes;

TEST(TenantScope, OneTenantOrAll) {
  const TenantScope acme = TestScopes::Tenant("acme");
  const TenantScope all = TestScopes::AllTenants();
  EXPECT_FALSE(acme.all_tenants());
  EXPECT_EQ(acme.tenant(), std::optional<std::string>("acme"));
  EXPECT_TRUE(all.all_tenants());
  EXPECT_EQ(all.tenant(), std::nullopt);
  EXPECT_FALSE(acme == all);
  EXPECT_TRUE(acme == TestScopes::Tenant("acme"));
  // One "all tenants" representation: the cursor key no tenant can have, the record log's "*".
  EXPECT_EQ(acme.CursorKey(), "acme");
  EXPECT_EQ(all.CursorKey(), std::string("\0*all-tenants", 13));
  EXPECT_NE(all.CursorKey(), TestScopes::Tenant("*").CursorKey());
  EXPECT_EQ(acme.RecordTenant(), "acme");
  EXPECT_EQ(all.RecordTenant(), "*");
  EXPECT_EQ(acme.Describe(), "tenant acme");
  EXPECT_EQ(all.Describe(), "all tenants");
}

// The C++ column of THE visibility table (the readers' columns: reader_contract_test.cc).
TEST(TenantScope, VisibilityTableAudit) {
  const TenantScope scope = TestScopes::Tenant(test_support::kVisibilityTenant);
  const TenantScope all = TestScopes::AllTenants();
  for (const auto& c : test_support::AuditVisibilityCases()) {
    SCOPED_TRACE(c.name);
    AuditRow row;
    if (c.tenant_id) {
      row.tenant_id.Set(*c.tenant_id);
    } else {
      row.tenant_id.SetNull();
    }
    EXPECT_EQ(scope.Sees(row), c.seen);
    EXPECT_TRUE(all.Sees(row));
  }
}

TEST(TenantScope, VisibilityTablePayloads) {
  const TenantScope scope = TestScopes::Tenant(test_support::kVisibilityTenant);
  const TenantScope all = TestScopes::AllTenants();
  for (const auto& c : test_support::PayloadVisibilityCases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(scope.SeesPayload(c.payload), c.seen);
    EXPECT_TRUE(all.SeesPayload(c.payload));
  }
}

}  // namespace
}  // namespace fasten
