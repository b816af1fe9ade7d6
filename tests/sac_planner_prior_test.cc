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

// From greedy-qos's sharp prior (temperature 0.01, as the recipes use) the policy starts with
// almost no mass on the planner's departure; the KL term's gradient on an action is
// proportional to its probability, the behaviour-cloning term's (sac.planner_bc_weight) is
// not, so with it the policy moves further in the same number of updates.
TEST_F(SacPlannerPrior, FromASharpPriorTheCrossEntropyMovesFurther) {
  SacConfig config = WithPrior(PriorKind::kPlanner);
  config.prior_temperature = 0.01;
  config.planner_temperature = 0.005;
  config.alpha_init = 0.05;
  config.alpha_lr = 0.0;
  config.actor_lr = 3e-3;
  SacAgent kl_only(config);
  config.planner_bc_weight = 1.0;
  SacAgent with_bc(config);
  Transitions t = RandomTransitions(5, 32, 3, 4, 3);
  // greedy-qos's values as they are in the edge world: experts 0.02-0.06 apart, the drop
  // threshold (0.4) below them, so the prior's log-odds are a few nats.
  const int column = config.schema.Find("expert.greedy_value")->offset;
  for (auto* batch : {&t.obs, &t.next_obs}) {
    for (Observation& o : *batch) {
      for (int e = 0; e < o.num_experts; ++e) {
        o.expert[e * o.expert_features + column] = 0.6f + 0.02f * static_cast<float>(e % 3);
      }
    }
  }
  t.obs_batch = sac_test_util::Batch(t.obs);
  t.next_batch = sac_test_util::Batch(t.next_obs);
  // The planner's choice: the expert greedy-qos likes least (the prior's least likely one).
  std::vector<ActionLabel> labels(t.obs.size());
  const torch::Tensor prior = kl_only.PriorLogProbs(t.obs_batch);
  std::vector<int64_t> chosen;
  for (size_t i = 0; i < labels.size(); ++i) {
    const int least = static_cast<int>(prior[i].slice(0, 0, 3).argmin().item<int64_t>());
    labels[i].labelled = true;
    labels[i].chosen = least;
    labels[i].values.assign(4, -0.05f);
    labels[i].values[least] = 0.05f;
    chosen.push_back(least);
  }
  const PlannerTargets targets = Targets(labels, 4);
  const torch::Tensor index = torch::tensor(chosen, torch::kInt64).view({-1, 1});
  auto mass = [&](SacAgent& agent) {
    return agent.ActionProbs(t.obs_batch).gather(1, index).mean().item<double>();
  };
  const double before = mass(kl_only);
  for (int step = 0; step < 100; ++step) {
    kl_only.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones, &targets);
    with_bc.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones, &targets);
  }
  EXPECT_LT(before, 0.05);
  const double kl = mass(kl_only), bc = mass(with_bc);
  EXPECT_GT(kl, before + 0.3) << "the KL term alone moves it too, more slowly";
  EXPECT_GT(bc, kl + 0.1) << "with the cross-entropy";
}

// The behaviour-cloning term trains the encoder too (the KL and Q terms of the actor loss read
// detached embeddings); without it the actor loss leaves the encoder alone.
TEST_F(SacPlannerPrior, TheCrossEntropyAloneReachesTheEncoder) {
  const Transitions t = RandomTransitions(6, 8, 3, 4, 3);
  const std::vector<ActionLabel> labels = Labels(t, 0.3f);
  const PlannerTargets targets = Targets(labels, 4);
  for (double weight : {0.0, 1.0}) {
    SacConfig config = WithPrior(PriorKind::kPlanner);
    config.planner_bc_weight = weight;
    SacAgent agent(config);
    const SacLossTensors losses =
        agent.ComputeLosses(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones, &targets);
    losses.actor.backward();
    double encoder_grad = 0.0;
    for (const auto& [name, p] : agent.NamedParameters()) {
      if (name.rfind("encoder.", 0) == 0 && p.grad().defined())
        encoder_grad += p.grad().abs().sum().item<double>();
    }
    if (weight == 0.0) {
      EXPECT_EQ(encoder_grad, 0.0);
    } else {
      EXPECT_GT(encoder_grad, 0.0);
    }
  }
}

}  // namespace
}  // namespace qosroute
