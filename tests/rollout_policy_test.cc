// The rollout planner and the hindsight bound (planner/rollout_policy.h): the planner reads no
// truth, its sampled futures have the configured rate and the workload's mix, it is
// deterministic given its seed whatever its threads, hindsight finds the headroom over
// greedy-qos, and bad [planner] keys are one error naming the key.
#include "planner/rollout_policy.h"

#include <gtest/gtest.h>

#include <cmath>

#include "env/gpu_profile.h"
#include "env_test_util.h"
#include "launch/config.h"
#include "planner_test_util.h"

namespace qosroute {
namespace {

using testing_util::PaperLikeConfig;
using testing_util::SyntheticTestWorkload;

using planner_test_util::Edge;
using planner_test_util::SmallPlanner;

// The episode's own requests from the arrived one on, with their truth altered and their
// predictions and arrivals kept: what a router sees is the same.
std::shared_ptr<EpisodeData> AlteredFuture(const ClusterEnv& env, int rows) {
  const int n = static_cast<int>(env.experts().size());
  auto future = std::make_shared<EpisodeData>();
  future->Resize(rows, n);
  for (int i = 0; i < rows; ++i) {
    const ClusterEnv::EpisodeRequest r = env.Request(env.step_index() + i);
    future->arrivals[i] = r.arrival;
    future->prompt_tokens[i] = r.prompt_tokens;
    for (int e = 0; e < n; ++e) {
      const size_t k = future->At(i, e);
      future->pred_output[k] = r.pred_output_tokens[e];
      future->pred_score[k] = r.pred_score[e];
      future->true_output[k] = 1 + (r.true_output_tokens[e] * 7 + i) % 300;
      future->true_score[k] = 1.0f - r.true_score[e];
    }
  }
  return future;
}

TEST(RolloutPolicy, ReadsNoTruth) {
  auto workload = SyntheticTestWorkload();
  const EnvConfig config = Edge(80.0, 600);
  ClusterEnv env(config, workload);
  env.Reset(4);
  auto greedy = MakeHeuristic(Heuristic::kGreedyQos);
  int compared = 0;
  for (int step = 0; step < 400 && !env.done(); ++step) {
    if (step >= 100 && step % 15 == 0) {
      ClusterEnv altered = env.Fork();
      altered.ReplaceFuture(
          AlteredFuture(env, std::min(40, env.num_requests() - env.step_index())));
      altered.ResampleInFlight(
          [](int, ActiveRequest* r) {
            r->output_tokens = r->generated + 1 + (r->output_tokens * 13) % 97;
            r->score = 0.5f * r->score;
          },
          [](Completion* c, float) { c->score = 0.0f; });
      RolloutPolicy a(PlannerKind::kRollout, SmallPlanner(), GreedyQosOptions(), config, workload);
      RolloutPolicy b(PlannerKind::kRollout, SmallPlanner(), GreedyQosOptions(), config, workload);
      a.Reset(77);
      b.Reset(77);
      EXPECT_EQ(a.Act(env), b.Act(altered)) << step;
      EXPECT_EQ(a.last_decision().mean_advantage, b.last_decision().mean_advantage) << step;
      EXPECT_EQ(a.last_decision().samples, b.last_decision().samples) << step;
      ++compared;
    }
    env.Step(greedy->Act(env));
  }
  EXPECT_GE(compared, 15);
}

TEST(RolloutPolicy, HindsightReadsTheTruthAndFindsHeadroomOverGreedyQos) {
  auto workload = SyntheticTestWorkload();
  const EnvConfig config = PaperLikeConfig(8.0, 300);
  PlannerConfig planner = SmallPlanner();
  planner.horizon = 24;
  double greedy_qos = 0.0, hindsight_qos = 0.0;
  for (uint64_t seed : {1, 2}) {
    ClusterEnv env(config, workload);
    env.Reset(seed);
    auto greedy = MakeHeuristic(Heuristic::kGreedyQos);
    while (!env.done()) env.Step(greedy->Act(env));
    greedy_qos += env.Metrics().avg_qos;
    RolloutPolicy hindsight(PlannerKind::kHindsight, planner, GreedyQosOptions(), config, workload);
    hindsight.Reset(seed);
    env.Reset(seed);
    while (!env.done()) env.Step(hindsight.Act(env));
    hindsight_qos += env.Metrics().avg_qos;
  }
  EXPECT_GT(hindsight_qos, greedy_qos * 1.02) << greedy_qos << " " << hindsight_qos;
}

TEST(RolloutPolicy, DeterministicGivenItsSeedWhateverItsThreads) {
  auto workload = SyntheticTestWorkload();
  const EnvConfig config = Edge(80.0, 300);
  PlannerConfig one = SmallPlanner(), three = SmallPlanner();
  three.threads = 3;
  std::vector<int> runs[3];
  for (int run = 0; run < 3; ++run) {
    ClusterEnv env(config, workload);
    env.Reset(9);
    RolloutPolicy p(PlannerKind::kRollout, run == 2 ? three : one, GreedyQosOptions(), config,
                    workload);
    p.Reset(5);
    for (int i = 0; i < 200 && !env.done(); ++i) {
      runs[run].push_back(p.Act(env));
      env.Step(runs[run].back());
    }
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0], runs[2]);
}

TEST(FutureSampler, FuturesHaveTheConfiguredRateAndTheWorkloadsMix) {
  auto workload = SyntheticTestWorkload();
  const EnvConfig config = Edge(80.0, 50);
  ClusterEnv env(config, workload);
  env.Reset(2);
  for (int i = 0; i < 30; ++i) env.Step(i % 3);
  FutureSampler sampler(config, workload);
  EXPECT_EQ(sampler.rate(), 80.0);
  Rng rng(123);
  EpisodeData future;
  const int rows = 40001;
  sampler.SampleFuture(env, rows, rng, &future);
  EXPECT_EQ(future.arrivals[0], env.now());
  EXPECT_EQ(future.prompt_tokens[0], env.arrived().prompt_tokens);
  const double mean_gap = (future.arrivals.back() - future.arrivals[0]) / (rows - 1);
  EXPECT_NEAR(mean_gap, 1.0 / 80.0, 0.02 / 80.0);  // 40,000 gaps: sd of the mean 0.5%
  double prompt = 0.0, output = 0.0, workload_prompt = 0.0, workload_output = 0.0;
  for (int i = 1; i < rows; ++i) {
    prompt += future.prompt_tokens[i] / double(rows - 1);
    output += future.true_output[future.At(i, 1)] / double(rows - 1);
  }
  for (const WorkloadRecord& r : workload->records) {
    workload_prompt += r.prompt_tokens / double(workload->records.size());
    for (const CandidateRecord& c : r.candidates) {
      if (c.model == config.experts[1].name)
        workload_output += c.output_tokens / double(workload->records.size());
    }
  }
  EXPECT_NEAR(prompt / workload_prompt, 1.0, 0.03);
  EXPECT_NEAR(output / workload_output, 1.0, 0.03);
  // In-flight draws keep every request's output above what it generated.
  ClusterEnv fork = env.Fork();
  sampler.SampleInFlight(&fork, rng);
  for (const ExpertServer& s : fork.experts()) {
    for (const ActiveRequest& r : s.running()) EXPECT_GT(r.output_tokens, r.generated);
  }
  // A rate the router is not told is estimated from the arrivals it has seen.
  EnvConfig per_episode = config;
  per_episode.arrivals.episode_rates = {10.0, 30.0};
  FutureSampler estimating(per_episode, workload);
  EXPECT_EQ(estimating.rate(), 20.0);
  for (int i = 0; i < 11; ++i) estimating.ObserveArrival(0.1 * i);
  EXPECT_NEAR(estimating.rate(), 10.0, 1e-9);
}

// The cluster of `sim` as `serve` sees it: its live env (no episode, no truth of the future).
ClusterEnv LiveCopy(const ClusterEnv& sim, const EnvConfig& config,
                    std::shared_ptr<const Workload> workload) {
  const std::vector<ClusterEnv::LiveExpert> state = testing_util::LiveQueuesOf(sim, false);
  ClusterEnv live(config, std::move(workload));
  live.ObserveLive(sim.now(), sim.arrived(), state, std::vector<uint8_t>(state.size(), 1));
  return live;
}

// `serve --policy rollout`: the planner decides on the live env; a budget that runs out before
// planner.samples futures are valued gives the base policy's action, one that does not run out
// changes nothing.
TEST(RolloutPolicy, DecidesOnTheLiveClusterAndFallsBackWhenItsBudgetRunsOut) {
  auto workload = SyntheticTestWorkload();
  const EnvConfig config = Edge(80.0, 500);
  ClusterEnv sim(config, workload);
  sim.Reset(9);
  auto greedy = MakeHeuristic(Heuristic::kGreedyQos);
  PlannerConfig tiny = SmallPlanner(), ample = SmallPlanner();
  tiny.decision_budget_ms = 1e-6;
  ample.decision_budget_ms = 1e6;
  RolloutPolicy unlimited(PlannerKind::kRollout, SmallPlanner(), GreedyQosOptions(), config,
                          workload);
  RolloutPolicy short_of_time(PlannerKind::kRollout, tiny, GreedyQosOptions(), config, workload);
  RolloutPolicy in_time(PlannerKind::kRollout, ample, GreedyQosOptions(), config, workload);
  for (RoutingPolicy* p :
       std::initializer_list<RoutingPolicy*>{&unlimited, &short_of_time, &in_time})
    p->Reset(5);
  long searched = 0, changed = 0;
  for (int step = 0; step < 400 && !sim.done(); ++step) {
    if (step >= 100 && step % 10 == 0) {
      ClusterEnv live = LiveCopy(sim, config, workload);
      const std::vector<uint8_t> before = live.SaveState();
      const int a = unlimited.Act(live);
      ASSERT_TRUE(live.observation().action_mask[a]) << step;
      EXPECT_EQ(live.SaveState(), before) << "planning changed the live env";
      EXPECT_TRUE(live.live());
      const PlannerDecision& d = unlimited.last_decision();
      EXPECT_FALSE(d.out_of_time);
      if (!d.mean_advantage.empty()) {
        ++searched;
        EXPECT_GE(d.samples, 4);  // pruning may stop every alternative after 4 futures
      }
      changed += a != d.base_action;
      EXPECT_EQ(in_time.Act(live), a) << step;
      EXPECT_EQ(in_time.last_decision().mean_advantage, d.mean_advantage) << step;
      EXPECT_EQ(short_of_time.Act(live), d.base_action) << step;
      EXPECT_EQ(short_of_time.last_decision().out_of_time, !d.mean_advantage.empty()) << step;
    }
    sim.Step(greedy->Act(sim));
  }
  EXPECT_GE(searched, 10);
  EXPECT_GT(changed, 0) << "the planner never left greedy-qos: the comparison proves little";
  EXPECT_EQ(unlimited.budget_fallbacks(), 0);
  EXPECT_EQ(in_time.budget_fallbacks(), 0);
  EXPECT_EQ(short_of_time.budget_fallbacks(), searched);
}

// greedy-qos behind a base that decides from observations (as a trained policy does): it
// counts the rollout steps whose observation was not rebuilt for the arrived request.
class ObservingGreedy final : public RoutingPolicy {
 public:
  explicit ObservingGreedy(long* stale) : stale_(stale) {}
  std::string name() const override { return "observing-greedy"; }
  bool DecidesFromObservations() const override { return true; }
  int Act(const ClusterEnv& env) override {
    const std::vector<float>& row = env.observation().request;
    if (seen_ && env.arrived().arrival != last_arrival_ && row == last_row_) ++*stale_;
    seen_ = true;
    last_arrival_ = env.arrived().arrival;
    last_row_ = row;
    return greedy_->Act(env);
  }

