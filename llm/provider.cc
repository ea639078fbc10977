#include "llm/provider.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include "llm/wire.h"
#include "util/json_parse.h"

namespace fasten::llm {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool Contains(const std::string& haystack, const char* needle) {
  return haystack.find(needle) != std::string::npos;
}

// A JSON string or number as text ("" for anything else).
std::string ScalarText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return "";
}

struct KindInfo {
  const char* kind;
  const char* base_url;
  const char* max_tokens_field;  // nullptr: the Anthropic wire
  const char* key_env;
};

constexpr KindInfo kKinds[] = {
    {"anthropic", "https://api.anthropic.com", nullptr, "ANTHROPIC_API_KEY"},
    {"openai", "https://api.openai.com", "max_completion_tokens", "OPENAI_API_KEY"},
    {"vllm", "http://localhost:8000", "max_tokens", "FASTEN_LLM_API_KEY"},
    {"ollama", "http://localhost:11434", "max_tokens", "FASTEN_LLM_API_KEY"},
    {"llamacpp", "http://localhost:8080", "max_tokens", "FASTEN_LLM_API_KEY"},
    {"openai-compatible", "http://localhost:8000", "max_tokens", "FASTEN_LLM_API_KEY"},
};

const KindInfo* FindKind(const std::string& kind) {
  for (const KindInfo& k : kKinds) {
    if (kind == k.kind) return &k;
  }
  return nullptr;
}

}  // namespace

const char* StopName(Stop stop) {
  switch (stop) {
    case Stop::kEndTurn:
      return "end_turn";
    case Stop::kToolUse:
      return "tool_use";
    case Stop::kMaxTokens:
      return "max_tokens";
    case Stop::kRefusal:
      return "refusal";
    case Stop::kContextExceeded:
      return "context_exceeded";
    case Stop::kOther:
      return "other";
  }
  return "other";
}

std::string BodyExcerpt(const std::string& body, size_t max) {
  std::string out;
  bool in_tag = false;
  bool space = false;
  for (char ch : body) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '<') {
      in_tag = true;
      space = true;
      continue;
    }
    if (in_tag) {
      if (c == '>') in_tag = false;
      continue;
    }
    if (c < 0x20 || c == 0x7f || c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += ch;
  }
  if (out.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out = out.substr(0, cut) + "...";
  }
  return out;
}

HttpFailure ParseErrorResponse(const std::string& who, int http_status,
                               const std::string& content_type, const std::string& body) {
  (void)content_type;  // the body decides: JSON envelopes are recognised whatever the label
  std::string message, type, code;
  nlohmann::json j;
  (void)ParseJson(body, JsonLimits{body.size(), kMaxJsonDepth}, &j);  // null unless JSON
  if (j.is_object()) {
    const nlohmann::json* e = nullptr;
    if (j.contains("error")) {
      e = &j["error"];
    } else if (j.contains("message")) {
      e = &j;  // vLLM (older): {"object":"error","message",...,"code":400}
    }
    if (e != nullptr && e->is_string()) {
      message = e->get<std::string>();  // {"error": "..."} (Ollama native, vLLM 401)
    } else if (e != nullptr && e->is_object()) {
      if (e->contains("message")) message = ScalarText((*e)["message"]);
      if (e->contains("type")) type = ScalarText((*e)["type"]);
      if (e->contains("code")) code = ScalarText((*e)["code"]);
    } else if (j.contains("detail") && j["detail"].is_string()) {
      message = j["detail"].get<std::string>();
    }
  }
  if (message.empty()) {
    std::string excerpt = BodyExcerpt(body);
    message = excerpt.empty() ? "(empty body)" : excerpt;
  }
  // A string code is more precise than the type (OpenAI: type "requests", code
  // "rate_limit_exceeded"); an integer code only repeats the status.
  bool code_is_name = !code.empty() && !std::isdigit(static_cast<unsigned char>(code[0]));
  HttpFailure f;
  f.error_type = code_is_name ? code : type;
  const std::string lower_msg = Lower(message);
  const std::string ltype = Lower(type);
  const std::string lcode = Lower(code);
  std::string what = "HTTP " + std::to_string(http_status) +
                     (f.error_type.empty() ? "" : " " + f.error_type) + ": " + message;
  auto fail = [&](StatusCode sc, const std::string& prefix, bool retry) {
    f.status = Status(sc, who + ": " + prefix + what);
    f.retryable = retry;
    return f;
  };

  bool quota =
      ltype == "insufficient_quota" || lcode == "insufficient_quota" || ltype == "billing_error" ||
      (http_status == 429 && (Contains(lower_msg, "spend limit") || Contains(lower_msg, "quota") ||
                              Contains(lower_msg, "billing")));
  if (quota) {
    f.quota = true;
    return fail(StatusCode::kResourceExhausted, "quota exhausted: ", false);
  }
  if (http_status == 400 && Contains(lower_msg, "tool choice requires")) {
    return fail(StatusCode::kInvalidArgument, "server configuration error: ", false);
  }
  if (ltype == "unavailable_error") return fail(StatusCode::kUnavailable, "", true);
  if (http_status == 401 || http_status == 403) {
    return fail(StatusCode::kUnauthenticated, "", false);
  }
  if (http_status == 408) return fail(StatusCode::kDeadlineExceeded, "", true);
  if (http_status == 409) return fail(StatusCode::kUnavailable, "", true);
  if (http_status == 429) return fail(StatusCode::kResourceExhausted, "rate limited: ", true);
  if (http_status >= 500) return fail(StatusCode::kUnavailable, "", true);
  if (http_status >= 400) return fail(StatusCode::kInvalidArgument, "", false);
  return fail(StatusCode::kUnavailable, "unexpected response: ", false);
}

