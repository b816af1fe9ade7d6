#include "env/cluster_env.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"
#include "env/heuristics.h"
#include "env_test_util.h"

namespace qosroute {
namespace {

using testing_util::PaperLikeConfig;
using testing_util::SyntheticTestWorkload;
using testing_util::UniformWorkload;
using testing_util::WriteTempFile;

// One expert, c0 = 10 ms, k1 = 1e-3, k2 = 1e-4, every request 10 prompt + 5 output tokens,
// score 0.8, arrivals at 0, 0.05 and 10 s (see the hand computation in the test).
EnvConfig HandScenario(double sla) {
  EnvConfig c;
  ExpertConfig e;
  e.name = "m";
  e.num_blocks = 100;
  e.c0 = 0.01;
  e.k1 = 1e-3;
  e.k2 = 1e-4;
  c.experts.push_back(e);
  c.arrivals.process = "trace";
  c.arrivals.trace_path = WriteTempFile("hand_trace.txt", "0.0\n0.05\n10.0\n");
  c.requests_per_episode = 3;
  c.sampling = "sequential";
  c.sla = sla;
  c.predictor.score_noise = 0;
  c.predictor.length_noise = 0;
  return c;
}

TEST(ClusterEnv, HandComputedScenarioGivesExactRewardsAndLatencies) {
  // Request 0: prefill [0, 0.02], decodes over 11, 12, 13 context tokens end at 0.0311,
  // 0.0423, 0.0536 (the last starts before 0.05, so it is in progress at the 2nd arrival).
  // Request 1 prefills [0.0536, 0.0736]; a joint decode over 14 + 11 tokens ends at 0.0861,
  // finishing request 0 (lpt 0.0861 / 5); request 1 decodes over 12, 13, 14 and ends at
  // 0.1200 (lpt (0.12 - 0.05) / 5 = 0.014). Request 2 is dropped.
  ClusterEnv env(HandScenario(0.03), UniformWorkload(10, {"m"}, 5, 0.8));
  env.Reset(1);
  StepResult s0 = env.Step(0);
  EXPECT_DOUBLE_EQ(s0.reward, 0.0);
  ASSERT_EQ(env.experts()[0].running().size(), 1u);
  EXPECT_EQ(env.experts()[0].running()[0].generated, 4);
  EXPECT_NEAR(env.experts()[0].clock(), 0.0536, 1e-12);
  // Impact penalty of routing request 1 to the expert: m = min(5 - 4, 5) = 1, second = 0,
  // l_plus = 1e-3 x 10 / 5 = 0.002; current lpt = 0.05 / 4 = 0.0125; 0.0145 < 0.03.
  EXPECT_DOUBLE_EQ(env.ImpactPenalty(0), 0.0);
  StepResult s1 = env.Step(0);
  EXPECT_NEAR(s1.credited, 1.6, 1e-6);
  EXPECT_NEAR(s1.reward, 1.6, 1e-6);
  StepResult s2 = env.Step(1);  // drop
  EXPECT_TRUE(s2.done);
  const EpisodeMetrics m = env.Metrics();
  EXPECT_EQ(m.completed, 2);
  EXPECT_EQ(m.dropped, 1);
  EXPECT_NEAR(m.latency_per_token_mean, (0.0861 / 5 + 0.014) / 2, 1e-9);
  EXPECT_NEAR(m.avg_qos, 1.6 / 3, 1e-6);
  EXPECT_NEAR(m.upper_bound, 0.8, 1e-6);
}

TEST(ClusterEnv, ImpactPenaltyChargesRunningRequestsPushedPastTheSla) {
  // Same state as above at the 2nd arrival: current lpt 0.0125 + l_plus 0.002 = 0.0145.
  for (const auto& [sla, expected] : {std::pair{0.014, 0.8}, std::pair{0.015, 0.0}}) {
    ClusterEnv env(HandScenario(sla), UniformWorkload(10, {"m"}, 5, 0.8));
    env.Reset(1);
    env.Step(0);
    EXPECT_NEAR(env.ImpactPenalty(0), expected, 1e-6) << "sla " << sla;
    const StepResult s = env.Step(0);
    EXPECT_NEAR(s.penalty, expected, 1e-6);
  }
}

TEST(ClusterEnv, QosIsZeroWhenTheSlaIsMissed) {
  // SLA 0.015: request 0 (lpt 0.01722) misses, request 1 (lpt 0.014) meets it.
  ClusterEnv env(HandScenario(0.015), UniformWorkload(10, {"m"}, 5, 0.8));
  env.Reset(1);
  env.Step(0);
  EXPECT_NEAR(env.Step(0).credited, 0.8, 1e-6);
  env.Step(1);
  EXPECT_EQ(env.Metrics().met_sla, 1);
}

TEST(ClusterEnv, ConservesRequestsAcrossSeedsConfigsAndRandomActions) {
  auto workload = SyntheticTestWorkload();
  for (uint64_t seed = 0; seed < 12; ++seed) {
    Rng rng(seed);
    EnvConfig config = PaperLikeConfig(1.0 + rng.Uniform() * 9.0, 400);
    if (seed % 3 == 0) {
      for (auto& e : config.experts)
        e.num_blocks = 20 + static_cast<int>(rng.Below(30));  // force preemption
    }
    if (seed % 4 == 1) config.arrivals.process = "mmpp";
    config.allow_drop = seed % 2 == 0;
    ClusterEnv env(config, workload);
    env.Reset(seed);
    long dropped = 0;
    while (!env.done()) {
      const int n = env.observation().num_experts;
      const int action = static_cast<int>(rng.Below(config.allow_drop ? n + 1 : n));
      if (action == n) ++dropped;
      env.Step(action);
      if (env.done()) break;
      for (const ExpertServer& e : env.experts()) {
        long held = 0;
        for (const auto& r : e.running()) held += r.blocks;
        ASSERT_EQ(held, e.blocks_used());
        ASSERT_LE(e.blocks_used(), e.num_blocks());
        ASSERT_GE(e.blocks_used(), 0);
      }
      const ClusterEnv::Counts c = env.CountRequests();
      ASSERT_EQ(c.decided, c.completed + c.dropped + c.in_flight) << "seed " << seed;
      ASSERT_GE(c.dropped, dropped);
    }
    const EpisodeMetrics m = env.Metrics();
    EXPECT_EQ(m.completed + m.dropped, m.requests) << "seed " << seed;
    EXPECT_GE(m.dropped, dropped);
    for (const ExpertServer& e : env.experts()) {
      EXPECT_TRUE(e.running().empty());
      EXPECT_TRUE(e.waiting().empty());
      EXPECT_EQ(e.blocks_used(), 0);
    }
  }
}

TEST(ClusterEnv, RewardsPlusPenaltiesSumToTheEpisodeQos) {
  auto workload = SyntheticTestWorkload();
  for (double rate : {2.0, 6.0, 10.0}) {
    ClusterEnv env(PaperLikeConfig(rate, 1500), workload);
    Rng rng(static_cast<uint64_t>(rate));
    env.Reset(5);
    double sum = 0.0, penalties = 0.0;
    while (!env.done()) {
      const StepResult s = env.Step(static_cast<int>(rng.Below(4)));
      sum += s.reward + s.penalty;
      penalties += s.penalty;
    }
    EXPECT_NEAR(sum, env.Metrics().total_qos, 1e-6) << "rate " << rate;
    if (rate >= 6.0) {
      EXPECT_GT(penalties, 0.0);
    }
  }
}

TEST(ClusterEnv, SameSeedGivesIdenticalMetrics) {
  auto workload = SyntheticTestWorkload();
  auto run = [&](uint64_t seed) {
    ClusterEnv env(PaperLikeConfig(5.0, 800), workload);
    auto policy = MakeHeuristic("shortest-queue-first");
    env.Reset(seed);
    while (!env.done()) env.Step(policy->Act(env));
    return env.Metrics();
  };
  const EpisodeMetrics a = run(9), b = run(9), c = run(10);
  EXPECT_EQ(a.total_qos, b.total_qos);
  EXPECT_EQ(a.latency_per_token_p99, b.latency_per_token_p99);
  EXPECT_EQ(a.kv_utilization, b.kv_utilization);
  EXPECT_NE(a.total_qos, c.total_qos);
}

TEST(ClusterEnv, ObservationShowsQueuesAndPredictionsOnly) {
  auto workload = SyntheticTestWorkload();
  EnvConfig config = PaperLikeConfig(20.0, 300);
  ClusterEnv env(config, workload);
  env.Reset(2);
  for (int i = 0; i < 200; ++i) env.Step(0);  // overload expert 0
  const Observation& obs = env.observation();
  const ExpertServer& e0 = env.experts()[0];
  EXPECT_FLOAT_EQ(obs.expert[1], e0.running().size() / kCountScale);
  EXPECT_FLOAT_EQ(obs.expert[2], e0.waiting().size() / kCountScale);
  int shown = 0;
  for (int s = 0; s < obs.max_running; ++s) shown += obs.running_mask[s];
  EXPECT_EQ(shown, std::min<int>(obs.max_running, e0.running().size()));
  // Predicted, not true, score of the arrived request sits on the expert node.
  EXPECT_FLOAT_EQ(obs.expert[4], env.arrived().pred_score[0]);
  std::vector<float> flat;
  obs.FlatView(&flat);
  EXPECT_EQ(flat.size(), 126u * 3);
  EXPECT_EQ(obs.action_mask.back(), 1);
}

TEST(ClusterEnv, ExpertScorePriorIsTheExpertsMeanScoreOverTheWorkload) {
  auto workload = SyntheticTestWorkload();
  EnvConfig config = PaperLikeConfig(3.0, 50);
  std::vector<double> means(config.experts.size(), 0.0);
  for (const WorkloadRecord& r : workload->records) {
    for (size_t e = 0; e < config.experts.size(); ++e) {
      means[e] += r.Find(config.experts[e].name)->score / workload->records.size();
    }
  }
  ClusterEnv off(config, workload);
  config.expert_score_prior = true;
  ClusterEnv on(config, workload);
  off.Reset(4);
  on.Reset(4);
  for (int step = 0; step < 20; ++step) {
    for (size_t e = 0; e < config.experts.size(); ++e) {
      const size_t at = e * kExpertFeatures + 9;
      EXPECT_NEAR(on.observation().expert[at], means[e], 1e-6) << "expert " << e;
      EXPECT_EQ(off.observation().expert[at], 0.0f);
      // Every other feature is the same with and without the prior.
      for (int f = 0; f < 9; ++f) {
        EXPECT_EQ(on.observation().expert[e * kExpertFeatures + f],
                  off.observation().expert[e * kExpertFeatures + f]);
      }
    }
    on.Step(step % 3);
    off.Step(step % 3);
  }
  // The experts differ in mean quality, so the feature tells them apart.
  EXPECT_GT(means[0], means[2] + 0.02);
}

TEST(ClusterEnv, LookaheadValueFeaturesAreGreedyQosValuesAndMargins) {
  auto workload = SyntheticTestWorkload();
  EnvConfig config = PaperLikeConfig(8.0, 400);  // loaded: latency and harm matter
  config.lookahead_features = true;
  ClusterEnv env(config, workload);
  EnvConfig without_value = config;
  without_value.lookahead_value = false;
  ClusterEnv plain(without_value, workload);
  env.Reset(6);
  plain.Reset(6);
  auto greedy = MakeHeuristic("greedy-qos");
  const int n = static_cast<int>(config.experts.size());
  int checked_drops = 0;
  for (int step = 0; step < 300; ++step) {
    const Observation& obs = env.observation();
    float best = -1e9f;
    int best_expert = -1;
    for (int e = 0; e < n; ++e) {
      const double value = testing_util::GreedyRoutingValue(env, e, config);
      const float* ex = obs.expert.data() + e * kExpertFeatures;
      EXPECT_NEAR(ex[10], value, 1e-5);
      if (ex[10] > best) {
        best = ex[10];
        best_expert = e;
      }
      EXPECT_EQ(plain.observation().expert[e * kExpertFeatures + 10], 0.0f);
      EXPECT_EQ(plain.observation().expert[e * kExpertFeatures + 11], 0.0f);
    }
    for (int e = 0; e < n; ++e) {
      const float* ex = obs.expert.data() + e * kExpertFeatures;
      EXPECT_NEAR(ex[11], std::max(-10.0f, (ex[10] - best) / 0.05f), 1e-4);
      EXPECT_LE(ex[11], 0.0f);
    }
    // Greedy-qos routes to the expert with margin 0 unless it drops.
    const int action = greedy->Act(env);
    if (action < n) {
      EXPECT_EQ(action, best_expert) << "step " << step;
    } else {
      ++checked_drops;
    }
    env.Step(action);
    plain.Step(action);
  }
  EXPECT_GT(checked_drops, 0) << "the loaded scenario should make greedy-qos drop some requests";
}

// Features 12-18 against a computation over the experts' whole queues, in a loaded episode
// with 2 running and 2 waiting slots, so that most requests are beyond the slots; the other
// features are the same as without the aggregates.
TEST(ClusterEnv, ExpertAggregatesSumOverEveryRunningAndWaitingRequest) {
  auto workload = SyntheticTestWorkload();
  EnvConfig config = PaperLikeConfig(8.0, 400);
  config.max_running_slots = 2;
  config.max_waiting_slots = 2;
  ClusterEnv plain(config, workload);
  config.expert_aggregates = true;
  ClusterEnv env(config, workload);
  env.Reset(9);
  plain.Reset(9);
  const int n = static_cast<int>(config.experts.size());
  const int width = kExpertFeatures + kAggregateFeatures;
  int truncated_steps = 0;
  double largest_unseen_kv = 0.0;
  for (int step = 0; step < 300 && !env.done(); ++step) {
    const Observation& obs = env.observation();
    ASSERT_EQ(obs.expert_features, width);
    ASSERT_EQ(plain.observation().expert_features, kExpertFeatures);
    for (int e = 0; e < n; ++e) {
      const ExpertServer& server = env.experts()[e];
      double ahead = 0, prefill = 0, waiting_out = 0, worst_run = 0, worst_wait = 0;
      int past = 0, unseen_blocks = 0, index = 0;
      for (const ActiveRequest& r : server.running()) {
        ahead += std::max(0, r.pred_output_tokens - r.generated);
        const double lpt = (env.now() - r.arrival) / std::max(1, r.generated);
        worst_run = std::max(worst_run, lpt);
        past += lpt > config.sla ? 1 : 0;
        if (index++ >= 2) unseen_blocks += r.blocks;
      }
      for (const ActiveRequest& r : server.waiting()) {
        prefill += r.prompt_tokens;
        waiting_out += r.pred_output_tokens;
        worst_wait = std::max(worst_wait, (env.now() - r.arrival) / std::max(1, r.generated));
      }
      const float* a = obs.expert.data() + e * width + kFirstAggregateFeature;
      EXPECT_NEAR(a[0], ahead / 1280.0, 1e-5);
      EXPECT_NEAR(a[1], prefill / 1280.0, 1e-5);
      EXPECT_NEAR(a[2], waiting_out / 1280.0, 1e-5);
      EXPECT_NEAR(a[3], std::min(10.0, worst_run / config.sla), 1e-4);
      EXPECT_NEAR(a[4], past / 10.0, 1e-6);
      EXPECT_NEAR(a[5], std::min(10.0, worst_wait / config.sla), 1e-4);
      const double unseen_kv = static_cast<double>(unseen_blocks) / server.num_blocks();
      EXPECT_NEAR(a[6], unseen_kv, 1e-6);
      largest_unseen_kv = std::max(largest_unseen_kv, unseen_kv);
      if (server.running().size() > 2 && !server.waiting().empty()) ++truncated_steps;
      for (int f = 0; f < kExpertFeatures; ++f) {
        EXPECT_EQ(obs.expert[e * width + f], plain.observation().expert[e * kExpertFeatures + f]);
      }
    }
    EXPECT_EQ(obs.running, plain.observation().running);
    EXPECT_EQ(obs.waiting, plain.observation().waiting);
    const int action = step % n;
    env.Step(action);
    plain.Step(action);
  }
  // The scenario does what it is for: queues longer than the slots, KV held out of view.
  EXPECT_GT(truncated_steps, 20);
  EXPECT_GT(largest_unseen_kv, 0.0);
}

TEST(ClusterEnv, RejectsAWorkloadMissingAnExpertsModel) {
  auto workload = UniformWorkload(10, {"alpaca-native"}, 5, 0.8);
  try {
    ClusterEnv env(PaperLikeConfig(3.0, 10), workload);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("chatglm-6b"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qosroute
