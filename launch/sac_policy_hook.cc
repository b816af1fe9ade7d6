// The 'sac' policy name in `simulate`: a trained policy file evaluated on the config's seeds.
#include "launch/sac_policy_hook.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "env/evaluation.h"
#include "launch/sac_setup.h"
#include "learner/agent_evaluation.h"
#include "learner/graph_batch.h"

namespace qosroute {
namespace {

// The policy sees the optional features it was trained with, whatever the config says; they
// change observations only, never the simulation or the metrics.
void UseTrainedFeatures(const SacConfig& trained, EnvConfig* env) {
  env->lookahead_features = trained.lookahead_features;
  env->lookahead_value = trained.lookahead_value;
  env->expert_score_prior = trained.expert_score_prior;
  env->expert_aggregates = trained.expert_aggregates;
}

}  // namespace

std::vector<EpisodeMetrics> EvaluateLearnedPolicy(const RunConfig& config,
                                                  std::shared_ptr<const Workload> workload,
                                                  const std::string& policy_file) {
  auto agent = LoadAgentForEvaluation(config, policy_file);
  EnvConfig env = config.env;
  UseTrainedFeatures(agent->config(), &env);
  if (env.lookahead_features != config.env.lookahead_features ||
      env.lookahead_value != config.env.lookahead_value ||
      env.expert_score_prior != config.env.expert_score_prior ||
      env.expert_aggregates != config.env.expert_aggregates) {
    spdlog::info(
        "{} was trained with lookahead_features={} lookahead_value={} expert_score_prior={} "
        "expert_aggregates={}; its observations use those",
        policy_file, env.lookahead_features, env.lookahead_value, env.expert_score_prior,
        env.expert_aggregates);
  }
  return EvaluateAgent(*agent, env, workload, config.eval.seed_base, config.eval.seeds);
}

namespace {

// A trained SAC policy behind the heuristics' interface: greedy actions on the env's
// observation, with the action mask applied by the agent.
class LearnedRoutingPolicy final : public RoutingPolicy {
 public:
  explicit LearnedRoutingPolicy(std::unique_ptr<SacAgent> agent) : agent_(std::move(agent)) {}
  std::string name() const override { return "sac"; }
  int Act(const ClusterEnv& env) override {
    return agent_->Act(BatchObservations({&env.observation()}), /*greedy=*/true).front();
  }
  bool DecidesFromObservations() const override { return true; }
  std::vector<int> ActOnObservations(const std::vector<const Observation*>& observations) override {
    return agent_->Act(BatchObservations(observations), /*greedy=*/true);
  }

 private:
  std::unique_ptr<SacAgent> agent_;
};

}  // namespace

std::unique_ptr<RoutingPolicy> LoadLearnedRoutingPolicy(const RunConfig& config,
                                                        const std::string& policy_file,
                                                        EnvConfig* env) {
  auto agent = LoadAgentForEvaluation(config, policy_file);
  UseTrainedFeatures(agent->config(), env);
  return std::make_unique<LearnedRoutingPolicy>(std::move(agent));
}

std::vector<PolicyResult> EvaluateHeuristics(const RunConfig& config,
                                             std::shared_ptr<const Workload> workload) {
  std::vector<PolicyResult> results;
  for (const std::string& name : HeuristicNames()) {
    results.push_back(
        {name, EvaluatePolicy(
                   config.env, workload, [&] { return MakeHeuristic(name, config.greedy); },
                   config.eval.seed_base, config.eval.seeds, config.eval.threads)});
  }
  return results;
}

void CompareTrainedPolicy(const RunConfig& config, std::shared_ptr<const Workload> workload,
                          const std::vector<NamedPolicyFile>& policies,
                          const std::string& run_dir) {
  std::vector<PolicyResult> results = EvaluateHeuristics(config, workload);
  for (const NamedPolicyFile& p : policies)
    results.push_back({p.name, EvaluateLearnedPolicy(config, workload, p.file)});
  const std::string table = FormatComparisonTable(results);
  std::printf("\n%s", table.c_str());
  WriteText(run_dir + "/metrics/comparison.csv", FormatComparisonCsv(results));
  WriteText(run_dir + "/metrics/comparison.txt", table);
}

}  // namespace qosroute
