#pragma once
// The actions of the warm-up frames (before the policy acts), for the single-process trainer
// and the distributed actors alike:
//   random      uniform over the valid actions (the reference's warm-up);
//   greedy-qos  the greedy-qos router, replaced by a uniform valid action with probability
//               epsilon, so that the replay starts with good decisions and still covers
//               every action the critic must value.
// Stateless apart from the caller's RNG, so checkpoints stay exact.
#include <memory>
#include <string>

#include "common/rng.h"
#include "env/cluster_env.h"
#include "env/heuristics.h"

namespace qosroute {

enum class WarmupPolicy { kRandom, kGreedyQos };
// train.warmup_policy's names.
const NameTable<WarmupPolicy>& WarmupPolicies();

class WarmupActions {
 public:
  // UserError for epsilon outside [0, 1].
  WarmupActions(WarmupPolicy policy, double epsilon, const GreedyQosOptions& greedy);
  int Act(const ClusterEnv& env, Rng& rng);
  WarmupPolicy policy() const { return policy_; }

 private:
  WarmupPolicy policy_;
  double epsilon_;
  std::unique_ptr<RoutingPolicy> greedy_;  // null for "random"
};

}  // namespace qosroute
