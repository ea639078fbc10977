#include "tools/route_template.h"

namespace fasten {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool AllOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

bool IsIdLikeToken(std::string_view s) {
  if (s.size() < 8) return false;
  int letters = 0, digits = 0, changes = 0;
  bool part_all_digits = false;
  size_t part_len = 0, part_digits = 0;
  int last_class = 0;  // 1 letter, 2 digit; separators do not reset it
  auto end_part = [&] {
    if (part_len > 0 && part_len == part_digits) part_all_digits = true;
    part_len = part_digits = 0;
  };
  for (char c : s) {
    if (c == '-' || c == '_') {
      end_part();
      continue;
    }
    int cls;
    if (IsDigit(c)) {
      cls = 2;
      ++digits;
      ++part_digits;
    } else if (IsLetter(c)) {
      cls = 1;
      ++letters;
    } else {
      return false;
    }
    ++part_len;
    if (last_class != 0 && cls != last_class) ++changes;
    last_class = cls;
  }
  end_part();
  if (letters == 0 || digits == 0) return false;
  return part_all_digits || digits >= 4 || changes >= 3;
}

}  // namespace

bool IsIdSegment(std::string_view s) {
  if (AllOf(s, IsDigit)) return true;
  if (IsUuid(s)) return true;
  if (s.size() >= 8 && AllOf(s, IsHex)) return true;
  return IsIdLikeToken(s);
}

std::string RouteTemplate(std::string_view path) {
  path = path.substr(0, path.find_first_of("?#"));
  std::string out;
  out.reserve(path.size());
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    std::string_view seg = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (IsIdSegment(seg)) {
      out += "{id}";
    } else {
      out.append(seg);
    }
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

std::string ApiRoute(std::string_view method, std::string_view path) {
  std::string route(method);
  if (!route.empty()) route += ' ';
  route += RouteTemplate(path);
  return route;
}

}  // namespace fasten
