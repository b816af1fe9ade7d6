#pragma once
// Small helpers shared by the simulator tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>

#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "env/workload.h"

namespace qosroute::testing_util {

// The queues of `sim` as `serve` reports them (ClusterEnv::ObserveLive's input); with
// `clocks`, each engine's busy-until is the simulator's clock (a router only estimates it).
inline std::vector<ClusterEnv::LiveExpert> LiveQueuesOf(const ClusterEnv& sim, bool clocks) {
  std::vector<ClusterEnv::LiveExpert> state(sim.experts().size());
  for (size_t e = 0; e < state.size(); ++e) {
    const ExpertServer& s = sim.experts()[e];
    state[e].running = s.running();
    state[e].waiting.assign(s.waiting().begin(), s.waiting().end());
    if (clocks) state[e].busy_until = s.clock();
  }
  return state;
}

// The greedy-qos value of routing the arrived request to `expert`, recomputed here from
// the look-ahead estimate: predicted score x P(meet SLA) - harm to requests already queued.
inline double GreedyRoutingValue(const ClusterEnv& env, int expert, const EnvConfig& config) {
  const LookaheadEstimate estimate = EstimateRouting(env, expert, config.lookahead_sharpness);
  return env.arrived().pred_score[expert] * MeetProbability(estimate.arrived_latency_per_token,
                                                            config.sla,
                                                            config.lookahead_sharpness) -
         estimate.harm;
}

inline std::string WriteTempFile(const std::string& name, const std::string& text) {
  // The pid keeps files of tests that CTest runs in parallel (one process each) apart.
  const std::string path = ::testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

// A workload where every record is the same request: prompt tokens, and per model
// (output tokens, score).
inline std::shared_ptr<Workload> UniformWorkload(int prompt_tokens,
                                                 const std::vector<std::string>& models,
                                                 int output_tokens, double score) {
  auto w = std::make_shared<Workload>();
  w->source = "test";
  WorkloadRecord r;
  r.id = "r0";
  r.prompt_tokens = prompt_tokens;
  for (const auto& m : models) {
    CandidateRecord c;
    c.model = m;
    c.output_tokens = output_tokens;
    c.score = score;
    r.candidates.push_back(c);
  }
  w->records.push_back(r);
  return w;
}

inline std::shared_ptr<const Workload> SyntheticTestWorkload(int records = 2000,
                                                             uint64_t seed = 3) {
  SyntheticOptions options;
  options.num_requests = records;
  options.seed = seed;
  return std::make_shared<Workload>(GenerateSyntheticWorkload(options));
}

inline EnvConfig PaperLikeConfig(double rate, int requests) {
  EnvConfig c;
  for (const char* name : {"alpaca-native", "chatglm-6b", "mpt-7b-instruct"})
    c.experts.push_back(CatalogExpert(name));
  c.arrivals.rate = rate;
  c.requests_per_episode = requests;
  return c;
}

}  // namespace qosroute::testing_util
