// RFC 3161 trusted timestamps over a note, through OpenSSL's TS API. No networking here: the
// caller POSTs the request (Content-Type application/timestamp-query) with the one HTTP client
// (llm/http_client.h) and hands the response back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace fasten::anchor {

inline constexpr size_t kMaxTimestampBytes = 64 << 10;  // a response or token larger is refused

// A DER TimeStampReq over SHA-256(data), asking for the TSA's certificate, with a random
// 64-bit nonce.
Result<std::string> BuildTimestampRequest(std::string_view data);

// The DER TimeStampToken (CMS ContentInfo) of a DER TimeStampResp that answers `request_der`:
// status granted, same message imprint and nonce. InvalidArgument (or FailedPrecondition for a
// rejection, with the TSA's status text and failure bits) otherwise. Both inputs are parsed whole
// (no trailing bytes), at most kMaxTimestampBytes each. The token's signature is not checked here
// (VerifyTimestampToken does that).
Result<std::string> TokenFromResponse(std::string_view response_der, std::string_view request_der);

struct TimestampInfo {
  std::string gen_time;  // RFC 3339 UTC, e.g. "2026-12-05T22:40:23Z" (fraction kept if given)
  int64_t gen_time_unix = 0;
  std::string tsa;       // the signer certificate's subject, one line
  std::string serial;    // the TSTInfo's serialNumber, lower-case hex
  std::string policy;    // dotted OID
  bool trusted = false;  // the signer chains to a certificate of `ca_file`
};

// Verifies `token_der` over `data`: one signer, the CMS signature verifies with the signer's
// certificate carried in the token, and the imprint is SHA-256(data) ("message imprint mismatch"
// when `data` differs). With a non-empty `ca_file` (PEM), the signer must also
// chain to one of its certificates and carry the timeStamping extended key usage (trusted =
// true); with an empty one, trusted stays false. InvalidArgument saying what failed.
Result<TimestampInfo> VerifyTimestampToken(std::string_view token_der, std::string_view data,
                                           const std::string& ca_file);

}  // namespace fasten::anchor
