// Obtains an RFC 3161 timestamp token from a TSA over HTTP (RFC 3161 §3.4): the request of
// anchor/tsa.h POSTed with the project's one HTTP client (llm/http_client.h), the reply checked
// and turned into the token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace fasten::llm {

// POSTs a TimeStampReq over SHA-256(data) to `tsa_url` (Content-Type
// application/timestamp-query) and returns the DER TimeStampToken of the reply (checked by
// anchor::TokenFromResponse: granted, same imprint and nonce). One retry on a transport failure;
// none on an HTTP error. The reply must be HTTP 200 with Content-Type
// application/timestamp-reply (a missing Content-Type is tolerated) and at most
// anchor::kMaxTimestampBytes. Errors: Unavailable "TSA unreachable: ..." (transport),
// "TSA <url> answered HTTP <n>", and TokenFromResponse's errors prefixed with the URL.
Result<std::string> RequestTimestamp(const std::string& tsa_url, std::string_view data,
                                     int64_t timeout_ms);

}  // namespace fasten::llm
