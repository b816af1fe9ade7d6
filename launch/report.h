#pragma once
// Comparison tables: one row per policy, mean and 95% interval over evaluation seeds.
#include <string>
#include <vector>

#include "env/heuristics.h"
#include "env/metrics.h"

namespace qosroute {

struct PolicyResult {
  std::string policy;
  std::vector<EpisodeMetrics> episodes;
};

// The policy every other row is compared with, seed by seed, when it is in the table.
inline std::string PairedReference() {
  return Heuristics().Name(Heuristic::kGreedyQos);
}

// The human table, with the upper bound, each policy's share of it, and the paired
// difference of average QoS against greedy-qos on the same seeds (mean ± 95% interval).
std::string FormatComparisonTable(const std::vector<PolicyResult>& results);

// CSV with the columns policy,avg_qos,avg_qos_ci95,avg_score,sla_attainment,
// latency_per_token_mean,latency_per_token_p95,kv_utilization,drop_rate,preemptions and more,
// then paired_vs_greedy_qos,paired_vs_greedy_qos_ci95 (empty without greedy-qos), then the
// columns added later (scripts read the first 17 by position): energy_per_token_j,
// mean_power_w, energy_j, avg_energy_qos, avg_energy_qos_ci95, latency_per_token_p95_ci95,
// kv_utilization_ci95, preemptions_ci95.
std::string FormatComparisonCsv(const std::vector<PolicyResult>& results);

// One row per request of every episode: policy,episode,latency_per_token_s,sla_s (latency
// empty for a request that was dropped or rejected), completed requests first within an
// episode. What `qosroute plot --latency` draws as CDFs.
std::string FormatRequestLatencyCsv(const std::vector<PolicyResult>& results, double sla_s);
void WriteText(const std::string& path, const std::string& text);

}  // namespace qosroute
