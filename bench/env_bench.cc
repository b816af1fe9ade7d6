// Simulator throughput: routing decisions per second on configs/paper.cfg and on the
// calibrated configs/edge-4090.cfg (plus simulated engine iterations per second there), with
// the observation graph built at every step (as training needs it).
#include <benchmark/benchmark.h>

#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "env/lookahead.h"
#include "launch/config.h"

namespace qosroute {
namespace {

// Greedy-qos over the iteration-by-iteration look-ahead it had before the event-stepped one
// (env/lookahead.h): the baseline its speed-up is measured against, side by side.
class ReferenceGreedyQos final : public RoutingPolicy {
 public:
  explicit ReferenceGreedyQos(const GreedyQosOptions& options) : options_(options) {}
  std::string name() const override { return "greedy-qos-reference"; }
  int Act(const ClusterEnv& env) override {
    return GreedyQosAction(env, options_, EstimateRoutingReference);
  }

 private:
  GreedyQosOptions options_;
};

void RunEpisodes(benchmark::State& state, const std::string& config_file,
                 const std::string& policy_name, const std::vector<std::string>& overrides) {
  const RunConfig config =
      LoadRunConfig(std::string(QOSROUTE_SOURCE_DIR) + "/configs/" + config_file, overrides);
  auto workload = LoadConfiguredWorkload(config);
  ClusterEnv env(config.env, workload);
  std::unique_ptr<RoutingPolicy> policy = policy_name == "greedy-qos-reference"
                                              ? std::make_unique<ReferenceGreedyQos>(config.greedy)
                                              : MakeHeuristic(policy_name, config.greedy);
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

// Whole episodes, one policy, decisions per second.
struct EpisodeBenchmark {
  const char* name;
  const char* config_file;
  const char* policy;
  std::vector<std::string> overrides;
};

const bool kEpisodesRegistered = [] {
  const EpisodeBenchmark benchmarks[] = {
      {"BM_PaperEpisode/round_robin", "paper.cfg", "round-robin", {}},
      {"BM_PaperEpisode/greedy_qos", "paper.cfg", "greedy-qos", {}},
      // The observation the SAC agent trains on: plus the per-expert look-ahead features.
      {"BM_PaperEpisode/round_robin_lookahead_obs",
       "paper.cfg",
       "round-robin",
       {"env.lookahead_features=true"}},
      // The calibrated world at a loaded rate (40 req/s: round-robin still meets the SLA, the
      // GPUs run batches of ~20-30 sequences).
      {"BM_Edge4090Episode/round_robin", "edge-4090.cfg", "round-robin", {"workload.rate=40"}},
      // The same with the aggregate expert features (a pass over every queued request per
      // expert per decision).
      {"BM_Edge4090Episode/round_robin_aggregates",
       "edge-4090.cfg",
       "round-robin",
       {"workload.rate=40", "env.expert_aggregates=true"}},
      // Greedy-qos where planning needs it (80 req/s, past the knee: ~30 requests queued per
      // expert), with today's look-ahead and with the reference one, side by side.
      {"BM_Edge4090Episode/greedy_qos", "edge-4090.cfg", "greedy-qos", {"workload.rate=80"}},
      {"BM_Edge4090Episode/greedy_qos_reference",
       "edge-4090.cfg",
       "greedy-qos-reference",
       {"workload.rate=80"}},
      // The operator's site: six experts (replicas, two GPU kinds) at 80 req/s, where
      // round-robin still meets the SLA.
      {"BM_EdgeSiteEpisode/round_robin", "edge-site.cfg", "round-robin", {"workload.rate=80"}},
  };
  for (const EpisodeBenchmark& b : benchmarks) {
    benchmark::RegisterBenchmark(b.name, RunEpisodes, std::string(b.config_file),
                                 std::string(b.policy), b.overrides)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

// A planner's fork of the environment against what planning had before it (SaveState +
// LoadState into a second env), of the same state: edge-4090 at 80 req/s, an episode of 2,000
// requests, 1,000 decided by greedy-qos (~90 requests in flight).
ClusterEnv MidEpisodeEnv(const RunConfig& config, std::shared_ptr<const Workload> workload) {
  ClusterEnv env(config.env, std::move(workload));
  env.Reset(1);
  auto greedy = MakeHeuristic(Heuristic::kGreedyQos, config.greedy);
  for (int i = 0; i < 1000; ++i) env.Step(greedy->Act(env));
  return env;
}
RunConfig MidEpisodeConfig() {
  return LoadRunConfig(std::string(QOSROUTE_SOURCE_DIR) + "/configs/edge-4090.cfg",
                       {"workload.rate=80", "workload.requests_per_episode=2000"});
}
void BM_EnvFork(benchmark::State& state) {
  const RunConfig config = MidEpisodeConfig();
  const ClusterEnv env = MidEpisodeEnv(config, LoadConfiguredWorkload(config));
  for (auto _ : state) {
    ClusterEnv fork = env.Fork();
    benchmark::DoNotOptimize(fork.now());
  }
}
void BM_EnvForkInto(benchmark::State& state) {
  const RunConfig config = MidEpisodeConfig();
  const ClusterEnv env = MidEpisodeEnv(config, LoadConfiguredWorkload(config));
  ClusterEnv slot = env.Fork();
  for (auto _ : state) {
    env.ForkInto(&slot);
    benchmark::DoNotOptimize(slot.now());
  }
}
void BM_EnvSaveLoad(benchmark::State& state) {
  const RunConfig config = MidEpisodeConfig();
  auto workload = LoadConfiguredWorkload(config);
  const ClusterEnv env = MidEpisodeEnv(config, workload);
  ClusterEnv copy(config.env, workload);
  for (auto _ : state) {
    copy.LoadState(env.SaveState());
    benchmark::DoNotOptimize(copy.now());
  }
}
BENCHMARK(BM_EnvFork)->Name("BM_EnvFork/edge4090_80rps_mid_episode")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EnvForkInto)
    ->Name("BM_EnvForkInto/edge4090_80rps_mid_episode")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EnvSaveLoad)
    ->Name("BM_EnvSaveLoad/edge4090_80rps_mid_episode")
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace qosroute
