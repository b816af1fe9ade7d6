// serve/ without sockets: request bodies and the qosroute extension, the truth header, the
// workload prior, and the observation built from live state against the simulator's.
#include <gtest/gtest.h>

#include "common/error.h"
#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "env/workload.h"
#include "env_test_util.h"
#include "launch/config.h"
#include "serve/openai_api.h"
#include "serve/serve_predictor.h"

namespace qosroute {
namespace {

const std::string kEdge = std::string(QOSROUTE_SOURCE_DIR) + "/configs/edge-4090.cfg";

TEST(ServeRequestTest, CompletionBodyKeepsItsFieldsAndLosesTheExtension) {
  const CompletionRequest r = ParseCompletionRequest(
      R"({"model":"m","prompt":"one two three","max_tokens":7,"stream":true,"temperature":0.5,
          "qosroute":{"prompt_tokens":12,"pred_score":{"a":0.25},"pred_output_tokens":{"a":30}}})",
      false);
  EXPECT_FALSE(r.chat);
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_EQ(r.prompt_text, "one two three");
  EXPECT_EQ(r.prompt_tokens, 12);
  EXPECT_DOUBLE_EQ(r.pred_score.at("a"), 0.25);
  EXPECT_EQ(r.pred_output_tokens.at("a"), 30);
  // A real backend never sees the extension; everything else is forwarded as sent.
  EXPECT_FALSE(r.forward_body.contains("qosroute"));
  EXPECT_EQ(r.forward_body["temperature"], 0.5);
  EXPECT_EQ(r.forward_body["model"], "m");
}

TEST(ServeRequestTest, ChatMessagesAreJoinedForTheTokenEstimate) {
  const CompletionRequest r = ParseCompletionRequest(
      R"({"messages":[{"role":"system","content":"be brief"},
                      {"role":"user","content":[{"type":"text","text":"hello world"}]}],
          "max_completion_tokens":5})",
      true);
  EXPECT_TRUE(r.chat);
  EXPECT_EQ(r.prompt_text, "be brief\nhello world\n");
  EXPECT_EQ(r.max_tokens, 5);
  EXPECT_FALSE(r.prompt_tokens.has_value());
}

TEST(ServeRequestTest, BadBodiesAreRefusedWithTheReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "not valid JSON"},
      {"[1]", "JSON object"},
      {R"({"max_tokens":3})", "'prompt' is required"},
      {R"({"prompt":12})", "'prompt' must be a string"},
      {R"({"prompt":"x","max_tokens":0})", "max_tokens must be an integer"},
      {R"({"prompt":"x","stream":"yes"})", "'stream' must be true or false"},
      {R"({"prompt":"x","qosroute":{"pred_score":{"a":1.5}}})", "qosroute.pred_score.a"},
      {R"({"prompt":"x","qosroute":{"prompt_tokens":-1}})", "qosroute.prompt_tokens"},
      {R"({"prompt":"x","qosroute":3})", "'qosroute' must be an object"}};
  for (const auto& [body, expected] : cases) {
    try {
      ParseCompletionRequest(body, false);
      ADD_FAILURE() << "accepted " << body;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
          << body << " -> " << e.what();
    }
  }
  EXPECT_THROW(ParseCompletionRequest(R"({"messages":[]})", true), UserError);
}

TEST(ServeTruthHeaderTest, RoundTripsAndRefusesMalformedParts) {
  TruthHeader t;
  t.prompt_tokens = 57;
  t.answers["alpaca-native"] = {80, 0.71};
  t.answers["mpt-7b-instruct"] = {12, 0.5};
  const TruthHeader back = ParseTruthHeader(FormatTruthHeader(t));
  EXPECT_EQ(back.prompt_tokens, 57);
  ASSERT_EQ(back.answers.size(), 2u);
  EXPECT_EQ(back.answers.at("alpaca-native").output_tokens, 80);
  EXPECT_NEAR(back.answers.at("alpaca-native").score, 0.71, 1e-6);
  for (const char* bad : {"prompt=x", "a=3", "a=3:2.0", "a=0:0.5", "=1:0.5", "garbage"})
    EXPECT_THROW(ParseTruthHeader(bad), UserError) << bad;
}

TEST(ServeTruthHeaderTest, SyntheticPromptsCountAsTheirTokensWithinOne) {
  for (int tokens : {1, 2, 3, 4, 5, 17, 57, 128, 511}) {
    const int counted = ApproximateTokens(SyntheticPrompt(tokens));
    EXPECT_LE(std::abs(counted - tokens), 1) << tokens;
  }
}

