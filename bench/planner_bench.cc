// The rollout planner's decisions per second (planner/rollout_policy.h): edge-4090 at 80 req/s,
// an episode of 2,000 requests with 1,000 decided by greedy-qos, one decision repeated on that
// state (each call draws new futures), one thread. K = 16, H = 16 (the point); with
// pruning off (every action on every future) beside it, the defaults (H = 32), and the
// hindsight bound's one future per action.
#include <benchmark/benchmark.h>

#include "env/heuristics.h"
#include "launch/config.h"
#include "planner/rollout_policy.h"

namespace qosroute {
namespace {

void RunDecisions(benchmark::State& state, PlannerKind kind,
                  const std::vector<std::string>& planner_overrides) {
  std::vector<std::string> overrides = {"workload.rate=80", "workload.requests_per_episode=2000"};
  overrides.insert(overrides.end(), planner_overrides.begin(), planner_overrides.end());
  const RunConfig config =
      LoadRunConfig(std::string(QOSROUTE_SOURCE_DIR) + "/configs/edge-4090.cfg", overrides);
  auto workload = LoadConfiguredWorkload(config);
  ClusterEnv env(config.env, workload);
  env.Reset(1);
  auto greedy = MakeHeuristic(Heuristic::kGreedyQos, config.greedy);
  for (int i = 0; i < 1000; ++i) env.Step(greedy->Act(env));
  RolloutPolicy planner(kind, config.planner, config.greedy, config.env, workload);
  planner.Reset(1);
  long samples = 0, left_base = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(planner.Act(env));
    samples += planner.last_decision().samples;
    left_base += planner.last_decision().action != planner.last_decision().base_action;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["futures_per_decision"] = static_cast<double>(samples) / state.iterations();
  state.counters["left_base"] = static_cast<double>(left_base) / state.iterations();
}

struct DecisionBenchmark {
  const char* name;
  PlannerKind kind;
  std::vector<std::string> planner_overrides;
};

const bool kRegistered = [] {
  const DecisionBenchmark benchmarks[] = {
      {"BM_RolloutDecision/K16_H16", PlannerKind::kRollout, {"planner.horizon=16"}},
      {"BM_RolloutDecision/K16_H16_no_pruning",
       PlannerKind::kRollout,
       {"planner.horizon=16", "planner.prune=0"}},
      {"BM_RolloutDecision/defaults_K16_H32", PlannerKind::kRollout, {}},
      {"BM_HindsightDecision/H16", PlannerKind::kHindsight, {"planner.horizon=16"}},
  };
  for (const DecisionBenchmark& b : benchmarks) {
    benchmark::RegisterBenchmark(b.name, RunDecisions, b.kind, b.planner_overrides)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace qosroute
