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

// The human table, with the upper bound and each policy's share of it.
std::string FormatComparisonTable(const std::vector<PolicyResult>& results);

// CSV with the columns policy,avg_qos,avg_qos_ci95,avg_score,sla_attainment,
// latency_per_token_mean,latency_per_token_p95,kv_utilization,drop_rate,preemptions and more.
std::string FormatComparisonCsv(const std::vector<PolicyResult>& results);
void WriteText(const std::string& path, const std::string& text);

}  // namespace qosroute
