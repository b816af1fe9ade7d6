#pragma once
// Evaluates a SAC agent on held-out episodes: K environments stepped in lockstep, one batched
// policy call per step across them (greedy actions), so the cost is one forward pass per
// decision round, not per decision.
#include <memory>
#include <vector>

#include "env/cluster_env.h"
#include "learner/sac.h"

namespace qosroute {

// Episodes for seeds seed_base .. seed_base + num_seeds - 1, in seed order. Deterministic
// (greedy actions) and independent of batching: every env sees only its own observations.
std::vector<EpisodeMetrics> EvaluateAgent(SacAgent& agent, const EnvConfig& config,
                                          std::shared_ptr<const Workload> workload,
                                          uint64_t seed_base, int num_seeds);

}  // namespace qosroute
