// The SAC options beyond the reference: dueling critic heads, the learning-rate schedule and
// the greedy-qos prior of KL-regularised SAC.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>

#include "common/error.h"
#include "learner/policy_io.h"
#include "learner/sac.h"
#include "sac_test_util.h"

namespace qosroute {
namespace {

using sac_test_util::RandomTransitions;
using sac_test_util::SmallConfig;
using sac_test_util::Transitions;

class SacOptions : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

SacConfig Dueling() {
  SacConfig c = SmallConfig("han");
  c.dueling = true;
  return c;
}

// The state-value MLP of a dueling head, found by its registered name.
torch::Tensor StateValue(ActionHead& head, const torch::Tensor& request_embedding) {
  for (const auto& child : head->named_children()) {
    if (child.key() == "value_mlp") {
      return child.value()->as<torch::nn::Sequential>()->forward(request_embedding);
    }
  }
  ADD_FAILURE() << "dueling head has no value_mlp";
  return {};
}

TEST_F(SacOptions, DuelingCriticIsValuePlusCentredAdvantage) {
  SacAgent dueling(Dueling());
  // The same weights without the value MLP give the advantages A of the dueling head.
  SacAgent plain(SmallConfig("han"));
  std::vector<NamedTensor> shared;
  for (const auto& [name, p] : dueling.NamedParameters()) {
    if (name.find("value_mlp") == std::string::npos) shared.emplace_back(name, p);
  }
  plain.LoadParameters(shared);

  const Transitions t = RandomTransitions(3, 24, 3, 4, 3);  // every third graph cannot drop
  const torch::Tensor valid = t.obs_batch.action_mask.to(torch::kFloat32);
  const auto [q, q2] = dueling.QValues(t.obs_batch);
  const auto [a, a2] = plain.QValues(t.obs_batch);
  torch::Tensor v;
  {
    torch::NoGradGuard no_grad;
    v = StateValue(dueling.networks()->q1,
                   dueling.networks()->encoder->forward(t.obs_batch).request);
  }
  const torch::Tensor mean_a = (a * valid).sum(1, true) / valid.sum(1, true);
  EXPECT_TRUE(torch::allclose(q, v + a - mean_a, 1e-5, 1e-5));
  // Over the valid actions Q averages to V, and differences of Q are differences of A.
  EXPECT_TRUE(torch::allclose((q * valid).sum(1, true) / valid.sum(1, true), v, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(q.select(1, 0) - q.select(1, 1), a.select(1, 0) - a.select(1, 1),
                              1e-5, 1e-5));
  // A masked drop action's advantage does not enter the centring of the valid ones.
  const int64_t no_drop = 0;  // RandomTransitions: graph 0 has drop masked
  ASSERT_EQ(t.obs_batch.action_mask[no_drop][3].item<bool>(), false);
  const torch::Tensor experts_only = a[no_drop].slice(0, 0, 3);
  EXPECT_NEAR(q[no_drop][0].item<float>(),
              (v[no_drop][0] + a[no_drop][0] - experts_only.mean()).item<float>(), 1e-5);
}

TEST_F(SacOptions, DuelingCriticKeepsPermutationEquivarianceAndGradients) {
  SacAgent agent(Dueling());
  const Transitions t = RandomTransitions(4, 16, 3, 4, 3);
  // Reverse the experts of every graph: Q of the expert actions reverse, drop stays.
  std::vector<Observation> permuted = t.obs;
  for (Observation& o : permuted) {
    const Observation original = o;
    for (int e = 0; e < 3; ++e) {
      const int from = 2 - e;
      std::copy_n(original.expert.begin() + from * kExpertFeatures, kExpertFeatures,
                  o.expert.begin() + e * kExpertFeatures);
      std::copy_n(original.running.begin() + from * 4 * kSlotFeatures, 4 * kSlotFeatures,
                  o.running.begin() + e * 4 * kSlotFeatures);
      std::copy_n(original.running_mask.begin() + from * 4, 4, o.running_mask.begin() + e * 4);
      std::copy_n(original.waiting.begin() + from * 3 * kSlotFeatures, 3 * kSlotFeatures,
                  o.waiting.begin() + e * 3 * kSlotFeatures);
      std::copy_n(original.waiting_mask.begin() + from * 3, 3, o.waiting_mask.begin() + e * 3);
    }
  }
  const auto q = agent.QValues(t.obs_batch).first;
  const auto qp = agent.QValues(sac_test_util::Batch(permuted)).first;
  const torch::Tensor reversed = torch::cat({q.slice(1, 0, 3).flip({1}), q.slice(1, 3, 4)}, 1);
  EXPECT_TRUE(torch::allclose(qp, reversed, 1e-5, 1e-5));

  // The critic loss reaches the value MLP of both online critics, never the targets'.
  agent.ComputeLosses(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones).critic.backward();
  int value_tensors = 0;
  for (const auto& [name, p] : agent.NamedParameters()) {
    if (name.find("value_mlp") == std::string::npos) continue;
    ++value_tensors;
    if (name.rfind("target_", 0) == 0) {
      EXPECT_FALSE(p.requires_grad()) << name;
    } else {
      ASSERT_TRUE(p.grad().defined()) << name;
      EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0) << name;
    }
  }
  EXPECT_EQ(value_tensors, 4 * 6);  // q1, q2, target_q1, target_q2 x 3 Linear (w, b)
}

TEST_F(SacOptions, DuelingIsPartOfThePolicyArchitecture) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("qosroute_sac_options_" + std::to_string(::getpid()) + ".h5"))
                               .string();
  SavePolicy(path, SacAgent(Dueling()));
  SacAgent plain(SmallConfig("han"));
  try {
    LoadPolicy(path, &plain);
    ADD_FAILURE() << "a dueling policy loaded into a plain agent";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()), "policy " + path + " has dueling=1 but the config asks for 0");
  }
  // An evaluator rebuilds the dueling agent from the file alone.
  SacConfig rebuilt = SmallConfig("han");
  ApplyArchitecture(ReadPolicyArchitecture(path), path, &rebuilt);
  EXPECT_TRUE(rebuilt.dueling);
  SacAgent again(rebuilt);
  EXPECT_NO_THROW(LoadPolicy(path, &again));
  std::filesystem::remove(path);
}

