#include "env/heuristics.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "env/evaluation.h"
#include "env_test_util.h"

namespace qosroute {
namespace {

using testing_util::PaperLikeConfig;
using testing_util::SyntheticTestWorkload;

TEST(Heuristics, RoundRobinCyclesThroughExperts) {
  ClusterEnv env(PaperLikeConfig(3.0, 50), SyntheticTestWorkload());
  auto policy = MakeHeuristic("round-robin");
  env.Reset(1);
  policy->Reset(1);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(policy->Act(env), i % 3);
    env.Step(i % 3);
  }
}

TEST(Heuristics, QualityPicksTheHighestPredictedScore) {
  ClusterEnv env(PaperLikeConfig(3.0, 50), SyntheticTestWorkload());
  auto policy = MakeHeuristic("quality");
  env.Reset(1);
  for (int i = 0; i < 20; ++i) {
    const auto& s = env.arrived().pred_score;
    const int a = policy->Act(env);
    for (float v : s) EXPECT_LE(v, s[a]);
    env.Step(a);
  }
}

TEST(Heuristics, ShortestQueueAndLeastKvAvoidTheLoadedExpert) {
  ClusterEnv env(PaperLikeConfig(30.0, 100), SyntheticTestWorkload());
  env.Reset(1);
  for (int i = 0; i < 30; ++i) env.Step(1);  // pile onto expert 1
  EXPECT_NE(MakeHeuristic("shortest-queue-first")->Act(env), 1);
  EXPECT_NE(MakeHeuristic("least-kv-load")->Act(env), 1);
}

TEST(Heuristics, GreedyLookaheadMatchesTheEngineOnAnIdleExpertWithOracleLengths) {
  EnvConfig config = PaperLikeConfig(0.01, 5);  // arrivals far apart: the cluster is idle
  config.predictor.length_noise = 0;
  config.predictor.score_noise = 0;
  ClusterEnv env(config, SyntheticTestWorkload());
  env.Reset(3);
  const LookaheadResult estimate = LookAhead(env, 2, true);
  env.Step(2);
  while (!env.done()) env.Step(3);  // drop the rest
  const EpisodeMetrics m = env.Metrics();
  ASSERT_EQ(m.completed, 1);
  EXPECT_NEAR(estimate.arrived_latency_per_token, m.latency_per_token_mean, 1e-9);
}

TEST(Heuristics, GreedyQosDropsWhenNoExpertCanMeetTheSla) {
  EnvConfig config = PaperLikeConfig(50.0, 400);
  ClusterEnv env(config, SyntheticTestWorkload());
  auto greedy = MakeHeuristic("greedy-qos");
  env.Reset(4);
  greedy->Reset(4);
  for (int i = 0; i < 150; ++i) env.Step(i % 3);  // overload every expert
  EXPECT_EQ(greedy->Act(env), 3);
}

TEST(Heuristics, GreedyQosBeatsQueueAndQualityRoutingUnderLoad) {
  EnvConfig config = PaperLikeConfig(6.0, 1500);
  auto workload = SyntheticTestWorkload();
  auto mean_qos = [&](const std::string& name) {
    const auto episodes = EvaluatePolicy(
        config, workload, [&] { return MakeHeuristic(name); }, 100, 3, 2);
    double sum = 0;
    for (const auto& m : episodes) sum += m.avg_qos;
    return sum / episodes.size();
  };
  const double greedy = mean_qos("greedy-qos");
  EXPECT_GT(greedy, mean_qos("round-robin"));
  EXPECT_GT(greedy, mean_qos("quality"));
  EXPECT_GT(greedy, mean_qos("shortest-queue-first"));
}

TEST(Heuristics, UnknownNameListsTheKnownOnes) {
  try {
    MakeHeuristic("fastest");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("greedy-qos"), std::string::npos);
  }
}

TEST(Evaluation, ResultsDoNotDependOnTheThreadCount) {
  EnvConfig config = PaperLikeConfig(4.0, 500);
  auto workload = SyntheticTestWorkload();
  auto make = [] { return MakeHeuristic("random"); };
  const auto one = EvaluatePolicy(config, workload, make, 7, 4, 1);
  const auto two = EvaluatePolicy(config, workload, make, 7, 4, 2);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(one[k].total_qos, two[k].total_qos);
}

}  // namespace
}  // namespace qosroute
