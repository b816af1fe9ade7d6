#include <gtest/gtest.h>

#include <map>

#include "replay/uniform_replay.h"

namespace qosroute {
namespace {

Observation Tagged(float tag) {
  Observation o;
  o.Resize(2, 2, 2);
  o.request[0] = tag;
  return o;
}

TEST(UniformReplay, EvictsTheOldestWhenFull) {
  UniformReplay replay(3);
  for (int i = 0; i < 5; ++i) replay.Add(Tagged(i), i, 0.5f * i, Tagged(i + 1), false);
  EXPECT_EQ(replay.size(), 3);
  EXPECT_EQ(replay.total_added(), 5);
  std::multiset<int> actions;
  for (int i = 0; i < 3; ++i) actions.insert(replay.at(i).action);
  EXPECT_EQ(actions, (std::multiset<int>{2, 3, 4}));
  for (int i = 0; i < 3; ++i) {
    const Transition& t = replay.at(i);
    EXPECT_EQ(t.obs.request[0], static_cast<float>(t.action));
    EXPECT_EQ(t.next_obs.request[0], static_cast<float>(t.action + 1));
    EXPECT_EQ(t.reward, 0.5f * t.action);
  }
}

TEST(UniformReplay, SamplesEveryStoredTransitionUniformly) {
  UniformReplay replay(4);
  for (int i = 0; i < 4; ++i) replay.Add(Tagged(i), i, 0, Tagged(i), false);
  Rng rng(1);
  std::vector<int> idx;
  std::map<int, int> counts;
  for (int k = 0; k < 1000; ++k) {
    replay.SampleIndices(8, rng, &idx);
    for (int i : idx) ++counts[i];
  }
  ASSERT_EQ(counts.size(), 4u);
  for (const auto& [i, c] : counts) EXPECT_NEAR(c, 2000, 200) << "index " << i;
}

}  // namespace
}  // namespace qosroute
