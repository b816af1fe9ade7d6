// Potential-based reward shaping (EnvConfig::potential_shaping): it telescopes (with
// gamma = 1 an episode's total reward is unchanged), it pays a routed request's predicted
// score at the decision, and it never touches the metrics.
#include <gtest/gtest.h>

#include "common/rng.h"
#include "env/cluster_env.h"
#include "env/random_action.h"
#include "env_test_util.h"

namespace qosroute {
namespace {

using testing_util::PaperLikeConfig;
using testing_util::SyntheticTestWorkload;

struct EpisodeRun {
  double reward = 0.0, credited = 0.0, penalty = 0.0, shaping = 0.0;
  EpisodeMetrics metrics;
};

EpisodeRun RunRandomEpisode(const EnvConfig& config, uint64_t seed) {
  ClusterEnv env(config, SyntheticTestWorkload());
  env.Reset(seed);
  Rng rng(seed + 1);
  EpisodeRun out;
  while (!env.done()) {
    const StepResult s = env.Step(RandomValidAction(env.observation(), rng));
    out.reward += s.reward;
    out.credited += s.credited;
    out.penalty += s.penalty;
    out.shaping += s.shaping;
  }
  out.metrics = env.Metrics();
  return out;
}

TEST(RewardShaping, TelescopesToZeroWithoutDiscount) {
  for (uint64_t seed : {1, 2, 3}) {
    EnvConfig plain = PaperLikeConfig(8.0, 300);
    EnvConfig shaped = plain;
    shaped.potential_shaping = true;
    shaped.shaping_gamma = 1.0;
    const EpisodeRun a = RunRandomEpisode(plain, seed), b = RunRandomEpisode(shaped, seed);
    EXPECT_NEAR(b.shaping, 0.0, 1e-9);
    EXPECT_NEAR(a.reward, b.reward, 1e-9);
    EXPECT_DOUBLE_EQ(a.credited, b.credited);
    EXPECT_DOUBLE_EQ(a.penalty, b.penalty);
    EXPECT_DOUBLE_EQ(a.metrics.avg_qos, b.metrics.avg_qos);  // metrics never see it
  }
}

TEST(RewardShaping, PaysTheRoutedRequestsPredictedScoreAtTheDecision) {
  EnvConfig config = PaperLikeConfig(50.0, 20);  // arrivals 20 ms apart: nothing finishes
  config.potential_shaping = true;
  config.shaping_gamma = 0.9;
  ClusterEnv env(config, SyntheticTestWorkload());
  env.Reset(4);
  const float predicted = env.arrived().pred_score[1];
  const StepResult first = env.Step(1);
  EXPECT_EQ(first.credited, 0.0);
  EXPECT_NEAR(first.shaping, 0.9 * predicted, 1e-6);
  // Dropping the next one adds nothing: the first request is still in flight.
  const StepResult second = env.Step(env.observation().drop_action());
  EXPECT_NEAR(second.shaping, 0.9 * predicted - predicted, 1e-6);
}

TEST(RewardShaping, OffByDefault) {
  const EpisodeRun a = RunRandomEpisode(PaperLikeConfig(6.0, 200), 5);
  EXPECT_EQ(a.shaping, 0.0);
  EXPECT_NEAR(a.reward, a.credited - a.penalty, 1e-9);
}

}  // namespace
}  // namespace qosroute
