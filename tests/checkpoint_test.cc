// Checkpoints in one process: the folder rules, exact resume (a run stopped and resumed ends
// bit for bit where the uninterrupted run ends), and bad files that must give one clear
// error and leave the run directory untouched.
#include "learner/checkpoint.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint/files.h"
#include "checkpoint/inspect.h"
#include "common/error.h"
#include "launch/config.h"
#include "learner/policy_io.h"
#include "learner/train_loop.h"
#include "scratch_dir.h"

namespace qosroute {
namespace {

namespace fs = std::filesystem;

// Small enough for seconds per run: 2 experts, 200-request episodes, batch 32, HAN hidden 16,
// a 256-transition replay so that the ring wraps, one torch thread (exactness holds for a
// fixed thread count).
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
every_updates = 200
every_minutes = 0
keep = 2
)";

std::string TestRoot() {
  return test_util::ScratchRoot("qosroute_checkpoint_test");
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
  const auto stamp = fs::last_write_time("/proc/self/exe", ec).time_since_epoch().count();
  const std::string prefix = "qosroute_checkpoint_test_cache_" + tag + "_";
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

std::string ReadAll(const std::string& path) {
  return test_util::ReadWholeFile(path);
}

struct TrainingSetup {
  RunConfig config;
  std::shared_ptr<const Workload> workload;
  SacConfig sac;
};

// The pieces launch/ would build from the config (MakeSacConfig lives in the binary).
TrainingSetup MakeSetup(const std::vector<std::string>& overrides = {}) {
  static const std::string path = [] {
    const std::string p = TempPath("checkpoint_test.cfg");
    std::ofstream(p) << kConfig;
    return p;
  }();
  TrainingSetup s;
  s.config = LoadRunConfig(path, overrides);
  s.workload = LoadConfiguredWorkload(s.config);
  const TrainConfig& t = s.config.train;
  s.sac.actor_lr = s.config.sac.actor_lr;
  s.sac.critic_lr = s.config.sac.critic_lr;
  s.sac.mlp_hidden = s.config.sac.mlp_hidden;
  s.sac.prior = s.config.sac.prior;
  s.sac.planner_temperature = s.config.sac.planner_temperature;
  s.sac.encoder = t.encoder;
  s.sac.han.hidden(t.hidden).heads(t.heads).layers(t.layers);
  s.sac.num_experts = static_cast<int64_t>(s.config.env.experts.size());
  s.sac.max_running = s.config.env.max_running_slots;
  s.sac.max_waiting = s.config.env.max_waiting_slots;
  s.sac.schema = ObservationSchema::For(s.config.env);
  s.sac.seed = t.seed;
  s.sac.torch_threads = t.threads;
  return s;
}

TrainLoopOptions MakeOptions(const TrainingSetup& s, const std::string& run_dir) {
  const TrainConfig& t = s.config.train;
  TrainLoopOptions o;
  o.total_frames = t.total_frames;
  o.warmup_frames = t.warmup_frames;
  o.batch_size = t.batch_size;
  o.replay_capacity = t.replay_capacity;
  o.eval_every_frames = t.eval_every_frames;
  o.eval_seeds = t.eval_seeds;
  o.log_every_frames = t.log_every_frames;
  o.num_envs = t.num_envs;
  o.seed = t.seed;
  o.labels = t.labels;
  o.planner = s.config.planner;
  o.run_dir = run_dir;
  o.checkpoint.every_updates = s.config.checkpoint.every_updates;
  o.checkpoint.keep = s.config.checkpoint.keep;
  o.config_text = FormatResolvedConfig(s.config);
  return o;
}

// Everything a checkpoint restores, loaded into fresh objects.
struct Loaded {
  TrainerState state;
  std::unique_ptr<SacAgent> agent;
  std::unique_ptr<UniformReplay> replay;
};

Loaded Load(const TrainingSetup& s, const std::string& path) {
  Loaded l;
  l.agent = std::make_unique<SacAgent>(s.sac);
  l.replay = std::make_unique<UniformReplay>(s.config.train.replay_capacity);
  ReadCheckpoint(path, s.config.train.num_envs, &l.state, l.agent.get(), l.replay.get());
  return l;
}

// train.csv without its wall-clock columns (wall_s, frames_per_s, updates_per_s), which no
// two runs share.
std::string WithoutTimings(const std::string& csv) {
  std::istringstream in(csv);
  std::string line, out;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream row(line);
    while (std::getline(row, cell, ',')) cells.push_back(cell);
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i >= 4 && i <= 6) continue;
      out += cells[i] + ",";
    }
    out += "\n";
  }
  return out;
}

