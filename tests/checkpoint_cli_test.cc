// Checkpoints against the real binary in child processes: SIGKILL in the middle of a
// checkpoint write (injected with QOSROUTE_TEST_KILL_DURING_CHECKPOINT), SIGTERM / SIGINT
// during training, --resume auto, bad files on the command line, and `qosroute inspect`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/files.h"
#include "checkpoint/hdf5_file.h"
#include "checkpoint/inspect.h"
#include "scratch_dir.h"
#include "telemetry/run_dir_lock.h"

extern char** environ;

namespace qosroute {
namespace {

namespace fs = std::filesystem;

// As in checkpoint_test.cc, shorter, with a checkpoint every 100 updates: 100, 200, 300.
constexpr char kConfig[] = R"(
[cluster]
experts = alpaca-native,chatglm-6b
[workload]
synthetic_records = 2000
requests_per_episode = 200
rate = 6.0
[train]
total_frames = 400
warmup_frames = 100
batch_size = 32
replay_capacity = 256
eval_every_frames = 200
eval_seeds = 1
log_every_frames = 50
num_envs = 2
threads = 1
[sac]
mlp_hidden = 16
actor_lr = 3e-4
critic_lr = 3e-4
[han]
hidden = 16
heads = 4
layers = 1
[checkpoint]
every_updates = 100
every_minutes = 0
keep = 3
)";

std::string TestRoot() {
  return test_util::ScratchRoot("qosroute_checkpoint_cli_test");
}

std::string TempPath(const std::string& name) {
  return (fs::path(TestRoot()) / name).string();
}

std::string FreshDir(const std::string& name) {
  return test_util::FreshDirUnder(TestRoot(), name);
}

// A training run every process of this binary needs and that is deterministic for a build:
// made once and shared through a folder named after the binaries' modification times, built
// under a private name and renamed into place, so that a parallel process never sees half.
std::string SharedRun(const std::string& tag,
                      const std::function<void(const std::string&)>& produce) {
  std::error_code ec;
  const auto stamp = fs::last_write_time("/proc/self/exe", ec).time_since_epoch().count() ^
                     fs::last_write_time(QOSROUTE_BINARY, ec).time_since_epoch().count();
  const std::string prefix = "qosroute_checkpoint_cli_test_cache_" + tag + "_";
  const fs::path shared = fs::path(::testing::TempDir()) / (prefix + std::to_string(stamp));
  if (!fs::exists(shared / "complete")) {
    for (const auto& entry : fs::directory_iterator(::testing::TempDir(), ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && entry.path() != shared)
        fs::remove_all(entry.path(), ec);  // older builds'
    }
    const std::string work = FreshDir("cache_" + tag);
    produce(work);
    if (::testing::Test::HasFailure()) return work;  // never share a broken run
    std::ofstream(fs::path(work) / "complete");
    fs::rename(work, shared, ec);  // fails when another process was first: theirs is as good
  }
  return shared.string();
}

std::string ConfigPath() {
  static const std::string path = [] {
    const std::string p = TempPath("checkpoint_cli_test.cfg");
    std::ofstream(p) << kConfig;
    return p;
  }();
  return path;
}

std::string ReadAll(const std::string& path) {
  return test_util::ReadWholeFile(path);
}

// A running qosroute with stdout and stderr going to `log`.
struct Child {
  pid_t pid = -1;
  std::string log;
};

Child Spawn(const std::vector<std::string>& args, const std::string& log,
            const std::string& extra_env = "") {
  // Everything the child needs is built before fork: after it, only exec-safe calls.
  std::vector<std::string> argv_storage{QOSROUTE_BINARY};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  static const char kKillVariable[] = "QOSROUTE_TEST_KILL_DURING_CHECKPOINT=";
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, kKillVariable, sizeof(kKillVariable) - 1) != 0)
      env_storage.emplace_back(*e);
  }
  if (!extra_env.empty()) env_storage.push_back(extra_env);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  ::close(fd);
  return {pid, log};
}

