// EnvConfig::undiscounted_credit: a score credited k decisions after its routing is divided
// by gamma^k, and so is the request's term in the shaping potential; the metrics never change.
#include <gtest/gtest.h>

#include <cmath>

#include "common/rng.h"
#include "env/cluster_env.h"
#include "env/random_action.h"
#include "env_test_util.h"

namespace qosroute {
namespace {

using testing_util::PaperLikeConfig;
using testing_util::SyntheticTestWorkload;

constexpr double kGamma = 0.9;  // small, so that the weights differ clearly from 1

// One request in flight at a time: route the arrived request when nothing is uncredited and
// drop the rest, so every credit belongs to the last routed request, whose age is known.
TEST(UndiscountedCredit, CreditAndPotentialOfOneRequestGrowByOneOverGamma) {
  EnvConfig plain = PaperLikeConfig(8.0, 400);
  plain.potential_shaping = true;
  plain.shaping_potential = "predicted";
  EnvConfig weighted = plain;
  weighted.undiscounted_credit = true;
  ClusterEnv a(plain, SyntheticTestWorkload(), kGamma),
      b(weighted, SyntheticTestWorkload(), kGamma);
  a.Reset(5);
  b.Reset(5);
  const int n = static_cast<int>(plain.experts.size());
  int routed_at = -1;
  double routed_pred = 0.0;
  int credits = 0, aged_credits = 0, quiet_steps = 0;
  while (!a.done()) {
    const int step = a.step_index();
    // Queued, running or finished but not yet credited (predicted scores are positive).
    const bool empty = a.UncreditedPredictedScore() == 0.0;
    const int action = empty ? step % n : n;
    if (empty) {
      routed_at = step;
      routed_pred = a.arrived().pred_score[action];
    }
    const StepResult ra = a.Step(action), rb = b.Step(action);
    const double weight = std::pow(kGamma, -(step - routed_at));
    if (ra.credited > 0.0) {
      EXPECT_NEAR(rb.credited, ra.credited * weight, 1e-9) << "step " << step;
      ++credits;
      if (step > routed_at) ++aged_credits;
    }
    const bool still_in_flight = a.UncreditedPredictedScore() > 0.0;
    if (!a.done() && still_in_flight && !empty) {
      // A quiet step: the one request's potential term grows by exactly 1/gamma.
      EXPECT_NEAR(rb.shaping, 0.0, 1e-9) << "step " << step;
      ++quiet_steps;
    }
    if (!a.done() && still_in_flight && empty) {
      // Its routing pays its predicted score, as with plain crediting.
      EXPECT_NEAR(rb.shaping, routed_pred, 1e-9) << "step " << step;
      EXPECT_NEAR(ra.shaping, kGamma * routed_pred, 1e-9) << "step " << step;
    }
  }
  EXPECT_GT(aged_credits, 20) << "most credits should come several decisions after routing";
  EXPECT_GT(quiet_steps, 100);
  EXPECT_GE(credits, aged_credits);
  EXPECT_DOUBLE_EQ(a.Metrics().avg_qos, b.Metrics().avg_qos);
}

// With many requests in flight the shaping still telescopes under discounting: over an
// episode sum_t gamma^t F_t = gamma^T Phi(terminal) - Phi(start) = 0 for either potential.
class UndiscountedCreditPotential : public ::testing::TestWithParam<std::string> {};

TEST_P(UndiscountedCreditPotential, ShapingTelescopesAndMetricsAreUnchanged) {
  EnvConfig config = PaperLikeConfig(6.0, 300);
  config.potential_shaping = true;
  config.shaping_potential = GetParam();
  config.undiscounted_credit = true;
  EnvConfig plain = config;
  plain.undiscounted_credit = false;
  ClusterEnv env(config, SyntheticTestWorkload(), kGamma),
      reference(plain, SyntheticTestWorkload(), kGamma);
  env.Reset(9);
  reference.Reset(9);
  Rng rng(10);
  double discounted_shaping = 0.0, discount = 1.0, weighted = 0.0, credited = 0.0;
  while (!env.done()) {
    const int action = RandomValidAction(env.observation(), rng);
    const StepResult s = env.Step(action);
    credited += reference.Step(action).credited;
    discounted_shaping += discount * s.shaping;
    weighted += s.credited;
    discount *= kGamma;
  }
  EXPECT_NEAR(discounted_shaping, 0.0, 1e-9);
  EXPECT_GT(weighted, credited * 1.05) << "late credits must weigh more than 1";
  EXPECT_DOUBLE_EQ(env.Metrics().avg_qos, reference.Metrics().avg_qos);
}

INSTANTIATE_TEST_SUITE_P(Potentials, UndiscountedCreditPotential,
                         ::testing::Values("predicted", "lookahead"));

}  // namespace
}  // namespace qosroute
