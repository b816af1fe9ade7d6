// The 'sac' policy name in `simulate`: a trained policy file evaluated on the config's seeds.
#include "launch/sac_policy_hook.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "common/error.h"
#include "env/evaluation.h"
#include "launch/sac_setup.h"
#include "learner/agent_evaluation.h"
#include "learner/graph_batch.h"

namespace qosroute {
namespace {

// The policy sees the feature groups it was trained with, whatever the config says; they
// change observations only, never the simulation or the metrics.
void UseTrainedFeatures(const std::string& policy_file, const SacConfig& trained, EnvConfig* env) {
  const ObservationSchema asked = ObservationSchema::For(*env);
  try {
    trained.schema.Apply(env);
  } catch (const UserError& e) {
    throw UserError("policy " + policy_file + ": " + e.what());
  }
  if (asked != trained.schema) {
    spdlog::info("{} was trained with the feature groups '{}'; its observations use those",
                 policy_file, trained.schema.Text());
  }
}

}  // namespace

std::vector<EpisodeMetrics> EvaluateLearnedPolicy(const RunConfig& config,
                                                  std::shared_ptr<const Workload> workload,
                                                  const std::string& policy_file) {
  auto agent = LoadAgentForEvaluation(config, policy_file);
  EnvConfig env = config.env;
  UseTrainedFeatures(policy_file, agent->config(), &env);
  return EvaluateAgent(*agent, env, workload, config.eval.seed_base, config.eval.seeds);
}

namespace {

// A trained SAC policy behind the heuristics' interface: greedy actions on the env's
// observation, with the action mask applied by the agent.
class LearnedRoutingPolicy final : public RoutingPolicy {
 public:
  LearnedRoutingPolicy(std::unique_ptr<SacAgent> agent, std::string file)
      : agent_(std::move(agent)),
        file_(std::move(file)),
        schema_id_(agent_->config().schema.Id()) {}
  std::string name() const override { return "sac"; }
  int Act(const ClusterEnv& env) override {
    if (env.schema().Id() != schema_id_) {
      throw UserError("policy " + file_ +
                      " is fed observations of other feature groups than it "
                      "was trained with: " +
                      Join(ObservationSchema::Differences(agent_->config().schema, env.schema())));
    }
    return agent_->Act(BatchObservations({&env.observation()}), /*greedy=*/true).front();
  }
  bool DecidesFromObservations() const override { return true; }
  const ObservationSchema* schema() const override { return &agent_->config().schema; }
  std::vector<int> ActOnObservations(const std::vector<const Observation*>& observations) override {
    for (const Observation* o : observations) {
      if (o->schema_id != schema_id_) {
        throw UserError("policy " + file_ + " was trained with the feature groups '" +
                        agent_->config().schema.Text() +
                        "' and is fed observations of other groups");
      }
    }
    return agent_->Act(BatchObservations(observations), /*greedy=*/true);
  }

 private:
  static std::string Join(const std::vector<std::string>& parts) {
    std::string out;
    for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
    return out;
  }
  std::unique_ptr<SacAgent> agent_;
  std::string file_;
  uint64_t schema_id_;
};

}  // namespace

std::unique_ptr<RoutingPolicy> LoadLearnedRoutingPolicy(const RunConfig& config,
                                                        const std::string& policy_file,
                                                        EnvConfig* env) {
  auto agent = LoadAgentForEvaluation(config, policy_file);
  UseTrainedFeatures(policy_file, agent->config(), env);
  return std::make_unique<LearnedRoutingPolicy>(std::move(agent), policy_file);
}

std::vector<PolicyResult> EvaluateHeuristics(const RunConfig& config,
                                             std::shared_ptr<const Workload> workload) {
  std::vector<PolicyResult> results;
  for (const Heuristic kind : Heuristics().Values()) {
    results.push_back({Heuristics().Name(kind),
                       EvaluatePolicy(
                           config.env, workload, [&] { return MakeHeuristic(kind, config.greedy); },
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