void ExpectSameTensors(const std::vector<NamedTensor>& a, const std::vector<NamedTensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& [name, t] : b) by_name[name] = t;
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(by_name.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, by_name[name])) << name << " differs";
  }
}

void ExpectSameObservation(const Observation& a, const Observation& b) {
  EXPECT_EQ(a.request, b.request);
  EXPECT_EQ(a.expert, b.expert);
  EXPECT_EQ(a.running, b.running);
  EXPECT_EQ(a.running_mask, b.running_mask);
  EXPECT_EQ(a.waiting, b.waiting);
  EXPECT_EQ(a.waiting_mask, b.waiting_mask);
  EXPECT_EQ(a.action_mask, b.action_mask);
}

// Every restored value of two checkpoints agrees, bit for bit (wall time aside).
void ExpectSameTraining(const TrainingSetup& s, const std::string& path_a,
                        const std::string& path_b) {
  const Loaded a = Load(s, path_a);
  const Loaded b = Load(s, path_b);
  EXPECT_EQ(a.state.frames, b.state.frames);
  EXPECT_EQ(a.state.updates, b.state.updates);
  EXPECT_EQ(a.state.episodes, b.state.episodes);
  EXPECT_EQ(a.state.episodes_started, b.state.episodes_started);
  EXPECT_EQ(a.state.explore_rng, b.state.explore_rng);
  EXPECT_EQ(a.state.replay_sample_rng, b.state.replay_sample_rng);
  EXPECT_EQ(a.state.env_states, b.state.env_states);
  EXPECT_EQ(a.state.episode_returns, b.state.episode_returns);
  EXPECT_EQ(a.state.schedule.next_log_frames, b.state.schedule.next_log_frames);
  EXPECT_EQ(a.state.schedule.next_eval_frames, b.state.schedule.next_eval_frames);
  EXPECT_EQ(a.state.schedule.last_eval_qos, b.state.schedule.last_eval_qos);
  EXPECT_EQ(a.state.schedule.last_losses.critic, b.state.schedule.last_losses.critic);
  EXPECT_EQ(a.state.schedule.last_losses.alpha, b.state.schedule.last_losses.alpha);
  EXPECT_EQ(a.state.eval_csv, b.state.eval_csv);
  EXPECT_EQ(WithoutTimings(a.state.train_csv), WithoutTimings(b.state.train_csv));
  ExpectSameTensors(a.agent->NamedParameters(), b.agent->NamedParameters());
  ExpectSameTensors(a.agent->OptimizerState(), b.agent->OptimizerState());
  EXPECT_EQ(a.agent->sample_rng().state(), b.agent->sample_rng().state());
  EXPECT_EQ(a.agent->num_updates(), b.agent->num_updates());
  ASSERT_EQ(a.replay->size(), b.replay->size());
  EXPECT_EQ(a.replay->cursor(), b.replay->cursor());
  EXPECT_EQ(a.replay->total_added(), b.replay->total_added());
  for (int i = 0; i < a.replay->size(); ++i) {
    const Transition& x = a.replay->at(i);
    const Transition& y = b.replay->at(i);
    ASSERT_EQ(x.action, y.action) << i;
    ASSERT_EQ(x.reward, y.reward) << i;
    ASSERT_EQ(x.done, y.done) << i;
    ASSERT_EQ(x.label.labelled, y.label.labelled) << i;
    ASSERT_EQ(x.label.chosen, y.label.chosen) << i;
    ASSERT_EQ(x.label.values, y.label.values) << i;
    ExpectSameObservation(x.obs, y.obs);
    ExpectSameObservation(x.next_obs, y.next_obs);
  }
}

