// The whole distributed trainer with ranks as threads over the in-process transport: fast,
// no MPI. (The same code under mpiexec is tested by distributed_train_np*.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "common/transport_inproc.h"
#include "env_test_util.h"
#include "learner/distributed_run.h"

namespace qosroute {
namespace {

SacConfig SmallSac() {
  SacConfig c;
  c.han.hidden(16).heads(2).layers(1);
  c.mlp_hidden = {16};
  c.seed = 3;
  c.torch_threads = 1;
  return c;
}

DistributedOptions SmallOptions() {
  DistributedOptions o;
  o.train.total_frames = 600;
  o.train.warmup_frames = 100;
  o.train.updates_per_frame = 0.125;
  o.train.batch_size = 16;
  o.train.replay_capacity = 2000;
  o.train.log_every_frames = 100000;
  o.train.eval_every_frames = 100000000;
  o.train.num_envs = 2;
  o.publish_every_updates = 3;
  o.send_transitions = 16;
  o.wait_timeout_s = 60;
  o.evaluate = false;
  o.write_metrics = false;
  return o;
}

struct Job {
  std::vector<DistributedResult> results;
  std::string abort_message;
};

Job RunJob(const RoleLayout& layout, const DistributedOptions& options) {
  const EnvConfig env = testing_util::PaperLikeConfig(6.0, 150);
  auto workload = testing_util::SyntheticTestWorkload(500);
  InProcessHub hub(layout.world);
  Job job;
  job.results.resize(layout.world);
  std::vector<std::thread> ranks;
  for (int r = 0; r < layout.world; ++r) {
    ranks.emplace_back([&, r] {
      InProcessTransport transport(&hub, r);
      LocalGradientSync sync;
      try {
        job.results[r] =
            RunDistributedRank(layout, options, env, workload, SmallSac(), &transport, &sync);
      } catch (const JobAborted&) {
      }
    });
  }
  for (auto& t : ranks) t.join();
  if (auto message = hub.abort_message()) job.abort_message = *message;
  return job;
}

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
