#include "replay/sum_tree.h"

#include <gtest/gtest.h>

#include <vector>

namespace qosroute {
namespace {

TEST(SumTree, TotalIsTheSumOfLeavesAfterUpdates) {
  SumTree tree(5);
  tree.Set(0, 1.0);
  tree.Set(3, 2.5);
  tree.Set(4, 0.5);
  EXPECT_DOUBLE_EQ(tree.Total(), 4.0);
  tree.Set(3, 0.0);
  EXPECT_DOUBLE_EQ(tree.Total(), 1.5);
  EXPECT_DOUBLE_EQ(tree.Get(4), 0.5);
}

TEST(SumTree, FindReturnsTheLeafWhoseRangeHoldsThePrefix) {
  SumTree tree(4);
  tree.Set(0, 1.0);  // [0, 1)
  tree.Set(1, 0.0);
  tree.Set(2, 2.0);  // [1, 3)
  tree.Set(3, 1.0);  // [3, 4)
  EXPECT_EQ(tree.Find(0.0), 0);
  EXPECT_EQ(tree.Find(0.999), 0);
  EXPECT_EQ(tree.Find(1.0), 2);
  EXPECT_EQ(tree.Find(2.5), 2);
  EXPECT_EQ(tree.Find(3.5), 3);
  // A prefix at (or rounded past) the total lands on the last non-empty leaf, never an empty one.
  EXPECT_EQ(tree.Find(4.0), 3);
}

TEST(SumTree, NeverSamplesALeafOfPriorityZero) {
  SumTree tree(7);
  tree.Set(2, 1.0);
  tree.Set(5, 3.0);
  Rng rng(1);
  for (int i = 0; i < 10000; ++i) {
    const int leaf = tree.Sample(rng);
    EXPECT_TRUE(leaf == 2 || leaf == 5) << leaf;
  }
}

// Statistical: with a fixed seed, 200k draws over priorities 1..8 match p_i / sum within 1%
// absolute (the binomial standard deviation is below 0.1%).
TEST(SumTree, SamplingFrequenciesMatchPriorities) {
  const std::vector<double> priorities = {1, 2, 3, 4, 5, 6, 7, 8};
  SumTree tree(static_cast<int>(priorities.size()));
  double total = 0;
  for (size_t i = 0; i < priorities.size(); ++i) {
    tree.Set(static_cast<int>(i), priorities[i]);
    total += priorities[i];
  }
  Rng rng(42);
  const int draws = 200000;
  std::vector<int> counts(priorities.size(), 0);
  for (int i = 0; i < draws; ++i) ++counts[tree.Sample(rng)];
  for (size_t i = 0; i < priorities.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(counts[i]) / draws, priorities[i] / total, 0.01)
        << "leaf " << i;
  }
}

}  // namespace
}  // namespace qosroute
