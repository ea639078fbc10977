// A small POST-JSON HTTP client for model providers (docs/providers.md §5), the only libcurl user.
//
// HttpClient::Post sends one request with the configured retries: transport failures, 408/409,
// 429 rate limits and 5xx/529 are retried (the adapter's Classifier decides for an HTTP error,
// `x-should-retry: true|false` overrides it); the wait is the server's (`retry-after-ms`, then
// `retry-after` in seconds or as an HTTP date) or min(0.5·2^n, 8) s × jitter. A server wait longer
// than max_server_wait_ms fails the call ("rate limited; retry after N s") instead of sleeping, and
// no retry starts that could not finish before the deadline. Clock, sleeper and jitter come from
// the ProviderConfig, so tests never sleep.
//
// Thread-safety: Post may be called from several threads at once (one CURL easy handle per call;
// curl_global_init runs once). Header values (API keys) are never logged or put into messages.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "llm/provider.h"
#include "util/status.h"

namespace fasten::llm {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "name: value"
  std::string body;                  // JSON text, POSTed
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value wins
  std::string body;                            // decoded (gzip undone)
  // The header's value, "" when absent. `name` lower-case.
  const std::string& Header(const std::string& name) const;
};

// Why an attempt failed, as the adapter sees it (llm/wire.h ParseErrorResponse).
struct HttpFailure {
  Status status;
  std::string error_type;
  bool retryable = false;
  bool quota = false;  // billing / spend limit: never retried, whatever the headers say
};

// Turns a non-2xx response into a failure.
using Classifier = std::function<HttpFailure(const HttpResponse&)>;

class HttpClient {
 public:
  // Takes timeouts, retries, the deadline, clock, sleeper and jitter from `config` (defaults
  // filled in for the empty functions).
  explicit HttpClient(const ProviderConfig& config);

  // One attempt, no retries. A transport failure (no HTTP response) is a non-OK Status:
  // DeadlineExceeded for a timeout, InvalidArgument for a bad URL, else Unavailable;
  // *retryable says whether another attempt may help.
  Result<HttpResponse> Send(const HttpRequest& request, int64_t timeout_ms, bool* retryable) const;

  // With retries. Returns the first 2xx response; else the last failure's Status, with *error
  // (when given) filled in. 2xx bodies are not looked at.
  Result<HttpResponse> Post(const HttpRequest& request, const Classifier& classify,
                            CallError* error) const;

 private:
  ProviderConfig config_;
};

// The server-directed wait of a response in milliseconds: `retry-after-ms`, else `retry-after`
// (seconds, or an HTTP date relative to `now_unix_ms`). nullopt when absent, unparsable or <= 0.
std::optional<int64_t> ServerRetryAfterMs(const HttpResponse& response, int64_t now_unix_ms);

// The exponential backoff before retry `n` (0-based): min(0.5·2^n, 8) s × jitter, in milliseconds.
int64_t BackoffMs(int n, double jitter);

}  // namespace fasten::llm
