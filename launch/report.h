#pragma once
// Comparison tables: one row per policy, mean and 95% interval over evaluation seeds.
#include <string>
#include <vector>

#include "env/metrics.h"

namespace qosroute {

struct PolicyResult {
  std::string policy;
  std::vector<EpisodeMetrics> episodes;
};

// The policy every other row is compared with, seed by seed, when it is in the table.
inline constexpr char kPairedReference[] = "greedy-qos";

// The human table, with the upper bound, each policy's share of it, and the paired
// difference of average QoS against greedy-qos on the same seeds (mean ± 95% interval).
std::string FormatComparisonTable(const std::vector<PolicyResult>& results);

// CSV with the columns policy,avg_qos,avg_qos_ci95,avg_score,sla_attainment,
// latency_per_token_mean,latency_per_token_p95,kv_utilization,drop_rate,preemptions and more,
// ending with paired_vs_greedy_qos,paired_vs_greedy_qos_ci95 (empty without greedy-qos).
std::string FormatComparisonCsv(const std::vector<PolicyResult>& results);
void WriteText(const std::string& path, const std::string& text);

}  // namespace qosroute
