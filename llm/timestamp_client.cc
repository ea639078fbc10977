#include "llm/timestamp_client.h"

#include <algorithm>
#include <cctype>

#include "anchor/tsa.h"
#include "llm/http_client.h"

namespace fasten::llm {
namespace {

// "application/timestamp-reply; charset=x" → "application/timestamp-reply".
std::string MediaType(const std::string& content_type) {
  std::string out = content_type.substr(0, content_type.find(';'));
  out.erase(
      std::remove_if(out.begin(), out.end(), [](unsigned char c) { return std::isspace(c) != 0; }),
      out.end());
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<std::string> RequestTimestamp(const std::string& tsa_url, std::string_view data,
                                     int64_t timeout_ms) {
  Result<std::string> request = anchor::BuildTimestampRequest(data);
  if (!request.ok()) return request.status();
  ProviderConfig config;
  config.connect_timeout_ms = std::min<int64_t>(config.connect_timeout_ms, timeout_ms);
  config.request_timeout_ms = timeout_ms;
  config.max_retries = 0;
  config.max_response_bytes = anchor::kMaxTimestampBytes;
  HttpClient client(config);
  HttpRequest http;
  http.url = tsa_url;
  http.headers = {"Content-Type: application/timestamp-query",
                  "Accept: application/timestamp-reply"};
  http.body = *request;
  Result<HttpResponse> response = Status();
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool retryable = false;
    response = client.Send(http, timeout_ms, &retryable);
    if (response.ok() || !retryable) break;
  }
  if (!response.ok()) {
    const Status& s = response.status();
    if (s.code() == StatusCode::kDataLoss) {  // over the size limit
      return DataLossError("TSA " + tsa_url + ": " + s.message());
    }
    return Status(s.code() == StatusCode::kInvalidArgument ? StatusCode::kInvalidArgument
                                                           : StatusCode::kUnavailable,
                  "TSA unreachable: " + s.message());
  }
  if (response->status != 200) {
    return UnavailableError("TSA " + tsa_url + " answered HTTP " +
                            std::to_string(response->status));
  }
  const std::string type = MediaType(response->Header("content-type"));
  if (!type.empty() && type != "application/timestamp-reply") {
    return InvalidArgumentError("TSA " + tsa_url + " answered with Content-Type " +
                                response->Header("content-type").substr(0, 100) +
                                ", not application/timestamp-reply");
  }
  Result<std::string> token = anchor::TokenFromResponse(response->body, *request);
  if (!token.ok()) {
    return Status(token.status().code(), "TSA " + tsa_url + ": " + token.status().message());
  }
  return token;
}

}  // namespace fasten::llm
