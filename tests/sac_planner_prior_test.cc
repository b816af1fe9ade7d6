// Search-guided SAC (sac.prior = planner): planner labels as tensors, the actor's KL target
// (the planner's soft choice where labelled, greedy-qos's elsewhere), the exact fallback to
// the greedy-qos prior without labels, and a policy that moves towards the planner's choice.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "learner/planner_targets.h"
#include "learner/sac.h"
#include "sac_test_util.h"

namespace qosroute {
namespace {

using sac_test_util::RandomTransitions;
using sac_test_util::SmallConfig;
using sac_test_util::Transitions;

class SacPlannerPrior : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

SacConfig WithPrior(PriorKind prior) {
  SacConfig c = SmallConfig("han");
  c.prior = prior;
  c.schema = sac_test_util::Layout(/*lookahead=*/true, /*value=*/true);
  c.prior_temperature = 0.2;
  c.planner_temperature = 0.05;
  return c;
}

// Labels on every other row of `t`: the first valid expert is the planner's choice.
std::vector<ActionLabel> Labels(const Transitions& t, float value) {
  std::vector<ActionLabel> labels(t.obs.size());
  for (size_t i = 0; i < t.obs.size(); i += 2) {
    const Observation& o = t.obs[i];
    ActionLabel& l = labels[i];
    l.labelled = true;
    l.values.assign(static_cast<size_t>(o.num_actions()), 0.0f);
    l.chosen = 0;
    l.values[0] = value;
    for (int a = 1; a < o.num_actions(); ++a) l.values[a] = -0.01f * a;
  }
  return labels;
}

PlannerTargets Targets(const std::vector<ActionLabel>& labels, int64_t actions) {
  std::vector<const ActionLabel*> ptrs;
  for (const ActionLabel& l : labels) ptrs.push_back(&l);
  return BatchPlannerTargets(ptrs, actions);
}

TEST_F(SacPlannerPrior, BatchesLabelsRowByRowAndNothingWithoutThem) {
  const Transitions t = RandomTransitions(1, 6, 3, 4, 3);
  EXPECT_FALSE(Targets(std::vector<ActionLabel>(6), 4).values.defined());
  const std::vector<ActionLabel> labels = Labels(t, 0.3f);
  const PlannerTargets targets = Targets(labels, 4);
  ASSERT_TRUE(targets.values.defined());
  ASSERT_EQ(targets.values.sizes(), (std::vector<int64_t>{6, 4}));
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(targets.labelled[i].item<bool>(), i % 2 == 0) << i;
    for (int a = 0; a < 4; ++a) {
      const float want = i % 2 == 0 ? labels[i].values[a] : 0.0f;
      EXPECT_EQ(targets.values[i][a].item<float>(), want) << i << "," << a;
    }
  }
}

TEST_F(SacPlannerPrior, TeacherIsThePlannersSoftChoiceWhereLabelledAndGreedyQosElsewhere) {
  const SacConfig config = WithPrior(PriorKind::kPlanner);
  SacAgent agent(config);
  const Transitions t = RandomTransitions(2, 6, 3, 4, 3);
  const torch::Tensor greedy = agent.PriorLogProbs(t.obs_batch);
  EXPECT_TRUE(torch::equal(agent.TeacherLogProbs(t.obs_batch, nullptr), greedy));
  const PlannerTargets none;
  EXPECT_TRUE(torch::equal(agent.TeacherLogProbs(t.obs_batch, &none), greedy));
  const std::vector<ActionLabel> labels = Labels(t, 0.3f);
  const PlannerTargets targets = Targets(labels, 4);
  const torch::Tensor teacher = agent.TeacherLogProbs(t.obs_batch, &targets);
  for (int i = 0; i < 6; ++i) {
    const Observation& o = t.obs[i];
    double norm = 0.0;
    for (int a = 0; i % 2 == 0 && a < 4; ++a) {
      if (o.action_mask[a]) norm += std::exp(labels[i].values[a] / config.planner_temperature);
    }
    for (int a = 0; a < 4; ++a) {
      const double got = teacher[i][a].item<float>();
      if (i % 2 != 0) {
        EXPECT_EQ(got, greedy[i][a].item<float>()) << "unlabelled row " << i;
      } else if (!o.action_mask[a]) {
        EXPECT_EQ(got, 0.0) << "masked actions stay finite";
      } else {
        EXPECT_NEAR(got, labels[i].values[a] / config.planner_temperature - std::log(norm), 1e-4)
            << i << "," << a;
      }
    }
  }
}

// Without labels the planner prior is exactly the greedy-qos prior: same losses, same steps.
TEST_F(SacPlannerPrior, WithoutLabelsItTrainsExactlyAsTheGreedyQosPrior) {
  SacAgent planner(WithPrior(PriorKind::kPlanner));
  SacAgent greedy(WithPrior(PriorKind::kGreedyQos));
  const Transitions t = RandomTransitions(3, 16, 3, 4, 3);
  const std::vector<ActionLabel> unlabelled(16);
  const PlannerTargets none = Targets(unlabelled, 4);
  for (int step = 0; step < 3; ++step) {
    const SacLosses a =
        planner.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones, &none);
    const SacLosses b = greedy.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones);
    EXPECT_EQ(a.critic, b.critic);
    EXPECT_EQ(a.actor, b.actor);
    EXPECT_EQ(a.alpha_loss, b.alpha_loss);
  }
  const auto pa = planner.NamedParameters();
  const auto pb = greedy.NamedParameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i].second, pb[i].second));
}

// The actor follows the planner where it labelled: with every row labelled for the first
// expert, that expert's probability rises well above what the greedy-qos prior run gives it.
TEST_F(SacPlannerPrior, ThePolicyMovesTowardsThePlannersChoice) {
  SacConfig config = WithPrior(PriorKind::kPlanner);
  config.alpha_init = 1.0;  // the KL term outweighs the (untrained) critics
  config.alpha_lr = 0.0;
  config.actor_lr = 3e-3;
  SacAgent planner(config);
  config.prior = PriorKind::kGreedyQos;
  SacAgent greedy(config);
  Transitions t = RandomTransitions(4, 32, 3, 4, 3);
  std::vector<ActionLabel> labels = Labels(t, 0.3f);
  for (size_t i = 1; i < labels.size(); i += 2) labels[i] = labels[i - 1];  // every row
  const PlannerTargets targets = Targets(labels, 4);
  const double before = planner.ActionProbs(t.obs_batch).select(1, 0).mean().item<double>();
  for (int step = 0; step < 150; ++step) {
    planner.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones, &targets);
    greedy.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones, &targets);
  }
  const double with_planner = planner.ActionProbs(t.obs_batch).select(1, 0).mean().item<double>();
  const double with_greedy = greedy.ActionProbs(t.obs_batch).select(1, 0).mean().item<double>();
  EXPECT_GT(with_planner, before + 0.2) << "before " << before;
  EXPECT_GT(with_planner, with_greedy + 0.2) << "the greedy-qos prior ignores labels";
  EXPECT_GT(with_planner, 0.8);
}

}  // namespace
}  // namespace qosroute