// env.expert_aggregates widens the HAN's expert input to 19 features; the added weights
// learn (gradients reach them), the policy file records the choice, and an evaluator rebuilds
// the agent from the file. Files from before the aggregates existed (no attribute) load with
// them off.
TEST_F(SacOptions, ExpertAggregatesWidenTheEncoderAndArePartOfThePolicyFile) {
  const int wide = ExpertFeatureWidth(true);
  SacConfig config = SmallConfig("han");
  config.schema = sac_test_util::Layout(false, true, false, /*aggregates=*/true);
  SacAgent agent(config);
  const Transitions t = RandomTransitions(12, 16, 3, 4, 3, wide);
  agent.ComputeLosses(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones).critic.backward();
  bool found = false;
  for (const auto& [name, p] : agent.NamedParameters()) {
    if (name != "encoder.layers.0.expert_proj.weight") continue;
    found = true;
    ASSERT_EQ(p.size(1), wide);
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().slice(1, kFirstAggregateFeature, wide).abs().sum().item<double>(), 0.0);
  }
  ASSERT_TRUE(found) << "no first-layer expert projection";
  agent.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones);

  const std::string path = (std::filesystem::temp_directory_path() /
                            ("qosroute_sac_aggregates_" + std::to_string(::getpid()) + ".h5"))
                               .string();
  SavePolicy(path, agent);
  SacConfig rebuilt = SmallConfig("han");
  ApplyArchitecture(ReadPolicyArchitecture(path), path, &rebuilt);
  EXPECT_TRUE(rebuilt.schema.IsOn("expert.aggregates"));
  SacAgent loaded(rebuilt);
  LoadPolicy(path, &loaded);
  EXPECT_TRUE(torch::equal(agent.ActionProbs(t.obs_batch), loaded.ActionProbs(t.obs_batch)));
  SacAgent plain(SmallConfig("han"));
  try {
    LoadPolicy(path, &plain);
    ADD_FAILURE() << "a policy with aggregates loaded into an agent without them";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()),
              "policy " + path +
                  " has observation feature groups that differ from this run's: "
                  "expert.aggregates (the file has it, v1, 7 columns; this run does not)");
  }

  // A file as written before the aggregates existed: no schema, three group switches.
  SavePolicy(path, SacAgent(SmallConfig("han")));
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  ASSERT_GE(H5Adelete_by_name(file, "/", "observation_schema", H5P_DEFAULT), 0);
  for (const char* name : {"lookahead_features", "lookahead_value", "expert_score_prior"}) {
    const int64_t value = std::string(name) == "lookahead_value" ? 1 : 0;
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(file, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(attr, 0);
    H5Awrite(attr, H5T_NATIVE_INT64, &value);
    H5Aclose(attr);
    H5Sclose(space);
  }
  H5Fclose(file);
  SacConfig old = SmallConfig("han");
  old.schema = sac_test_util::Layout(false, true, false, true);  // the file decides
  ApplyArchitecture(ReadPolicyArchitecture(path), path, &old);
  EXPECT_FALSE(old.schema.IsOn("expert.aggregates"));
  SacAgent old_agent(old);
  EXPECT_NO_THROW(LoadPolicy(path, &old_agent));
  std::filesystem::remove(path);
}

