// The calibrated world through the config loader: configs/edge-4090.cfg, experts defined
// only by their keys (names as in the real mix-instruct file), GPU profiles, time-model and
// power keys, and one clear error naming the key (exit code 2 from the CLI).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "common/error.h"
#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "env_test_util.h"
#include "launch/config.h"
#include "planner/future_sampler.h"
#include "planner/rollout_policy.h"

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

const std::string kEdge = std::string(QOSROUTE_SOURCE_DIR) + "/configs/edge-4090.cfg";

TEST(CalibratedConfig, Edge4090UsesTheRtx4090Profile) {
  const RunConfig c = LoadRunConfig(kEdge, {});
  ASSERT_EQ(c.env.experts.size(), 3u);
  const ExpertConfig& alpaca = c.env.experts[0];
  EXPECT_EQ(alpaca.time_model, TimeModelKind::kCalibrated);
  EXPECT_DOUBLE_EQ(alpaca.c0, 0.017);
  EXPECT_DOUBLE_EQ(alpaca.k2, 6.5e-7);
  EXPECT_DOUBLE_EQ(alpaca.k3, 1e-4);
  EXPECT_EQ(alpaca.NumBlocks(), 968);
  EXPECT_EQ(c.env.experts[1].NumBlocks(), 1243);  // chatglm-6b
  EXPECT_DOUBLE_EQ(alpaca.power.idle_w, 20.0);
  EXPECT_DOUBLE_EQ(alpaca.power.prefill_w, 440.0);
  EXPECT_DOUBLE_EQ(c.env.energy_weight, 0.0);
  // An explicit cluster key wins over the profile; an expert key over both.
  const RunConfig o = LoadRunConfig(kEdge, {"cluster.c0=0.02", "expert.chatglm-6b.k3=0"});
  EXPECT_DOUBLE_EQ(o.env.experts[0].c0, 0.02);
  EXPECT_DOUBLE_EQ(o.env.experts[1].k3, 0.0);
  EXPECT_DOUBLE_EQ(o.env.experts[0].k3, 1e-4);
}

// The search-guided recipe (docs/RESULTS.md "Learning from the planner"): every decision
// labelled by the rollout planner over episodes at the loaded rates, the planner prior, and
// selection at those rates; it round-trips through the resolved config a run saves.
TEST(CalibratedConfig, PlannerRecipeLabelsEveryDecisionAtTheLoadedRates) {
  const std::string path = std::string(QOSROUTE_SOURCE_DIR) + "/configs/edge-4090-planner.cfg";
  const RunConfig c = LoadRunConfig(path, {});
  EXPECT_EQ(c.train.labels.share, 1.0);
  EXPECT_EQ(c.train.labels.behaviour, LabelBehaviour::kPolicy);
  EXPECT_EQ(c.sac.prior, PriorKind::kPlanner);
  EXPECT_EQ(c.env.arrivals.episode_rates, (std::vector<double>{60, 80, 100}));
  EXPECT_EQ(c.select.rates, (std::vector<double>{40, 80, 100}));
  EXPECT_EQ(c.planner.horizon, 32);
  const RunConfig b =
      LoadRunConfig(WriteTempFile("planner_resolved.cfg", FormatResolvedConfig(c)), {});
  EXPECT_EQ(b.resolved, c.resolved);
  EXPECT_EQ(b.train.labels.share, 1.0);
  EXPECT_EQ(b.sac.planner_temperature, c.sac.planner_temperature);
}

TEST(CalibratedConfig, ResolvedConfigRoundTripsExactly) {
  const RunConfig a = LoadRunConfig(kEdge, {"expert.alpaca-native.k2=6.1e-7"});
  const std::string path = WriteTempFile("edge_resolved.cfg", FormatResolvedConfig(a));
  const RunConfig b = LoadRunConfig(path, {});
  EXPECT_EQ(a.resolved, b.resolved);
  EXPECT_EQ(b.env.experts[0].k2, 6.1e-7);  // not rounded to six decimals
  EXPECT_EQ(b.env.experts[1].c0, a.env.experts[1].c0);
}

