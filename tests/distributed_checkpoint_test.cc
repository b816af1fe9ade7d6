// Checkpoints of the distributed trainer with ranks as threads (no MPI): a job stopped by a
// checkpoint and resumed from it loses and repeats no transition, continues its counters, and
// restores replay sizes and the weight version; periodic checkpoints leave a run undisturbed;
// bad or mismatched files are refused with a message. (Under mpiexec: mpi_resume tests.)
#include "learner/distributed_checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "checkpoint/files.h"
#include "common/error.h"
#include "distributed_test_util.h"
#include "runner/job_plan.h"

namespace qosroute {
namespace {

namespace fs = std::filesystem;
using testing_util::Job;
using testing_util::RunJob;
using testing_util::SmallOptions;
using testing_util::SmallSac;

constexpr long kTotalUpdates = static_cast<long>((600 - 100) * 0.125);  // SmallOptions

std::string FreshRunDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("qosroute_dist_ckpt_" + std::to_string(getpid()) + "_" + name);
  fs::remove_all(dir);
  return dir.string();
}

DistributedCheckpointExpectations ExpectationsFor(const RoleLayout& layout,
                                                  const DistributedOptions& options) {
  DistributedCheckpointExpectations e;
  e.layout = layout;
  e.num_envs = options.train.num_envs;
  e.shard_capacity = MakeDistributedPlan(layout, options).shard_capacity;
  e.prioritized = options.prioritized;
  return e;
}

std::shared_ptr<const DistributedCheckpoint> Read(const std::string& path, const RoleLayout& layout,
                                                  const DistributedOptions& options) {
  const SacAgent reference(SmallSac());
  return std::make_shared<DistributedCheckpoint>(
      ReadDistributedCheckpoint(path, ExpectationsFor(layout, options), reference));
}

struct Case {
  const char* name;
  RoleLayout layout;
  bool prioritized;
  size_t chunk_bytes;
};

class StopAndResume : public ::testing::TestWithParam<Case> {};

TEST_P(StopAndResume, EveryTransitionOnceCountersContinueStateRestored) {
  const Case c = GetParam();
  DistributedOptions options = SmallOptions();
  options.prioritized = c.prioritized;
  options.max_chunk_bytes = c.chunk_bytes;
  options.train.run_dir = FreshRunDir(c.name);
  options.train.stop_at_updates = 30;

  const Job first = RunJob(c.layout, options);
  ASSERT_EQ(first.abort_message, "");
  const DistributedResult& stopped = first.results[0];
  ASSERT_TRUE(stopped.train.stopped);
  EXPECT_EQ(stopped.train.updates, 30);
  EXPECT_EQ(stopped.checkpoints, 1);
  for (int r = 1; r < c.layout.world; ++r) EXPECT_TRUE(first.results[r].train.stopped) << r;
  const std::string path = NewestCheckpoint(options.train.run_dir);
  ASSERT_EQ(path, CheckpointPath(options.train.run_dir, 30));

  const auto checkpoint = Read(path, c.layout, options);
  const LearnerZeroState& saved = checkpoint->learner;
  EXPECT_EQ(saved.updates, 30);
  EXPECT_EQ(saved.frames(), stopped.train.frames);
  EXPECT_GT(saved.weight_version, 0);
  long sent = 0, stored = 0, queued = 0;
  for (const auto& [rank, a] : checkpoint->actors) {
    sent += a.transitions_sent;
    EXPECT_EQ(a.transitions_sent + a.outgoing_count, a.frames) << "actor at rank " << rank;
  }
  for (const auto& [rank, s] : checkpoint->shards) {
    stored += s.totals.transitions;
    EXPECT_EQ(s.size, s.totals.transitions) << "nothing evicted at this size";
    EXPECT_EQ(s.priorities.empty(), !c.prioritized);
    for (const auto& m : s.pending_inserts) queued += ReadTransitionsHeader(m).count;
  }
  EXPECT_GT(stored, 0);
  // What actors sent is either stored or queued at its shard: nothing is in flight.
  EXPECT_EQ(sent, stored + queued);

  options.train.stop_at_updates = 0;
  options.resume = checkpoint;
  options.resuming = true;
  const Job second = RunJob(c.layout, options);
  ASSERT_EQ(second.abort_message, "");
  const DistributedResult& done = second.results[0];
  EXPECT_FALSE(done.train.stopped);
  EXPECT_EQ(done.train.updates, kTotalUpdates);  // 30 before + the rest, not a restart
  EXPECT_EQ(done.train.frames, options.train.total_frames);
  EXPECT_GE(done.train.episodes, saved.episodes);
  // Every transition of the whole run, across the stop, reached a shard exactly once.
  EXPECT_EQ(done.actor_transitions, options.train.total_frames);
  EXPECT_TRUE(done.stream_consistent);
  for (int a = 0; a < c.layout.num_actors(); ++a) {
    const DistributedResult& actor = second.results[c.layout.ActorRank(a)];
    ASSERT_FALSE(actor.versions_adopted.empty());
    // The weight version continues from the checkpoint's.
    EXPECT_GT(actor.versions_adopted.front(), saved.weight_version);
  }
  fs::remove_all(options.train.run_dir);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, StopAndResume,
    ::testing::Values(Case{"hosted_shard", RoleLayout{3, 1, 0}, false, 64u << 20},
                      Case{"shard_rank", RoleLayout{4, 1, 1}, false, 64u << 20},
                      Case{"two_shards_small_chunks", RoleLayout{5, 1, 2}, false, 4096},
                      Case{"prioritized", RoleLayout{4, 1, 0}, true, 64u << 20}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(DistributedCheckpoint, PeriodicCheckpointsLeaveTheRunIntact) {
  DistributedOptions options = SmallOptions();
  options.train.run_dir = FreshRunDir("periodic");
  options.train.checkpoint.every_updates = 10;
  options.train.checkpoint.keep = 2;
  const RoleLayout layout{4, 1, 1};
  const Job job = RunJob(layout, options);
  ASSERT_EQ(job.abort_message, "");
  const DistributedResult& l0 = job.results[0];
  EXPECT_TRUE(l0.stream_consistent);
  EXPECT_EQ(l0.train.updates, kTotalUpdates);
  EXPECT_EQ(l0.checkpoints, static_cast<int>(kTotalUpdates / 10));
  const auto files = ListCheckpoints(CheckpointFolder(options.train.run_dir));
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files.back().updates, kTotalUpdates / 10 * 10);
  EXPECT_EQ(Read(files.back().path, layout, options)->learner.updates, files.back().updates);
  fs::remove_all(options.train.run_dir);
}

TEST(DistributedCheckpoint, AStopRequestCheckpointsAtTheNextPossibleUpdate) {
  static std::atomic<bool> stop{true};  // as if SIGTERM had arrived before the first update
  DistributedOptions options = SmallOptions();
  options.train.run_dir = FreshRunDir("signal");
  options.train.stop_requested = &stop;
  const Job job = RunJob(RoleLayout{3, 1, 0}, options);
  ASSERT_EQ(job.abort_message, "");
  EXPECT_TRUE(job.results[0].train.stopped);
  // Decided during update 1, taken after update 2 (the batch for update 2 was already asked
  // for).
  EXPECT_EQ(job.results[0].train.updates, 2);
  EXPECT_EQ(NewestCheckpoint(options.train.run_dir), CheckpointPath(options.train.run_dir, 2));
  fs::remove_all(options.train.run_dir);
}

class BadCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = SmallOptions();
    options_.train.run_dir = FreshRunDir("bad");
    options_.train.stop_at_updates = 10;
    const Job job = RunJob(layout_, options_);
    ASSERT_EQ(job.abort_message, "");
    path_ = NewestCheckpoint(options_.train.run_dir);
    ASSERT_FALSE(path_.empty());
  }
  void TearDown() override { fs::remove_all(options_.train.run_dir); }