int64_t TokenCount(const nlohmann::json& obj, const char* key, bool* present) {
  int64_t n = -1;
  if (obj.is_object()) {
    auto it = obj.find(key);
    if (it != obj.end() && it->is_number_unsigned()) {
      n = static_cast<int64_t>(std::min<uint64_t>(it->get<uint64_t>(), INT64_MAX));
    } else if (it != obj.end() && it->is_number_integer()) {
      n = it->get<int64_t>();
    }
  }
  if (present != nullptr) *present = n >= 0;
  return std::max<int64_t>(n, 0);
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<nlohmann::json> ParseBody(const std::string& who, const HttpResponse& response,
                                 CallError* error) {
  nlohmann::json j;
  JsonParseResult r = ParseJson(response.body, JsonLimits{response.body.size(), kMaxJsonDepth}, &j);
  if (r.ok()) return j;
  if (error != nullptr) {
    error->http_status = response.status;
    error->retryable = false;
  }
  if (r.error == JsonParseError::kTooDeep) {
    return DataLossError(who + ": HTTP " + std::to_string(response.status) + " body: " + r.message);
  }
  return DataLossError(who + ": HTTP " + std::to_string(response.status) +
                       " body is not JSON: " + BodyExcerpt(response.body));
}

Result<Turn> CallModel(HttpClient& client, const std::string& who, const HttpRequest& http,
                       const std::function<Result<Turn>(const nlohmann::json&)>& parse,
                       const char* request_id_header, CallError* error) {
  Result<HttpResponse> response = client.Post(
      http,
      [&who](const HttpResponse& r) {
        return ParseErrorResponse(who, r.status, r.Header("content-type"), r.body);
      },
      error);
  if (!response.ok()) return WithWho(who, response.status());
  Result<nlohmann::json> body = ParseBody(who, *response, error);
  if (!body.ok()) return body.status();
  Result<Turn> turn = parse(*body);
  if (!turn.ok()) {
    if (error != nullptr) error->http_status = response->status;
    return Status(turn.status().code(), who + ": " + turn.status().message());
  }
  turn->request_id = response->Header(request_id_header);
  return turn;
}

Status WithWho(const std::string& who, const Status& s) {
  if (s.ok() || s.message().find(who + ": ") != std::string::npos) return s;
  return Status(s.code(), who + ": " + s.message());
}

std::string EndpointUrl(const std::string& base_url, const std::string& path) {
  bool has_v1 = base_url.size() >= 3 && base_url.compare(base_url.size() - 3, 3, "/v1") == 0;
  return base_url + (has_v1 ? "" : "/v1") + path;
}

Result<std::unique_ptr<Provider>> MakeProvider(const ProviderConfig& config) {
  const KindInfo* info = FindKind(config.kind);
  if (info == nullptr) {
    return InvalidArgumentError("unknown LLM provider kind '" + config.kind +
                                "' (anthropic, openai, vllm, ollama, llamacpp, openai-compatible)");
  }
  if (config.model.empty()) {
    return InvalidArgumentError("no model configured for the " + config.kind + " provider");
  }
  ProviderConfig c = config;
  if (c.base_url.empty()) c.base_url = info->base_url;
  if (c.base_url.rfind("http://", 0) != 0 && c.base_url.rfind("https://", 0) != 0) {
    return InvalidArgumentError("LLM base URL must start with http:// or https://: " + c.base_url);
  }
  while (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
  if (c.max_retries < 0) c.max_retries = 0;
  std::unique_ptr<Provider> p;
  if (info->max_tokens_field == nullptr) {
    p = NewAnthropicProvider(c);
  } else {
    OpenAiWireOptions o;
    o.max_tokens_field = c.max_tokens_field.empty() ? info->max_tokens_field : c.max_tokens_field;
    o.strict_tools = c.kind == "openai" || c.kind == "vllm";
    o.parallel_tool_calls = c.kind == "llamacpp";
    p = NewOpenAiProvider(c, o);
  }
  return p;
}

Result<std::string> ResolveApiKey(const std::string& kind, const std::string& key_file) {
  const KindInfo* info = FindKind(kind);
  if (info == nullptr) return InvalidArgumentError("unknown LLM provider kind '" + kind + "'");
  bool required = kind == "anthropic" || kind == "openai";
  std::string key;
  std::string source;
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    if (!in) return NotFoundError("cannot read the API key file " + key_file);
    std::getline(in, key);
    source = "key file " + key_file;
  } else {
    const char* v = std::getenv(info->key_env);
    if (v != nullptr) key = v;
    source = std::string("$") + info->key_env;
  }
  size_t b = key.find_first_not_of(" \t\r\n");
  size_t e = key.find_last_not_of(" \t\r\n");
  key = b == std::string::npos ? "" : key.substr(b, e - b + 1);
  if (key.empty() && required) {
    return InvalidArgumentError("no API key for the " + kind + " provider: " + source +
                                " is empty or unset");
  }
  return key;
}

}  // namespace fasten::llm
