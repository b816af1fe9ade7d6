// The observation schema (env/feature_schema.h): the reference layout's positions, switching
// groups on and off, the text form files record, differences named by group, applying a
// file's schema to a config, config errors, and the two groups added with the schema
// (request.choice, expert.speed, expert.relative_work) against hand computation, reading no
// truth.
#include "env/feature_schema.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/error.h"
#include "env/cluster_env.h"
#include "env_test_util.h"

namespace qosroute {
namespace {

using testing_util::PaperLikeConfig;
using testing_util::SyntheticTestWorkload;

TEST(FeatureSchema, DefaultIsTheReferenceLayoutWithEveryGroupInItsPlace) {
  const ObservationSchema s = DefaultObservationSchema();
  EXPECT_EQ(s.Width(FeatureNode::kRequest), kRequestFeatures);
  EXPECT_EQ(s.Width(FeatureNode::kExpert), kExpertFeatures);
  EXPECT_EQ(s.Width(FeatureNode::kSlot), kSlotFeatures);
  // The columns every policy file written before the schema has (observation.h).
  const std::vector<std::pair<const char*, int>> offsets = {
      {"expert.load", 0},      {"expert.arrived", 3},     {"expert.iteration", 6},
      {"expert.lookahead", 7}, {"expert.score_prior", 9}, {"expert.greedy_value", 10}};
  for (const auto& [name, offset] : offsets) {
    ASSERT_NE(s.Find(name), nullptr) << name;
    EXPECT_EQ(s.Find(name)->offset, offset) << name;
  }
  EXPECT_EQ(s.Find("expert.greedy_value")->offset, kGreedyValueFeature);
  EXPECT_FALSE(s.IsOn("expert.lookahead"));  // present, as zeros
  EXPECT_EQ(s.Find("expert.aggregates"), nullptr);
  EXPECT_EQ(s.Text(),
            "request.arrived/1/3; expert.load/1/3; expert.arrived/1/3; expert.iteration/1/1; "
            "expert.lookahead/1/2/off; expert.score_prior/1/1/off; "
            "expert.greedy_value/1/2/off; slot.request/1/6");
}

TEST(FeatureSchema, OptionalGroupsJoinTheLayoutInRegistryOrder) {
  EnvConfig c;
  c.lookahead_features = true;
  c.expert_aggregates = true;
  c.feature_groups = {"expert.relative_work", "expert.speed"};  // listed order does not matter
  const ObservationSchema s = ObservationSchema::For(c);
  EXPECT_TRUE(s.IsOn("expert.lookahead"));
  EXPECT_TRUE(s.IsOn("expert.greedy_value"));  // lookahead_value defaults to true
  EXPECT_EQ(s.Find("expert.aggregates")->offset, kFirstAggregateFeature);
  EXPECT_EQ(s.Find("expert.speed")->offset, kExpertFeatures + kAggregateFeatures);
  EXPECT_EQ(s.Find("expert.relative_work")->offset, kExpertFeatures + kAggregateFeatures + 3);
  EXPECT_EQ(s.Width(FeatureNode::kExpert), kExpertFeatures + kAggregateFeatures + 5);
  EXPECT_NE(s.Id(), DefaultObservationSchema().Id());
}

TEST(FeatureSchema, EveryGroupDescribesEachColumnAndNamesAreUnique) {
  std::set<std::string> names;
  for (const FeatureGroup* g : FeatureGroups()) {
    EXPECT_TRUE(names.insert(g->name).second) << g->name;
    const std::string prefix = g->node == FeatureNode::kRequest  ? "request."
                               : g->node == FeatureNode::kExpert ? "expert."
                                                                 : "slot.";
    EXPECT_EQ(std::string(g->name).rfind(prefix, 0), 0u) << g->name;
    EXPECT_GT(g->width(), 0) << g->name;
    EXPECT_NE(g->fill, nullptr) << g->name;
    for (const FeatureColumn& col : g->columns) {
      EXPECT_GT(std::string(col.name).size(), 0u) << g->name;
      EXPECT_GT(std::string(col.meaning).size(), 10u) << g->name << "." << col.name;
    }
  }
}

TEST(FeatureSchema, TextRoundTripsAndBadTextIsOneErrorNamingWhere) {
  EnvConfig c;
  c.expert_score_prior = true;
  c.feature_groups = {"expert.speed"};
  const ObservationSchema s = ObservationSchema::For(c);
  const ObservationSchema back = ObservationSchema::Parse(s.Text(), "test");
  EXPECT_EQ(back, s);
  EXPECT_EQ(back.Find("expert.speed")->offset, s.Find("expert.speed")->offset);
  auto expect_error = [](const std::string& text, const std::string& part) {
    try {
      ObservationSchema::Parse(text, "file.h5@observation_schema");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("file.h5@observation_schema"), std::string::npos);
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error("expert.load/1", "malformed");
  expect_error("expert.load/x/3", "malformed");
  expect_error("expert.load/1/3/maybe", "malformed");
  expect_error("expert.teleport/1/3", "expert.teleport is unknown");
}

TEST(FeatureSchema, DifferencesNameEveryGroupThatDiffers) {
  EnvConfig a, b;
  a.expert_aggregates = true;
  a.lookahead_features = true;
  b.feature_groups = {"expert.speed"};
  const std::vector<std::string> d =
      ObservationSchema::Differences(ObservationSchema::For(a), ObservationSchema::For(b));
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0],
            "expert.lookahead (the file has it, v1, 2 columns; this run has it switched off "
            "(zeros), v1, 2 columns)");
  EXPECT_EQ(d[1],
            "expert.greedy_value (the file has it, v1, 2 columns; this run has it switched off "
            "(zeros), v1, 2 columns)");
  EXPECT_EQ(d[2], "expert.aggregates (the file has it, v1, 7 columns; this run does not)");
  EXPECT_EQ(d[3], "expert.speed (the file does not; this run has it, v1, 3 columns)");
  EXPECT_TRUE(
      ObservationSchema::Differences(ObservationSchema::For(a), ObservationSchema::For(a)).empty());
}

TEST(FeatureSchema, ApplyingAFilesSchemaSwitchesTheConfigsGroupsToIt) {
  EnvConfig trained;
  trained.lookahead_features = true;
  trained.lookahead_value = false;
  trained.expert_aggregates = true;
  trained.feature_groups = {"expert.relative_work"};
  const ObservationSchema file = ObservationSchema::For(trained);
  EnvConfig run;  // a config that asks for other groups
  run.expert_score_prior = true;
  run.feature_groups = {"expert.speed"};
  file.Apply(&run);
  EXPECT_EQ(ObservationSchema::For(run), file);
  EXPECT_TRUE(run.lookahead_features);
  EXPECT_FALSE(run.lookahead_value);
  EXPECT_FALSE(run.expert_score_prior);
  EXPECT_EQ(run.feature_groups, std::vector<std::string>{"expert.relative_work"});
  // A version or width this build does not have cannot be applied.
  for (const char* text : {"request.arrived/1/3; expert.load/2/3", "expert.speed/1/4"}) {
    EnvConfig c;
    EXPECT_THROW(ObservationSchema::Parse(text, "t").Apply(&c), UserError) << text;
  }
}

TEST(FeatureSchema, ConfigListsOnlyOptionalGroupsByName) {
  EnvConfig c = PaperLikeConfig(4.0, 10);
  c.feature_groups = {"expert.speedy"};
  try {
    ValidateEnvConfig(c);
    ADD_FAILURE() << "an unknown group was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(
        std::string(e.what()).find("env.feature_groups: expert.speedy is not a feature group"),
        std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("expert.speed, expert.relative_work"), std::string::npos)
        << e.what();
  }
  c.feature_groups = {"expert.aggregates"};
  EXPECT_THROW(ValidateEnvConfig(c), UserError);  // it has env.expert_aggregates
  c.feature_groups = {"expert.load"};
  EXPECT_THROW(ValidateEnvConfig(c), UserError);  // always on
}

