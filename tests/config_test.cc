#include "launch/config.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "env_test_util.h"

namespace qosroute {
namespace {

using testing_util::WriteTempFile;

std::string ErrorOf(const std::string& path, const std::vector<std::string>& overrides = {}) {
  try {
    LoadRunConfig(path, overrides);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, ShippedPaperConfigMatchesTheSpec) {
  const RunConfig c = LoadRunConfig(std::string(QOSROUTE_SOURCE_DIR) + "/configs/paper.cfg", {});
  ASSERT_EQ(c.env.experts.size(), 3u);
  EXPECT_EQ(c.env.experts[0].name, "alpaca-native");
  EXPECT_EQ(c.env.experts[1].name, "chatglm-6b");
  EXPECT_EQ(c.env.experts[2].name, "mpt-7b-instruct");
  EXPECT_EQ(c.env.arrivals.process, "poisson");
  EXPECT_DOUBLE_EQ(c.env.arrivals.rate, 3.0);
  EXPECT_DOUBLE_EQ(c.env.sla, 0.03);
  EXPECT_EQ(c.env.requests_per_episode, 5000);
  EXPECT_DOUBLE_EQ(c.env.experts[0].c0, 0.020);
  EXPECT_EQ(c.env.experts[1].kv_bytes_per_token, 28 * 4096 * 2 * 2);
}

TEST(Config, OverridesWinOverTheFile) {
  const std::string path = WriteTempFile("o.cfg", "[workload]\nrate = 2.0\n");
  const RunConfig c = LoadRunConfig(path, {"workload.rate=7.5", "expert.chatglm-6b.k2=3e-5"});
  EXPECT_DOUBLE_EQ(c.env.arrivals.rate, 7.5);
  EXPECT_DOUBLE_EQ(c.env.experts[1].k2, 3e-5);
  EXPECT_DOUBLE_EQ(c.env.experts[0].k2, 2.5e-5);
}

TEST(Config, UnknownKeyNamesFileAndKey) {
  const std::string path = WriteTempFile("unknown.cfg", "[workload]\nrat = 2.0\n");
  const std::string e = ErrorOf(path);
  EXPECT_NE(e.find("unknown.cfg"), std::string::npos) << e;
  EXPECT_NE(e.find("workload.rat"), std::string::npos) << e;
}

TEST(Config, NonNumberWhereANumberBelongsNamesTheKey) {
  const std::string path = WriteTempFile("nan.cfg", "[workload]\nrate = fast\n");
  const std::string e = ErrorOf(path);
  EXPECT_NE(e.find("nan.cfg"), std::string::npos) << e;
  EXPECT_NE(e.find("workload.rate"), std::string::npos) << e;
}

TEST(Config, NegativeOrZeroRateIsRejected) {
  for (const char* rate : {"-1", "0"}) {
    const std::string e = ErrorOf("", {std::string("workload.rate=") + rate});
    EXPECT_NE(e.find("workload.rate must be > 0"), std::string::npos) << e;
  }
}

TEST(Config, ZeroExpertsIsRejected) {
  const std::string path = WriteTempFile("none.cfg", "[cluster]\nexperts =\n");
  const std::string e = ErrorOf(path);
  EXPECT_NE(e.find("cluster.experts"), std::string::npos) << e;
}

TEST(Config, UnknownExpertNameListsTheCatalog) {
  const std::string e = ErrorOf("", {"cluster.experts=gpt-9"});
  EXPECT_NE(e.find("gpt-9"), std::string::npos) << e;
  EXPECT_NE(e.find("alpaca-native"), std::string::npos) << e;
}

TEST(Config, OutOfRangeValueNamesTheAllowedRange) {
  const std::string e = ErrorOf("", {"sac.gamma=1.5"});
  EXPECT_NE(e.find("sac.gamma must be in [0, 1]"), std::string::npos) << e;
}

TEST(Config, WarmupPolicyAndShapingKeys) {
  const std::string e = ErrorOf("", {"train.warmup_policy=round-robin"});
  EXPECT_NE(e.find("train.warmup_policy: unknown warm-up policy 'round-robin'; known: random, "
                   "greedy-qos"),
            std::string::npos)
      << e;
  EXPECT_NE(ErrorOf("", {"train.warmup_epsilon=2"}).find("train.warmup_epsilon"),
            std::string::npos);
  const RunConfig c = LoadRunConfig(
      "", {"train.warmup_policy=greedy-qos", "env.potential_shaping=true", "sac.gamma=0.97"});
  EXPECT_EQ(c.train.warmup_policy, WarmupPolicy::kGreedyQos);
  EXPECT_TRUE(c.env.potential_shaping);
  // The shaping uses the learner's discount: the env a trainer builds is handed sac.gamma.
  EXPECT_DOUBLE_EQ(MakeTrainingEnv(c.env, LoadConfiguredWorkload(c), c.sac)->discount(), 0.97);
}

TEST(Config, LearnedRouterRecipeKeys) {
  const RunConfig defaults = LoadRunConfig("", {});
  EXPECT_FALSE(defaults.sac.dueling);
  EXPECT_DOUBLE_EQ(defaults.sac.lr_final_fraction, 1.0);
  EXPECT_EQ(defaults.env.shaping_potential, "predicted");
  EXPECT_FALSE(defaults.env.expert_score_prior);
  EXPECT_TRUE(defaults.env.lookahead_value);
  EXPECT_FALSE(defaults.env.undiscounted_credit);
  const RunConfig c = LoadRunConfig(
      "", {"sac.dueling=true", "sac.lr_final_fraction=0.1", "env.shaping_potential=lookahead",
           "env.expert_score_prior=true", "env.lookahead_value=false",
           "env.undiscounted_credit=true", "sac.gamma=0.95"});
  EXPECT_TRUE(c.sac.dueling);
  EXPECT_DOUBLE_EQ(c.sac.lr_final_fraction, 0.1);
  EXPECT_EQ(c.env.shaping_potential, "lookahead");
  EXPECT_TRUE(c.env.expert_score_prior);
  EXPECT_FALSE(c.env.lookahead_value);
  EXPECT_TRUE(c.env.undiscounted_credit);
  // The credit weights use the learner's gamma.
  EXPECT_DOUBLE_EQ(MakeTrainingEnv(c.env, LoadConfiguredWorkload(c), c.sac)->discount(), 0.95);

  const std::string path =
      WriteTempFile("bad_potential.cfg", "[env]\nshaping_potential = oracle\n");
  const std::string e = ErrorOf(path);
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("env.shaping_potential must be predicted or lookahead"), std::string::npos) << e;
  EXPECT_NE(ErrorOf("", {"sac.lr_final_fraction=0"}).find("sac.lr_final_fraction"),
            std::string::npos);
  EXPECT_NE(ErrorOf("", {"sac.dueling=maybe"}).find("sac.dueling"), std::string::npos);
}

TEST(Config, ExpertWithoutRoomForTheKvCacheIsRejected) {
  const std::string e = ErrorOf("", {"expert.alpaca-native.weights_gb=30"});
  EXPECT_NE(e.find("expert.alpaca-native"), std::string::npos) << e;
}

TEST(Config, MissingFileIsNamed) {
  const std::string e = ErrorOf("/nonexistent/x.cfg");
  EXPECT_NE(e.find("/nonexistent/x.cfg"), std::string::npos) << e;
}

TEST(Config, ResolvedConfigParsesBackToTheSameValues) {
  const RunConfig a = LoadRunConfig("", {"workload.rate=4.5", "expert.mpt-7b-instruct.k1=8e-5"});
  const std::string path = WriteTempFile("resolved.cfg", FormatResolvedConfig(a));
  const RunConfig b = LoadRunConfig(path, {});
  EXPECT_EQ(a.resolved, b.resolved);
}

// The learner checks its hyper-parameters in its own terms (learner/sac_hyperparameters.h);
// the config layer names the file and the key, and the SAC agent runs the same check.
TEST(Config, SacHyperparametersAreCheckedOnceByTheLearnerAndNamedByKey) {
  SacHyperparameters h;
  h.tau = 0.0;
  try {
    CheckSacHyperparameters(h);
    ADD_FAILURE() << "tau = 0 accepted";
  } catch (const FieldError& e) {
    EXPECT_EQ(e.field(), "tau");
    EXPECT_EQ(e.problem(), "must be in (0, 1], got 0");
  }
  const std::string e = ErrorOf("", {"sac.tau=0"});
  EXPECT_NE(e.find("config: sac.tau must be in (0, 1], got 0"), std::string::npos) << e;
  EXPECT_NE(ErrorOf("", {"sac.twin_reduction=max"}).find("sac.twin_reduction must be min or mean"),
            std::string::npos);
  // -1 is the config's "the policy file's margin"; other negatives are refused.
  EXPECT_EQ(LoadRunConfig("", {}).sac.deviation_margin, -1.0);
  EXPECT_NE(ErrorOf("", {"sac.deviation_margin=-2"}).find("sac.deviation_margin must be in"),
            std::string::npos);
}

}  // namespace
}  // namespace qosroute
