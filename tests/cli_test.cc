// End-to-end: the qosroute binary on good and bad input (exit codes and messages).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "env_test_util.h"

namespace qosroute {
namespace {

struct CommandResult {
  int exit_code;
  std::string output;
};

CommandResult RunQosroute(const std::string& args) {
  const std::string command = std::string(QOSROUTE_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer;
  while (fgets(buffer.data(), buffer.size(), pipe)) output += buffer.data();
  const int status = pclose(pipe);
  return {WEXITSTATUS(status), output};
}

TEST(Cli, SimulatePrintsOneRowPerPolicyAndWritesCsv) {
  const std::string csv = ::testing::TempDir() + "/" + std::to_string(getpid()) + "_sim.csv";
  const CommandResult r =
      RunQosroute("simulate --config " + std::string(QOSROUTE_SOURCE_DIR) +
                  "/configs/paper.cfg --policy round-robin,greedy-qos --seeds 2 "
                  "--set workload.requests_per_episode=300 --out " +
                  csv);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("round-robin"), std::string::npos);
  EXPECT_NE(r.output.find("greedy-qos"), std::string::npos);
  EXPECT_NE(r.output.find("upper-bound"), std::string::npos);
  FILE* f = fopen(csv.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char header[512];
  ASSERT_NE(fgets(header, sizeof(header), f), nullptr);
  fclose(f);
  EXPECT_EQ(std::string(header).rfind(
                "policy,episodes,avg_qos,avg_qos_ci95,avg_score,sla_attainment,", 0),
            0u);
}

// The planners run wherever simulate runs a policy, with the headroom column beside the
// bound; a bad [planner] key stops the command naming it.
TEST(Cli, SimulateRunsThePlannersWithTheHeadroomColumn) {
  const CommandResult r = RunQosroute(
      "simulate --config " + std::string(QOSROUTE_SOURCE_DIR) +
      "/configs/paper.cfg --policy greedy-qos,rollout,hindsight --seeds 2 "
      "--set workload.rate=8 --set workload.requests_per_episode=150 --set planner.samples=4 "
      "--set planner.max_samples=8 --set planner.horizon=6");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("headroom"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\nrollout "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\nhindsight "), std::string::npos) << r.output;
  const CommandResult bad = RunQosroute("simulate --policy rollout --set planner.horizon=0");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("planner.horizon must be >= 1"), std::string::npos) << bad.output;
}

TEST(Cli, ProfilePrintsOneFigureALineAndNamesBadInput) {
  const std::string config = "--config " + std::string(QOSROUTE_SOURCE_DIR) +
                             "/configs/edge-4090.cfg --set cluster.gpu=a100-80gb ";
  // alpaca-native on the A100 profile, a 2,048-token prefill: max(9.5 ms, 4.2 ms + 6.34e-5 x
  // 2048) + 0.1 ms + k4 x 2048^2 with k4 = 2 x 4096 x 32 / 150e12.
  const double expected_ms =
      (4.2e-3 + 6.34e-5 * 2048 + 1e-4 + 2.0 * 4096 * 32 / 150e12 * 2048 * 2048) * 1e3;
  const CommandResult r =
      RunQosroute("profile " + config + "--expert alpaca-native --prefill 2048");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  double ms = 0;
  long kv = 0;
  double watts = 0;
  ASSERT_EQ(
      std::sscanf(r.output.c_str(), "iteration: %lf ms\nkv capacity: %ld tokens\npower: %lf W", &ms,
                  &kv, &watts),
      3)
      << r.output;
  EXPECT_NEAR(ms, expected_ms, 1e-3);
  EXPECT_GT(kv, 100000);  // ~118k tokens of a 7B model on an 80 GB card
  EXPECT_EQ(watts, 400.0);
  const CommandResult over =
      RunQosroute("profile " + config + "--expert alpaca-native --batch 128 --context 262144");
  EXPECT_EQ(over.exit_code, 0);
  EXPECT_NE(over.output.find("fits: no"), std::string::npos) << over.output;
  const CommandResult unknown = RunQosroute("profile " + config + "--expert nope --prefill 8");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("'nope'"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("alpaca-native"), std::string::npos) << unknown.output;
  EXPECT_EQ(RunQosroute("profile " + config + "--expert alpaca-native").exit_code, 2);
}

TEST(Cli, BadConfigGivesOneMessageAndExitCodeTwo) {
  const std::string path = testing_util::WriteTempFile("bad_cli.cfg", "[workload]\nrate = -3\n");
  const CommandResult r = RunQosroute("simulate --config " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("bad_cli.cfg"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("workload.rate"), std::string::npos) << r.output;
}

TEST(Cli, MalformedWorkloadFileIsNamed) {
  const std::string data =
      testing_util::WriteTempFile("broken.jsonl", "{\"id\": 1, \"candidates\": [\n");
  const CommandResult r = RunQosroute("simulate --set workload.source=" + data + " --seeds 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("broken.jsonl"), std::string::npos) << r.output;
}

TEST(Cli, UnknownPolicyAndFlagAreRejected) {
  EXPECT_EQ(RunQosroute("simulate --policy nope").exit_code, 2);
  EXPECT_EQ(RunQosroute("simulate --frobnicate").exit_code, 2);
  EXPECT_EQ(RunQosroute("no-such-command").exit_code, 2);
}

TEST(Cli, EveryCommandHasHelp) {
  for (const char* cmd : {"simulate", "make-workload"}) {
    const CommandResult r = RunQosroute(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.output.find("--"), std::string::npos) << cmd;
  }
}

TEST(Cli, MakeWorkloadWritesALoadableFile) {
  const std::string out = ::testing::TempDir() + "/" + std::to_string(getpid()) + "_made.jsonl";
  ASSERT_EQ(RunQosroute("make-workload --out " + out + " --requests 50 --seed 3").exit_code, 0);
  const CommandResult r =
      RunQosroute("simulate --policy quality --seeds 1 --set workload.source=" + out +
                  " --set workload.requests_per_episode=100");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace qosroute
