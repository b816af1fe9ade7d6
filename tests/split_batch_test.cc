// Learners that split the global batch (docs/DISTRIBUTED.md): with L data-parallel learners
// each computes the gradient of its batch_size / L samples and the learners average those
// gradients (learner/gradient_sync.h). Every loss is a mean over the batch, so that average is
// the gradient one learner computes on the whole batch: checked here, for every parameter, for
// L = 2 and 4, on both encoders and with the optional loss terms (dueling critics, the
// greedy-qos prior) on.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>

#include "learner/sac.h"
#include "sac_test_util.h"

namespace qosroute {
namespace {

using namespace sac_test_util;

std::map<std::string, torch::Tensor> Gradients(SacAgent& agent) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, p] : agent.NamedParameters()) {
    if (p.grad().defined()) out[name] = p.grad().clone();
  }
  return out;
}

Transitions Slice(const Transitions& t, int begin, int end) {
  Transitions s;
  s.obs.assign(t.obs.begin() + begin, t.obs.begin() + end);
  s.next_obs.assign(t.next_obs.begin() + begin, t.next_obs.begin() + end);
  s.obs_batch = Batch(s.obs);
  s.next_batch = Batch(s.next_obs);
  s.actions = t.actions.slice(0, begin, end);
  s.rewards = t.rewards.slice(0, begin, end);
  s.dones = t.dones.slice(0, begin, end);
  return s;
}

class SplitBatch : public ::testing::TestWithParam<std::tuple<std::string, int, bool>> {};

TEST_P(SplitBatch, AveragedSliceGradientsEqualTheWholeBatchGradient) {
  const auto [encoder, learners, options_on] = GetParam();
  SacConfig config = SmallConfig(encoder);
  if (options_on) {
    config.dueling = true;
    config.prior = PriorKind::kGreedyQos;
    config.schema = sac_test_util::Layout(/*lookahead=*/true, /*value=*/true);
  }
  SacAgent whole(config), split(config);  // same seed: identical parameters
  const int batch = 48;
  const Transitions t = RandomTransitions(21, batch, 3, 4, 3);
  whole.ComputeGradients(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones);
  const auto expected = Gradients(whole);
  ASSERT_FALSE(expected.empty());

  std::map<std::string, torch::Tensor> averaged;
  const int slice = batch / learners;
  for (int l = 0; l < learners; ++l) {
    const Transitions part = Slice(t, l * slice, (l + 1) * slice);
    split.ComputeGradients(part.obs_batch, part.actions, part.rewards, part.next_batch, part.dones);
    for (const auto& [name, g] : Gradients(split)) {
      auto it = averaged.find(name);
      if (it == averaged.end()) {
        averaged[name] = g / learners;
      } else {
        it->second += g / learners;
      }
    }
  }
  ASSERT_EQ(averaged.size(), expected.size());
  for (const auto& [name, g] : expected) {
    const torch::Tensor& a = averaged.at(name);
    const double scale = std::max(1e-3, g.abs().max().item<double>());
    EXPECT_LE((a - g).abs().max().item<double>(), 2e-5 * scale) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Learners, SplitBatch,
                         ::testing::Combine(::testing::Values("han", "flat"),
                                            ::testing::Values(2, 4), ::testing::Bool()),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" +
                                  std::to_string(std::get<1>(info.param)) +
                                  (std::get<2>(info.param) ? "_options" : "_plain");
                         });

}  // namespace
}  // namespace qosroute
