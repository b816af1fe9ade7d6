// The Prometheus text format (0.0.4) parser and the vLLM load reader; see prometheus_text.h.
// The /metrics writer and the histogram quantile are in prometheus_writer.cc.
#include "serve/prometheus_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <system_error>

#include "serve/prometheus_names.h"

namespace qosroute {
namespace {

using prometheus_internal::IsNameChar;
using prometheus_internal::IsNameStart;

// A scrape may be a binary or HTML body; error messages quote it printably and briefly.
std::string Printable(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string out;
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (text.size() > kMax) out += "...";
  return out;
}

// What the parser found where it expected something else.
std::string Describe(std::string_view rest) {
  if (rest.empty()) return "the end of the line";
  const unsigned char c = static_cast<unsigned char>(rest[0]);
  if (c >= 0x20 && c < 0x7f) return "'" + std::string(1, static_cast<char>(c)) + "'";
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
  return buf;
}

// A value as Go's strconv.ParseFloat (what Prometheus uses) reads it for the cases that occur:
// decimal and exponent forms, "NaN", "+Inf", "-Inf". from_chars, unlike strtod, ignores the
// locale, but rejects a leading '+', so that is taken off first.
bool ParseDouble(std::string_view token, double* value) {
  if (!token.empty() && token[0] == '+') {
    token.remove_prefix(1);
    if (!token.empty() && (token[0] == '+' || token[0] == '-')) return false;
  }
  if (token.empty()) return false;
  const char* end = token.data() + token.size();
  const auto result = std::from_chars(token.data(), end, *value);
  return result.ec == std::errc() && result.ptr == end;
}

// Timestamps are integer milliseconds; their value is not used, only their form checked, so
// that a line with trailing garbage is reported rather than half-read.
bool IsInteger(std::string_view token) {
  if (!token.empty() && (token[0] == '-' || token[0] == '+')) token.remove_prefix(1);
  return !token.empty() &&
         std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}

bool IsBlankOrComment(std::string_view line) {
  const size_t first = line.find_first_not_of(" \t");
  return first == std::string_view::npos || line[first] == '#';
}

// Parses one sample line: name, optional {labels}, value, optional timestamp.
class LineParser {
 public:
  explicit LineParser(std::string_view line) : rest_(line) {}

  // Fills *sample, or returns false and leaves the reason in error().
  bool Parse(PrometheusSample* sample);
  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }
  size_t SkipBlanks();
  bool Consume(char c);
  std::string_view TakeName(bool allow_colon);
  std::string_view TakeToken();
  bool ParseLabels(PrometheusSample* sample);
  bool ParseLabelValue(const PrometheusSample& sample, std::string_view label, std::string* value);

