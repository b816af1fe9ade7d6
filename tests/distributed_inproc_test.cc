// The whole distributed trainer with ranks as threads over the in-process transport: fast,
// no MPI. (The same code under mpiexec is tested by distributed_train_np*.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "distributed_test_util.h"

namespace qosroute {
namespace {

using testing_util::Job;
using testing_util::RunJob;
using testing_util::SmallOptions;

TEST(DistributedInProcess, EveryTransitionReachesAShardExactlyOnce) {
  const RoleLayout layout{5, 1, 2};  // learner, 2 shards, 2 actors
  const DistributedOptions options = SmallOptions();
  const Job job = RunJob(layout, options);
  ASSERT_EQ(job.abort_message, "");
  const DistributedResult& l0 = job.results[0];
  EXPECT_EQ(l0.actor_transitions, options.train.total_frames);
  EXPECT_EQ(l0.shard_transitions, options.train.total_frames);
  EXPECT_EQ(l0.actor_checksum, l0.shard_checksum);
  EXPECT_TRUE(l0.stream_consistent);
  EXPECT_EQ(l0.train.frames, options.train.total_frames);
  EXPECT_EQ(l0.train.updates, static_cast<long>((600 - 100) * 0.125));
}

TEST(DistributedInProcess, ShardsInsideTheLearnerHoldTheRateWithinTolerance) {
  const RoleLayout layout{4, 1, 0};  // learner with its shard, 3 actors
  const Job job = RunJob(layout, SmallOptions());
  ASSERT_EQ(job.abort_message, "");
  const DistributedResult& l0 = job.results[0];
  EXPECT_TRUE(l0.stream_consistent);
  EXPECT_GT(l0.rate_error_buffer, 0.0);
  EXPECT_LE(l0.max_rate_deviation, l0.rate_error_buffer);
}

TEST(DistributedInProcess, ActorsAdoptWeightVersionsOnlyForward) {
  const RoleLayout layout{3, 1, 1};
  const Job job = RunJob(layout, SmallOptions());
  ASSERT_EQ(job.abort_message, "");
  const auto& versions = job.results[2].versions_adopted;
  ASSERT_FALSE(versions.empty());
  for (size_t i = 1; i < versions.size(); ++i) EXPECT_GT(versions[i], versions[i - 1]);
  EXPECT_EQ(job.results[2].actor_frames, SmallOptions().train.total_frames);
}

TEST(DistributedInProcess, PrioritizedReplayRunsToTheEnd) {
  DistributedOptions options = SmallOptions();
  options.prioritized = true;
  const Job job = RunJob(RoleLayout{3, 1, 0}, options);
  ASSERT_EQ(job.abort_message, "");
  EXPECT_TRUE(job.results[0].stream_consistent);
}

TEST(DistributedInProcess, ARankThatFailsEndsTheJobWithItsMessage) {
  setenv("QOSROUTE_INJECT_FAILURE_RANK", "2", 1);
  DistributedOptions options = SmallOptions();
  options.wait_timeout_s = 30;
  const auto start = SteadyClock::now();
  const Job job = RunJob(RoleLayout{3, 1, 1}, options);
  unsetenv("QOSROUTE_INJECT_FAILURE_RANK");
  EXPECT_NE(job.abort_message.find("rank 2 (actor 0): fatal: injected failure"), std::string::npos)
      << job.abort_message;
  EXPECT_LT(std::chrono::duration<double>(SteadyClock::now() - start).count(), 20.0);
}

}  // namespace
}  // namespace qosroute
