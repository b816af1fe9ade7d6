// The run's reporting pieces without torch: the CSV schema (empty cells, never a stand-in 0),
// the rolling QoS against an episode's own metrics, the reporter's CSVs and TensorBoard
// scalars, and the run-directory lock (refusal changes nothing; SIGKILL releases it).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/error.h"
#include "common/tensorboard_reader.h"
#include "env/heuristics.h"
#include "env_test_util.h"
#include "scratch_dir.h"
#include "telemetry/metrics_rows.h"
#include "telemetry/rolling_qos.h"
#include "telemetry/run_dir_lock.h"
#include "telemetry/run_reporter.h"

namespace qosroute {
namespace {

namespace fs = std::filesystem;

std::string Scratch(const std::string& name) {
  return test_util::FreshDirUnder(test_util::ScratchRoot("telemetry_test"), name);
}

std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[entry.path().string()] = test_util::ReadWholeFile(entry.path().string());
    }
  }
  return files;
}

TEST(MetricsRows, AbsentValuesAreEmptyCellsAndEveryRowHasTheHeadersColumns) {
  TrainRow row;
  row.frames = 100;
  row.updates = 7;
  row.wall_s = 1.5;
  row.frames_per_s = 66.666;
  row.rolling_qos = 0.5;
  row.rolling_requests = 12;
  std::string line = FormatTrainRow(row);
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  std::string header = TrainCsvHeader();
  header.pop_back();
  const auto cells = Cells(line), names = Cells(header);
  ASSERT_EQ(cells.size(), names.size()) << line;
  std::map<std::string, std::string> by_name;
  for (size_t i = 0; i < names.size(); ++i) by_name[names[i]] = cells[i];
  EXPECT_EQ(by_name["kind"], "log");
  EXPECT_EQ(by_name["frames_per_s"], "66.67");
  EXPECT_EQ(by_name["updates_per_s"], "");
  EXPECT_EQ(by_name["episode_qos"], "");
  EXPECT_EQ(by_name["critic_loss"], "");
  EXPECT_EQ(by_name["policy_lag"], "");
  EXPECT_EQ(by_name["rolling_qos"], "0.500000");
  EXPECT_EQ(by_name["rolling_requests"], "12");

  EvalRow eval;
  eval.avg_qos = 0.7;
  std::string eval_line = FormatEvalRow(eval);
  eval_line.pop_back();
  std::string eval_header = EvalCsvHeader();
  eval_header.pop_back();
  const auto eval_cells = Cells(eval_line);
  EXPECT_EQ(eval_cells.size(), Cells(eval_header).size()) << eval_line;
  EXPECT_EQ(eval_cells.back(), "");  // no greedy-qos reference given
}

TEST(RollingQos, AveragesOverResolvedRequestsAndIsAbsentWithoutAny) {
  RollingQos rolling;
  EXPECT_FALSE(rolling.Value().has_value());
  rolling.Add(0.0, 0);
  EXPECT_FALSE(rolling.Value().has_value());
  rolling.Add(1.5, 2);  // two served within the SLA, scores 0.7 + 0.8
  rolling.Add(0.0, 1);  // one dropped
  ASSERT_TRUE(rolling.Value().has_value());
  EXPECT_DOUBLE_EQ(*rolling.Value(), 0.5);
  rolling.Clear();
  EXPECT_FALSE(rolling.Value().has_value());
}

// Summed over an episode's steps, the credited deltas a trainer adds are the episode's own
// metrics: the rolling QoS of a whole episode is its average QoS.
TEST(RollingQos, StepDeltasOverAnEpisodeGiveTheEpisodesAverageQos) {
  const EnvConfig config = testing_util::PaperLikeConfig(6.0, 300);
  ClusterEnv env(config, testing_util::SyntheticTestWorkload());
  const auto policy = MakeHeuristic("round-robin", GreedyQosOptions());
  env.Reset(42);
  RollingQos rolling;
  while (!env.done()) {
    const double qos = env.CreditedQos();
    const long requests = env.CreditedRequests();
    env.Step(policy->Act(env));
    rolling.Add(env.CreditedQos() - qos, env.CreditedRequests() - requests);
  }
  const EpisodeMetrics m = env.Metrics();
  EXPECT_EQ(rolling.resolved(), m.requests);
  ASSERT_TRUE(rolling.Value().has_value());
  EXPECT_NEAR(*rolling.Value(), m.avg_qos, 1e-12);
  EXPECT_GT(m.dropped + (m.requests - m.met_sla), 0) << "a scenario where some requests miss";
  // The per-request latencies behind the CDFs: one per completed request, same mean.
  ASSERT_EQ(static_cast<long>(m.latencies_per_token.size()), m.completed);
  double sum = 0.0;
  for (double l : m.latencies_per_token) sum += l;
  EXPECT_NEAR(sum / m.completed, m.latency_per_token_mean, 1e-12);
}

