#pragma once
// How `simulate` evaluates a learned policy without including torch: implemented in the
// learner-aware part of launch/ when torch is built, and as a clear error otherwise.
#include <memory>
#include <string>
#include <vector>

#include "env/heuristics.h"
#include "env/metrics.h"
#include "env/workload.h"
#include "launch/config.h"
#include "launch/report.h"

namespace qosroute {

std::vector<EpisodeMetrics> EvaluateLearnedPolicy(const RunConfig& config,
                                                  std::shared_ptr<const Workload> workload,
                                                  const std::string& policy_file);

// `serve --policy-file`: a trained policy as a RoutingPolicy that decides greedily on the
// observation of the env it is given. Sets in *env the optional observation features the
// policy was trained with (as EvaluateLearnedPolicy does).
std::unique_ptr<RoutingPolicy> LoadLearnedRoutingPolicy(const RunConfig& config,
                                                        const std::string& policy_file,
                                                        EnvConfig* env);

// Every heuristic on the config's evaluation seeds (no torch needed).
std::vector<PolicyResult> EvaluateHeuristics(const RunConfig& config,
                                             std::shared_ptr<const Workload> workload);

// A trained policy to compare: the name its row gets and its policy file.
struct NamedPolicyFile {
  std::string name;
  std::string file;
};

// After training: every heuristic plus the trained policies on the same held-out seeds;
// prints the table and writes metrics/comparison.{csv,txt} in the run directory.
void CompareTrainedPolicy(const RunConfig& config, std::shared_ptr<const Workload> workload,
                          const std::vector<NamedPolicyFile>& policies, const std::string& run_dir);

}  // namespace qosroute
