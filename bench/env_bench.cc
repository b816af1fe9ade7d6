// Simulator throughput: routing decisions per second on configs/paper.cfg and on the
// calibrated configs/edge-4090.cfg (plus simulated engine iterations per second there), with
// the observation graph built at every step (as training needs it).
#include <benchmark/benchmark.h>

#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "launch/config.h"

namespace qosroute {
namespace {

void RunEpisodes(benchmark::State& state, const std::string& config_file,
                 const std::string& policy_name, const std::vector<std::string>& overrides) {
  const RunConfig config =
      LoadRunConfig(std::string(QOSROUTE_SOURCE_DIR) + "/configs/" + config_file, overrides);
  auto workload = LoadConfiguredWorkload(config);
  ClusterEnv env(config.env, workload);
  auto policy = MakeHeuristic(policy_name, config.greedy);
  uint64_t seed = 0;
  int64_t decisions = 0;
  int64_t iterations = 0;
  double qos = 0;
  for (auto _ : state) {
    env.Reset(++seed);
    policy->Reset(seed);
    while (!env.done()) {
      env.Step(policy->Act(env));
      ++decisions;
    }
    qos += env.Metrics().avg_qos;
    for (const ExpertServer& e : env.experts()) iterations += e.iterations();
    benchmark::DoNotOptimize(env.observation().expert.data());
  }
  state.SetItemsProcessed(decisions);
  state.counters["avg_qos"] = qos / state.iterations();
  state.counters["sim_iterations_per_s"] =
      benchmark::Counter(static_cast<double>(iterations), benchmark::Counter::kIsRate);
}

void RunPaperEpisodes(benchmark::State& state, const std::string& policy_name,
                      const std::vector<std::string>& overrides = {}) {
  RunEpisodes(state, "paper.cfg", policy_name, overrides);
}

// The calibrated world at a loaded rate (40 req/s: round-robin still meets the SLA, the
// GPUs run batches of ~20-30 sequences).
void BM_Edge4090Episode_RoundRobin(benchmark::State& state) {
  RunEpisodes(state, "edge-4090.cfg", "round-robin", {"workload.rate=40"});
}

// The same with the aggregate expert features (a pass over every queued request per expert
// per decision).
void BM_Edge4090Episode_RoundRobinAggregates(benchmark::State& state) {
  RunEpisodes(state, "edge-4090.cfg", "round-robin",
              {"workload.rate=40", "env.expert_aggregates=true"});
}

void BM_PaperEpisode_RoundRobin(benchmark::State& state) {
  RunPaperEpisodes(state, "round-robin");
}
void BM_PaperEpisode_GreedyQos(benchmark::State& state) {
  RunPaperEpisodes(state, "greedy-qos");
}
// The observation the SAC agent trains on: plus the per-expert look-ahead features.
void BM_PaperEpisode_RoundRobinLookahead(benchmark::State& state) {
  RunPaperEpisodes(state, "round-robin", {"env.lookahead_features=true"});
}

BENCHMARK(BM_PaperEpisode_RoundRobin)
    ->Name("BM_PaperEpisode/round_robin")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PaperEpisode_GreedyQos)
    ->Name("BM_PaperEpisode/greedy_qos")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PaperEpisode_RoundRobinLookahead)
    ->Name("BM_PaperEpisode/round_robin_lookahead_obs")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Edge4090Episode_RoundRobin)
    ->Name("BM_Edge4090Episode/round_robin")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Edge4090Episode_RoundRobinAggregates)
    ->Name("BM_Edge4090Episode/round_robin_aggregates")
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace qosroute
