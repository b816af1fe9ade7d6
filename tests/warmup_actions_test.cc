// Warm-up actions (env/warmup_actions.h): random keeps the reference's uniform warm-up (and
// its RNG stream), greedy-qos follows the greedy router except for an epsilon share of
// uniformly random valid actions, bad settings are refused by name.
#include "env/warmup_actions.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "env/random_action.h"
#include "env_test_util.h"

namespace qosroute {
namespace {

using testing_util::PaperLikeConfig;
using testing_util::SyntheticTestWorkload;

TEST(WarmupActions, RandomIsTheUniformWarmupWithTheSameRngStream) {
  ClusterEnv env(PaperLikeConfig(6.0, 200), SyntheticTestWorkload());
  env.Reset(5);
  WarmupActions warmup(WarmupPolicy::kRandom, 0.3, GreedyQosOptions());
  Rng a(11), b(11);
  for (int i = 0; i < 100 && !env.done(); ++i) {
    const int action = warmup.Act(env, a);
    EXPECT_EQ(action, RandomValidAction(env.observation(), b));
    env.Step(action);
  }
}

TEST(WarmupActions, GreedyWithoutEpsilonIsTheGreedyRouter) {
  ClusterEnv env(PaperLikeConfig(8.0, 300), SyntheticTestWorkload());
  env.Reset(7);
  WarmupActions warmup(WarmupPolicy::kGreedyQos, 0.0, GreedyQosOptions());
  auto greedy = MakeHeuristic("greedy-qos");
  Rng rng(3);
  int drops = 0;
  while (!env.done()) {
    const int action = warmup.Act(env, rng);
    ASSERT_EQ(action, greedy->Act(env));
    drops += action == env.observation().drop_action();
    env.Step(action);
  }
  EXPECT_GT(drops, 0) << "at 8 req/s greedy-qos drops some requests";
}

TEST(WarmupActions, EpsilonSetsTheShareOfRandomActions) {
  ClusterEnv env(PaperLikeConfig(6.0, 2000), SyntheticTestWorkload());
  env.Reset(9);
  WarmupActions warmup(WarmupPolicy::kGreedyQos, 0.5, GreedyQosOptions());
  auto greedy = MakeHeuristic("greedy-qos");
  Rng rng(4);
  int differ = 0, steps = 0;
  while (!env.done()) {
    const int expected = greedy->Act(env);
    const int action = warmup.Act(env, rng);
    differ += action != expected;
    ++steps;
    env.Step(action);
  }
  // Half the actions are uniform over 4 valid ones: about 3/8 differ from greedy's.
  const double share = static_cast<double>(differ) / steps;
  EXPECT_GT(share, 0.30);
  EXPECT_LT(share, 0.45);
}

TEST(WarmupActions, BadSettingsAreRefusedByName) {
  try {
    WarmupActions(WarmupPolicies().Parse("shortest-queue-first", "train.warmup_policy"), 0.3,
                  GreedyQosOptions());
    FAIL() << "an unknown warm-up policy was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("train.warmup_policy"), std::string::npos);
  }
  EXPECT_THROW(WarmupActions(WarmupPolicy::kGreedyQos, 1.5, GreedyQosOptions()), UserError);
}

}  // namespace
}  // namespace qosroute
