#pragma once
// A sum tree over a fixed number of leaves (prioritized replay, Schaul et al. 2016): set a
// leaf's priority and find the leaf where a prefix sum falls, both in O(log capacity).
//
//            [total]
//        [a+b]     [c+d]
//       [a] [b]   [c] [d]      leaves = priorities; empty slots hold 0
//
// Not thread-safe (one shard owns one tree).
#include <cstdint>
#include <vector>

#include "common/rng.h"

namespace qosroute {

class SumTree {
 public:
  explicit SumTree(int capacity);

  void Set(int index, double priority);  // priority >= 0, finite
  double Get(int index) const { return nodes_[leaf_base_ + index]; }
  double Total() const { return nodes_[1]; }
  int capacity() const { return capacity_; }

  // The leaf whose cumulative range holds `prefix` (0 <= prefix < Total()); never a leaf of
  // priority 0, even at the edges of floating-point rounding.
  int Find(double prefix) const;
  // A leaf drawn with probability priority / Total(); requires Total() > 0.
  int Sample(Rng& rng) const;

 private:
  int capacity_;
  int leaf_base_;              // first leaf's node index (a power of two)
  std::vector<double> nodes_;  // 1-based heap layout; nodes_[0] unused
};

}  // namespace qosroute
