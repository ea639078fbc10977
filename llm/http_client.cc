#include "llm/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

namespace fasten::llm {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  std::string body;
  std::map<std::string, std::string> headers;
  size_t max_body = 0;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  if (sink->body.size() + size * n > sink->max_body) {
    sink->too_large = true;
    return 0;  // curl stops the transfer (CURLE_WRITE_ERROR)
  }
  sink->body.append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    sink->headers.clear();  // a new response (after a 100 Continue, say)
  } else if (size_t colon = line.find(':'); colon != std::string::npos) {
    sink->headers[Lower(Trim(line.substr(0, colon)))] = Trim(line.substr(colon + 1));
  }
  return size * n;
}

// curl_easy_cleanup / curl_slist_free_all on scope exit.
struct EasyHandle {
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  ~EasyHandle() {
    if (headers != nullptr) curl_slist_free_all(headers);
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

// "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate; the weekday is not checked) → Unix seconds.
std::optional<int64_t> ParseHttpDate(const std::string& s) {
  char month[4] = {0};
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  size_t comma = s.find(',');
  if (comma == std::string::npos) return std::nullopt;
  if (std::sscanf(s.c_str() + comma + 1, " %d %3s %d %d:%d:%d", &day, month, &year, &hh, &mm,
                  &ss) != 6) {
    return std::nullopt;
  }
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (std::strcmp(month, kMonths[i]) == 0) mon = i;
  }
  if (mon < 0 || year < 1970) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  return static_cast<int64_t>(timegm(&tm));
}

// A number, all of `s` ("1", "1.5"); nullopt otherwise.
std::optional<double> ParseNumber(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') return std::nullopt;
  return v;
}

int64_t UnixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status WithAttempts(const Status& s, int attempts) {
  if (attempts <= 1) return s;
  return Status(s.code(), s.message() + " (after " + std::to_string(attempts) + " attempts)");
}

}  // namespace

const std::string& HttpResponse::Header(const std::string& name) const {
  static const std::string kEmpty;
  auto it = headers.find(name);
  return it == headers.end() ? kEmpty : it->second;
}

std::optional<int64_t> ServerRetryAfterMs(const HttpResponse& response, int64_t now_unix_ms) {
  if (auto ms = ParseNumber(response.Header("retry-after-ms")); ms && *ms > 0) {
    return static_cast<int64_t>(*ms);
  }
  const std::string& ra = response.Header("retry-after");
  if (ra.empty()) return std::nullopt;
  if (auto secs = ParseNumber(ra)) {
    if (*secs <= 0) return std::nullopt;
    return static_cast<int64_t>(*secs * 1000);
  }
  if (auto at = ParseHttpDate(ra)) {
    int64_t wait = *at * 1000 - now_unix_ms;
    if (wait > 0) return wait;
  }
  return std::nullopt;
}

int64_t BackoffMs(int n, double jitter) {
  double secs = std::min(0.5 * static_cast<double>(int64_t{1} << std::min(n, 10)), 8.0);
  return static_cast<int64_t>(secs * jitter * 1000.0);
}

HttpClient::HttpClient(const ProviderConfig& config) : config_(config) {
  GlobalInit();
  if (!config_.clock) {
    config_.clock = [] {
      return std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
          .count();
    };
  }
  if (!config_.sleeper) {
    config_.sleeper = [](int64_t us) {
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    };
  }
  if (!config_.jitter) {
    config_.jitter = [] {
      thread_local std::mt19937_64 rng{std::random_device{}()};
      return std::uniform_real_distribution<double>(0.75, 1.0)(rng);
    };
  }
}