double CriticRate(SacAgent& agent) {
  return agent.learning_rate(SacAgent::kCriticGroup);
}
double ActorRate(SacAgent& agent) {
  return agent.learning_rate(SacAgent::kActorGroup);
}

TEST_F(SacOptions, LearningRatesFallLinearlyToTheirFinalFraction) {
  SacConfig config = SmallConfig("han");
  config.critic_lr = 1e-3;
  config.actor_lr = 2e-3;
  config.lr_final_fraction = 0.1;
  config.lr_decay_updates = 10;
  SacAgent agent(config);
  const Transitions t = RandomTransitions(5, 16, 3, 4, 3);
  // Update k (counting from 0) steps at lr x (1 - 0.9 k / 10), then 0.1 x lr from k = 10 on.
  for (int k = 0; k < 14; ++k) {
    agent.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones);
    const double scale = 1.0 - 0.9 * std::min(1.0, k / 10.0);
    EXPECT_NEAR(CriticRate(agent), 1e-3 * scale, 1e-12) << "update " << k;
    EXPECT_NEAR(ActorRate(agent), 2e-3 * scale, 1e-12) << "update " << k;
  }
  // The temperature keeps its own constant rate.
  EXPECT_DOUBLE_EQ(agent.learning_rate(SacAgent::kAlphaGroup), config.alpha_lr);

  // Without a schedule the rates never change.
  SacConfig constant = SmallConfig("han");
  constant.critic_lr = 1e-3;
  SacAgent fixed(constant);
  for (int k = 0; k < 3; ++k)
    fixed.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones);
  EXPECT_DOUBLE_EQ(CriticRate(fixed), 1e-3);
}

TEST_F(SacOptions, ScheduledTrainingResumesExactlyFromItsState) {
  SacConfig config = SmallConfig("han");
  config.lr_final_fraction = 0.2;
  config.lr_decay_updates = 6;
  config.dueling = true;
  const Transitions t = RandomTransitions(6, 32, 3, 4, 3);
  SacAgent straight(config);
  for (int i = 0; i < 3; ++i)
    straight.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones);
  // A fresh agent given the parameters, Adam state and update count continues identically:
  // the schedule is a function of the update count.
  SacConfig other = config;
  other.seed = 99;
  SacAgent resumed(other);
  resumed.LoadParameters(straight.NamedParameters());
  resumed.LoadOptimizerState(straight.OptimizerState());
  resumed.set_num_updates(straight.num_updates());
  for (int i = 0; i < 5; ++i) {
    straight.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones);
    resumed.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones);
  }
  const auto a = straight.NamedParameters();
  const auto b = resumed.NamedParameters();
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
}

SacConfig WithPrior() {
  SacConfig c = SmallConfig("han");
  c.prior = PriorKind::kGreedyQos;
  c.schema = sac_test_util::Layout(/*lookahead=*/true, /*value=*/true);
  c.prior_temperature = 0.05;
  c.prior_drop_value = 0.4;
  return c;
}

