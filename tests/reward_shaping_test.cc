// Potential-based reward shaping (EnvConfig::potential_shaping), with either potential: it
// telescopes (with gamma = 1 an episode's total reward is unchanged), it pays a routed
// request's predicted score at the decision (the look-ahead potential: times its chance of
// meeting the SLA, minus the harm to the requests queued before it), and it never touches
// the metrics.
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/rng.h"
#include "env/cluster_env.h"
#include "env/heuristics.h"
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

EpisodeRun RunRandomEpisode(const EnvConfig& config, uint64_t seed, double discount = 1.0) {
  ClusterEnv env(config, SyntheticTestWorkload(), discount);
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

class EitherPotential : public ::testing::TestWithParam<std::string> {};

TEST_P(EitherPotential, TelescopesToZeroWithoutDiscount) {
  for (uint64_t seed : {1, 2, 3}) {
    EnvConfig plain = PaperLikeConfig(8.0, 300);
    EnvConfig shaped = plain;
    shaped.potential_shaping = true;
    shaped.shaping_potential = GetParam();
    const EpisodeRun a = RunRandomEpisode(plain, seed),
                     b = RunRandomEpisode(shaped, seed, /*discount=*/1.0);
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
  ClusterEnv env(config, SyntheticTestWorkload(), /*discount=*/0.9);
  env.Reset(4);
  const float predicted = env.arrived().pred_score[1];
  const StepResult first = env.Step(1);
  EXPECT_EQ(first.credited, 0.0);
  EXPECT_NEAR(first.shaping, 0.9 * predicted, 1e-6);
  // Dropping the next one adds nothing: the first request is still in flight.
  const StepResult second = env.Step(env.observation().drop_action());
  EXPECT_NEAR(second.shaping, 0.9 * predicted - predicted, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(RewardShaping, EitherPotential,
                         ::testing::Values("predicted", "lookahead"));

TEST(RewardShaping, LookaheadPotentialChargesGreedyQosValueAtTheDecision) {
  // Requests arrive in pairs at the same instant (20 pairs per second: a loaded cluster), so
  // the first of a pair is decided without the clock moving. Routing it to expert e instead of
  // dropping it then changes Phi by exactly greedy-qos's value of e: the new request's
  // predicted score x its chance of meeting the SLA, minus the chance the queued requests
  // lose (adding a request never speeds anyone up, so greedy's one-sided harm is the change).
  std::string trace;
  for (int k = 0; k < 200; ++k)
    trace += std::to_string(0.05 * k) + "\n" + std::to_string(0.05 * k) + "\n";
  EnvConfig config = PaperLikeConfig(1.0, 400);
  config.arrivals.process = "trace";
  config.arrivals.trace_path = testing_util::WriteTempFile("pairs_trace.txt", trace);
  config.potential_shaping = true;
  config.shaping_potential = "lookahead";
  const auto workload = SyntheticTestWorkload();
  ClusterEnv env(config, workload, /*discount=*/1.0);
  env.Reset(9);
  Rng rng(3);
  const int n = static_cast<int>(config.experts.size());
  int harmful = 0, compared = 0;
  for (int step = 0; step < 300; ++step) {
    if (step % 2 == 0) {
      const std::vector<uint8_t> state = env.SaveState();
      ClusterEnv dropped(config, workload);
      dropped.LoadState(state);
      const double drop_shaping = dropped.Step(n).shaping;
      for (int e = 0; e < n; ++e) {
        const double value = testing_util::GreedyRoutingValue(env, e, config);
        ClusterEnv routed(config, workload);
        routed.LoadState(state);
        EXPECT_NEAR(routed.Step(e).shaping - drop_shaping, value, 1e-6) << "step " << step;
        ++compared;
        if (EstimateRouting(env, e, config.lookahead_sharpness).harm > 0.05) ++harmful;
      }
    }
    env.Step(static_cast<int>(rng.Below(static_cast<uint64_t>(n))));
  }
  EXPECT_EQ(compared, 150 * n);
  EXPECT_GT(harmful, 10) << "the scenario should contain routings that harm queued requests";
}

TEST(RewardShaping, UnknownPotentialIsRefusedByName) {
  EnvConfig config = PaperLikeConfig(3.0, 10);
  config.shaping_potential = "oracle";
  try {
    ValidateEnvConfig(config);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("env.shaping_potential"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("oracle"), std::string::npos) << e.what();
  }
}

TEST(RewardShaping, OffByDefault) {
  const EpisodeRun a = RunRandomEpisode(PaperLikeConfig(6.0, 200), 5);
  EXPECT_EQ(a.shaping, 0.0);
  EXPECT_NEAR(a.reward, a.credited - a.penalty, 1e-9);
}

}  // namespace
}  // namespace qosroute
