// The 'sac' policy name in `simulate`: a trained policy file evaluated on the config's seeds.
#include "launch/sac_policy_hook.h"

#include "launch/sac_setup.h"
#include "learner/agent_evaluation.h"

namespace qosroute {

std::vector<EpisodeMetrics> EvaluateLearnedPolicy(const RunConfig& config,
                                                  std::shared_ptr<const Workload> workload,
                                                  const std::string& policy_file) {
  auto agent = LoadAgentForEvaluation(config, policy_file);
  return EvaluateAgent(*agent, config.env, workload, config.eval.seed_base, config.eval.seeds);
}

}  // namespace qosroute
