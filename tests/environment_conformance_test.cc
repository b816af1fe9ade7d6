// The conformance suite every Environment must pass: valid random rollouts, determinism
// given the seed, and a state round-trip that continues identically.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "common/error.h"
#include "common/rng.h"
#include "env/cluster_env.h"
#include "env/time_models.h"
#include "env/toy_env.h"
#include "env_test_util.h"

namespace qosroute {
namespace {

using Factory = std::function<std::unique_ptr<Environment>()>;

struct EnvCase {
  std::string name;
  Factory make;
};

std::vector<EnvCase> AllEnvironments() {
  auto workload = testing_util::SyntheticTestWorkload(1000, 11);
  auto cluster = [workload](double rate, int blocks, std::string arrival, bool drop) {
    return [=]() -> std::unique_ptr<Environment> {
      EnvConfig c = testing_util::PaperLikeConfig(rate, 300);
      c.arrivals.process = arrival;
      c.allow_drop = drop;
      if (blocks > 0) {
        for (auto& e : c.experts) e.num_blocks = blocks;
      }
      return std::make_unique<ClusterEnv>(c, workload);
    };
  };
  // The calibrated edge world (configs/edge-4090.cfg): RTX 4090 profile on every expert.
  auto edge = [workload](double rate, int requests, const std::string& time_model,
                         bool aggregates = false) {
    return [=]() -> std::unique_ptr<Environment> {
      EnvConfig c = testing_util::PaperLikeConfig(rate, requests);
      c.expert_aggregates = aggregates;
      for (auto& e : c.experts) {
        ApplyGpuProfile(FindGpuProfile("rtx4090"), &e);
        if (time_model == "table") {
          e.time_model = TimeModelKind::kTable;
          e.profile = LoadProfileTable(std::string(QOSROUTE_SOURCE_DIR) +
                                       "/configs/profiles/rtx4090-llama7b.csv");
        }
      }
      return std::make_unique<ClusterEnv>(c, workload);
    };
  };
  return {
      {"Edge4090Loaded", edge(40.0, 600, "calibrated")},
      {"Edge4090Overloaded", edge(120.0, 1500, "calibrated")},
      {"Edge4090Table", edge(40.0, 600, "table")},
      {"Edge4090OverloadedWithAggregates", edge(120.0, 1500, "calibrated", true)},
      {"ClusterPaper", cluster(3.0, 0, "poisson", true)},
      {"ClusterOverloaded", cluster(12.0, 0, "poisson", true)},
      {"ClusterTinyKvCache", cluster(8.0, 24, "poisson", false)},
      {"ClusterBursty", cluster(3.0, 0, "mmpp", true)},
      {"TwoExpertToy",
       [] { return std::unique_ptr<Environment>(std::make_unique<TwoExpertToyEnv>()); }},
  };
}

class EnvironmentConformance : public ::testing::TestWithParam<EnvCase> {};

// Runs a random valid rollout; returns the rewards.
std::vector<double> Rollout(Environment& env, uint64_t seed, uint64_t action_seed,
                            int max_steps = 1 << 30) {
  Rng rng(action_seed);
  std::vector<double> rewards;
  for (int i = 0; i < max_steps && !env.done(); ++i) {
    const Observation& obs = env.observation();
    std::vector<int> valid;
    for (int a = 0; a < obs.num_actions(); ++a) {
      if (obs.action_mask[a]) valid.push_back(a);
    }
    EXPECT_FALSE(valid.empty());
    rewards.push_back(env.Step(valid[rng.Below(valid.size())]).reward);
  }
  (void)seed;
  return rewards;
}

TEST_P(EnvironmentConformance, RandomRolloutsProduceFiniteValidObservations) {
  auto env = GetParam().make();
  for (uint64_t seed = 0; seed < 3; ++seed) {
    const Observation& first = env->Reset(seed);
    ASSERT_GE(first.num_experts, 1);
    Rng rng(seed);
    int steps = 0;
    while (!env->done()) {
      const Observation& obs = env->observation();
      ASSERT_TRUE(obs.expert_features == kExpertFeatures ||
                  obs.expert_features == kExpertFeatures + kAggregateFeatures);
      ASSERT_EQ(obs.expert.size(), static_cast<size_t>(obs.num_experts) * obs.expert_features);
      ASSERT_EQ(obs.action_mask.size(), static_cast<size_t>(obs.num_actions()));
      for (float v : obs.expert) ASSERT_TRUE(std::isfinite(v));
      for (float v : obs.running) ASSERT_TRUE(std::isfinite(v));
      for (float v : obs.waiting) ASSERT_TRUE(std::isfinite(v));
      int action;
      do {
        action = static_cast<int>(rng.Below(obs.num_actions()));
      } while (!obs.action_mask[action]);
      const StepResult r = env->Step(action);
      ASSERT_TRUE(std::isfinite(r.reward));
      ++steps;
    }
    EXPECT_GT(steps, 0);
  }
}

TEST_P(EnvironmentConformance, SameSeedAndActionsGiveTheSameTrajectory) {
  auto a = GetParam().make();
  auto b = GetParam().make();
  a->Reset(42);
  b->Reset(42);
  EXPECT_EQ(Rollout(*a, 42, 7), Rollout(*b, 42, 7));
}

TEST_P(EnvironmentConformance, RestoredStateContinuesIdentically) {
  auto a = GetParam().make();
  a->Reset(5);
  Rollout(*a, 5, 1, 60);  // part-way through the episode
  ASSERT_FALSE(a->done());
  const std::vector<uint8_t> state = a->SaveState();
  auto b = GetParam().make();
  b->Reset(999);  // a different episode, overwritten by the snapshot
  b->LoadState(state);
  EXPECT_EQ(a->observation().expert, b->observation().expert);
  EXPECT_EQ(a->observation().running, b->observation().running);
  EXPECT_EQ(Rollout(*a, 5, 3), Rollout(*b, 5, 3));
  EXPECT_TRUE(b->done());
}

TEST_P(EnvironmentConformance, TruncatedStateIsRejected) {
  auto a = GetParam().make();
  a->Reset(5);
  std::vector<uint8_t> state = a->SaveState();
  state.resize(state.size() / 2);
  auto b = GetParam().make();
  b->Reset(1);
  EXPECT_THROW(b->LoadState(state), UserError);
}

INSTANTIATE_TEST_SUITE_P(AllEnvironments, EnvironmentConformance,
                         ::testing::ValuesIn(AllEnvironments()),
                         [](const ::testing::TestParamInfo<EnvCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace qosroute