// Waits up to `seconds`; on timeout kills the child and fails.
int Wait(const Child& child, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (waitpid(child.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child.pid, SIGKILL);
      waitpid(child.pid, &status, 0);
      ADD_FAILURE() << "qosroute did not finish within " << seconds << " s; output:\n"
                    << ReadAll(child.log);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status;
}

struct Finished {
  int exit_code = -1;
  std::string output;
};

Finished RunQosroute(const std::vector<std::string>& args, const std::string& log_name,
                     const std::string& extra_env = "") {
  const Child child = Spawn(args, TempPath(log_name), extra_env);
  const int status = Wait(child, 240);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadAll(child.log)};
}

std::vector<std::string> TrainArgs(const std::string& run_dir,
                                   const std::vector<std::string>& more = {}) {
  std::vector<std::string> args{"train", "--config",  ConfigPath(), "--run-dir",
                                run_dir, "--compare", "false"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// train.csv without its wall-clock columns (wall_s, frames_per_s, updates_per_s).
std::string WithoutTimings(const std::string& csv) {
  std::istringstream in(csv);
  std::string line, out;
  while (std::getline(in, line)) {
    std::string cell;
    std::istringstream row(line);
    for (int i = 0; std::getline(row, cell, ','); ++i) {
      if (i < 4 || i > 6) out += cell + ",";
    }
    out += "\n";
  }
  return out;
}

long CountLines(const std::string& path) {
  const std::string text = ReadAll(path);
  return static_cast<long>(std::count(text.begin(), text.end(), '\n'));
}

// Every dataset of the agent and the replay of two checkpoints, compared value for value.
void ExpectSameAgentAndReplay(const std::string& path_a, const std::string& path_b) {
  const h5::Reader a(path_a, path_a);
  const h5::Reader b(path_b, path_b);
  for (const char* group : {"/agent", "/ranks/0"}) {
    const std::vector<std::string> datasets = a.DatasetsBelow(group);
    ASSERT_EQ(datasets, b.DatasetsBelow(group));
    ASSERT_GT(datasets.size(), 10u);
    for (const std::string& name : datasets) {
      h5::Dims da, db;
      const std::string type = a.TypeName(name);
      ASSERT_EQ(type, b.TypeName(name)) << name;
      if (type == "float32") {
        EXPECT_EQ(a.ReadAnyShape<float>(name, &da), b.ReadAnyShape<float>(name, &db)) << name;
      } else if (type == "float64") {
        EXPECT_EQ(a.ReadAnyShape<double>(name, &da), b.ReadAnyShape<double>(name, &db)) << name;
      } else if (type == "int64") {
        EXPECT_EQ(a.ReadAnyShape<int64_t>(name, &da), b.ReadAnyShape<int64_t>(name, &db)) << name;
      } else if (type == "int32") {
        EXPECT_EQ(a.ReadAnyShape<int32_t>(name, &da), b.ReadAnyShape<int32_t>(name, &db)) << name;
      } else if (type == "uint64") {
        EXPECT_EQ(a.ReadAnyShape<uint64_t>(name, &da), b.ReadAnyShape<uint64_t>(name, &db)) << name;
      } else {
        ASSERT_EQ(type, "uint8") << name;
        EXPECT_EQ(a.ReadAnyShape<uint8_t>(name, &da), b.ReadAnyShape<uint8_t>(name, &db)) << name;
      }
      EXPECT_EQ(da, db) << name;
    }
  }
}

std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files[entry.path().string()] = ReadAll(entry.path().string());
  }
  return files;
}

