// Fuzzes the RFC 3161 parsers of anchor/tsa.h: TokenFromResponse (a DER TimeStampResp answering a
// fixed request) and VerifyTimestampToken (a DER TimeStampToken over a fixed note, no CA file).
//
// Input: any bytes, given to both. Seeds (corpus/tsa/): a granted reply and its token made by the
// local TSA of tests/fakes/fake_tsa.py for kRequest over kNote, a rejection, truncations. Checks:
// - nothing crashes or leaks, whatever the bytes (ASan, UBSan);
// - TokenFromResponse fails with InvalidArgument or FailedPrecondition and a message; on success
//   the input was at most kMaxTimestampBytes and the token is one whole DER ContentInfo of at most
//   kMaxTimestampBytes;
// - VerifyTimestampToken fails with InvalidArgument and a message; on success trusted is false
//   (no CA), gen_time is RFC 3339 UTC ("...Z") agreeing with gen_time_unix's date, the policy is
//   a dotted OID, and the same token over another note fails (imprint mismatch).
#include <openssl/pkcs7.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "anchor/tsa.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using fasten::StatusCode;
using fasten::fuzz::AsText;

// openssl ts -query -data note -sha256 -cert, for kNote (the seeds answer it).
const unsigned char kRequest[] = {
    0x30, 0x44, 0x02, 0x01, 0x01, 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
    0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20, 0x84, 0x28, 0x14, 0x2f,
    0x0a, 0x54, 0x90, 0x41, 0x05, 0x9b, 0x9c, 0x72, 0xdf, 0xf8, 0xd4, 0xbe, 0x62, 0x88,
    0x28, 0x15, 0x12, 0x3f, 0x02, 0x82, 0x24, 0x93, 0xa5, 0xdd, 0x89, 0x58, 0x4b, 0x77,
    0x02, 0x09, 0x00, 0xe7, 0xc9, 0x5a, 0xfb, 0x1d, 0xbf, 0xaa, 0x0f, 0x01, 0x01, 0xff};
const char kNote[] = "fasten fuzz note\n";

bool IsDottedOid(const std::string& s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (char c : s) {
    if ((c < '0' || c > '9') && c != '.') return false;
  }
  return s.find("..") == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = AsText(data, size);
  const std::string_view request(reinterpret_cast<const char*>(kRequest), sizeof kRequest);

  fasten::Result<std::string> token = fasten::anchor::TokenFromResponse(input, request);
  if (token.ok()) {
    FUZZ_CHECK_MSG(size <= fasten::anchor::kMaxTimestampBytes, std::to_string(size));
    FUZZ_CHECK_MSG(!token->empty() && token->size() <= fasten::anchor::kMaxTimestampBytes,
                   std::to_string(token->size()));
    const auto* p = reinterpret_cast<const unsigned char*>(token->data());
    PKCS7* p7 = d2i_PKCS7(nullptr, &p, static_cast<long>(token->size()));
    FUZZ_CHECK_MSG(p7 != nullptr, "the token does not parse");
    FUZZ_CHECK(p == reinterpret_cast<const unsigned char*>(token->data()) + token->size());
    PKCS7_free(p7);
    (void)fasten::anchor::VerifyTimestampToken(*token, kNote, "");
  } else {
    const StatusCode code = token.status().code();
    FUZZ_CHECK_MSG(code == StatusCode::kInvalidArgument || code == StatusCode::kFailedPrecondition,
                   token.status().message());
    FUZZ_CHECK(!token.status().message().empty());
  }

  fasten::Result<fasten::anchor::TimestampInfo> info =
      fasten::anchor::VerifyTimestampToken(input, kNote, "");
  if (info.ok()) {
    FUZZ_CHECK(!info->trusted);
    const std::string& t = info->gen_time;
    FUZZ_CHECK_MSG(t.size() >= 20 && t.back() == 'Z' && t[4] == '-' && t[10] == 'T', t);
    std::tm tm{};
    const time_t secs = static_cast<time_t>(info->gen_time_unix);
    FUZZ_CHECK_MSG(gmtime_r(&secs, &tm) != nullptr, t);
    char day[32];
    std::snprintf(day, sizeof day, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    FUZZ_CHECK_MSG(t.compare(0, 10, day) == 0, t + " vs " + day);
    FUZZ_CHECK_MSG(IsDottedOid(info->policy), info->policy);
    FUZZ_CHECK(!fasten::anchor::VerifyTimestampToken(input, "another note", "").ok());
  } else {
    FUZZ_CHECK_MSG(info.status().code() == StatusCode::kInvalidArgument, info.status().message());
    FUZZ_CHECK(!info.status().message().empty());
  }
  return 0;
}
