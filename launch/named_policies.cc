// Routers by name (see named_policies.h).
#include "launch/named_policies.h"

#include <spdlog/spdlog.h>

#include <sstream>

#include "common/error.h"
#include "env/evaluation.h"
#include "launch/sac_policy_hook.h"
#include "planner/rollout_policy.h"

namespace qosroute {

// The names --policy asks for ('all': the heuristics, and sac with a policy file), checked.
std::vector<std::string> RequestedPolicies(const std::string& policy,
                                           const std::string& policy_file) {
  std::vector<std::string> policies;
  if (policy == "all") {
    policies = HeuristicNames();
    if (!policy_file.empty()) policies.push_back("sac");
  } else {
    std::string item;
    std::istringstream in(policy);
    while (std::getline(in, item, ',')) policies.push_back(item);
  }
  for (const std::string& p : policies) {
    if (p == "sac") {
      if (policy_file.empty()) throw UserError("--policy sac needs --policy-file FILE.h5");
    } else if (!Planners().Has(p)) {
      MakeHeuristic(p);  // throws UserError naming the known policies
    }
  }
  return policies;
}

PlannerBaseFactory PlannerBaseOf(const RunConfig& config, EnvConfig* env) {
  if (config.planner.base_file.empty()) return {};
  // Loaded once here to check the file and give *env the policy's feature groups.
  LoadLearnedRoutingPolicy(config, config.planner.base_file, env);
  spdlog::info("planner base: the trained policy {} (rollouts build observations: slower)",
               config.planner.base_file);
  return [config, trained = *env] {
    EnvConfig groups = trained;
    return LoadLearnedRoutingPolicy(config, config.planner.base_file, &groups);
  };
}

// The hindsight bound: every episode at each of planner.hindsight_horizons, the best kept.
std::vector<EpisodeMetrics> EvaluateHindsightBound(const RunConfig& config,
                                                   std::shared_ptr<const Workload> workload) {
  EnvConfig env = config.env;
  const PlannerBaseFactory base = PlannerBaseOf(config, &env);
  std::vector<EpisodeMetrics> best;
  for (const int horizon : config.planner.hindsight_horizons) {
    PlannerConfig planner = config.planner;
    planner.horizon = horizon;
    const std::vector<EpisodeMetrics> episodes = EvaluatePolicy(
        env, workload,
        [&] {
          return MakePlanner(PlannerKind::kHindsight, planner, config.greedy, env, workload, base);
        },
        config.eval.seed_base, config.eval.seeds, config.eval.threads);
    if (best.empty()) best = episodes;
    for (size_t i = 0; i < episodes.size(); ++i) {
      if (episodes[i].avg_qos > best[i].avg_qos) best[i] = episodes[i];
    }
    double qos = 0.0;
    for (const EpisodeMetrics& m : episodes) qos += m.avg_qos / episodes.size();
    spdlog::info("hindsight at horizon {}: avg QoS {:.4f}", horizon, qos);
  }
  return best;
}

std::vector<EpisodeMetrics> EvaluateNamedPolicy(const std::string& name, const RunConfig& config,
                                                std::shared_ptr<const Workload> workload,
                                                const std::string& policy_file) {
  if (name == "sac") return EvaluateLearnedPolicy(config, workload, policy_file);
  if (Planners().Has(name)) {
    const PlannerKind kind = Planners().Parse(name, "--policy");
    if (kind == PlannerKind::kHindsight) return EvaluateHindsightBound(config, workload);
    EnvConfig env = config.env;
    const PlannerBaseFactory base = PlannerBaseOf(config, &env);
    return EvaluatePolicy(
        env, workload,
        [&] { return MakePlanner(kind, config.planner, config.greedy, env, workload, base); },
        config.eval.seed_base, config.eval.seeds, config.eval.threads);
  }
  return EvaluatePolicy(
      config.env, workload, [&] { return MakeHeuristic(name, config.greedy); },
      config.eval.seed_base, config.eval.seeds, config.eval.threads);
}

}  // namespace qosroute