// One straight run every test compares against.
class CheckpointCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    straight_ = new std::string(SharedRun("straight", [](const std::string& dir) {
      const Finished r = RunQosroute(TrainArgs(dir), "cli_straight.log");
      ASSERT_EQ(r.exit_code, 0) << r.output;
    }));
  }
  static void TearDownTestSuite() { delete straight_; }

  static void ExpectMetricsLikeStraight(const std::string& dir) {
    const fs::path a = fs::path(*straight_) / "metrics";
    const fs::path b = fs::path(dir) / "metrics";
    EXPECT_EQ(ReadAll((a / "eval.csv").string()), ReadAll((b / "eval.csv").string()));
    EXPECT_EQ(WithoutTimings(ReadAll((a / "train.csv").string())),
              WithoutTimings(ReadAll((b / "train.csv").string())));
    // Parameters, optimizer state, RNGs, simulators and replay at the end: bit for bit.
    ExpectSameAgentAndReplay(NewestCheckpoint(*straight_), NewestCheckpoint(dir));
  }

  static std::string* straight_;
};
std::string* CheckpointCli::straight_ = nullptr;

class KillDuringCheckpoint : public CheckpointCli,
                             public ::testing::WithParamInterface<const char*> {};

TEST_P(KillDuringCheckpoint, PreviousCheckpointSurvivesAndResumeAutoPicksIt) {
  const std::string stage = GetParam();
  const std::string dir = FreshDir("cli_kill_" + stage);
  // The second checkpoint write (at 200 updates) dies at `stage`.
  const Child child = Spawn(TrainArgs(dir), TempPath("cli_kill_" + stage + ".log"),
                            "QOSROUTE_TEST_KILL_DURING_CHECKPOINT=" + stage + ":2");
  const int status = Wait(child, 240);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << ReadAll(child.log);
  const std::string folder = CheckpointFolder(dir);
  EXPECT_TRUE(fs::exists(CheckpointPath(dir, 100)));
  EXPECT_FALSE(fs::exists(CheckpointPath(dir, 200)));
  EXPECT_TRUE(fs::exists(CheckpointPath(dir, 200) + ".tmp"));
  EXPECT_EQ(NewestCheckpoint(dir), CheckpointPath(dir, 100));
  EXPECT_NE(DescribeCheckpoint(CheckpointPath(dir, 100)).find("updates 100"), std::string::npos);

  const Finished resumed =
      RunQosroute(TrainArgs(dir, {"--resume", "auto"}), "cli_kill_resume_" + stage + ".log");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from " + CheckpointPath(dir, 100)), std::string::npos)
      << resumed.output;
  EXPECT_FALSE(fs::exists(CheckpointPath(dir, 200) + ".tmp"))
      << "the stale temporary file is pruned";
  EXPECT_EQ(NewestCheckpoint(dir), CheckpointPath(dir, 300));
  ExpectMetricsLikeStraight(dir);
}

INSTANTIATE_TEST_SUITE_P(Stages, KillDuringCheckpoint, ::testing::Values("replay", "complete"));

class CheckpointStopSignal : public CheckpointCli, public ::testing::WithParamInterface<int> {};

