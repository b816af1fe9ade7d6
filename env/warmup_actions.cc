#include "env/warmup_actions.h"

#include "common/error.h"
#include "env/random_action.h"

namespace qosroute {

const NameTable<WarmupPolicy>& WarmupPolicies() {
  static const NameTable<WarmupPolicy> table(
      "warm-up policy",
      {{WarmupPolicy::kRandom, "random"}, {WarmupPolicy::kGreedyQos, "greedy-qos"}});
  return table;
}

WarmupActions::WarmupActions(WarmupPolicy policy, double epsilon, const GreedyQosOptions& greedy)
    : policy_(policy), epsilon_(epsilon) {
  if (!(epsilon >= 0.0 && epsilon <= 1.0)) {
    throw UserError("train.warmup_epsilon must lie in [0, 1], not " + std::to_string(epsilon));
  }
  if (policy == WarmupPolicy::kGreedyQos) greedy_ = MakeHeuristic(Heuristic::kGreedyQos, greedy);
}

int WarmupActions::Act(const ClusterEnv& env, Rng& rng) {
  if (!greedy_) return RandomValidAction(env.observation(), rng);
  if (rng.Uniform() < epsilon_) return RandomValidAction(env.observation(), rng);
  return greedy_->Act(env);
}

}  // namespace qosroute