// ------------------------------------------------------------------------- checkpoint files

TEST(CheckpointFiles, ListsOnlyCompleteCheckpointsOldestFirst) {
  const std::string dir = FreshDir("ckpt_list");
  for (const char* name : {"ckpt_40.h5", "ckpt_5.h5", "ckpt_300.h5.tmp", "other.h5", "ckpt_x.h5"}) {
    std::ofstream(fs::path(dir) / name) << "x";
  }
  const auto files = ListCheckpoints(dir);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].updates, 5);
  EXPECT_EQ(files[1].updates, 40);
  EXPECT_EQ(ListCheckpoints(TempPath("no_such_folder")).size(), 0u);
}

TEST(CheckpointFiles, NewestCheckpointOfARunDirectory) {
  const std::string run = FreshDir("ckpt_newest");
  EXPECT_EQ(NewestCheckpoint(run), "");
  fs::create_directories(CheckpointFolder(run));
  std::ofstream(CheckpointPath(run, 900)) << "x";
  std::ofstream(CheckpointPath(run, 1000)) << "x";
  std::ofstream(CheckpointPath(run, 2000) + ".tmp") << "x";  // a write that never finished
  EXPECT_EQ(NewestCheckpoint(run), CheckpointPath(run, 1000));
}

TEST(CheckpointFiles, PruneKeepsTheNewestAndRemovesTemporaries) {
  const std::string dir = FreshDir("ckpt_prune");
  for (const char* name : {"ckpt_1.h5", "ckpt_2.h5", "ckpt_3.h5", "ckpt_4.h5.tmp", "notes.txt"}) {
    std::ofstream(fs::path(dir) / name) << "x";
  }
  const auto removed = PruneCheckpoints(dir, 2);
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_FALSE(fs::exists(fs::path(dir) / "ckpt_1.h5"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "ckpt_2.h5"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "ckpt_3.h5"));
  EXPECT_FALSE(fs::exists(fs::path(dir) / "ckpt_4.h5.tmp"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "notes.txt"));
}

TEST(CheckpointFiles, SupersedeMovesNewerCheckpointsAsideWithoutDeleting) {
  const std::string dir = FreshDir("ckpt_supersede");
  for (const char* name : {"ckpt_10.h5", "ckpt_20.h5", "ckpt_30.h5"})
    std::ofstream(fs::path(dir) / name) << "x";
  const auto moved = SupersedeNewerCheckpoints(dir, 20);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_TRUE(fs::exists(fs::path(dir) / "superseded" / "ckpt_30.h5"));
  EXPECT_EQ(ListCheckpoints(dir).back().updates, 20);
}

TEST(CheckpointFiles, ConfigDifferencesNameEveryChangedKey) {
  const auto d = ConfigDifferences("[train]\nseed = 1\nbatch_size = 32\n[sac]\ngamma = 0.9\n",
                                   "[train]\nseed = 2\nbatch_size = 32\n[han]\nhidden = 8\n");
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0], "sac.gamma: 0.9 -> (absent)");
  EXPECT_EQ(d[1], "train.seed: 1 -> 2");
  EXPECT_EQ(d[2], "han.hidden: (absent) -> 8");
}

TEST(CheckpointFiles, KillHookMatchesStageAndWriteIndex) {
  setenv("QOSROUTE_TEST_KILL_DURING_CHECKPOINT", "replay:2", 1);
  EXPECT_FALSE(ShouldKillForTest("replay", 1));
  EXPECT_TRUE(ShouldKillForTest("replay", 2));
  EXPECT_FALSE(ShouldKillForTest("agent", 2));
  setenv("QOSROUTE_TEST_KILL_DURING_CHECKPOINT", "agent", 1);
  EXPECT_TRUE(ShouldKillForTest("agent", 1));
  unsetenv("QOSROUTE_TEST_KILL_DURING_CHECKPOINT");
  EXPECT_FALSE(ShouldKillForTest("agent", 1));
}

