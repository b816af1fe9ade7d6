// A policy and observations of another layout than it was trained with, through every entry
// point: `evaluate` and `simulate` build the groups the policy file records whatever the
// config asks for (the same episodes as a config that asks for them); observations of other
// groups (an env or a router built without the file's groups) are one error naming the
// groups, never zeros in place of features.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "env/cluster_env.h"
#include "env/evaluation.h"
#include "launch/config.h"
#include "launch/sac_policy_hook.h"
#include "launch/sac_setup.h"
#include "learner/policy_io.h"
#include "learner/sac.h"
#include "serve/router.h"
#include "serve/serve_predictor.h"

namespace qosroute {
namespace {

namespace fs = std::filesystem;

constexpr char kConfig[] = R"(
[cluster]
experts = alpaca-native,chatglm-6b
[workload]
synthetic_records = 500
requests_per_episode = 60
rate = 6.0
[env]
allow_drop = false
[eval]
seeds = 2
threads = 1
[han]
hidden = 16
heads = 2
layers = 1
[sac]
mlp_hidden = 16
)";

std::string Scratch(const std::string& name) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("qosroute_schema_entry_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

RunConfig Config(const std::vector<std::string>& overrides) {
  static const std::string path = [] {
    const std::string p = Scratch("config.cfg");
    std::ofstream(p) << kConfig;
    return p;
  }();
  return LoadRunConfig(path, overrides);
}

// A policy trained (here: initialised) with the aggregates, request.choice (a wider request
// row) and expert.speed on.
std::string PolicyWithGroups() {
  const RunConfig config =
      Config({"env.expert_aggregates=true", "env.feature_groups=request.choice,expert.speed"});
  const std::string path = Scratch("policy_groups.h5");
  SavePolicy(path, SacAgent(MakeSacConfig(config)));
  return path;
}

void ExpectNamesTheGroups(const std::string& what) {
  EXPECT_NE(what.find("expert.aggregates"), std::string::npos) << what;
  EXPECT_NE(what.find("expert.speed"), std::string::npos) << what;
  EXPECT_NE(what.find("request.choice"), std::string::npos) << what;
}

TEST(SchemaEntryPoints, EvaluateBuildsTheFilesGroupsWhateverTheConfigSays) {
  const std::string policy = PolicyWithGroups();
  const RunConfig plain = Config({});
  const RunConfig asked =
      Config({"env.expert_aggregates=true", "env.feature_groups=request.choice,expert.speed"});
  auto workload = LoadConfiguredWorkload(plain);
  const std::vector<EpisodeMetrics> a = EvaluateLearnedPolicy(plain, workload, policy);
  const std::vector<EpisodeMetrics> b = EvaluateLearnedPolicy(asked, workload, policy);
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].avg_qos, b[i].avg_qos);
    EXPECT_EQ(a[i].latency_per_token_mean, b[i].latency_per_token_mean);
  }
}

TEST(SchemaEntryPoints, SimulateAdaptsTheEnvAndRefusesObservationsOfOtherGroups) {
  const std::string policy = PolicyWithGroups();
  const RunConfig plain = Config({});
  auto workload = LoadConfiguredWorkload(plain);
  EnvConfig env = plain.env;
  std::unique_ptr<RoutingPolicy> routing = LoadLearnedRoutingPolicy(plain, policy, &env);
  ASSERT_NE(routing->schema(), nullptr);
  EXPECT_EQ(ObservationSchema::For(env), *routing->schema());  // simulate's env follows the file
  ClusterEnv adapted(env, workload);
  adapted.Reset(1);
  const int action = routing->Act(adapted);
  EXPECT_TRUE(action >= 0 && action <= 2);
  // An env built from the config as it stands (without the groups) is refused.
  ClusterEnv other(plain.env, workload);
  other.Reset(1);
  try {
    routing->Act(other);
    ADD_FAILURE() << "a policy decided on observations without its groups";
  } catch (const UserError& e) {
    ExpectNamesTheGroups(e.what());
  }
  try {
    routing->ActOnObservations({&other.observation()});
    ADD_FAILURE() << "a batch of observations of other groups was accepted";
  } catch (const UserError& e) {
    ExpectNamesTheGroups(e.what());
  }
}

TEST(SchemaEntryPoints, ServeRefusesARouterBuiltWithOtherGroups) {
  const std::string policy = PolicyWithGroups();
  const RunConfig plain = Config({});
  auto workload = LoadConfiguredWorkload(plain);
  EnvConfig env = plain.env;
  std::unique_ptr<RoutingPolicy> routing = LoadLearnedRoutingPolicy(plain, policy, &env);
  std::vector<std::string> names;
  for (const ExpertConfig& e : plain.env.experts) names.push_back(e.name);
  std::vector<BackendSpec> backends;
  for (const std::string& n : names) backends.push_back({n, "http://127.0.0.1:9", ""});
  net::io_context io;
  try {
    // The env the config asks for, not the one LoadLearnedRoutingPolicy set up.
    Router router(io, plain.env, workload, std::move(routing),
                  std::make_unique<WorkloadPriorPredictor>(*workload, names, 512), backends,
                  RouterOptions());
    ADD_FAILURE() << "the router accepted a policy of other groups";
  } catch (const UserError& e) {
    ExpectNamesTheGroups(e.what());
  }
  // With the env set up from the file, the router starts.
  std::unique_ptr<RoutingPolicy> again = LoadLearnedRoutingPolicy(plain, policy, &env);
  EXPECT_NO_THROW(Router(io, env, workload, std::move(again),
                         std::make_unique<WorkloadPriorPredictor>(*workload, names, 512), backends,
                         RouterOptions()));
}

}  // namespace
}  // namespace qosroute
