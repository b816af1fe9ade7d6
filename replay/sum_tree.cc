#include "replay/sum_tree.h"

#include <cmath>

#include "common/error.h"

namespace qosroute {

SumTree::SumTree(int capacity) : capacity_(capacity) {
  QR_CHECK(capacity >= 1);
  leaf_base_ = 1;
  while (leaf_base_ < capacity) leaf_base_ *= 2;
  nodes_.assign(2 * leaf_base_, 0.0);
}

void SumTree::Set(int index, double priority) {
  QR_CHECK(index >= 0 && index < capacity_);
  QR_CHECK_MSG(priority >= 0.0 && std::isfinite(priority),
               "priority must be finite and non-negative");
  int node = leaf_base_ + index;
  nodes_[node] = priority;
  // Recomputing parents from children (not adding deltas) keeps rounding from drifting.
  for (node /= 2; node >= 1; node /= 2) nodes_[node] = nodes_[2 * node] + nodes_[2 * node + 1];
}

int SumTree::Find(double prefix) const {
  QR_CHECK(Total() > 0.0);
  int node = 1;
  while (node < leaf_base_) {
    const int left = 2 * node;
    if (prefix < nodes_[left] || nodes_[left + 1] <= 0.0) {
      node = left;
    } else {
      prefix -= nodes_[left];
      node = left + 1;
    }
  }
  int index = node - leaf_base_;
  // Rounding can land on an empty leaf at the right edge; step back to a non-empty one.
  while (index > 0 && nodes_[leaf_base_ + index] <= 0.0) --index;
  return index;
}

int SumTree::Sample(Rng& rng) const {
  return Find(rng.Uniform() * Total());
}

}  // namespace qosroute