TEST(CheckpointConfigKeys, DefaultsAndRangesOfTheCheckpointSection) {
  const RunConfig defaults = LoadRunConfig("", {});
  EXPECT_EQ(defaults.checkpoint.every_updates, 10000);
  EXPECT_EQ(defaults.checkpoint.every_minutes, 30);
  EXPECT_EQ(defaults.checkpoint.keep, 3);
  EXPECT_EQ(defaults.checkpoint.compression, 1);
  EXPECT_EQ(defaults.resolved.at("checkpoint.keep"), "3");
  const RunConfig set =
      LoadRunConfig("", {"checkpoint.every_updates=0", "checkpoint.every_minutes=2.5"});
  EXPECT_EQ(set.checkpoint.every_updates, 0);
  EXPECT_EQ(set.checkpoint.every_minutes, 2.5);
  for (const char* bad :
       {"checkpoint.keep=0", "checkpoint.compression=10", "checkpoint.every_minutes=-1"}) {
    try {
      LoadRunConfig("", {bad});
      ADD_FAILURE() << bad << " was accepted";
    } catch (const UserError& e) {
      const std::string key = std::string(bad).substr(0, std::string(bad).find('='));
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

TEST(CheckpointReplayRestore, RejectsCursorsThatDoNotDescribeTheRing) {
  UniformReplay replay(4);
  std::vector<Transition> three(3);
  EXPECT_THROW(replay.Restore(three, 1, 3),
               UserError);  // not wrapped: cursor must follow the last slot
  EXPECT_THROW(replay.Restore(three, 3, 7),
               UserError);  // not wrapped: everything added is still there
  EXPECT_THROW(replay.Restore(std::vector<Transition>(5), 0, 5), UserError);  // over capacity
  replay.Restore(std::vector<Transition>(4), 2, 10);
  EXPECT_EQ(replay.size(), 4);
  EXPECT_EQ(replay.cursor(), 2);
  EXPECT_EQ(replay.total_added(), 10);
}

// ---------------------------------------------------------------------------- exact resume

class CheckpointExactResume : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setup_ = new TrainingSetup(MakeSetup());
    straight_dir_ = new std::string(SharedRun("straight", [](const std::string& dir) {
      const TrainResult r =
          RunTraining(setup_->config.env, setup_->workload, setup_->sac, MakeOptions(*setup_, dir));
      ASSERT_FALSE(r.stopped);
    }));
    straight_checkpoint_ = new std::string(NewestCheckpoint(*straight_dir_));
  }
  static void TearDownTestSuite() {
    delete setup_;
    delete straight_dir_;
    delete straight_checkpoint_;
  }

  // Trains with stops after each of `stops` updates, resuming each time; returns the run dir.
  static std::string StopAndResume(const std::string& name, const std::vector<long>& stops) {
    const std::string dir = FreshDir(name);
    TrainLoopOptions options = MakeOptions(*setup_, dir);
    for (long stop : stops) {
      options.stop_at_updates = stop;
      const TrainResult r = RunTraining(setup_->config.env, setup_->workload, setup_->sac, options);
      EXPECT_TRUE(r.stopped);
      EXPECT_EQ(r.updates, stop);
      EXPECT_EQ(r.checkpoint_path, NewestCheckpoint(dir));
      options.resume_from = NewestCheckpoint(dir);
    }
    options.stop_at_updates = 0;
    const TrainResult r = RunTraining(setup_->config.env, setup_->workload, setup_->sac, options);
    EXPECT_FALSE(r.stopped);
    return dir;
  }

  static void ExpectSameAsStraight(const std::string& dir) {
    ExpectSameTraining(*setup_, *straight_checkpoint_, NewestCheckpoint(dir));
    const fs::path a = fs::path(*straight_dir_) / "metrics";
    const fs::path b = fs::path(dir) / "metrics";
    EXPECT_EQ(ReadAll((a / "eval.csv").string()), ReadAll((b / "eval.csv").string()));
    const std::string train_a = ReadAll((a / "train.csv").string());
    EXPECT_GT(std::count(train_a.begin(), train_a.end(), '\n'), 10);
    EXPECT_EQ(WithoutTimings(train_a), WithoutTimings(ReadAll((b / "train.csv").string())));
  }

  static TrainingSetup* setup_;
  static std::string* straight_dir_;
  static std::string* straight_checkpoint_;
};
TrainingSetup* CheckpointExactResume::setup_ = nullptr;
std::string* CheckpointExactResume::straight_dir_ = nullptr;
std::string* CheckpointExactResume::straight_checkpoint_ = nullptr;

// Two envs and one update per frame give two updates per decision round after warm-up:
// an even stop lands between rounds, an odd one between the two updates of a round.
TEST_F(CheckpointExactResume, StopBetweenRoundsThenResumeEqualsStraightRun) {
  ExpectSameAsStraight(StopAndResume("resume_between_rounds", {150}));
}

TEST_F(CheckpointExactResume, StopBetweenTwoUpdatesOfARoundThenResumeEqualsStraightRun) {
  ExpectSameAsStraight(StopAndResume("resume_mid_round", {151}));
}

TEST_F(CheckpointExactResume, SeveralStopsAcrossEvaluationsAndRingWrapEqualStraightRun) {
  ExpectSameAsStraight(StopAndResume("resume_several", {1, 99, 200, 277}));
}

TEST_F(CheckpointExactResume, MetricsRowsWrittenAfterTheCheckpointAreReplacedNotDuplicated) {
  const std::string dir = FreshDir("resume_truncates");
  TrainLoopOptions options = MakeOptions(*setup_, dir);
  options.stop_at_updates = 150;
  RunTraining(setup_->config.env, setup_->workload, setup_->sac, options);
  // Rows a killed process wrote after its last checkpoint.
  std::ofstream(fs::path(dir) / "metrics" / "train.csv", std::ios::app)
      << "log,999,999,9,1.0,1,1,0,0,0,0,0,0,0\n";
  std::ofstream(fs::path(dir) / "metrics" / "eval.csv", std::ios::app)
      << "999,999,sac,1,0,0,0,0,0\n";
  options.stop_at_updates = 0;
  options.resume_from = NewestCheckpoint(dir);
  RunTraining(setup_->config.env, setup_->workload, setup_->sac, options);
  EXPECT_EQ(ReadAll((fs::path(dir) / "metrics" / "train.csv").string()).find("999"),
            std::string::npos);
  ExpectSameAsStraight(dir);
}

TEST_F(CheckpointExactResume, PeriodicCheckpointsAreKeptToTheNewestK) {
  const auto files = ListCheckpoints(CheckpointFolder(*straight_dir_));
  // every_updates = 200 over 300 updates: 200, then the final 300; keep = 2.
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].updates, 200);
  EXPECT_EQ(files[1].updates, 300);
}

