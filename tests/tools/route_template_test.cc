#include "tools/route_template.h"

#include <gtest/gtest.h>

#include <string>

#include "tools/metrics_series.h"

namespace fasten {
namespace {

TEST(RouteTemplate, TemplatesIdSegmentsAndKeepsWords) {
  struct Case {
    const char* path;
    const char* want;
  };
  const Case cases[] = {
      // all digits
      {"/v1/orders/8812", "/v1/orders/{id}"},
      {"/v1/orders/8813", "/v1/orders/{id}"},
      {"/v1/orders/0/items/7", "/v1/orders/{id}/items/{id}"},
      // UUIDs, any case
      {"/users/3f2b1c9e-4d20-4a7b-9c1e-0d2f3a4b5c6d", "/users/{id}"},
      {"/users/3F2B1C9E-4D20-4A7B-9C1E-0D2F3A4B5C6D/keys", "/users/{id}/keys"},
      // hex of 8 or more (hashes, short ids); shorter hex stays
      {"/requests/3a7b1c9e4d20", "/requests/{id}"},
      {"/blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "/blobs/{id}"},
      {"/blobs/deadbeef", "/blobs/{id}"},
      {"/colors/abc123", "/colors/abc123"},
      {"/cafe", "/cafe"},
      // id-like tokens: letters and digits, 8 or more characters
      {"/v1/orders/ord-88412/refunds", "/v1/orders/{id}/refunds"},
      {"/refunds/rf_5T2x9", "/refunds/{id}"},
      {"/customers/usr8a9f3k2", "/customers/{id}"},
      {"/keys/Xk9mP2qR", "/keys/{id}"},
      // words with a version or size in them stay
      {"/v1/webhooks/stripe/refund", "/v1/webhooks/stripe/refund"},
      {"/v2/oauth2-callback", "/v2/oauth2-callback"},
      {"/encode/base64url", "/encode/base64url"},
      {"/tools/sha256sum", "/tools/sha256sum"},
      {"/certs/x509-certs", "/certs/x509-certs"},
      {"/healthz", "/healthz"},
      {"/api/v1/config/mqtt", "/api/v1/config/mqtt"},
      // short or punctuated segments stay
      {"/a1b2", "/a1b2"},
      {"/files/report-2026.pdf", "/files/report-2026.pdf"},
      {"/days/2026-11-20", "/days/2026-11-20"},
      // the query string and fragment are dropped; slashes are kept as they are
      {"/v1/orders/8812?expand=items", "/v1/orders/{id}"},
      {"/v1/orders/8812#top", "/v1/orders/{id}"},
      {"/v1//orders/", "/v1//orders/"},
      {"/", "/"},
      {"", ""},
      {"8812", "{id}"},
      {"relative/42", "relative/{id}"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RouteTemplate(c.path), c.want) << c.path;
  }
}

TEST(RouteTemplate, ApiRouteIsMethodAndTemplate) {
  EXPECT_EQ(ApiRoute("GET", "/v1/orders/8812"), "GET /v1/orders/{id}");
  EXPECT_EQ(ApiRoute("GET", "/v1/orders/8812"), ApiRoute("GET", "/v1/orders/8813"));
  EXPECT_NE(ApiRoute("GET", "/v1/orders/8812"), ApiRoute("POST", "/v1/orders/8812"));
  EXPECT_EQ(ApiRoute("", "/v1/orders/8812"), "/v1/orders/{id}");
}

TEST(RouteTemplate, IdSegmentsNeverMatchEmptyOrOddBytes) {
  EXPECT_FALSE(IsIdSegment(""));
  EXPECT_FALSE(IsIdSegment("{id}"));
  EXPECT_FALSE(
      IsIdSegment(std::string("1234\0"
                              "5678",
                              9)));
  EXPECT_FALSE(
      IsIdSegment("caf\xc3\xa9"
                  "12345678"));
  EXPECT_TRUE(IsIdSegment("12345678901234567890123456789"));  // beyond int64: still digits
}

constexpr Micros kMin = 60 * int64_t{1000000};

TEST(MetricsSeries, BucketNamesAreTheBoundedSet) {
  EXPECT_EQ(BucketNames(), (std::vector<std::string>{"1m", "5m", "15m", "1h", "6h", "1d"}));
  EXPECT_EQ(BucketWidth("1m"), kMin);
  EXPECT_EQ(BucketWidth("15m"), 15 * kMin);
  EXPECT_EQ(BucketWidth("1d"), 1440 * kMin);
  for (const char* bad : {"", "2m", "1M", "30s", "1h ", "60m", "0m"}) {
    EXPECT_FALSE(BucketWidth(bad).has_value()) << bad;
  }
}

TEST(MetricsSeries, BucketsAreAlignedToTheEpoch) {
  const Micros w = 5 * kMin;
  EXPECT_EQ(BucketStart(0, w), 0);
  EXPECT_EQ(BucketStart(w - 1, w), 0);
  EXPECT_EQ(BucketStart(w, w), w);
  EXPECT_EQ(BucketStart(-1, w), -w);  // before the epoch: floor, not truncation
  EXPECT_EQ(BucketStart(-w, w), -w);
  // 2026-11-20T14:02:30Z lies in the 14:00 bucket.
  const Micros t = (int64_t{1795183200} + 150) * 1000000;
  EXPECT_EQ(BucketStart(t, w), int64_t{1795183200} * 1000000);
}

TEST(MetricsSeries, BucketCountCoversBothEnds) {
  const Micros w = kMin;
  EXPECT_EQ(BucketCount(0, 0, w), 1);
  EXPECT_EQ(BucketCount(0, w - 1, w), 1);
  EXPECT_EQ(BucketCount(0, w, w), 2);  // an inclusive until on a boundary touches the next one
  EXPECT_EQ(BucketCount(30 * 1000000, 90 * 1000000, w), 2);
  EXPECT_EQ(BucketCount(0, 60 * w, w), 61);
  EXPECT_EQ(BucketCount(0, 1440 * w - 1, w), kMaxSeriesBuckets);
  EXPECT_EQ(BucketCount(5, 4, w), 0);
}

}  // namespace
}  // namespace fasten
