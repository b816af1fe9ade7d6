#pragma once
// How `simulate` evaluates a learned policy without including torch: implemented in the
// learner-aware part of launch/ when torch is built, and as a clear error otherwise.
#include <memory>
#include <string>
#include <vector>

#include "env/metrics.h"
#include "env/workload.h"
#include "launch/config.h"

namespace qosroute {

std::vector<EpisodeMetrics> EvaluateLearnedPolicy(const RunConfig& config,
                                                  std::shared_ptr<const Workload> workload,
                                                  const std::string& policy_file);

}  // namespace qosroute