TEST_F(CheckpointExactResume, ResumingAnOlderCheckpointMovesTheAbandonedFutureAside) {
  const std::string dir = FreshDir("resume_older");
  fs::copy(*straight_dir_, dir, fs::copy_options::recursive);
  TrainLoopOptions options = MakeOptions(*setup_, dir);
  options.resume_from = CheckpointPath(dir, 200);
  RunTraining(setup_->config.env, setup_->workload, setup_->sac, options);
  EXPECT_TRUE(fs::exists(fs::path(CheckpointFolder(dir)) / "superseded" / "ckpt_300.h5"));
  ExpectSameAsStraight(dir);
}

TEST_F(CheckpointExactResume, InspectSummarisesCountersPartsAndConfig) {
  const std::string text = DescribeCheckpoint(*straight_checkpoint_);
  EXPECT_NE(text.find(std::string("format ") + kCheckpointFormat + " version " +
                      std::to_string(kCheckpointFormatVersion)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("frames 400, updates 300"), std::string::npos) << text;
  EXPECT_NE(text.find("/ranks/0/replay"), std::string::npos) << text;
  EXPECT_NE(text.find("/agent/parameters"), std::string::npos) << text;
  EXPECT_NE(text.find("replay 256 of 256 transitions"), std::string::npos) << text;
  EXPECT_NE(text.find("[han]"), std::string::npos) << text;
}

// Trains `s` straight into one folder and, in another, stops at update 101 and resumes with
// the newest checkpoint; expects both to end bit for bit alike. Returns the straight run's
// result and the resumed run's folder.
std::pair<TrainResult, std::string> ExpectResumeEqualsStraight(const TrainingSetup& s,
                                                               const std::string& tag) {
  const std::string straight = FreshDir(tag + "_straight");
  const TrainResult done = RunTraining(s.config.env, s.workload, s.sac, MakeOptions(s, straight));
  EXPECT_FALSE(done.stopped);
  const std::string resumed = FreshDir(tag + "_resumed");
  TrainLoopOptions options = MakeOptions(s, resumed);
  options.stop_at_updates = 101;
  EXPECT_TRUE(RunTraining(s.config.env, s.workload, s.sac, options).stopped);
  options.stop_at_updates = 0;
  options.resume_from = NewestCheckpoint(resumed);
  EXPECT_FALSE(RunTraining(s.config.env, s.workload, s.sac, options).stopped);
  ExpectSameTraining(s, NewestCheckpoint(straight), NewestCheckpoint(resumed));
  return {done, resumed};
}

// With the aggregate expert features (19 per expert) the replay's observations are wider;
// resuming is still bit-exact.
TEST(CheckpointAggregates, ResumeWithExpertAggregatesEqualsStraightRun) {
  const TrainingSetup s = MakeSetup({"env.expert_aggregates=true", "train.total_frames=250"});
  ASSERT_TRUE(s.sac.schema.IsOn("expert.aggregates"));
  const std::string resumed = ExpectResumeEqualsStraight(s, "aggregates").second;
  const Loaded l = Load(s, NewestCheckpoint(resumed));
  ASSERT_GT(l.replay->size(), 0);
  EXPECT_EQ(l.replay->at(0).obs.expert_features, kExpertFeatures + kAggregateFeatures);
  EXPECT_EQ(l.replay->at(0).next_obs.expert_features, kExpertFeatures + kAggregateFeatures);
}

// Search-guided SAC: the planner labels a quarter of the decisions and the actor learns from
// them (sac.prior = planner). The labels live in the replay, go into the checkpoint and come
// back, and the resumed run ends bit for bit where the straight one does.
TEST(CheckpointPlannerLabels, ResumeWithPlannerLabelsEqualsStraightRun) {
  const std::vector<std::string> overrides = {
      "train.total_frames=250", "train.planner_share=0.25",    "train.label_behaviour=planner",
      "sac.prior=planner",      "env.lookahead_features=true", "env.lookahead_value=true",
      "planner.samples=4",      "planner.max_samples=4",       "planner.horizon=6"};
  const TrainingSetup s = MakeSetup(overrides);
  const auto [done, resumed] = ExpectResumeEqualsStraight(s, "labels");
  EXPECT_EQ(done.labelled, 250 / 4);  // frames 3, 7, ..., 247
  const Loaded l = Load(s, NewestCheckpoint(resumed));
  int labelled = 0;
  for (int i = 0; i < l.replay->size(); ++i) {
    const ActionLabel& label = l.replay->at(i).label;
    if (!label.labelled) continue;
    ++labelled;
    EXPECT_EQ(label.values.size(), s.config.env.experts.size() + 1);
    EXPECT_TRUE(l.replay->at(i).obs.action_mask[label.chosen]);
  }
  EXPECT_EQ(labelled, l.replay->labelled());
  // A quarter of the frames, evenly spread: the replay (the whole run here) holds them all.
  EXPECT_EQ(labelled, 250 / 4);
}

// Planner settings with no share change nothing: a run with train.planner_share = 0 is the
// recipe without planner keys, bit for bit (and writes no label datasets).
TEST(CheckpointPlannerLabels, ShareZeroIsTheRunWithoutAPlanner) {
  const TrainingSetup plain = MakeSetup({"train.total_frames=150"});
  const TrainingSetup zero =
      MakeSetup({"train.total_frames=150", "train.planner_share=0", "train.label_behaviour=planner",
                 "planner.horizon=5", "planner.samples=3", "planner.max_samples=3"});
  const std::string a = FreshDir("share_zero_plain");
  const std::string b = FreshDir("share_zero_set");
  RunTraining(plain.config.env, plain.workload, plain.sac, MakeOptions(plain, a));
  const TrainResult r = RunTraining(zero.config.env, zero.workload, zero.sac, MakeOptions(zero, b));
  EXPECT_EQ(r.labelled, 0);
  ExpectSameTraining(plain, NewestCheckpoint(a), NewestCheckpoint(b));
  EXPECT_EQ(Load(plain, NewestCheckpoint(b)).replay->labelled(), 0);
}

// ------------------------------------------------------------------------------- bad files

// Every file below the folder with its bytes, to show that nothing was changed.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files[entry.path().string()] = ReadAll(entry.path().string());
  }
  return files;
}

