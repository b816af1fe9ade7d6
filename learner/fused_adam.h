#pragma once
// Adam over flat buffers: a handful of kernels per parameter group instead of ~10 per tensor.
//
// Why: the SAC update has 74 parameter tensors in three optimizers, and torch::optim::Adam
// runs ~8 small ops on each (~590 dispatches per update, docs/PERFORMANCE.md), which costs
// more than their arithmetic. Here each group's parameters are re-pointed (set_data) to views
// into one contiguous tensor, their gradients are views into a second one, and step() runs
// the same arithmetic as torch::optim::Adam (LibTorch 1.13, amsgrad off) once per group.
//
// Gradients: zero_grad() zeroes the flat gradient buffer and leaves every param.grad() a view
// of it; autograd then accumulates into the existing grad in place (AccumulateGrad's "+="
// path), so backward writes straight into the flat buffer. A gradient that was replaced or
// dropped since (e.g. `p.mutable_grad() = {}` before backward) is copied in at step(), so
// the optimizer is correct either way and fast in the first.
//
// Differences from torch::optim::Adam: one step count per group, not per tensor. A group in
// which no parameter has a gradient is skipped (as torch skips each such tensor); in a group
// where only some have one, the others count as zero gradients (torch would skip them).
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace qosroute {

struct FusedAdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient, as torch::optim::Adam (not AdamW)
};

struct FusedAdamGroup {
  std::vector<torch::Tensor> params;  // leaves, same dtype and device, none shared
  FusedAdamOptions options;
};

class FusedAdam {
 public:
  // Moves every parameter's values into its group's flat buffer (the tensors stay the same
  // objects, so modules keep seeing them). Parameters must not be re-pointed afterwards
  // (module->to(), set_data): move them to their device first.
  explicit FusedAdam(std::vector<FusedAdamGroup> groups);

  void zero_grad();
  void step();

  size_t num_groups() const { return groups_.size(); }
  const std::vector<torch::Tensor>& params(size_t g) const { return groups_[g].params; }
  FusedAdamOptions& options(size_t g) { return groups_[g].options; }
  const FusedAdamOptions& options(size_t g) const { return groups_[g].options; }
  void set_lr(size_t g, double lr) { groups_[g].options.lr = lr; }

  // State, flat (one 1-D tensor per group, parameters in the order given) and live: write
  // into them to restore. step(g) = 0 means never stepped (moments all zero).
  const torch::Tensor& flat_params(size_t g) const { return groups_[g].flat; }
  const torch::Tensor& flat_grads(size_t g) const { return groups_[g].grad; }
  const torch::Tensor& exp_avg(size_t g) const { return groups_[g].exp_avg; }
  const torch::Tensor& exp_avg_sq(size_t g) const { return groups_[g].exp_avg_sq; }
  int64_t step_count(size_t g) const { return groups_[g].step; }
  void set_step_count(size_t g, int64_t step) { groups_[g].step = step; }

  // The per-parameter form (what torch::optim::Adam keeps, and the checkpoints store): live
  // views of exp_avg / exp_avg_sq shaped like parameter i of group g. Reading them and
  // copy_()ing into them converts between the two layouts without a copy of the rest.
  torch::Tensor exp_avg_of(size_t g, size_t i) const;
  torch::Tensor exp_avg_sq_of(size_t g, size_t i) const;

 private:
  struct Group {
    std::vector<torch::Tensor> params;
    FusedAdamOptions options;
    std::vector<int64_t> offsets;  // offsets[i] = first element of params[i]; back() = total
    torch::Tensor flat, grad, exp_avg, exp_avg_sq, denom;
    int64_t step = 0;
  };
  // Parameter i's part of a flat buffer, shaped like it; and where its gradient should live.
  static torch::Tensor Slot(const Group& group, const torch::Tensor& flat, size_t i);
  static const void* GradSlotPtr(const Group& group, size_t i);
  // Copies gradients that are not views of the flat buffer into it; false if none had one.
  bool GatherGradients(Group& group);

  std::vector<Group> groups_;
};

}  // namespace qosroute