  std::string ErrorOf(const std::string& path, const RoleLayout& layout,
                      const DistributedOptions& options) {
    try {
      Read(path, layout, options);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  }

  const RoleLayout layout_{4, 1, 1};
  DistributedOptions options_;
  std::string path_;
};

TEST_F(BadCheckpoint, AnotherRankLayoutIsRefusedNamingBoth) {
  const std::string error = ErrorOf(path_, RoleLayout{3, 1, 0}, options_);
  EXPECT_NE(error.find(path_), std::string::npos) << error;
  EXPECT_NE(error.find("written by 4 ranks"), std::string::npos) << error;
  EXPECT_NE(error.find("this job has 3"), std::string::npos) << error;
}

TEST_F(BadCheckpoint, AnotherEnvCountOrCapacityIsRefused) {
  DistributedOptions more_envs = options_;
  more_envs.train.num_envs = 3;
  EXPECT_NE(ErrorOf(path_, layout_, more_envs).find("train.num_envs"), std::string::npos);
  DistributedOptions bigger = options_;
  bigger.train.replay_capacity = 4000;
  EXPECT_NE(ErrorOf(path_, layout_, bigger).find("shard capacity"), std::string::npos);
}

TEST_F(BadCheckpoint, TruncatedOrNotHdf5IsRefusedNamingTheFile) {
  const std::string truncated = options_.train.run_dir + "/truncated.h5";
  fs::copy_file(path_, truncated);
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  const std::string error = ErrorOf(truncated, layout_, options_);
  EXPECT_NE(error.find(truncated), std::string::npos) << error;
  const std::string text = options_.train.run_dir + "/text.h5";
  std::ofstream(text) << "not a checkpoint\n";
  EXPECT_NE(ErrorOf(text, layout_, options_).find(text), std::string::npos);
}

}  // namespace
}  // namespace qosroute