class BadCheckpoint : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const TrainingSetup s = MakeSetup({"train.total_frames=150"});
    good_dir_ = new std::string(SharedRun("good", [&s](const std::string& dir) {
      RunTraining(s.config.env, s.workload, s.sac, MakeOptions(s, dir));
    }));
    good_ = new std::string(NewestCheckpoint(*good_dir_));
  }
  static void TearDownTestSuite() {
    delete good_;
    delete good_dir_;
  }

  // A copy of the good checkpoint to damage.
  static std::string CopyOfGood(const std::string& name) {
    const std::string path = TempPath(name);
    fs::copy_file(*good_, path, fs::copy_options::overwrite_existing);
    return path;
  }

  // Resumes from `path` into a run directory that already holds a run; expects one
  // UserError naming the file and containing `expected`, and the folder unchanged.
  static void ExpectRejected(const std::string& path, const std::string& expected,
                             const std::vector<std::string>& overrides = {}) {
    const TrainingSetup s = MakeSetup(overrides);
    const std::string run = FreshDir("bad_run_dir");
    fs::copy(*good_dir_, run, fs::copy_options::recursive);
    const auto before = Snapshot(run);
    TrainLoopOptions options = MakeOptions(s, run);
    options.resume_from = path;
    try {
      RunTraining(s.config.env, s.workload, s.sac, options);
      ADD_FAILURE() << "resuming from " << path << " did not fail";
    } catch (const UserError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path), std::string::npos) << message;
      EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
    EXPECT_EQ(Snapshot(run), before) << "the run directory changed";
  }

  static std::string* good_;
  static std::string* good_dir_;
};
std::string* BadCheckpoint::good_ = nullptr;
std::string* BadCheckpoint::good_dir_ = nullptr;