const char kKeyExperts[] =
    "[cluster]\n"
    "experts = oasst-sft-4-pythia-12b-epoch-3.5, koala-7B-HF\n"
    "gpu = a100-80gb\n"
    "[workload]\n"
    "requests_per_episode = 300\n"
    "rate = 10\n"
    "synthetic_records = 500\n"
    "[expert.oasst-sft-4-pythia-12b-epoch-3.5]\n"
    "kv_bytes_per_token = 737280\n"
    "weights_gb = 23.8\n"
    "mean_score = 0.7468\n"
    "[expert.koala-7B-HF]\n"
    "kv_bytes_per_token = 524288\n"
    "weights_gb = 13.5\n"
    "mean_score = 0.6396\n";

TEST(CalibratedConfig, ExpertsDefinedOnlyByKeysRun) {
  const RunConfig c = LoadRunConfig(WriteTempFile("key_experts.cfg", kKeyExperts), {});
  ASSERT_EQ(c.env.experts.size(), 2u);
  const ExpertConfig& pythia = c.env.experts[0];
  EXPECT_EQ(pythia.name, "oasst-sft-4-pythia-12b-epoch-3.5");
  EXPECT_DOUBLE_EQ(pythia.kv_bytes_per_token, 737280);
  EXPECT_EQ(pythia.time_model, TimeModelKind::kCalibrated);  // from the cluster's GPU profile
  EXPECT_NEAR(pythia.c0, 0.0095 * 23.8 / 13.5, 1e-15);
  EXPECT_NEAR(pythia.k2, 3.7e-7 * 737280 / 524288, 1e-20);
  ClusterEnv env(c.env, LoadConfiguredWorkload(c));
  auto router = MakeHeuristic("round-robin");
  env.Reset(1);
  while (!env.done()) env.Step(router->Act(env));
  const EpisodeMetrics m = env.Metrics();
  EXPECT_EQ(m.completed, 300);
  EXPECT_GT(m.avg_qos, 0.5);
  EXPECT_GT(m.energy_j, 0.0);
}

// Two replicas of alpaca-native on different GPU kinds and chatglm-6b on the cluster's.
const char kReplicas[] =
    "[cluster]\n"
    "experts = alpaca-a, alpaca-b, chatglm-6b\n"
    "gpu = rtx4090\n"
    "[workload]\n"
    "requests_per_episode = 400\n"
    "rate = 30\n"
    "synthetic_records = 500\n"
    "[expert.alpaca-a]\n"
    "model = alpaca-native\n"
    "[expert.alpaca-b]\n"
    "model = alpaca-native\n"
    "gpu = a100-80gb\n";

