#pragma once
// Per-episode metrics of spec section 5, and their summary over seeds.
#include <string>
#include <vector>

#include "common/bytes.h"
#include "env/expert_server.h"

namespace qosroute {

struct EpisodeMetrics {
  long requests = 0;
  long completed = 0;  // served to the end (within the SLA or not)
  long dropped = 0;    // by the router, plus those an engine rejected
  long met_sla = 0;
  double total_qos = 0.0;       // sum of score of requests served within the SLA
  double avg_qos = 0.0;         // total_qos / requests
  double avg_score = 0.0;       // mean true score of completed requests
  double sla_attainment = 0.0;  // met_sla / requests (dropped count as misses)
  double latency_per_token_mean = 0.0;
  double latency_per_token_p50 = 0.0;
  double latency_per_token_p95 = 0.0;
  double latency_per_token_p99 = 0.0;
  std::vector<double> kv_utilization_per_expert;  // time-weighted fraction of blocks in use
  double kv_utilization = 0.0;                    // mean over experts
  double throughput_tokens_per_s = 0.0;
  double drop_rate = 0.0;
  long preemptions = 0;
  double makespan_s = 0.0;
  double upper_bound = 0.0;  // mean over requests of the best expert's true score
};

// Collects completions as they are credited.
class MetricsAccumulator {
 public:
  void Reset();
  void AddCompletion(const Completion& c, double sla);
  void AddDrop() { ++dropped_; }
  EpisodeMetrics Finish(long requests, double upper_bound, double makespan_s,
                        const std::vector<ExpertServer>& experts) const;
  double total_qos() const { return total_qos_; }
  long completed() const { return static_cast<long>(latencies_.size()); }
  long dropped() const { return dropped_; }

  void Save(ByteWriter* out) const;
  void Load(ByteReader* in);

 private:
  std::vector<double> latencies_;  // latency per token of every completed request
  double score_sum_ = 0.0;
  double total_qos_ = 0.0;
  long met_sla_ = 0;
  long dropped_ = 0;
  long output_tokens_ = 0;
};

// Mean and half-width of the 95% confidence interval (Student t) of one metric over seeds.
struct MeanCi {
  double mean = 0.0;
  double ci95 = 0.0;
};
MeanCi MeanWithCi95(const std::vector<double>& values);

// Linear-interpolated percentile, p in [0, 100]; values need not be sorted.
double Percentile(std::vector<double> values, double p);

}  // namespace qosroute