  std::string_view rest_;
  std::string error_;
};

size_t LineParser::SkipBlanks() {
  size_t n = 0;
  while (n < rest_.size() && IsBlank(rest_[n])) ++n;
  rest_.remove_prefix(n);
  return n;
}

bool LineParser::Consume(char c) {
  if (rest_.empty() || rest_[0] != c) return false;
  rest_.remove_prefix(1);
  return true;
}

std::string_view LineParser::TakeName(bool allow_colon) {
  if (rest_.empty() || !IsNameStart(rest_[0], allow_colon)) return {};
  size_t n = 1;
  while (n < rest_.size() && IsNameChar(rest_[n], allow_colon)) ++n;
  const std::string_view name = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return name;
}

std::string_view LineParser::TakeToken() {
  size_t n = 0;
  while (n < rest_.size() && !IsBlank(rest_[n])) ++n;
  const std::string_view token = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return token;
}

bool LineParser::Parse(PrometheusSample* sample) {
  SkipBlanks();
  const std::string_view name = TakeName(/*allow_colon=*/true);
  if (name.empty()) return Fail("expected a metric name, found " + Describe(rest_));
  sample->name.assign(name);
  const std::string quoted = "'" + sample->name + "'";
  // Blanks may separate the name from its labels, as Prometheus's own parser allows.
  size_t blanks = SkipBlanks();
  const bool has_labels = !rest_.empty() && rest_[0] == '{';
  if (has_labels && !ParseLabels(sample)) return false;
  if (has_labels) blanks = SkipBlanks();
  if (rest_.empty()) return Fail("expected a value after " + quoted);
  // Without this "foo-1" would read as foo = -1; a name is always followed by a blank or '{'.
  if (!has_labels && blanks == 0) {
    return Fail("expected a blank or '{' after " + quoted + ", found " + Describe(rest_));
  }
  const std::string_view value = TakeToken();
  if (!ParseDouble(value, &sample->value)) {
    return Fail("bad value '" + Printable(value) + "' for " + quoted);
  }
  SkipBlanks();
  if (rest_.empty()) return true;
  const std::string_view timestamp = TakeToken();
  if (!IsInteger(timestamp)) {
    return Fail("bad timestamp '" + Printable(timestamp) + "' for " + quoted);
  }
  SkipBlanks();
  if (!rest_.empty()) {
    return Fail("unexpected " + Describe(rest_) + " after the timestamp of " + quoted);
  }
  return true;
}

bool LineParser::ParseLabels(PrometheusSample* sample) {
  const std::string of = " of '" + sample->name + "'";
  rest_.remove_prefix(1);  // '{'
  while (true) {
    SkipBlanks();
    if (Consume('}')) return true;
    const std::string_view label = TakeName(/*allow_colon=*/false);
    if (label.empty())
      return Fail("expected a label name or '}'" + of + ", found " + Describe(rest_));
    for (const auto& existing : sample->labels) {
      if (existing.first == label) return Fail("duplicate label '" + existing.first + "'" + of);
    }
    const std::string quoted = "label '" + std::string(label) + "'" + of;
    SkipBlanks();
    if (!Consume('=')) return Fail("expected '=' after " + quoted + ", found " + Describe(rest_));
    SkipBlanks();
    if (!Consume('"'))
      return Fail("expected '\"' to open " + quoted + ", found " + Describe(rest_));
    std::string value;
    if (!ParseLabelValue(*sample, label, &value)) return false;
    sample->labels.emplace_back(label, std::move(value));
    SkipBlanks();
    // A trailing comma before '}' is allowed, as Prometheus allows it.
    if (!Consume(',') && (rest_.empty() || rest_[0] != '}')) {
      return Fail("expected ',' or '}' after " + quoted + ", found " + Describe(rest_));
    }
  }
}

bool LineParser::ParseLabelValue(const PrometheusSample& sample, std::string_view label,
                                 std::string* value) {
  const std::string quoted = "label '" + std::string(label) + "' of '" + sample.name + "'";
  while (!rest_.empty()) {
    const char c = rest_[0];
    rest_.remove_prefix(1);
    if (c == '"') return true;
    if (c != '\\') {
      value->push_back(c);
      continue;
    }
    if (rest_.empty()) break;
    const char escaped = rest_[0];
    rest_.remove_prefix(1);
    if (escaped == '\\' || escaped == '"') {
      value->push_back(escaped);
    } else if (escaped == 'n') {
      value->push_back('\n');
    } else {
      return Fail("unknown escape '\\" + Printable(std::string_view(&escaped, 1)) + "' in " +
                  quoted);
    }
  }
  return Fail("unterminated value of " + quoted);
}

// Sum over label sets of the usable values of `name`; nullopt when there are none, because a
// count the server did not report is unknown, not zero.
std::optional<double> SumCounts(const std::vector<PrometheusSample>& samples,
                                const std::string& name) {
  std::optional<double> total;
  for (const PrometheusSample& s : samples) {
    if (s.name == name && std::isfinite(s.value) && s.value >= 0) {
      total = total.value_or(0.0) + s.value;
    }
  }
  return total;
}

// Largest finite value of `name`, clamped to [0,1]: with several engines the fullest cache is
// the one that preempts first.
std::optional<double> MaxFraction(const std::vector<PrometheusSample>& samples,
                                  const std::string& name) {
  std::optional<double> best;
  for (const PrometheusSample& s : samples) {
    if (s.name == name && std::isfinite(s.value)) best = std::max(best.value_or(s.value), s.value);
  }
  if (best) best = std::clamp(*best, 0.0, 1.0);
  return best;
}

}  // namespace

std::vector<PrometheusSample> ParsePrometheusText(const std::string& text, int* bad_lines,
                                                  std::string* first_error) {
  std::vector<PrometheusSample> samples;
  int bad = 0;
  std::string error;
  int line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlankOrComment(line)) continue;
    PrometheusSample sample;
    LineParser parser(line);
    if (parser.Parse(&sample)) {
      samples.push_back(std::move(sample));
      continue;
    }
    if (bad++ == 0) error = "line " + std::to_string(line_number) + ": " + parser.error();
  }
  if (bad_lines != nullptr) *bad_lines = bad;
  if (first_error != nullptr) *first_error = error;
  return samples;
}

VllmLoad ReadVllmLoad(const std::vector<PrometheusSample>& samples) {
  VllmLoad load;
  load.running = SumCounts(samples, "vllm:num_requests_running");
  load.waiting = SumCounts(samples, "vllm:num_requests_waiting");
  // vLLM v1 renamed the KV gauge; a server exporting both is mid-migration and v1 is current.
  for (const char* series : {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}) {
    load.kv_usage = MaxFraction(samples, series);
    if (load.kv_usage) {
      load.kv_series = series;
      break;
    }
  }
  return load;
}
}  // namespace qosroute