// expert.speed and expert.relative_work against hand computation on a loaded paper-world
// episode; the reference columns are those of the run without them.
TEST(FeatureSchema, SpeedAndRelativeWorkGroupsEqualHandComputation) {
  auto workload = SyntheticTestWorkload();
  EnvConfig config = PaperLikeConfig(8.0, 300);
  ClusterEnv plain(config, workload);
  config.feature_groups = {"expert.speed", "expert.relative_work"};
  ClusterEnv env(config, workload);
  plain.Reset(5);
  env.Reset(5);
  const int n = static_cast<int>(config.experts.size());
  const int width = kExpertFeatures + 5;
  ASSERT_EQ(env.observation().expert_features, width);
  ASSERT_EQ(env.observation().schema_id, env.schema().Id());
  int loaded_steps = 0;
  for (int step = 0; step < 250 && !env.done(); ++step) {
    const Observation& obs = env.observation();
    std::vector<double> decode(n), prefill(n), kv(n), queued(n);
    double mean = 0.0;
    for (int e = 0; e < n; ++e) {
      const ExpertServer& s = env.experts()[e];
      decode[e] = s.time_model().DecodeSeconds(1024, 1);
      prefill[e] = s.time_model().PrefillSeconds(env.arrived().prompt_tokens, 1);
      kv[e] = static_cast<double>(s.num_blocks()) * s.config().block_size;
      for (const ActiveRequest& r : s.running())
        queued[e] += std::max(0, r.pred_output_tokens - r.generated);
      for (const ActiveRequest& r : s.waiting())
        queued[e] += r.prompt_tokens + r.pred_output_tokens;
      mean += queued[e] / n;
    }
    loaded_steps += mean > 0 ? 1 : 0;
    for (int e = 0; e < n; ++e) {
      const float* f = obs.expert.data() + e * width + kExpertFeatures;
      EXPECT_NEAR(f[0], *std::min_element(decode.begin(), decode.end()) / decode[e], 1e-6);
      EXPECT_NEAR(f[1], *std::min_element(prefill.begin(), prefill.end()) / prefill[e], 1e-6);
      EXPECT_NEAR(f[2], kv[e] / *std::max_element(kv.begin(), kv.end()), 1e-6);
      const double arrived = env.arrived().prompt_tokens + env.arrived().pred_output_tokens[e];
      EXPECT_NEAR(f[3], arrived / (arrived + queued[e] + 1.0), 1e-6);
      EXPECT_NEAR(f[4], std::min(10.0, queued[e] / (mean + 1.0)), 1e-5);
      for (int k = 0; k < kExpertFeatures; ++k)
        EXPECT_EQ(obs.expert[e * width + k], plain.observation().expert[e * kExpertFeatures + k]);
    }
    EXPECT_EQ(obs.running, plain.observation().running);
    const int action = step % n;
    env.Step(action);
    plain.Step(action);
  }
  EXPECT_GT(loaded_steps, 100);  // the queue columns were exercised
}