TEST(Replicas, ShareTheirModelsQualityAndDifferInSpeedAsConfigured) {
  const RunConfig c = LoadRunConfig(WriteTempFile("replicas.cfg", kReplicas), {});
  ASSERT_EQ(c.env.experts.size(), 3u);
  const ExpertConfig& a = c.env.experts[0];
  const ExpertConfig& b = c.env.experts[1];
  EXPECT_EQ(a.ModelName(), "alpaca-native");
  EXPECT_EQ(b.ModelName(), "alpaca-native");
  EXPECT_EQ(a.gpu, "rtx4090");
  EXPECT_EQ(b.gpu, "a100-80gb");
  // Speed, memory and power from each one's GPU profile (a 7B reference model: no scaling).
  EXPECT_EQ(a.c0, FindGpuProfile("rtx4090").c0);
  EXPECT_EQ(b.c0, FindGpuProfile("a100-80gb").c0);
  EXPECT_EQ(b.k1, FindGpuProfile("a100-80gb").k1);
  EXPECT_EQ(b.k4, FindGpuProfile("a100-80gb").k4);
  EXPECT_GT(b.KvCapacityTokens(), 7 * a.KvCapacityTokens());
  EXPECT_EQ(b.power.prefill_w, FindGpuProfile("a100-80gb").power.prefill_w);
  EXPECT_LT(b.MakeTimeModel()->DecodeSeconds(8192, 16), a.MakeTimeModel()->DecodeSeconds(8192, 16));

  // Quality belongs to the model: the same answers, scores and predictions at both replicas.
  ClusterEnv env(c.env, LoadConfiguredWorkload(c));
  EXPECT_EQ(env.expert_mean_scores()[0], env.expert_mean_scores()[1]);
  EXPECT_NE(env.expert_mean_scores()[0], env.expert_mean_scores()[2]);
  env.Reset(3);
  for (int step = 0; !env.done(); ++step) {
    const ArrivedRequestView& r = env.arrived();
    ASSERT_EQ(r.pred_score[0], r.pred_score[1]);  // one prediction per model, noise and all
    ASSERT_EQ(r.pred_output_tokens[0], r.pred_output_tokens[1]);
    env.Step(step % 2);  // alternate between the replicas
  }
  // With an exact predictor the predictions are the truth: the same answer at both replicas.
  const RunConfig exact = LoadRunConfig(WriteTempFile("replicas_exact.cfg", kReplicas),
                                        {"predictor.score_noise=0", "predictor.length_noise=0"});
  ClusterEnv truth(exact.env, LoadConfiguredWorkload(exact));
  truth.Reset(3);
  int differ_from_chatglm = 0;
  while (!truth.done()) {
    const ArrivedRequestView& r = truth.arrived();
    ASSERT_EQ(r.pred_score[0], r.pred_score[1]);
    ASSERT_EQ(r.pred_output_tokens[0], r.pred_output_tokens[1]);
    differ_from_chatglm += r.pred_score[0] != r.pred_score[2];
    truth.Step(0);
  }
  EXPECT_GT(differ_from_chatglm, 300);  // another model's answers differ
  // The planner's futures draw a replica's answers from its model's candidates too.
  EXPECT_EQ(ModelNames(c.env.experts),
            (std::vector<std::string>{"alpaca-native", "alpaca-native", "chatglm-6b"}));
  EXPECT_NO_THROW(FutureSampler(c.env, LoadConfiguredWorkload(c)));
  RolloutPolicy planner(PlannerKind::kRollout, c.planner, c.greedy, c.env,
                        LoadConfiguredWorkload(c));
  planner.Reset(3);
  ClusterEnv planned(c.env, LoadConfiguredWorkload(c));
  planned.Reset(3);
  for (int i = 0; i < 5 && !planned.done(); ++i) {
    const int action = planner.Act(planned);
    ASSERT_TRUE(planned.observation().action_mask[action]) << action;
    planned.Step(action);
  }
  // The resolved config says which model and GPU each replica has and reads back the same.
  const RunConfig back =
      LoadRunConfig(WriteTempFile("replicas_resolved.cfg", FormatResolvedConfig(c)), {});
  EXPECT_EQ(back.resolved, c.resolved);
  EXPECT_EQ(back.env.experts[1].gpu, "a100-80gb");
  EXPECT_EQ(back.env.experts[1].model, "alpaca-native");
}

TEST(Replicas, ShippedSiteConfigsLoadWithReplicasOnTwoGpuKinds) {
  for (const char* file : {"edge-site.cfg", "edge-site-train.cfg"}) {
    const RunConfig c = LoadRunConfig(std::string(QOSROUTE_SOURCE_DIR) + "/configs/" + file, {});
    ASSERT_EQ(c.env.experts.size(), 6u) << file;
    EXPECT_EQ(c.env.experts[0].ModelName(), "alpaca-native") << file;
    EXPECT_EQ(c.env.experts[1].ModelName(), "alpaca-native") << file;
    EXPECT_EQ(c.env.experts[4].gpu, "rtx4090") << file;
    EXPECT_EQ(c.env.experts[5].gpu, "a100-80gb") << file;
    EXPECT_EQ(c.env.experts[5].weights_gb, 23.8) << file;
  }
}

TEST(Replicas, UnknownGpuKindOrEmptyModelNamesTheKey) {
  std::string e =
      ErrorOf(WriteTempFile("replica_gpu.cfg",
                            "[cluster]\nexperts = a, b\n[expert.a]\nmodel = alpaca-native\n"
                            "gpu = v100\n[expert.b]\nmodel = chatglm-6b\n"));
  EXPECT_NE(e.find("expert.a.gpu"), std::string::npos) << e;
  EXPECT_NE(e.find("v100"), std::string::npos) << e;
  e = ErrorOf(WriteTempFile("replica_model.cfg",
                            "[cluster]\nexperts = a, b\n[expert.a]\nmodel = mystery-7b\n"));
  EXPECT_NE(e.find("expert.a."), std::string::npos) << e;
  EXPECT_NE(e.find("mystery-7b"), std::string::npos) << e;
}

