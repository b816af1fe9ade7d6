// The /metrics writer (PrometheusWriter) and the histogram quantile; see prometheus_text.h.
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <system_error>

#include "common/error.h"
#include "serve/prometheus_names.h"
#include "serve/prometheus_text.h"

namespace qosroute {
namespace {

using prometheus_internal::IsValidName;

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