// request.choice against hand computation; the reference request columns stay as they were.
TEST(FeatureSchema, RequestChoiceGroupEqualsHandComputation) {
  auto workload = SyntheticTestWorkload();
  EnvConfig config = PaperLikeConfig(6.0, 120);
  ClusterEnv plain(config, workload);
  config.feature_groups = {"request.choice"};
  const ObservationSchema schema = ObservationSchema::For(config);
  EXPECT_EQ(schema.Find("request.choice")->offset, kRequestFeatures);
  EXPECT_EQ(schema.Width(FeatureNode::kRequest), kRequestFeatures + 3);
  EXPECT_EQ(schema.Width(FeatureNode::kExpert), kExpertFeatures);
  ClusterEnv env(config, workload);
  plain.Reset(3);
  env.Reset(3);
  const int n = static_cast<int>(config.experts.size());
  double largest_margin = 0.0;
  for (int step = 0; step < 100 && !env.done(); ++step) {
    const Observation& obs = env.observation();
    ASSERT_EQ(obs.request_features, kRequestFeatures + 3);
    const ArrivedRequestView& a = env.arrived();
    double mean = 0.0, mean_out = 0.0, sq = 0.0;
    for (int e = 0; e < n; ++e) {
      mean += a.pred_score[e] / n;
      mean_out += a.pred_output_tokens[e] / static_cast<double>(n);
    }
    for (int e = 0; e < n; ++e) sq += (a.pred_score[e] - mean) * (a.pred_score[e] - mean) / n;
    const double best = *std::max_element(a.pred_score.begin(), a.pred_score.end());
    const int lo = *std::min_element(a.pred_output_tokens.begin(), a.pred_output_tokens.end());
    const int hi = *std::max_element(a.pred_output_tokens.begin(), a.pred_output_tokens.end());
    EXPECT_NEAR(obs.request[3], best - mean, 1e-6);
    EXPECT_NEAR(obs.request[4], std::sqrt(sq), 1e-6);
    EXPECT_NEAR(obs.request[5], std::min(10.0, (hi - lo) / (mean_out + 1.0)), 1e-6);
    largest_margin = std::max(largest_margin, best - mean);
    for (int k = 0; k < kRequestFeatures; ++k)
      EXPECT_EQ(obs.request[k], plain.observation().request[k]);
    EXPECT_EQ(obs.expert, plain.observation().expert);
    env.Step(step % n);
    plain.Step(step % n);
  }
  EXPECT_GT(largest_margin, 0.01);  // the experts' predictions differed
}

// The new groups read what a router knows: the same live picture with other true lengths and
// scores gives the same observation.
TEST(FeatureSchema, NewGroupsReadNoTruth) {
  auto workload = SyntheticTestWorkload();
  EnvConfig config = PaperLikeConfig(8.0, 50);
  config.feature_groups = {"request.choice", "expert.speed", "expert.relative_work"};
  config.expert_aggregates = true;
  ClusterEnv a(config, workload), b(config, workload);
  ArrivedRequestView view;
  view.prompt_tokens = 200;
  view.pred_score = {0.7f, 0.6f, 0.65f};
  view.pred_output_tokens = {120, 90, 150};
  std::vector<ClusterEnv::LiveExpert> live(3);
  for (int e = 0; e < 3; ++e) {
    for (int i = 0; i < 3 + e; ++i) {
      ActiveRequest r;
      r.id = 10 * e + i;
      r.prompt_tokens = 50 + 10 * i;
      r.pred_output_tokens = 80 + i;
      r.pred_score = 0.5f;
      r.generated = i;
      (i < 2 ? live[e].running : live[e].waiting).push_back(r);
    }
  }
  std::vector<ClusterEnv::LiveExpert> other_truth = live;
  for (auto& le : other_truth) {
    for (auto* q : {&le.running, &le.waiting}) {
      for (ActiveRequest& r : *q) {
        r.output_tokens = 9999;
        r.score = 0.01f;
      }
    }
  }
  const std::vector<uint8_t> available(3, 1);
  const Observation oa = a.ObserveLive(2.0, view, live, available);
  const Observation ob = b.ObserveLive(2.0, view, other_truth, available);
  EXPECT_EQ(oa.expert, ob.expert);
  EXPECT_EQ(oa.request, ob.request);
}

}  // namespace
}  // namespace qosroute
