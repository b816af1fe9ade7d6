#pragma once
// Internal to serve/prometheus_text.cc and serve/prometheus_writer.cc: the Prometheus name
// rules, which the parser reads names by and the writer checks names against.
#include <algorithm>
#include <string_view>

namespace qosroute {
namespace prometheus_internal {

inline bool IsNameStart(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}

inline bool IsNameChar(char c, bool allow_colon) {
  return IsNameStart(c, allow_colon) || (c >= '0' && c <= '9');
}

// Metric names may contain ':' (vLLM's do); label names may not.
inline bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty() || !IsNameStart(name[0], allow_colon)) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return IsNameChar(c, allow_colon); });
}

}  // namespace prometheus_internal
}  // namespace qosroute
