#include "llm/config_json.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/json_parse.h"
#include "util/state_db.h"

namespace fasten::llm {

using nlohmann::json;

Status ReadSmallFile(const std::string& path, const std::string& what, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!StatePathExists(path)) return NotFoundError("no " + what + " at " + path);
    return UnavailableError("cannot read " + what + " " + path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return UnavailableError("cannot read " + what + " " + path);
  *out = ss.str();
  if (out->size() > kMaxConfigBytes) {
    return InvalidArgumentError(what + " " + path + " is larger than 4 MiB");
  }
  return Status::Ok();
}

Result<json> ParseJsonObject(const std::string& text, const std::string& origin) {
  json doc;
  FASTEN_RETURN_IF_ERROR(
      ParseJsonStatus(text, JsonLimits{text.size(), kMaxJsonDepth}, origin, &doc));
  if (!doc.is_object()) return InvalidArgumentError(origin + ": the top level must be an object");
  return doc;
}

bool IsCommentKey(const std::string& key) {
  return key == "comment" || (!key.empty() && key[0] == '_');
}

Status NonNegative(const json& v, const std::string& where, double* out) {
  if (!v.is_number()) return InvalidArgumentError(where + " must be a number");
  double d = v.get<double>();
  if (!std::isfinite(d) || d < 0) {
    return InvalidArgumentError(where + " must be a finite number >= 0, got " + v.dump());
  }
  *out = d;
  return Status::Ok();
}

}  // namespace fasten::llm
