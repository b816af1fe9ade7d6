#include <gtest/gtest.h>

#include "common/error.h"
#include "launch/roles.h"

namespace qosroute {
namespace {

TEST(RoleLayout, AssignsLearnersThenShardsThenActors) {
  const RoleLayout layout{7, 2, 2};
  EXPECT_EQ(layout.num_actors(), 3);
  EXPECT_EQ(layout.RoleOf(1), Role::kLearner);
  EXPECT_EQ(layout.RoleOf(2), Role::kShard);
  EXPECT_EQ(layout.RoleOf(4), Role::kActor);
  EXPECT_EQ(layout.Describe(6), "actor 2");
  EXPECT_EQ(layout.ShardRank(layout.ShardOfActor(2)), 2);  // actor 2 -> shard 0 at rank 2
  EXPECT_EQ(layout.ActorsOfShard(0), 2);
  EXPECT_EQ(layout.ActorsOfShard(1), 1);
}

TEST(RoleLayout, ZeroShardsPutsOneShardInEachLearner) {
  const RoleLayout layout{5, 2, 0};
  EXPECT_EQ(layout.num_shards(), 2);
  EXPECT_EQ(layout.ShardRank(1), 1);
  EXPECT_EQ(layout.ActorRank(0), 2);
}

TEST(ResolveRoleLayout, NamesTheKeyWhenTheRanksDoNotFit) {
  RunConfig config;
  config.train.batch_size = 32;
  config.launch.learners = 2;
  config.launch.replay_shards = 1;
  try {
    ResolveRoleLayout(config, 3);
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("launch.learners"), std::string::npos) << e.what();
  }
  config.train.batch_size = 33;
  EXPECT_THROW(ResolveRoleLayout(config, 6), UserError);  // 33 does not split over 2 learners
  config.train.batch_size = 32;
  config.launch.replay_shards = 3;
  EXPECT_THROW(ResolveRoleLayout(config, 6), UserError);  // 3 shards, 1 actor
  config.launch.replay_shards = 1;
  EXPECT_EQ(ResolveRoleLayout(config, 6).num_actors(), 3);
}

TEST(WantsDistributedTraining, OnlyForSeveralRanksOrAnExplicitLayout) {
  LaunchConfig launch;
  EXPECT_FALSE(WantsDistributedTraining(launch, 1));
  EXPECT_TRUE(WantsDistributedTraining(launch, 2));
  launch.replay_shards = 1;
  EXPECT_TRUE(WantsDistributedTraining(launch, 1));
}

}  // namespace
}  // namespace qosroute
