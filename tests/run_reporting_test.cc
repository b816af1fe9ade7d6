// What a training run reports, end to end through the single-process trainer: the rolling
// QoS in train.csv against the episodes' own average QoS, empty cells where a row has no
// value, the paired greedy-qos reference in eval.csv, and the TensorBoard scalars.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/tensorboard_reader.h"
#include "launch/config.h"
#include "launch/sac_setup.h"
#include "learner/train_loop.h"
#include "scratch_dir.h"
#include "telemetry/metrics_rows.h"

namespace qosroute {
namespace {

namespace fs = std::filesystem;

// One environment with 100-request episodes, logging every 100 frames: every log row after
// the first covers exactly the episode that ended at the same frame.
constexpr char kConfig[] = R"(
[cluster]
experts = alpaca-native,chatglm-6b
[workload]
synthetic_records = 500
requests_per_episode = 100
rate = 8.0
[train]
total_frames = 400
warmup_frames = 150
batch_size = 16
replay_capacity = 512
eval_every_frames = 200
eval_seeds = 2
log_every_frames = 100
num_envs = 1
threads = 1
[sac]
mlp_hidden = 16
[han]
hidden = 16
heads = 2
layers = 1
)";

using Row = std::map<std::string, std::string>;

std::vector<Row> ReadCsv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  std::string cell;
  std::istringstream header(line);
  while (std::getline(header, cell, ',')) names.push_back(cell);
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    Row row;
    size_t start = 0;
    for (const std::string& name : names) {
      const size_t comma = line.find(',', start);
      row[name] =
          line.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? line.size() : comma + 1;
    }
    rows.push_back(row);
  }
  return rows;
}

class RunReporting : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string root = test_util::ScratchRoot("run_reporting_test");
    const std::string cfg = (fs::path(root) / "run.cfg").string();
    std::ofstream(cfg) << kConfig;
    const RunConfig config = LoadRunConfig(cfg, {});
    dir_ = new std::string(test_util::FreshDirUnder(root, "run"));
    TrainLoopOptions options = MakeTrainLoopOptions(config, *dir_);
    RunTraining(config.env, LoadConfiguredWorkload(config), MakeSacConfig(config), options);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string* dir_;
};
std::string* RunReporting::dir_ = nullptr;

TEST_F(RunReporting, RollingQosOfALogRowIsTheAverageQosOfTheEpisodeItCovers) {
  const auto rows = ReadCsv(*dir_ + "/metrics/train.csv");
  std::map<std::string, const Row*> episode_at_frame;
  for (const Row& r : rows)
    if (r.at("kind") == "episode") episode_at_frame[r.at("frames")] = &r;
  ASSERT_EQ(episode_at_frame.size(), 4u);
  int checked = 0;
  for (const Row& r : rows) {
    if (r.at("kind") != "log") continue;
    const auto episode = episode_at_frame.find(r.at("frames"));
    ASSERT_NE(episode, episode_at_frame.end()) << "log row at " << r.at("frames");
    EXPECT_EQ(r.at("rolling_requests"), "100");
    EXPECT_NEAR(std::stod(r.at("rolling_qos")), std::stod(episode->second->at("episode_qos")),
                2e-6);
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST_F(RunReporting, RowsWithoutAValueHaveEmptyCells) {
  const auto rows = ReadCsv(*dir_ + "/metrics/train.csv");
  ASSERT_FALSE(rows.empty());
  const Row& first = rows.front();  // frame 100: warm-up, no update yet, the episode row first
  EXPECT_EQ(first.at("kind"), "episode");
  EXPECT_EQ(first.at("critic_loss"), "");
  EXPECT_EQ(first.at("frames_per_s"), "");
  EXPECT_EQ(first.at("rolling_qos"), "");
  const Row& log = rows.at(1);
  ASSERT_EQ(log.at("kind"), "log");
  EXPECT_EQ(log.at("updates"), "0");
  EXPECT_EQ(log.at("critic_loss"), "") << "no update yet: no loss, not a loss of 0";
  EXPECT_EQ(log.at("alpha"), "");
  EXPECT_NE(log.at("frames_per_s"), "");
  EXPECT_NE(log.at("episode_qos"), "");
  const Row& last = rows.back();
  EXPECT_NE(last.at("critic_loss"), "");
}

TEST_F(RunReporting, EvalRowsCarryThePairedGreedyQosReference) {
  const auto rows = ReadCsv(*dir_ + "/metrics/eval.csv");
  ASSERT_EQ(rows.size(), 2u);
  for (const Row& r : rows) {
    const double gap = std::stod(r.at("avg_qos")) - std::stod(r.at("greedy_qos"));
    EXPECT_NEAR(std::stod(r.at("vs_greedy_qos")), gap, 2e-6);
    EXPECT_NE(r.at("vs_greedy_qos_ci95"), "");
  }
  EXPECT_EQ(rows[0].at("greedy_qos"), rows[1].at("greedy_qos")) << "the same episodes each time";
}

TEST_F(RunReporting, TensorBoardHoldsTheRowsScalarsAtTheirUpdateCounts) {
  const auto files = ListTensorBoardEventFiles(*dir_ + "/tb");
  ASSERT_EQ(files.size(), 1u);
  std::map<std::string, std::map<int64_t, float>> scalars;
  for (const auto& event : ReadTensorBoardEvents(files[0])) {
    for (const auto& [tag, value] : event.scalars) scalars[tag][event.step] = value;
  }
  for (const char* tag :
       {"train/frames_per_s", "train/updates_per_s", "train/critic_loss", "train/actor_loss",
        "train/alpha", "train/entropy", "train/policy_lag", "train/rolling_qos", "eval/avg_qos",
        "eval/greedy_qos", "eval/vs_greedy_qos"}) {
    EXPECT_TRUE(scalars.count(tag)) << tag;
  }
  for (const Row& r : ReadCsv(*dir_ + "/metrics/train.csv")) {
    if (r.at("kind") != "log") continue;
    const int64_t step = std::stol(r.at("updates"));
    ASSERT_TRUE(scalars["train/rolling_qos"].count(step)) << step;
    EXPECT_NEAR(scalars["train/rolling_qos"][step], std::stod(r.at("rolling_qos")), 1e-6);
  }
  for (const Row& r : ReadCsv(*dir_ + "/metrics/eval.csv")) {
    const int64_t step = std::stol(r.at("updates"));
    EXPECT_NEAR(scalars["eval/avg_qos"][step], std::stod(r.at("avg_qos")), 1e-6);
  }
}

}  // namespace
}  // namespace qosroute
