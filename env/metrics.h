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
  // Time to first token (s) of completed requests (arrival to the end of their first prefill;
  // requests restored from snapshots before version 4 have none and are left out).
  double ttft_mean = 0.0;
  double ttft_p95 = 0.0;
  // Latency per token of every completed request, in completion order (for CDFs:
  // `simulate --requests-out`).
  std::vector<double> latencies_per_token;
  std::vector<double> kv_utilization_per_expert;  // time-weighted fraction of blocks in use
  double kv_utilization = 0.0;                    // mean over experts
  double throughput_tokens_per_s = 0.0;
  double drop_rate = 0.0;
  long preemptions = 0;
  double makespan_s = 0.0;
  double upper_bound = 0.0;  // mean over requests of the best expert's true score
  // Energy over the makespan: every iteration at its power, idle power in the gaps.
  double energy_j = 0.0;
  double mean_power_w = 0.0;        // energy_j / makespan_s (cluster: sum over GPUs)
  double energy_per_token_j = 0.0;  // energy_j / output tokens of completed requests
  std::vector<double> energy_j_per_expert;
  std::vector<double> mean_power_w_per_expert;
  std::vector<double> energy_per_token_j_per_expert;
  // Energy-aware QoS: sum over requests served within the SLA of score - energy_weight x
  // their J/token, over all requests (= avg_qos when env.energy_weight = 0).
  double avg_energy_qos = 0.0;
};

// Collects completions as they are credited.
class MetricsAccumulator {
 public:
  void Reset();
  // The credit of a served request within the SLA: score - energy_weight x its J/token.
  void AddCompletion(const Completion& c, double sla, double energy_weight = 0.0);
  void AddDrop() { ++dropped_; }
  EpisodeMetrics Finish(long requests, double upper_bound, double makespan_s,
                        const std::vector<ExpertServer>& experts) const;
  double total_qos() const { return total_qos_; }
  long completed() const { return static_cast<long>(latencies_.size()); }
  long dropped() const { return dropped_; }

  void Save(ByteWriter* out) const;
  // `version` of the cluster snapshot (1: before energy-aware QoS, 3: before TTFT; what Save
  // writes is kExpertStateVersion's form).
  void Load(ByteReader* in, uint32_t version = 4);

 private:
  // The running sums a snapshot carries after the latencies, in order (Save and Load both
  // walk this list); energy_qos_ follows them since version 2.
  template <typename Self, typename F>
  static void VisitSums(Self& s, F&& f);
  std::vector<double> latencies_;  // latency per token of every completed request
  std::vector<double> ttfts_;      // time to first token of every completed request (s)
  double score_sum_ = 0.0;
  double total_qos_ = 0.0;
  long met_sla_ = 0;
  long dropped_ = 0;
  long output_tokens_ = 0;
  double energy_qos_ = 0.0;
};

// A request's credit: its score if served within the SLA, less energy_weight x its J/token
// (env.energy_weight); 0 otherwise.
double RequestCredit(const Completion& c, double sla, double energy_weight);

// Mean and half-width of the 95% confidence interval (Student t) of one metric over seeds.
struct MeanCi {
  double mean = 0.0;
  double ci95 = 0.0;
};
MeanCi MeanWithCi95(const std::vector<double>& values);

// Linear-interpolated percentile, p in [0, 100]; values need not be sorted.
double Percentile(std::vector<double> values, double p);

}  // namespace qosroute