Result<HttpResponse> HttpClient::Send(const HttpRequest& request, int64_t timeout_ms,
                                      bool* retryable) const {
  *retryable = false;
  EasyHandle h;
  if (h.curl == nullptr) return InternalError("curl_easy_init failed");
  for (const std::string& line : request.headers) {
    h.headers = curl_slist_append(h.headers, line.c_str());
  }
  // No "Expect: 100-continue" round trip for large bodies.
  h.headers = curl_slist_append(h.headers, "Expect:");
  Sink sink;
  sink.max_body = config_.max_response_bytes;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = h.curl;
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h.headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, config_.connect_timeout_ms)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, timeout_ms)));
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) {
    std::string what = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    std::string where = " (POST " + request.url + ")";
    if (sink.too_large) {
      return DataLossError("response body larger than " +
                           std::to_string(config_.max_response_bytes) +
                           " bytes (the limit); refused" + where);
    }
    switch (rc) {
      case CURLE_OPERATION_TIMEDOUT:
        *retryable = true;
        return Status(StatusCode::kDeadlineExceeded, "timed out: " + what + where);
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return InvalidArgumentError("bad provider URL: " + what + where);
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
        return UnavailableError("TLS verification failed: " + what + where);
      case CURLE_PARTIAL_FILE:
        *retryable = true;
        return UnavailableError("truncated response (HTTP " + std::to_string(status) + ", " +
                                std::to_string(sink.body.size()) + " bytes): " + what + where);
      case CURLE_GOT_NOTHING:
        *retryable = true;
        return UnavailableError("connection closed with no response: " + what + where);
      default:
        *retryable = true;
        return UnavailableError("connection failed: " + what + where);
    }
  }
  HttpResponse out;
  out.status = static_cast<int>(status);
  out.headers = std::move(sink.headers);
  out.body = std::move(sink.body);
  return out;
}

Result<HttpResponse> HttpClient::Post(const HttpRequest& request, const Classifier& classify,
                                      CallError* error) const {
  CallError local;
  CallError& e = error != nullptr ? *error : local;
  e = CallError{};
  const int64_t deadline = config_.deadline_us;
  for (int attempt = 0;; ++attempt) {
    int64_t timeout_ms = config_.request_timeout_ms;
    if (deadline > 0) {
      int64_t left_ms = (deadline - config_.clock()) / 1000;
      if (left_ms <= 0) {
        e.retryable = true;
        return Status(
            StatusCode::kDeadlineExceeded,
            "deadline passed before the model call (attempt " + std::to_string(attempt + 1) + ")");
      }
      timeout_ms = std::min(timeout_ms, left_ms);
    }
    e.attempts = attempt + 1;
    bool retryable = false;
    std::optional<int64_t> server_wait;
    Status failure;
    {
      Result<HttpResponse> r = Send(request, timeout_ms, &retryable);
      if (r.ok() && r->status >= 200 && r->status < 300) return r;
      if (!r.ok()) {
        failure = r.status();
        e.http_status = 0;
        e.error_type.clear();
      } else {
        HttpFailure f = classify(*r);
        failure = f.status.ok() ? UnavailableError("HTTP " + std::to_string(r->status)) : f.status;
        e.http_status = r->status;
        e.error_type = f.error_type;
        retryable = f.retryable;
        std::string should = Lower(r->Header("x-should-retry"));
        if (!f.quota && should == "true") retryable = true;
        if (should == "false") retryable = false;
        server_wait = ServerRetryAfterMs(*r, UnixNowMs());
      }
    }
    e.retryable = retryable;
    if (!retryable || attempt >= config_.max_retries) return WithAttempts(failure, attempt + 1);
    int64_t wait_ms = 0;
    if (server_wait) {
      if (*server_wait > config_.max_server_wait_ms) {
        std::string secs = std::to_string((*server_wait + 999) / 1000);
        if (e.http_status == 429) {
          return ResourceExhaustedError("rate limited; retry after " + secs +
                                        " s: " + failure.message());
        }
        return Status(failure.code(),
                      failure.message() + "; the server asks to retry after " + secs + " s");
      }
      wait_ms = *server_wait;
    } else {
      wait_ms = BackoffMs(attempt, config_.jitter());
    }
    if (deadline > 0 && config_.clock() + wait_ms * 1000 >= deadline) {
      return Status(failure.code(), WithAttempts(failure, attempt + 1).message() +
                                        "; no time left for a retry before the deadline");
    }
    config_.sleeper(wait_ms * 1000);
  }
}

}  // namespace fasten::llm
