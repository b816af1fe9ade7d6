// The Prometheus text format (0.0.4) parser, the vLLM load reader, the /metrics writer and the
// histogram quantile; see prometheus_text.h.
#include "serve/prometheus_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string_view>
#include <system_error>

#include "common/error.h"

namespace qosroute {
namespace {

bool IsNameStart(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}

bool IsNameChar(char c, bool allow_colon) {
  return IsNameStart(c, allow_colon) || (c >= '0' && c <= '9');
}

// Metric names may contain ':' (vLLM's do); label names may not.
bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty() || !IsNameStart(name[0], allow_colon)) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return IsNameChar(c, allow_colon); });
}

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

// Shortest text that reads back as the same double (to_chars: locale-free, and 0.1 prints as
// "0.1", not "%.17g"'s "0.10000000000000001"). Integers print in fixed notation, every digit
// exact, so counts read as counts ("1000000", not "1e+06").
std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const bool integral = std::fabs(v) < 1e21 && v == std::trunc(v);
  const auto result = integral ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                               : std::to_chars(buf, buf + sizeof buf, v);
  QR_CHECK(result.ec == std::errc());
  return std::string(buf, result.ptr);
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// HELP text escapes only backslash and newline; a quote stays as it is.
std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// "{a=\"x\",le=\"0.5\"}", or "" with no labels; `le` (when non-null) goes last.
std::string FormatLabels(const PrometheusWriter::Labels& labels, const std::string* le) {
  if (labels.empty() && le == nullptr) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i].first;
    // "__" names are reserved for Prometheus itself.
    QR_CHECK_MSG(IsValidName(label, false) && label.rfind("__", 0) != 0,
                 "bad label name '" + label + "'");
    for (size_t j = 0; j < i; ++j) {
      QR_CHECK_MSG(labels[j].first != label, "duplicate label '" + label + "'");
    }
    if (i > 0) out += ",";
    out += label + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
  }
  if (le != nullptr) out += std::string(labels.empty() ? "" : ",") + "le=\"" + *le + "\"";
  return out + "}";
}

void AppendSample(std::string* out, const std::string& name, const std::string& labels,
                  const std::string& value) {
  *out += name + labels + " " + value + "\n";
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

PrometheusWriter::Family& PrometheusWriter::FamilyFor(const std::string& name,
                                                      const std::string& help, const char* type) {
  const auto it = family_of_.find(name);
  if (it != family_of_.end()) {
    Family& family = families_[it->second];
    QR_CHECK_MSG(family.type == type,
                 "metric '" + name + "' written as " + family.type + " and as " + type);
    return family;
  }
  QR_CHECK_MSG(IsValidName(name, true), "bad metric name '" + name + "'");
  family_of_.emplace(name, families_.size());
  families_.push_back(Family{name, help, type, ""});
  return families_.back();
}

void PrometheusWriter::Counter(const std::string& name, const std::string& help,
                               const Labels& labels, double value) {
  Family& family = FamilyFor(name, help, "counter");
  AppendSample(&family.samples, name, FormatLabels(labels, nullptr), FormatNumber(value));
}

void PrometheusWriter::Gauge(const std::string& name, const std::string& help, const Labels& labels,
                             double value) {
  Family& family = FamilyFor(name, help, "gauge");
  AppendSample(&family.samples, name, FormatLabels(labels, nullptr), FormatNumber(value));
}

void PrometheusWriter::Histogram(const std::string& name, const std::string& help,
                                 const Labels& labels, const std::vector<double>& upper_bounds,
                                 const std::vector<uint64_t>& bucket_counts, double sum) {
  QR_CHECK_MSG(bucket_counts.size() == upper_bounds.size() + 1,
               "histogram '" + name + "' needs one count per bound plus the overflow count");
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    QR_CHECK_MSG(
        std::isfinite(upper_bounds[i]) && (i == 0 || upper_bounds[i] > upper_bounds[i - 1]),
        "histogram '" + name + "' bounds must be finite and ascending");
  }
  for (const auto& label : labels) {
    QR_CHECK_MSG(label.first != "le", "histogram '" + name + "' has its own 'le' label");
  }
  Family& family = FamilyFor(name, help, "histogram");
  // Counts stay integers end to end: a double would lose counts above 2^53.
  uint64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    cumulative += bucket_counts[i];
    const std::string le = FormatNumber(upper_bounds[i]);
    AppendSample(&family.samples, name + "_bucket", FormatLabels(labels, &le),
                 std::to_string(cumulative));
  }
  cumulative += bucket_counts.back();
  const std::string inf = "+Inf";
  const std::string plain = FormatLabels(labels, nullptr);
  AppendSample(&family.samples, name + "_bucket", FormatLabels(labels, &inf),
               std::to_string(cumulative));
  AppendSample(&family.samples, name + "_sum", plain, FormatNumber(sum));
  AppendSample(&family.samples, name + "_count", plain, std::to_string(cumulative));
}

const std::string& PrometheusWriter::text() const {
  text_.clear();
  for (const Family& family : families_) {
    text_ += "# HELP " + family.name + " " + EscapeHelp(family.help) + "\n";
    text_ += "# TYPE " + family.name + " " + family.type + "\n";
    text_ += family.samples;
  }
  return text_;
}

double HistogramQuantile(const std::vector<double>& upper_bounds,
                         const std::vector<uint64_t>& bucket_counts, double q) {
  QR_CHECK_MSG(bucket_counts.size() == upper_bounds.size() + 1,
               "HistogramQuantile needs one count per bound plus the overflow count");
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (std::isnan(q)) return std::numeric_limits<double>::quiet_NaN();
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  std::vector<double> cumulative(bucket_counts.size());
  double total = 0;
  for (size_t i = 0; i < bucket_counts.size(); ++i) cumulative[i] = total += bucket_counts[i];
  if (upper_bounds.empty() || total == 0) return std::numeric_limits<double>::quiet_NaN();
  const double rank = q * total;
  // The first finite bucket whose cumulative count reaches the rank. For rank 0 it must also be
  // non-empty (the smallest observation lies in the first non-empty bucket); Prometheus would
  // divide 0 by 0 there when the first bucket is empty.
  size_t b = 0;
  while (b < upper_bounds.size() && (cumulative[b] < rank || cumulative[b] == 0)) ++b;
  if (b == upper_bounds.size()) return upper_bounds.back();
  if (b == 0 && upper_bounds[0] <= 0) return upper_bounds[0];
  const double start = b == 0 ? 0.0 : upper_bounds[b - 1];
  const double below = b == 0 ? 0.0 : cumulative[b - 1];
  return start + (upper_bounds[b] - start) * ((rank - below) / (cumulative[b] - below));
}

}  // namespace qosroute