TEST_F(SacOptions, PriorPolicyIsSoftGreedyQosWhenTheActorIsSilent) {
  SacAgent agent(WithPrior());
  ASSERT_TRUE(sac_test_util::SilenceActor(agent));
  const Transitions t = RandomTransitions(8, 12, 3, 4, 3);
  const torch::Tensor probs = agent.ActionProbs(t.obs_batch);
  for (size_t i = 0; i < t.obs.size(); ++i) {
    const Observation& o = t.obs[i];
    std::vector<double> weights;
    double norm = 0.0;
    for (int a = 0; a < o.num_actions(); ++a) {
      const double u =
          a < o.num_experts ? o.expert[a * kExpertFeatures + kGreedyValueFeature] : 0.4;
      weights.push_back(o.action_mask[a] ? std::exp(u / 0.05) : 0.0);
      norm += weights.back();
    }
    for (int a = 0; a < o.num_actions(); ++a) {
      EXPECT_NEAR(probs[static_cast<int64_t>(i)][a].item<double>(), weights[a] / norm, 1e-5)
          << "graph " << i << " action " << a;
    }
  }
  // Greedy action of the policy = greedy-qos's choice (largest value, or drop below 0.4).
  const std::vector<int> actions = agent.Act(t.obs_batch, /*greedy=*/true);
  for (size_t i = 0; i < t.obs.size(); ++i) {
    const Observation& o = t.obs[i];
    int best = o.action_mask[o.drop_action()] ? o.drop_action() : 0;
    double best_u = o.action_mask[o.drop_action()] ? 0.4 : -1e9;
    for (int e = 0; e < o.num_experts; ++e) {
      const double u = o.expert[e * kExpertFeatures + kGreedyValueFeature];
      if (u > best_u) {
        best_u = u;
        best = e;
      }
    }
    EXPECT_EQ(actions[i], best) << "graph " << i;
  }
}

TEST_F(SacOptions, PriorIsPartOfThePolicyFile) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("qosroute_sac_prior_" + std::to_string(::getpid()) + ".h5"))
                               .string();
  SacAgent trained(WithPrior());
  const Transitions t = RandomTransitions(9, 16, 3, 4, 3);
  trained.Update(t.obs_batch, t.actions, t.rewards, t.next_batch, t.dones);
  SavePolicy(path, trained);
  SacConfig rebuilt = SmallConfig("han");
  ApplyArchitecture(ReadPolicyArchitecture(path), path, &rebuilt);
  EXPECT_EQ(rebuilt.prior, PriorKind::kGreedyQos);
  EXPECT_DOUBLE_EQ(rebuilt.prior_temperature, 0.05);
  EXPECT_DOUBLE_EQ(rebuilt.prior_drop_value, 0.4);
  SacAgent loaded(rebuilt);
  LoadPolicy(path, &loaded);
  EXPECT_TRUE(torch::equal(trained.ActionProbs(t.obs_batch), loaded.ActionProbs(t.obs_batch)));

  SacConfig other_temperature = WithPrior();
  other_temperature.prior_temperature = 0.1;
  SacAgent mismatched(other_temperature);
  try {
    LoadPolicy(path, &mismatched);
    ADD_FAILURE() << "a policy with another prior temperature loaded";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()),
              "policy " + path + " has prior_temperature=0.05 but the config asks for 0.1");
  }
  std::filesystem::remove(path);
}

TEST_F(SacOptions, PriorNeedsTheGreedyValueFeature) {
  SacConfig no_value = WithPrior();
  no_value.schema = sac_test_util::Layout(/*lookahead=*/true, /*value=*/false);
  try {
    SacAgent agent(no_value);
    ADD_FAILURE() << "a greedy-qos prior without its feature was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("env.lookahead_value"), std::string::npos) << e.what();
  }
  // An unknown prior name never reaches the agent: it is refused where it is read.
  EXPECT_THROW(Priors().Parse("round-robin", "sac.prior"), UserError);
}

TEST_F(SacOptions, BadScheduleValuesAreUserErrors) {
  SacConfig zero = SmallConfig("han");
  zero.lr_final_fraction = 0.0;
  EXPECT_THROW(SacAgent{zero}, UserError);
  SacConfig above = SmallConfig("han");
  above.lr_final_fraction = 1.5;
  EXPECT_THROW(SacAgent{above}, UserError);
  SacConfig negative = SmallConfig("han");
  negative.lr_decay_updates = -1;
  EXPECT_THROW(SacAgent{negative}, UserError);
}