TEST(ServePredictorTest, PriorIsTheWorkloadMeanAndLongerPromptsPredictTheirOwnLengths) {
  Workload w;
  // Expert "a": short prompts get 10-token answers, long ones 100; scores 0.6 and 0.8.
  for (int i = 0; i < 100; ++i) {
    WorkloadRecord r;
    r.prompt_tokens = i < 50 ? 5 : 500;
    r.candidates.push_back({"a", i < 50 ? 10 : 100, i < 50 ? 0.6 : 0.8});
    r.candidates.push_back({"b", 20, 0.5});
    w.records.push_back(r);
  }
  WorkloadPriorPredictor p(w, {"a", "b"}, 127);
  std::vector<float> score;
  std::vector<int> tokens;
  p.Predict(5, &score, &tokens);
  EXPECT_NEAR(score[0], 0.7, 1e-6);
  EXPECT_NEAR(score[1], 0.5, 1e-6);
  EXPECT_EQ(tokens[0], 10);
  EXPECT_EQ(tokens[1], 20);
  p.Predict(500, &score, &tokens);
  EXPECT_EQ(tokens[0], 100);
  p.Predict(100000, &score, &tokens);  // beyond every bucket: the longest one's
  EXPECT_EQ(tokens[0], 100);
}

// The live observation of the same state as the simulator's: equal field by field (the
// optional features and the aggregates included), and every heuristic decides the same on both.
TEST(LiveObservationTest, EqualsTheSimulatorsForTheSameState) {
  RunConfig config =
      LoadRunConfig(kEdge, {"workload.rate=70", "env.lookahead_features=true",
                            "env.expert_score_prior=true", "env.expert_aggregates=true"});
  auto workload = LoadConfiguredWorkload(config);
  ClusterEnv sim(config.env, workload);
  ClusterEnv live(config.env, workload);
  sim.Reset(7);
  auto greedy = MakeHeuristic("greedy-qos");
  int checked = 0, nonempty = 0;
  for (int step = 0; step < 600 && !sim.done(); ++step) {
    if (step % 37 == 5) {
      const std::vector<ClusterEnv::LiveExpert> state = testing_util::LiveQueuesOf(sim, true);
      for (const ExpertServer& s : sim.experts())
        nonempty += !s.running().empty() && !s.waiting().empty();
      const std::vector<uint8_t> all(state.size(), 1);
      const Observation& a = sim.observation();
      const Observation& b = live.ObserveLive(sim.now(), sim.arrived(), state, all);
      EXPECT_EQ(a.request, b.request);
      ASSERT_EQ(b.expert_features, kExpertFeatures + kAggregateFeatures);
      EXPECT_EQ(a.expert, b.expert) << "step " << step;
      EXPECT_EQ(a.running, b.running);
      EXPECT_EQ(a.running_mask, b.running_mask);
      EXPECT_EQ(a.waiting, b.waiting);
      EXPECT_EQ(a.waiting_mask, b.waiting_mask);
      EXPECT_EQ(a.action_mask, b.action_mask);
      for (const Heuristic kind : Heuristics().Values()) {
        if (!MakeHeuristic(kind)->DecidesFromStateAlone()) continue;  // their own history
        EXPECT_EQ(MakeHeuristic(kind)->Act(sim), MakeHeuristic(kind)->Act(live))
            << Heuristics().Name(kind);
      }
      ++checked;
    }
    sim.Step(greedy->Act(sim));
  }
  EXPECT_GE(checked, 10);
  EXPECT_GT(nonempty, 0) << "the load never queued: the comparison proves little";
}

TEST(LiveObservationTest, UnhealthyBackendsAreMaskedAndUnknownBlocksFollowTheContext) {
  RunConfig config = LoadRunConfig(kEdge, {});
  auto workload = LoadConfiguredWorkload(config);
  ClusterEnv live(config.env, workload);
  const size_t n = config.env.experts.size();
  ArrivedRequestView view;
  view.prompt_tokens = 10;
  view.pred_score.assign(n, 0.7f);
  view.pred_output_tokens.assign(n, 50);
  std::vector<ClusterEnv::LiveExpert> state(n);
  ActiveRequest r;
  r.prompt_tokens = 30;
  r.generated = 5;  // 35 tokens of context = 3 blocks of 16
  state[0].running.push_back(r);
  state[1].other_blocks = 100;  // held by another client's requests
  std::vector<uint8_t> available(n, 1);
  available[2] = 0;
  const Observation& o = live.ObserveLive(1.0, view, state, available);
  const int block = config.env.experts[0].block_size;
  const float blocks0 = static_cast<float>((35 + block - 1) / block);
  EXPECT_FLOAT_EQ(o.expert[0 * kExpertFeatures + 0], blocks0 / config.env.experts[0].NumBlocks());
  EXPECT_FLOAT_EQ(o.expert[1 * kExpertFeatures + 0], 100.0f / config.env.experts[1].NumBlocks());
  EXPECT_EQ(o.action_mask[0], 1);
  EXPECT_EQ(o.action_mask[2], 0);
  EXPECT_EQ(o.action_mask[n], config.env.allow_drop ? 1 : 0);
}

}  // namespace
}  // namespace qosroute
