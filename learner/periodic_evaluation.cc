#include "learner/periodic_evaluation.h"

#include "env/evaluation.h"
#include "learner/agent_evaluation.h"

namespace qosroute {

PeriodicEvaluator::PeriodicEvaluator(const EnvConfig& env_config,
                                     std::shared_ptr<const Workload> workload,
                                     const GreedyQosOptions& greedy, uint64_t seed_base, int seeds)
    : env_config_(env_config),
      workload_(std::move(workload)),
      greedy_(greedy),
      seed_base_(seed_base),
      seeds_(seeds) {}

EvalRow PeriodicEvaluator::Run(SacAgent& agent, long frames, long updates,
                               std::vector<EpisodeMetrics>* episodes_out) {
  const std::vector<EpisodeMetrics> episodes =
      EvaluateAgent(agent, env_config_, workload_, seed_base_, seeds_);
  if (greedy_qos_.empty()) {
    const GreedyQosOptions greedy = greedy_;
    for (const EpisodeMetrics& m : EvaluatePolicy(
             env_config_, workload_,
             [greedy] { return MakeHeuristic(Heuristic::kGreedyQos, greedy); }, seed_base_, seeds_,
             /*threads=*/0)) {
      greedy_qos_.push_back(m.avg_qos);
    }
  }
  EvalRow row;
  row.frames = frames;
  row.updates = updates;
  row.episodes = static_cast<long>(episodes.size());
  std::vector<double> qos, paired;
  const double n = static_cast<double>(episodes.size());
  for (size_t i = 0; i < episodes.size(); ++i) {
    const EpisodeMetrics& m = episodes[i];
    qos.push_back(m.avg_qos);
    paired.push_back(m.avg_qos - greedy_qos_[i]);
    row.sla_attainment += m.sla_attainment / n;
    row.drop_rate += m.drop_rate / n;
    row.latency_per_token_mean += m.latency_per_token_mean / n;
  }
  const MeanCi ci = MeanWithCi95(qos);
  row.avg_qos = ci.mean;
  row.avg_qos_ci95 = ci.ci95;
  row.greedy_qos = MeanWithCi95(greedy_qos_).mean;
  const MeanCi gain = MeanWithCi95(paired);
  row.vs_greedy_qos = gain.mean;
  row.vs_greedy_qos_ci95 = gain.ci95;
  if (episodes_out != nullptr) *episodes_out = episodes;
  return row;
}

}  // namespace qosroute
