#pragma once
// Runs routing policies over evaluation episodes. Episodes are independent, so seeds run on
// worker threads; each seed's result depends only on the seed, never on the thread count.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "env/cluster_env.h"
#include "env/heuristics.h"

namespace qosroute {

using PolicyFactory = std::function<std::unique_ptr<RoutingPolicy>()>;

// One full episode of `policy` on `env` with `seed`.
EpisodeMetrics RunEpisode(ClusterEnv& env, RoutingPolicy& policy, uint64_t seed);

// Episodes for seeds seed_base .. seed_base + num_seeds - 1, in seed order.
std::vector<EpisodeMetrics> EvaluatePolicy(const EnvConfig& config,
                                           std::shared_ptr<const Workload> workload,
                                           const PolicyFactory& make_policy, uint64_t seed_base,
                                           int num_seeds, int threads);

}  // namespace qosroute