TEST_P(CheckpointStopSignal, WritesACheckpointAndExitsZeroThenResumes) {
  const int signal_number = GetParam();
  const std::string dir = FreshDir("cli_signal_" + std::to_string(signal_number));
  const Child child = Spawn(TrainArgs(dir, {"--set", "train.total_frames=100000000"}),
                            TempPath("cli_signal_" + std::to_string(signal_number) + ".log"));
  // Signal once training is under way: a few progress rows after warm-up.
  const std::string csv = (fs::path(dir) / "metrics" / "train.csv").string();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (CountLines(csv) < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(kill(child.pid, signal_number), 0);
  const auto sent = std::chrono::steady_clock::now();
  const int status = Wait(child, 60);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  const std::string output = ReadAll(child.log);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_LT(seconds, 30.0) << "the stop took too long";
  EXPECT_NE(output.find("stopped by signal " + std::to_string(signal_number)), std::string::npos)
      << output;
  const std::string checkpoint = NewestCheckpoint(dir);
  ASSERT_NE(checkpoint, "") << output;
  const std::string summary = DescribeCheckpoint(checkpoint, false);
  EXPECT_NE(summary.find("counters: frames "), std::string::npos) << summary;

  // And the run continues from there (a shorter budget, so it ends at once).
  const Finished resumed =
      RunQosroute(TrainArgs(dir, {"--resume", "auto", "--set", "train.total_frames=10"}),
                  "cli_signal_resume_" + std::to_string(signal_number) + ".log");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from " + checkpoint), std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("train.total_frames: 100000000 -> 10"), std::string::npos)
      << resumed.output;
}

INSTANTIATE_TEST_SUITE_P(TermAndInt, CheckpointStopSignal, ::testing::Values(SIGTERM, SIGINT));

TEST_F(CheckpointCli, ResumeAutoWithoutCheckpointsStartsFresh) {
  const std::string dir = FreshDir("cli_fresh");
  const Finished r = RunQosroute(
      TrainArgs(dir, {"--resume", "auto", "--set", "train.total_frames=20"}), "cli_fresh.log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("no checkpoint in"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("starting fresh"), std::string::npos) << r.output;
}

// One job per run directory: a train on a directory another process holds exits 2 with one
// sentence naming the directory and the holder, and changes nothing in it.
TEST_F(CheckpointCli, RunDirectoryInUseIsRefusedAndLeftByteIdentical) {
  const std::string dir = FreshDir("cli_in_use");
  const RunDirLock holder(dir);
  std::ofstream(dir + "/notes.txt") << "someone else's run\n";
  const auto before = Snapshot(dir);
  const Finished r = RunQosroute(TrainArgs(dir), "cli_in_use.log");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("qosroute train: error: run directory " + dir + " is in use by process " +
                          std::to_string(getpid())),
            std::string::npos)
      << r.output;
  size_t errors = 0;
  for (size_t at = r.output.find("error"); at != std::string::npos;
       at = r.output.find("error", at + 1)) {
    ++errors;
  }
  EXPECT_EQ(errors, 1u) << "one sentence, once:\n" << r.output;
  EXPECT_EQ(Snapshot(dir), before) << "the run directory changed";
}

// One line on stderr, exit code 2, and not a byte of the run directory changed.
void ExpectCliRejects(const std::string& run_dir, const std::string& resume,
                      const std::string& expected) {
  const auto before = Snapshot(run_dir);
  const Finished r = RunQosroute(TrainArgs(run_dir, {"--resume", resume}), "cli_bad.log");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("qosroute train: error: checkpoint"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("HDF5-DIAG"), std::string::npos) << "HDF5 printed its error stack:\n"
                                                           << r.output;
  EXPECT_EQ(Snapshot(run_dir), before) << "the run directory changed";
}

TEST_F(CheckpointCli, BadCheckpointFilesExitTwoAndLeaveTheRunDirectoryAlone) {
  const std::string dir = FreshDir("cli_bad_files");
  fs::copy(*straight_, dir, fs::copy_options::recursive);
  const std::string not_hdf5 = TempPath("cli_not_hdf5.h5");
  std::ofstream(not_hdf5) << "not a checkpoint\n";
  ExpectCliRejects(dir, not_hdf5, "not an HDF5 file");
  ExpectCliRejects(dir, TempPath("cli_missing.h5"), "does not exist");
  // An explicit --resume PATH refuses a damaged file (--resume auto sets it aside and takes
  // the one before: DamagedNewestCheckpoint below).
  const std::string newest = NewestCheckpoint(dir);
  fs::resize_file(newest, fs::file_size(newest) / 3);
  ExpectCliRejects(dir, newest, newest);
}

// A newest checkpoint truncated (a full disk, a partial copy) or with bytes flipped: --resume
// auto says so in one warning naming it, keeps it under checkpoints/damaged/, resumes from the
// one before and ends bit for bit as the straight run; the closing line's rates cover the
// resumed part.
class DamagedNewestCheckpoint : public CheckpointCli,
                                public ::testing::WithParamInterface<const char*> {};

TEST_P(DamagedNewestCheckpoint, ResumeAutoSetsItAsideAndResumesFromTheOneBefore) {
  const std::string damage = GetParam();
  const std::string dir = FreshDir(std::string("cli_damaged_") + damage);
  fs::copy(*straight_, dir, fs::copy_options::recursive);
  const std::vector<CheckpointFile> files = ListCheckpoints(CheckpointFolder(dir));
  ASSERT_GE(files.size(), 2u);
  const CheckpointFile newest = files.back(), before = files[files.size() - 2];
  if (damage == std::string("truncated")) {
    fs::resize_file(newest.path, fs::file_size(newest.path) / 3);
  } else {
    std::fstream f(newest.path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(newest.path) / 2));
    f.write(std::string(4096, '\x5a').data(), 4096);
  }
  const std::string damaged_bytes = ReadAll(newest.path);
  // The damage is real: naming the file explicitly fails.
  ExpectCliRejects(dir, newest.path, newest.path);

  const Finished r = RunQosroute(TrainArgs(dir, {"--resume", "auto"}),
                                 std::string("cli_damaged_") + damage + ".log");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string kept =
      (fs::path(CheckpointFolder(dir)) / "damaged" / fs::path(newest.path).filename()).string();
  size_t warnings = 0;
  for (size_t at = r.output.find("--resume auto: "); at != std::string::npos;
       at = r.output.find("--resume auto: ", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << r.output;
  EXPECT_NE(r.output.find("--resume auto: checkpoint " + newest.path), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("kept as " + kept), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("resuming from " + before.path), std::string::npos) << r.output;
  EXPECT_EQ(ReadAll(kept), damaged_bytes) << "the damaged file must be kept as it was";
  EXPECT_NE(r.output.find(", resumed at "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" " + std::to_string(before.updates) + " updates ("), std::string::npos)
      << r.output;
  ExpectMetricsLikeStraight(dir);
}

INSTANTIATE_TEST_SUITE_P(Kinds, DamagedNewestCheckpoint, ::testing::Values("truncated", "flipped"));

TEST_F(CheckpointCli, LearnedRouterRecipeTrainsResumesAndEvaluatesWithItsOwnFeatures) {
  // The recipe of configs/quickstart.cfg in miniature: look-ahead features and potential,
  // expert score prior, undiscounted credit, dueling critics, the greedy-qos prior, a
  // decaying learning rate.
  const std::vector<std::string> recipe = {
      "--set", "env.lookahead_features=true", "--set", "env.expert_score_prior=true", "--set",
      "env.potential_shaping=true", "--set", "env.shaping_potential=lookahead", "--set",
      "env.impact_penalty=false", "--set", "sac.dueling=true", "--set", "sac.prior=greedy-qos",
      "--set", "sac.lr_final_fraction=0.1", "--set", "train.warmup_policy=greedy-qos", "--set",
      "checkpoint.every_updates=150", "--set", "env.undiscounted_credit=true",
      // Model selection over two validation rates and two margins, one short episode each.
      "--set", "select.rates=2,8", "--set", "select.margins=0,4", "--set", "select.seeds=1",
      "--set", "select.requests_per_episode=100"};
  const std::string dir = FreshDir("cli_recipe");
  std::vector<std::string> args = TrainArgs(dir, recipe);
  args.insert(args.end(), {"--set", "train.total_frames=300"});
  const Finished first = RunQosroute(args, "cli_recipe.log");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  // Continue the same run to 400 frames from its checkpoint.
  args = TrainArgs(dir, recipe);
  args.insert(args.end(), {"--resume", "auto"});
  const Finished resumed = RunQosroute(args, "cli_recipe_resume.log");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming from"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("selected policy: the snapshot at"), std::string::npos)
      << resumed.output;
  ASSERT_TRUE(fs::exists(dir + "/policy_selected.h5"));
  const std::string select_csv = ReadAll(dir + "/metrics/select.csv");
  EXPECT_EQ(select_csv.rfind("frames,updates,margin,rate,", 0), 0u) << select_csv;
  const Finished described =
      RunQosroute({"inspect", NewestCheckpoint(dir)}, "cli_recipe_inspect.log");
  EXPECT_NE(described.output.find("dueling critics"), std::string::npos) << described.output;
  EXPECT_NE(described.output.find("prior policy greedy-qos"), std::string::npos)
      << described.output;

  // Evaluated with a config that has none of the optional features, the policy still sees
  // the ones it was trained with, and the table compares it with greedy-qos seed by seed.
  const Finished evaluated = RunQosroute(
      {"evaluate", "--policy", dir + "/policy.h5", "--config", ConfigPath(), "--seeds", "2"},
      "cli_recipe_evaluate.log");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  EXPECT_NE(evaluated.output.find("was trained with the feature groups 'request.arrived/1/3; "
                                  "expert.load/1/3; expert.arrived/1/3; expert.iteration/1/1; "
                                  "expert.lookahead/1/2; expert.score_prior/1/1; "
                                  "expert.greedy_value/1/2; slot.request/1/6'"),
            std::string::npos)
      << evaluated.output;
  EXPECT_NE(evaluated.output.find("vs greedy (paired)"), std::string::npos) << evaluated.output;
  EXPECT_NE(evaluated.output.find("\nsac "), std::string::npos) << evaluated.output;
  // The selected file evaluates the same way, at a margin the config may override, beside
  // the planners (the table then has a headroom column).
  const Finished selected = RunQosroute(
      {"evaluate", "--policy", dir + "/policy_selected.h5", "--config", ConfigPath(), "--seeds",
       "2", "--set", "sac.deviation_margin=3", "--planners", "rollout,hindsight", "--set",
       "planner.samples=4", "--set", "planner.max_samples=4", "--set", "planner.horizon=8", "--set",
       "planner.hindsight_horizons=8"},
      "cli_recipe_evaluate_selected.log");
  ASSERT_EQ(selected.exit_code, 0) << selected.output;
  EXPECT_NE(selected.output.find("deviation margin 3 nats (sac.deviation_margin)"),
            std::string::npos)
      << selected.output;
  EXPECT_NE(selected.output.find("\nsac "), std::string::npos) << selected.output;
  EXPECT_NE(selected.output.find("\nrollout "), std::string::npos) << selected.output;
  EXPECT_NE(selected.output.find("\nhindsight "), std::string::npos) << selected.output;
  EXPECT_NE(selected.output.find("headroom"), std::string::npos) << selected.output;
  const Finished not_a_planner = RunQosroute({"evaluate", "--policy", dir + "/policy_selected.h5",
                                              "--config", ConfigPath(), "--planners", "greedy-qos"},
                                             "cli_recipe_evaluate_bad_planner.log");
  EXPECT_EQ(not_a_planner.exit_code, 2) << not_a_planner.output;
  EXPECT_NE(not_a_planner.output.find("--planners: 'greedy-qos' is not a planner"),
            std::string::npos)
      << not_a_planner.output;

  // A config that contradicts the recipe's needs is one sentence naming the key.
  args = TrainArgs(FreshDir("cli_recipe_bad"),
                   {"--set", "sac.prior=greedy-qos", "--set", "env.lookahead_features=false"});
  const Finished bad = RunQosroute(args, "cli_recipe_bad.log");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("sac.prior = greedy-qos needs env.lookahead_features = true"),
            std::string::npos)
      << bad.output;
}

TEST_F(CheckpointCli, InspectPrintsASummaryAndRejectsBadFiles) {
  const Finished good = RunQosroute({"inspect", NewestCheckpoint(*straight_)}, "cli_inspect.log");
  EXPECT_EQ(good.exit_code, 0) << good.output;
  EXPECT_NE(good.output.find("counters: frames 400, updates 300"), std::string::npos)
      << good.output;
  EXPECT_NE(good.output.find("/ranks/0/replay"), std::string::npos) << good.output;
  EXPECT_NE(good.output.find("[train]"), std::string::npos) << good.output;
  const Finished bad = RunQosroute({"inspect", ConfigPath()}, "cli_inspect_bad.log");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("not an HDF5 file"), std::string::npos) << bad.output;
  EXPECT_EQ(RunQosroute({"inspect", "--help"}, "cli_inspect_help.log").exit_code, 0);
}

}  // namespace
}  // namespace qosroute
