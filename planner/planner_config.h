#pragma once
// [planner]: the rollout planner and the hindsight bound (planner/rollout_policy.h,
// docs/PLANNER.md).
#include <string>
#include <vector>

namespace qosroute {

struct PlannerConfig {
  // Sampled futures per action at each decision (common random numbers: every action is
  // tried on the same K futures, so the comparison is paired).
  int samples = 16;
  // Up to this many when the best action's paired advantage over the base is positive but
  // not yet significant (more samples where the best two are close). >= samples.
  int max_samples = 32;
  // Decisions simulated per rollout: the action, then the base policy for horizon - 1 more.
  // 32: at 100 req/s on edge-4090, 16 admits requests whose cost lands past the horizon
  // (-14% against greedy-qos, 5 seeds) where 32 gains +4.5% (docs/PLANNER.md).
  int horizon = 32;
  // The hindsight bound: each episode is run at each of these horizons and the best is kept
  // (a clairvoyant may pick its horizon too). Past the knee a short horizon admits requests
  // whose cost lands beyond it and can fall below greedy-qos (docs/PLANNER.md).
  std::vector<int> hindsight_horizons = {16, 32, 64};
  // The policy followed after the action (a heuristic's name).
  std::string base = "greedy-qos";
  // A trained policy file (.h5) followed instead of `base` (empty: none). Its rollouts build
  // an observation and run a forward pass per step: much slower than a heuristic base. The
  // launch layer loads it (simulate, evaluate, serve); the planner itself has no torch.
  std::string base_file;
  // Leave the base policy's choice only where the paired mean advantage is at least
  // `confidence` standard errors above 0 (one-sided; 1.0 ~ 84%).
  double confidence = 1.0;
  // Stop sampling an action whose paired advantage is this many standard errors below 0
  // (after at least 4 futures); 0 = sample every action on every future.
  double prune = 2.0;
  // Threads per decision (the samples are split among them); 1 = the calling thread only.
  int threads = 1;
  // Wall-clock time one decision may take (ms; 0 = no limit). When it runs out before
  // `samples` futures are valued the decision falls back to the base policy's action; past
  // them it decides on the futures valued so far. With a limit, decisions depend on the
  // machine's speed (not reproducible from the seed). `serve --decision-budget-ms` sets a
  // deadline from each request's arrival instead (RoutingPolicy::SetNextDeadline); the
  // planner takes the earlier of the two.
  double decision_budget_ms = 0.0;
};

// Throws UserError naming the planner.* key when a value is out of range.
void ValidatePlannerConfig(const PlannerConfig& config);

}  // namespace qosroute