 private:
  long* stale_;
  std::unique_ptr<RoutingPolicy> greedy_ = MakeHeuristic(Heuristic::kGreedyQos);
  bool seen_ = false;
  double last_arrival_ = 0.0;
  std::vector<float> last_row_;
};

// planner.base_file: a base that reads observations gets them rebuilt at every rollout step,
// and decides as the heuristic it wraps would.
TEST(RolloutPolicy, ABaseThatReadsObservationsGetsThemInEveryRollout) {
  auto workload = SyntheticTestWorkload();
  const EnvConfig config = Edge(80.0, 300);
  ClusterEnv env(config, workload);
  env.Reset(3);
  long stale = 0;
  RolloutPolicy heuristic(PlannerKind::kRollout, SmallPlanner(), GreedyQosOptions(), config,
                          workload);
  RolloutPolicy observing(PlannerKind::kRollout, SmallPlanner(), GreedyQosOptions(), config,
                          workload, [&] { return std::make_unique<ObservingGreedy>(&stale); });
  heuristic.Reset(8);
  observing.Reset(8);
  int searched = 0;
  for (int step = 0; step < 250 && !env.done(); ++step) {
    const int a = heuristic.Act(env);
    EXPECT_EQ(observing.Act(env), a) << step;
    EXPECT_EQ(observing.last_decision().mean_advantage, heuristic.last_decision().mean_advantage);
    searched += !heuristic.last_decision().mean_advantage.empty();
    env.Step(a);
  }
  EXPECT_GE(searched, 20);
  EXPECT_EQ(stale, 0) << "rollout steps decided on an observation of an earlier request";
}

// Live, the configured arrival rate describes simulations, not the traffic: the rate is
// estimated from the last FutureSampler::kLiveRateWindow arrivals and follows a change.
TEST(FutureSampler, LiveRateFollowsTheTrafficFromTheLastArrivals) {
  auto workload = SyntheticTestWorkload();
  FutureSampler sampler(Edge(80.0, 100), workload);
  EXPECT_DOUBLE_EQ(sampler.rate(), 80.0);
  sampler.ObserveArrival(0.0, true);
  EXPECT_DOUBLE_EQ(sampler.rate(), 80.0);  // one arrival: the configured rate stands in
  double t = 0.0;
  for (int i = 0; i < 200; ++i) sampler.ObserveArrival(t += 0.1, true);
  EXPECT_NEAR(sampler.rate(), 10.0, 1e-9);
  for (int i = 0; i < FutureSampler::kLiveRateWindow; ++i) sampler.ObserveArrival(t += 0.02, true);
  EXPECT_NEAR(sampler.rate(), 50.0, 1e-9);
  sampler.ResetEpisode();
  EXPECT_DOUBLE_EQ(sampler.rate(), 80.0);
}

TEST(PlannerConfig, BadKeysAreOneErrorNamingTheKey) {
  auto expect_error = [](const std::string& set, const std::string& part) {
    try {
      LoadRunConfig("", {set});
      ADD_FAILURE() << "accepted " << set;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error("planner.samples=0", "planner.samples must be >= 1");
  expect_error("planner.max_samples=3", "planner.max_samples must be >= planner.samples");
  expect_error("planner.horizon=0", "planner.horizon");
  expect_error("planner.confidence=-1", "planner.confidence");
  expect_error("planner.threads=0", "planner.threads");
  expect_error("planner.prune=-1", "planner.prune");
  expect_error("planner.hindsight_horizons=16,x", "planner.hindsight_horizons");
  expect_error("planner.hindsight_horizons=0",
               "planner.hindsight_horizons must hold horizons >= 1");
  expect_error("planner.base=round-robin", "planner.base must decide from the state alone");
  expect_error("planner.base=oracle", "planner.base: unknown");
  expect_error("planner.samples=many", "planner.samples");
  expect_error("planner.decision_budget_ms=-2", "planner.decision_budget_ms must be a finite");
  EXPECT_EQ(LoadRunConfig("", {"planner.horizon=4"}).planner.horizon, 4);
}

}  // namespace
}  // namespace qosroute