// The deviation margin: greedy actions keep the prior's mode g unless the policy prefers its
// argmax a* by more than the margin, log pi(a*) - log pi(g) > margin.
TEST_F(SacOptions, DeviationMarginKeepsThePriorsChoiceUnlessThePreferenceIsLarger) {
  // A soft prior (temperature 2 over values in [0, 1]) leaves room for the untrained actor to
  // disagree with it here and there.
  SacConfig soft = WithPrior();
  soft.prior_temperature = 2.0;
  SacAgent agent(soft);
  const Transitions t = RandomTransitions(21, 64, 3, 4, 3);
  const torch::Tensor probs = agent.ActionProbs(t.obs_batch);
  const torch::Tensor prior = agent.PriorLogProbs(t.obs_batch)
                                  .masked_fill(t.obs_batch.action_mask.logical_not(),
                                               -std::numeric_limits<float>::infinity());
  const torch::Tensor mode = prior.argmax(1);
  const std::vector<int> plain = agent.Act(t.obs_batch, /*greedy=*/true);
  std::vector<double> log_ratios;  // of the graphs where the policy leaves the prior's mode
  for (size_t i = 0; i < t.obs.size(); ++i) {
    const int64_t g = mode[static_cast<int64_t>(i)].item<int64_t>();
    if (plain[i] != g) {
      log_ratios.push_back(std::log(probs[static_cast<int64_t>(i)][plain[i]].item<double>() /
                                    probs[static_cast<int64_t>(i)][g].item<double>()));
    }
  }
  ASSERT_GE(log_ratios.size(), 2u) << "the actor never leaves the prior: nothing to test";
  std::sort(log_ratios.begin(), log_ratios.end());
  // A margin between the smallest and the largest preference keeps some deviations only.
  const double between = (log_ratios.front() + log_ratios.back()) / 2;
  for (double margin : {0.0, between, 1000.0}) {
    agent.set_deviation_margin(margin);
    const std::vector<int> actions = agent.Act(t.obs_batch, /*greedy=*/true);
    int kept = 0;
    for (size_t i = 0; i < t.obs.size(); ++i) {
      const int64_t row = static_cast<int64_t>(i);
      const int64_t g = mode[row].item<int64_t>();
      const bool leave = plain[i] != g && std::log(probs[row][plain[i]].item<double>() /
                                                   probs[row][g].item<double>()) > margin;
      EXPECT_EQ(actions[i], leave ? plain[i] : g) << "graph " << i << " margin " << margin;
      kept += actions[i] != g ? 1 : 0;
    }
    if (margin == 0.0) {
      EXPECT_EQ(kept, static_cast<int>(log_ratios.size()));
    }
    if (margin == between) {
      EXPECT_GT(kept, 0);
      EXPECT_LT(kept, static_cast<int>(log_ratios.size()));
    }
    if (margin == 1000.0) {
      EXPECT_EQ(kept, 0);
    }
  }
  // Sampled actions ignore the margin: it is a deployment rule only.
  Rng a(5), b(5);
  agent.set_deviation_margin(1000.0);
  const std::vector<int> sampled_with = agent.Act(t.obs_batch, /*greedy=*/false, &a);
  agent.set_deviation_margin(0.0);
  EXPECT_EQ(sampled_with, agent.Act(t.obs_batch, /*greedy=*/false, &b));
}

TEST_F(SacOptions, DeviationMarginTravelsInThePolicyFileWithoutBeingCompared) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("qosroute_sac_margin_" + std::to_string(::getpid()) + ".h5"))
                               .string();
  SacAgent agent(WithPrior());
  agent.set_deviation_margin(2.5);
  SavePolicy(path, agent);
  EXPECT_DOUBLE_EQ(ReadPolicyDeviationMargin(path), 2.5);
  SacAgent other(WithPrior());  // margin 0: still loads
  LoadPolicy(path, &other);
  EXPECT_EQ(other.config().deviation_margin, 0.0);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace qosroute
