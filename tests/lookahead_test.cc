// The event-stepped look-ahead (env/lookahead.h) against the iteration-by-iteration reference:
// equal to the bit in every state of loaded episodes (paper world, calibrated edge world
// with the calibrated and the table time model, light to overloaded), and so greedy-qos
// decides exactly as before at every decision.
#include "env/lookahead.h"

#include <gtest/gtest.h>

#include <string>

#include "env/gpu_profile.h"
#include "env/heuristics.h"
#include "env/time_models.h"
#include "env_test_util.h"

namespace qosroute {
namespace {

using testing_util::PaperLikeConfig;
using testing_util::SyntheticTestWorkload;

struct World {
  std::string name;
  EnvConfig config;
};

EnvConfig Edge(double rate, int requests, bool table) {
  EnvConfig c = PaperLikeConfig(rate, requests);
  for (ExpertConfig& e : c.experts) {
    ApplyGpuProfile(FindGpuProfile("rtx4090"), &e);
    if (table) {
      e.time_model = TimeModelKind::kTable;
      e.profile = LoadProfileTable(std::string(QOSROUTE_SOURCE_DIR) +
                                   "/configs/profiles/rtx4090-llama7b.csv");
    }
  }
  return c;
}

std::vector<World> Worlds() {
  return {{"paper-8", PaperLikeConfig(8.0, 400)},
          {"edge-40", Edge(40.0, 500, false)},
          {"edge-80", Edge(80.0, 700, false)},
          {"edge-120", Edge(120.0, 800, false)},
          {"edge-80-table", Edge(80.0, 500, true)}};
}

void ExpectSameResult(const LookaheadResult& fast, const LookaheadResult& ref) {
  EXPECT_EQ(fast.arrived_latency_per_token, ref.arrived_latency_per_token);
  EXPECT_EQ(fast.queued_latency_per_token, ref.queued_latency_per_token);
  EXPECT_EQ(fast.queued_pred_score, ref.queued_pred_score);
}

TEST(Lookahead, EqualsTheReferenceToTheBitInEveryStateOfLoadedEpisodes) {
  auto workload = SyntheticTestWorkload();
  for (const World& world : Worlds()) {
    SCOPED_TRACE(world.name);
    ClusterEnv env(world.config, workload);
    env.Reset(11);
    const int n = static_cast<int>(world.config.experts.size());
    size_t most_queued = 0;
    for (int step = 0; !env.done(); ++step) {
      for (int e = 0; e < n; ++e) {
        for (bool with_arrived : {false, true})
          ExpectSameResult(LookAhead(env, e, with_arrived),
                           LookAheadReference(env, e, with_arrived));
        const LookaheadEstimate fast = EstimateRouting(env, e, 0.03);
        const LookaheadEstimate ref = EstimateRoutingReference(env, e, 0.03);
        ASSERT_EQ(fast.arrived_latency_per_token, ref.arrived_latency_per_token) << step;
        ASSERT_EQ(fast.harm, ref.harm) << step;
        most_queued = std::max(
            most_queued, env.experts()[e].running().size() + env.experts()[e].waiting().size());
      }
      env.Step(step % n);  // round-robin: queues of every shape
    }
    EXPECT_GT(most_queued, 5u);  // the states had queues to replay
  }
}

TEST(Lookahead, GreedyQosDecidesAsTheReferenceAtEveryDecision) {
  auto workload = SyntheticTestWorkload();
  const GreedyQosOptions options;
  for (const World& world : Worlds()) {
    SCOPED_TRACE(world.name);
    ClusterEnv env(world.config, workload);
    env.Reset(5);
    int decisions = 0, drops = 0;
    while (!env.done()) {
      const int action = GreedyQosAction(env, options);
      ASSERT_EQ(action, GreedyQosAction(env, options, EstimateRoutingReference)) << decisions;
      drops += action == static_cast<int>(world.config.experts.size());
      env.Step(action);
      ++decisions;
    }
    EXPECT_EQ(decisions, world.config.requests_per_episode);
    if (world.name == "edge-120") {
      EXPECT_GT(drops, 0);  // the drop branch was exercised
    }
  }
}

// Each model's decode run is the sum a loop of DecodeSeconds gives, to the bit.
TEST(Lookahead, DecodeRunsEqualIterationLoopsForEveryTimeModel) {
  const EnvConfig table = Edge(40.0, 10, true);
  const std::vector<std::shared_ptr<const IterationTimeModel>> models = {
      std::make_shared<LinearIterationTimeModel>(0.01, 1e-4, 7e-7),
      std::make_shared<CalibratedIterationTimeModel>(0.017, 1.2e-4, 6.5e-7, 1e-4),
      table.experts[0].MakeTimeModel()};
  for (const auto& model : models) {
    double run = 0.25, loop = 0.25;
    model->AddDecodeRun(3000, 17, 250, &run);
    long context = 3000;
    for (int s = 0; s < 250; ++s, context += 17) loop += model->DecodeSeconds(context, 17);
    EXPECT_EQ(run, loop);
    EXPECT_GT(run, 0.25);
  }
}

}  // namespace
}  // namespace qosroute
