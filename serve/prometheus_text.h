#pragma once
// The Prometheus text exposition format (version 0.0.4), both ways, for serving the router in
// front of real vLLM servers: the router scrapes each server's /metrics to learn its queue
// lengths and KV-cache load (ParsePrometheusText, ReadVllmLoad) and serves its own /metrics
// (PrometheusWriter). HistogramQuantile turns the router's latency histograms into the
// percentiles that reports print. No torch, no Boost: the serving binary should not need them.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qosroute {

struct PrometheusSample {
  std::string name;                                         // e.g. "vllm:num_requests_running"
  std::vector<std::pair<std::string, std::string>> labels;  // in order, values unescaped
  double value = 0.0;                                       // NaN, +Inf, -Inf accepted
};

// Every sample line of `text`, in order. Blank lines and '#' lines (HELP, TYPE, comments) are
// skipped; metric names may contain ':'; label values are quoted with the escapes \\ \" \n; a
// timestamp after the value is ignored. A malformed line does not throw: it is skipped and
// counted in *bad_lines (when non-null), and the first problem is described in *first_error
// (when non-null; "line 7: expected a value after 'foo'"), so that one garbage line does not
// hide the rest of a scrape. Both outputs are reset first.
std::vector<PrometheusSample> ParsePrometheusText(const std::string& text, int* bad_lines = nullptr,
                                                  std::string* first_error = nullptr);

// A vLLM server's load as its /metrics reports it. Absent (nullopt) means the scrape did not
// say, which a router must not read as "idle".
struct VllmLoad {
  std::optional<double> running;   // vllm:num_requests_running, summed over label sets
  std::optional<double> waiting;   // vllm:num_requests_waiting, summed over label sets
  std::optional<double> kv_usage;  // fraction in [0,1]: vllm:kv_cache_usage_perc (v1), else
                                   // vllm:gpu_cache_usage_perc (v0); max over label sets
  std::string kv_series;           // which of the two names was used ("" when neither)
};

// Sums running and waiting over label sets (one per engine or model); a sample whose value is
// non-finite or negative counts as absent. kv_usage is the largest finite value of the v1
// series, else of the v0 series, clamped to [0,1].
VllmLoad ReadVllmLoad(const std::vector<PrometheusSample>& samples);

// Builds the text of a /metrics page. Samples of one name are kept together under a single
// HELP and TYPE (written with the first use of the name, with that call's help), as the format
// requires, even when calls for different names interleave. Metric and label names must be
// valid Prometheus names and a name keeps one type; anything else is a programming error and
// fails a QR_CHECK.
class PrometheusWriter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  void Counter(const std::string& name, const std::string& help, const Labels& labels,
               double value);
  void Gauge(const std::string& name, const std::string& help, const Labels& labels, double value);
  // Cumulative histogram from per-bucket counts: upper_bounds ascending and finite,
  // bucket_counts.size() == upper_bounds.size() + 1 (the last one counts observations above the
  // last bound), NOT cumulative: the writer accumulates. Writes name_bucket{le=...} for every
  // bound plus le="+Inf" (the total), name_sum and name_count. `labels` must not contain "le".
  void Histogram(const std::string& name, const std::string& help, const Labels& labels,
                 const std::vector<double>& upper_bounds,
                 const std::vector<uint64_t>& bucket_counts, double sum);
  // The page so far. The reference stays valid until the next call on this writer.
  const std::string& text() const;

 private:
  struct Family {
    std::string name, help, type, samples;
  };
  Family& FamilyFor(const std::string& name, const std::string& help, const char* type);

  std::vector<Family> families_;             // in order of first use
  std::map<std::string, size_t> family_of_;  // name -> index in families_
  mutable std::string text_;                 // rebuilt by text()
};

// The q-quantile of the observations in a histogram with the same buckets as Histogram above
// (per-bucket counts, last = above the last bound), interpolated linearly inside the bucket the
// way Prometheus's histogram_quantile does: the first bucket starts at 0 (unless its bound is
// <= 0, then that bound is the answer), and a quantile in the overflow bucket is the last
// bound. NaN when there are no observations or no finite bound, or q is NaN; -Inf for q < 0,
// +Inf for q > 1, as in Prometheus.
double HistogramQuantile(const std::vector<double>& upper_bounds,
                         const std::vector<uint64_t>& bucket_counts, double q);

}  // namespace qosroute