TEST(CalibratedConfig, MissingExpertKeyNamesTheExpertAndTheKey) {
  const std::string base = "[cluster]\nexperts = alpaca-native, koala-7B-HF\n";
  std::string e = ErrorOf(WriteTempFile("missing1.cfg", base));
  EXPECT_NE(e.find("expert.koala-7B-HF.kv_bytes_per_token"), std::string::npos) << e;
  e = ErrorOf(
      WriteTempFile("missing2.cfg", base + "[expert.koala-7B-HF]\nkv_bytes_per_token = 524288\n"));
  EXPECT_NE(e.find("expert.koala-7B-HF.weights_gb"), std::string::npos) << e;
  EXPECT_NE(e.find("missing2.cfg"), std::string::npos) << e;
  e = ErrorOf(WriteTempFile("missing3.cfg", base + "[expert.koala-7B-HF]\nkv_bytes_per_token = "
                                                   "524288\nweights_gb = 13.5\n"));
  EXPECT_NE(e.find("expert.koala-7B-HF.mean_score"), std::string::npos) << e;
}

TEST(CalibratedConfig, BadProfileAndPowerKeysAreOneErrorNamingTheKey) {
  const std::string bad = WriteTempFile("bad_profile.csv", "batch_size,seconds\n1,0.1\n");
  std::string e = ErrorOf(kEdge, {"cluster.time_model=table", "cluster.profile=" + bad});
  EXPECT_NE(e.find("cluster.profile"), std::string::npos) << e;
  EXPECT_NE(e.find("bad_profile.csv"), std::string::npos) << e;
  EXPECT_NE(e.find("missing column 'prefill_tokens'"), std::string::npos) << e;
  e = ErrorOf(kEdge, {"cluster.time_model=table"});
  EXPECT_NE(e.find("no profile CSV"), std::string::npos) << e;
  e = ErrorOf(kEdge, {"cluster.power_idle_w=500"});
  EXPECT_NE(e.find("power_idle_w"), std::string::npos) << e;
  e = ErrorOf(kEdge, {"cluster.gpu=rtx5090"});
  EXPECT_NE(e.find("cluster.gpu"), std::string::npos) << e;
  e = ErrorOf(kEdge, {"cluster.time_model=quadratic"});
  EXPECT_NE(e.find("cluster.time_model: unknown time model 'quadratic'; known: linear, calibrated, "
                   "table"),
            std::string::npos)
      << e;
  e = ErrorOf(kEdge, {"env.energy_weight=-1"});
  EXPECT_NE(e.find("env.energy_weight"), std::string::npos) << e;
  // The shipped profile loads through the config, relative to the config file.
  const RunConfig t = LoadRunConfig(
      kEdge, {"cluster.time_model=table", "cluster.profile=profiles/rtx4090-llama7b.csv"});
  EXPECT_EQ(t.env.experts[2].time_model, TimeModelKind::kTable);
  ASSERT_NE(t.env.experts[2].profile, nullptr);
}

int RunQosroute(const std::string& args, std::string* output) {
  const std::string command = std::string(QOSROUTE_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(CalibratedConfig, CliExitsWithCode2NamingTheKey) {
  std::string out;
  EXPECT_EQ(RunQosroute("simulate --config " + kEdge +
                            " --set cluster.experts=alpaca-native,koala-7B-HF --seeds 1",
                        &out),
            2);
  EXPECT_NE(out.find("expert.koala-7B-HF.kv_bytes_per_token"), std::string::npos) << out;
  out.clear();
  const std::string empty = WriteTempFile("empty_profile.csv", "");
  EXPECT_EQ(RunQosroute("simulate --config " + kEdge +
                            " --set cluster.time_model=table --set cluster.profile=" + empty,
                        &out),
            2);
  EXPECT_NE(out.find("holds no rows"), std::string::npos) << out;
  out.clear();
  // And the world itself runs, printing J/token.
  EXPECT_EQ(
      RunQosroute("simulate --config " + kEdge +
                      " --policy round-robin --seeds 1 --set workload.requests_per_episode=300",
                  &out),
      0)
      << out;
  EXPECT_NE(out.find("J/token"), std::string::npos) << out;
}

}  // namespace
}  // namespace qosroute
