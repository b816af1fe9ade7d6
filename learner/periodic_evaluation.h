#pragma once
// The periodic held-out evaluation, one implementation for both trainers (the single-process
// loop and learner 0 of a distributed job): the agent's greedy actions on the evaluation
// episodes, paired with greedy-qos on the same episodes so that every row says how far the
// learned router is from the strong heuristic. greedy-qos is deterministic, so its episodes
// run once, at the first evaluation, and are reused.
#include <memory>
#include <vector>

#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "learner/sac.h"
#include "telemetry/metrics_rows.h"

namespace qosroute {

class PeriodicEvaluator {
 public:
  PeriodicEvaluator(const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                    const GreedyQosOptions& greedy, uint64_t seed_base, int seeds);

  // Evaluates `agent`; *episodes (optional) receives the agent's episode metrics.
  EvalRow Run(SacAgent& agent, long frames, long updates,
              std::vector<EpisodeMetrics>* episodes = nullptr);

 private:
  EnvConfig env_config_;
  std::shared_ptr<const Workload> workload_;
  GreedyQosOptions greedy_;
  uint64_t seed_base_;
  int seeds_;
  std::vector<double> greedy_qos_;  // per episode; empty until the first evaluation
};

}  // namespace qosroute
