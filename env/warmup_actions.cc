#include "env/warmup_actions.h"

#include "common/error.h"
#include "env/random_action.h"

namespace qosroute {

WarmupActions::WarmupActions(const std::string& policy, double epsilon,
                             const GreedyQosOptions& greedy)
    : policy_(policy), epsilon_(epsilon) {
  if (policy != "random" && policy != "greedy-qos") {
    throw UserError("train.warmup_policy must be 'random' or 'greedy-qos', not '" + policy + "'");
  }
  if (!(epsilon >= 0.0 && epsilon <= 1.0)) {
    throw UserError("train.warmup_epsilon must lie in [0, 1], not " + std::to_string(epsilon));
  }
  if (policy == "greedy-qos") greedy_ = MakeHeuristic("greedy-qos", greedy);
}

int WarmupActions::Act(const ClusterEnv& env, Rng& rng) {
  if (!greedy_) return RandomValidAction(env.observation(), rng);
  if (rng.Uniform() < epsilon_) return RandomValidAction(env.observation(), rng);
  return greedy_->Act(env);
}

}  // namespace qosroute
