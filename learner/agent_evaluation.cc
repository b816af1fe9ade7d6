#include "learner/agent_evaluation.h"

namespace qosroute {

std::vector<EpisodeMetrics> EvaluateAgent(SacAgent& agent, const EnvConfig& config,
                                          std::shared_ptr<const Workload> workload,
                                          uint64_t seed_base, int num_seeds) {
  std::vector<std::unique_ptr<ClusterEnv>> envs;
  for (int k = 0; k < num_seeds; ++k) {
    envs.push_back(std::make_unique<ClusterEnv>(config, workload));
    envs.back()->Reset(seed_base + k);
  }
  std::vector<const Observation*> observations;
  std::vector<int> active;
  while (true) {
    observations.clear();
    active.clear();
    for (int k = 0; k < num_seeds; ++k) {
      if (!envs[k]->done()) {
        observations.push_back(&envs[k]->observation());
        active.push_back(k);
      }
    }
    if (active.empty()) break;
    const std::vector<int> actions = agent.Act(BatchObservations(observations), /*greedy=*/true);
    for (size_t i = 0; i < active.size(); ++i) envs[active[i]]->Step(actions[i]);
  }
  std::vector<EpisodeMetrics> results;
  for (const auto& env : envs) results.push_back(env->Metrics());
  return results;
}

}  // namespace qosroute