TEST(RunReporter, WritesCsvRowsAndTensorBoardScalarsAtTheUpdateStep) {
  const std::string dir = Scratch("reporter");
  {
    RunReporter reporter(dir, true);
    reporter.Open("", "", 0, 0, false);
    TrainRow row;
    row.frames = 500;
    row.updates = 40;
    row.critic_loss = 0.25;
    row.rolling_qos = 0.625;
    row.rolling_requests = 8;
    reporter.Log(row);
    EvalRow eval;
    eval.updates = 40;
    eval.avg_qos = 0.5;
    eval.greedy_qos = 0.75;
    eval.vs_greedy_qos = -0.25;
    reporter.Eval(eval);
  }
  const std::string train = test_util::ReadWholeFile(dir + "/metrics/train.csv");
  EXPECT_EQ(train.rfind(TrainCsvHeader(), 0), 0u);
  EXPECT_NE(train.find("log,500,40,"), std::string::npos);
  const auto files = ListTensorBoardEventFiles(dir + "/tb");
  ASSERT_EQ(files.size(), 1u);
  std::map<std::string, std::pair<int64_t, float>> scalars;
  for (const auto& event : ReadTensorBoardEvents(files[0])) {
    for (const auto& [tag, value] : event.scalars) scalars[tag] = {event.step, value};
  }
  EXPECT_EQ(scalars.count("train/frames_per_s"), 0u) << "absent values are not written";
  EXPECT_EQ(scalars["train/critic_loss"], std::make_pair(int64_t{40}, 0.25f));
  EXPECT_EQ(scalars["train/rolling_qos"], std::make_pair(int64_t{40}, 0.625f));
  EXPECT_EQ(scalars["eval/avg_qos"], std::make_pair(int64_t{40}, 0.5f));
  EXPECT_EQ(scalars["eval/greedy_qos"], std::make_pair(int64_t{40}, 0.75f));
  EXPECT_EQ(scalars["eval/vs_greedy_qos"], std::make_pair(int64_t{40}, -0.25f));
}

TEST(RunReporter, ResumedRunKeepsCarriedRowsAndStartsItsEventFileWithASessionStart) {
  const std::string dir = Scratch("resumed");
  const std::string carried = std::string(TrainCsvHeader()) + "log,1,2,0,0.100,,,,,,,,,0.000,,\n";
  {
    RunReporter reporter(dir, true);
    reporter.Open(carried, "", 1, 2, true);
  }
  EXPECT_EQ(test_util::ReadWholeFile(dir + "/metrics/train.csv"), carried);
  EXPECT_EQ(test_util::ReadWholeFile(dir + "/metrics/eval.csv"), EvalCsvHeader());
  const auto files = ListTensorBoardEventFiles(dir + "/tb");
  ASSERT_EQ(files.size(), 1u);
  const auto events = ReadTensorBoardEvents(files[0]);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].session_status, 1);
  EXPECT_EQ(events[1].step, 2);

  // Rows under an older header are not mixed with rows of the current schema.
  const std::string old_dir = Scratch("old_header");
  RunReporter old(old_dir, true);
  old.Open("kind,frames\nlog,1\n", "", 1, 2, true);
  EXPECT_EQ(old.train_text(), TrainCsvHeader());
}

TEST(RunReporter, RatesCoverOnlyTheIntervalSinceOpen) {
  RunReporter reporter("", false);
  reporter.Open("", "", 1000000, 5000, true);  // resumed far into a run
  const RunReporter::Rates rates = reporter.TakeRates(1000000, 5000);
  EXPECT_EQ(rates.frames_per_s, 0.0) << "the frames before the resume are not this interval's";
  EXPECT_EQ(rates.updates_per_s, 0.0);
}

TEST(ProgressLine, SaysWhatItDoesNotKnowInsteadOfPrintingZeros) {
  TrainRow row;
  row.frames = 4000;
  row.frames_per_s = 2000.0;
  row.updates_per_s = 0.0;
  const std::string warmup = FormatProgressLine(row, 8000, "");
  EXPECT_NE(warmup.find("QoS n/a"), std::string::npos) << warmup;
  EXPECT_NE(warmup.find("no update yet"), std::string::npos) << warmup;
  EXPECT_NE(warmup.find("ETA 0:00:02"), std::string::npos) << warmup;
  row.rolling_qos = 0.71234;
  row.rolling_requests = 3000;
  row.critic_loss = 0.5;
  row.alpha = 0.01;
  const std::string line = FormatProgressLine(row, 8000, "policy lag 1.50");
  EXPECT_NE(line.find("QoS 0.7123 (last 3000 requests)"), std::string::npos) << line;
  EXPECT_NE(line.find("critic 0.5000 | policy lag 1.50 | ETA"), std::string::npos) << line;
}

TEST(RunDirLock, ASecondHolderIsRefusedNamingTheDirectoryAndTheProcessAndNothingChanges) {
  const std::string dir = Scratch("locked");
  RunDirLock first(dir);
  std::ofstream(dir + "/precious.csv") << "a,b\n1,2\n";
  const auto before = Snapshot(dir);
  try {
    RunDirLock second(dir);
    ADD_FAILURE() << "a second lock on " << dir << " was granted";
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(dir), std::string::npos) << message;
    EXPECT_NE(message.find("process " + std::to_string(getpid())), std::string::npos) << message;
  }
  EXPECT_EQ(Snapshot(dir), before);
}

TEST(RunDirLock, IsReleasedWhenTheHolderIsKilled) {
  const std::string dir = Scratch("killed");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RunDirLock lock(dir);
    const char byte = 1;
    if (write(ready[1], &byte, 1) != 1) _exit(3);
    pause();  // until SIGKILL: no destructor, no cleanup of any kind
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  EXPECT_THROW(RunDirLock busy(dir), UserError);
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_NO_THROW(RunDirLock after(dir));
  close(ready[0]);
  close(ready[1]);
}

}  // namespace
}  // namespace qosroute