TEST_F(BadCheckpoint, GoodFileLoads) {
  const TrainingSetup s = MakeSetup({"train.total_frames=150"});
  const Loaded l = Load(s, *good_);
  EXPECT_EQ(l.state.frames, 150);
}

TEST_F(BadCheckpoint, MissingFile) {
  ExpectRejected(TempPath("no_such_checkpoint.h5"), "does not exist");
}

TEST_F(BadCheckpoint, NotHdf5) {
  const std::string path = TempPath("not_hdf5.h5");
  std::ofstream(path) << "frames,updates\n1,2\n";
  ExpectRejected(path, "not an HDF5 file");
}

TEST_F(BadCheckpoint, Truncated) {
  const std::string path = CopyOfGood("truncated.h5");
  fs::resize_file(path, fs::file_size(path) / 2);
  ExpectRejected(path, "truncated or damaged");
}

TEST_F(BadCheckpoint, CorruptedBytesInTheMiddle) {
  const std::string path = CopyOfGood("corrupted.h5");
  const auto size = fs::file_size(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  // Most of the file is replay data; every chunk carries a Fletcher-32 checksum.
  for (double at : {0.3, 0.5, 0.7}) {
    f.seekp(static_cast<std::streamoff>(size * at));
    const std::string junk(512, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  f.close();
  ExpectRejected(path, "damaged");
}

TEST_F(BadCheckpoint, WrongFormatVersion) {
  const std::string path = CopyOfGood("wrong_version.h5");
  {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t attr = H5Aopen(file, "format_version", H5P_DEFAULT);
    const int64_t version = 99;
    H5Awrite(attr, H5T_NATIVE_INT64, &version);
    H5Aclose(attr);
    H5Fclose(file);
  }
  ExpectRejected(path, "format_version=99 but this build reads version " +
                           std::to_string(kCheckpointFormatVersion));
}

TEST_F(BadCheckpoint, MissingDataset) {
  const std::string path = CopyOfGood("missing_dataset.h5");
  {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(file, "/ranks/0/replay/next_obs/waiting", H5P_DEFAULT);
    H5Fclose(file);
  }
  ExpectRejected(path, "dataset /ranks/0/replay/next_obs/waiting is missing");
}

TEST_F(BadCheckpoint, PolicyFileInsteadOfCheckpoint) {
  ExpectRejected((fs::path(*good_dir_) / "policy.h5").string(), "format 'qosroute-policy'");
}

TEST_F(BadCheckpoint, DifferentArchitecture) {
  ExpectRejected(*good_, "hidden=16 but the config asks for 32", {"han.hidden=32"});
}

TEST_F(BadCheckpoint, DifferentExpertCount) {
  ExpectRejected(*good_, "num_experts=2 but the config asks for 3",
                 {"cluster.experts=alpaca-native,chatglm-6b,mpt-7b-instruct"});
}

TEST_F(BadCheckpoint, DifferentExpertAggregates) {
  ExpectRejected(*good_,
                 "observation feature groups that differ from this run's: expert.aggregates (the "
                 "file does not; this run has it, v1, 7 columns)",
                 {"env.expert_aggregates=true"});
}

TEST_F(BadCheckpoint, DifferentEnvCountOrReplayCapacity) {
  ExpectRejected(*good_, "train.num_envs", {"train.num_envs=3"});
  ExpectRejected(*good_, "train.replay_capacity", {"train.replay_capacity=512"});
}

TEST_F(BadCheckpoint, FreshRunRefusesADirectoryThatHoldsCheckpoints) {
  const TrainingSetup s = MakeSetup();
  const std::string run = FreshDir("bad_fresh_into_old");
  fs::copy(*good_dir_, run, fs::copy_options::recursive);
  const auto before = Snapshot(run);
  try {
    RunTraining(s.config.env, s.workload, s.sac, MakeOptions(s, run));
    ADD_FAILURE() << "a fresh run overwrote a run directory with checkpoints";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("already holds checkpoints"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(Snapshot(run), before);
}

TEST_F(BadCheckpoint, InspectRejectsBadFilesToo) {
  const std::string path = TempPath("inspect_not_hdf5.h5");
  std::ofstream(path) << "hello";
  EXPECT_THROW(DescribeCheckpoint(path), UserError);
  EXPECT_THROW(DescribeCheckpoint((fs::path(*good_dir_) / "policy.h5").string()), UserError);
}

}  // namespace
}  // namespace qosroute
