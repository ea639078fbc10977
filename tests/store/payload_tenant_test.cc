#include "store/payload_tenant.h"
#include "support/test_scopes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fasten {
namespace {

struct Case {
  std::string payload;
  Attribution kind;
  std::string tenant;  // when attributed
};

std::string Nest(int depth) {
  return std::string(static_cast<size_t>(depth), '[') +
         std::string(static_cast<size_t>(depth), ']');
}

TEST(PayloadTenant, TheRuleTable) {
  using A = Attribution;
  const std::vector<Case> cases = {
      {R"({"tenant_id":"acme","event":"x"})", A::kAttributed, "acme"},
      {" \t\r\n{ \"tenant_id\" \n: \t\"acme\" }\r\n", A::kAttributed, "acme"},
      {R"({"tenant_id":"a\u0063me"})", A::kAttributed, "acme"},  // escapes in the value decode
      {R"({"tenant_id":"ac\/me"})", A::kAttributed, "ac/me"},
      {R"({"tenant_id":"\ud83d\ude00"})", A::kAttributed, "\xF0\x9F\x98\x80"},
      {"{\"tenant_id\":\"Jos\xC3\xA9\"}", A::kAttributed, "Jos\xC3\xA9"},
      {R"({"x":{"tenant_id":"globex"},"tenant_id":"acme"})", A::kAttributed, "acme"},
      {R"({"tenant_id":"acme","n":[1,-0,2.5e-3,1E+999,true,false,null,{}]})", A::kAttributed,
       "acme"},
      {R"({"tenant_id":""})", A::kAttributed, ""},
      {"{\"tenant_id\":\"acme\",\"x\":" + Nest(kMaxPayloadDepth - 1) + "}", A::kAttributed, "acme"},
      // No tenant.
      {R"({"event":"x"})", A::kNone, ""},
      {R"({"x":{"tenant_id":"acme"}})", A::kNone, ""},
      {R"([{"tenant_id":"acme"}])", A::kNone, ""},
      {R"("tenant_id")", A::kNone, ""},
      {"{}", A::kNone, ""},
      {R"({"event":"x\u0000y"})", A::kNone, ""},  // undecodable, but no tenant to dispute
      // Ambiguous.
      {R"({"tenant_id":"acme","tenant_id":"globex"})", A::kDuplicate, ""},
      {R"({"tenant_id":"acme","tenant_id":"acme"})", A::kDuplicate, ""},
      {R"({"tenant_id":"acme","tenant\u005fid":"globex"})", A::kDuplicate, ""},
      {R"({"tenant\u005fid":"acme"})", A::kEscapedKey, ""},
      {R"({"\u0074enant_id":"acme"})", A::kEscapedKey, ""},
      {R"({"tenant_id":1})", A::kNotString, ""},
      {R"({"tenant_id":null})", A::kNotString, ""},
      {R"({"tenant_id":["acme"]})", A::kNotString, ""},
      {R"({"tenant_id":{"id":"acme"}})", A::kNotString, ""},
      {R"({"tenant_id":"acme\u0000globex"})", A::kControlChar, ""},
      {R"({"tenant_id":"acme\nglobex"})", A::kControlChar, ""},
      {R"({"tenant_id":"acme\u001f"})", A::kControlChar, ""},
      {R"({"tenant_id":"acme\u007f"})", A::kControlChar, ""},
      {"{\"tenant_id\":\"acme\x7F\"}", A::kControlChar, ""},
      {R"({"tenant_id":"acme\ud800"})", A::kLoneSurrogate, ""},
      {R"({"tenant_id":"\udc00acme"})", A::kLoneSurrogate, ""},
      {R"({"tenant_id":"acme","m":"x\u0000y"})", A::kUndecodable, ""},
      {R"({"tenant_id":"acme","m":{"z":["\ud800"]}})", A::kUndecodable, ""},
      {R"({"tenant_id":"acme","\udfff":1})", A::kUndecodable, ""},
      {R"({"tenant_id":"acme"} x)", A::kInvalidJson, ""},
      {R"({"tenant_id":"acme",})", A::kInvalidJson, ""},
      {R"({"tenant_id":"acme","n":NaN})", A::kInvalidJson, ""},
      {R"({"tenant_id":"acme","n":01})", A::kInvalidJson, ""},
      {R"({"tenant_id":"acme","n":1.})", A::kInvalidJson, ""},
      {R"({'tenant_id':'acme'})", A::kInvalidJson, ""},
      {"\xEF\xBB\xBF{\"tenant_id\":\"acme\"}", A::kInvalidJson, ""},     // BOM
      {"{\"tenant_id\":\"acme\",\"m\":\"\xFF\"}", A::kInvalidJson, ""},  // not UTF-8
      {"{\"tenant_id\":\"ac\xC0\xAFme\"}", A::kInvalidJson, ""},         // overlong
      {"{\"tenant_id\":\"\xED\xA0\x80\"}", A::kInvalidJson, ""},         // UTF-8 surrogate
      {"{\"tenant_id\":\"acme\tx\"}", A::kInvalidJson, ""},              // raw control
      {std::string("{\"tenant_id\":\"acme\0\"}", 19), A::kInvalidJson, ""},
      {"{\"tenant_id\":\"acme\"}\f", A::kInvalidJson, ""},
      {"", A::kInvalidJson, ""},
      {"not json", A::kInvalidJson, ""},
      {R"({"tenant_id":"acme)", A::kInvalidJson, ""},
      {"{\"tenant_id\":\"acme\",\"x\":" + Nest(kMaxPayloadDepth) + "}", A::kTooDeep, ""},
      {"{\"tenant_id\":\"acme\",\"x\":" + Nest(200000) + "}", A::kTooDeep, ""},
  };
  for (const Case& c : cases) {
    PayloadTenantResult r = PayloadTenant(c.payload);
    const std::string shown = c.payload.substr(0, 80);
    EXPECT_EQ(AttributionName(r.kind), std::string(AttributionName(c.kind))) << shown;
    EXPECT_EQ(r.tenant.has_value(), c.kind == Attribution::kAttributed) << shown;
    if (r.tenant) {
      EXPECT_EQ(*r.tenant, c.tenant) << shown;
    }
    EXPECT_EQ(IsAmbiguous(r.kind), c.kind != A::kNone && c.kind != A::kAttributed) << shown;
    EXPECT_EQ(PayloadBelongsTo(c.payload, "acme"), r.tenant == std::string("acme")) << shown;
    EXPECT_TRUE(test_support::TestScopes::AllTenants().SeesPayload(c.payload)) << shown;
  }
}

// Every prefix of a valid payload is invalid (never attributed), and none crashes the scanner.
TEST(PayloadTenant, TruncatedPayloadsAreNeverAttributed) {
  const std::string full =
      R"({"tenant_id":"a\u0063me","x":[1,{"y":"\ud83d\ude00"},-2.5e+3,true,null],"z":"\u00e9"})";
  ASSERT_EQ(PayloadTenant(full).tenant, std::string("acme"));
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_EQ(PayloadTenant(full.substr(0, n)).kind, Attribution::kInvalidJson) << n;
  }
}

}  // namespace
}  // namespace fasten
