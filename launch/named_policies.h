#pragma once
// Routers by name for `simulate` and `evaluate`: the heuristics, the planners (rollout and the
// hindsight bound) and "sac" (a policy file), each run on the config's evaluation seeds.
#include <memory>
#include <string>
#include <vector>

#include "env/metrics.h"
#include "launch/config.h"
#include "planner/rollout_policy.h"

namespace qosroute {

// The names `policy` asks for ('all': the heuristics, and sac with a policy file; else a
// comma-separated list), each checked: an unknown name is one UserError listing the known.
std::vector<std::string> RequestedPolicies(const std::string& policy,
                                           const std::string& policy_file);

// planner.base_file as the planner's base: a factory that loads it (once per planner thread
// and episode), with *env given the feature groups it was trained with; empty when the base is
// the heuristic planner.base.
PlannerBaseFactory PlannerBaseOf(const RunConfig& config, EnvConfig* env);

// The hindsight bound: every episode at each of planner.hindsight_horizons, the best kept.
std::vector<EpisodeMetrics> EvaluateHindsightBound(const RunConfig& config,
                                                   std::shared_ptr<const Workload> workload);

// One router by name on the evaluation seeds ("sac" loads `policy_file`).
std::vector<EpisodeMetrics> EvaluateNamedPolicy(const std::string& name, const RunConfig& config,
                                                std::shared_ptr<const Workload> workload,
                                                const std::string& policy_file);

}  // namespace qosroute
