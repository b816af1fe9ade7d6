#include "learner/fused_adam.h"

#include <cmath>
#include <stdexcept>
#include <unordered_set>

namespace qosroute {

FusedAdam::FusedAdam(std::vector<FusedAdamGroup> groups) {
  std::unordered_set<const void*> seen;
  for (auto& given : groups) {
    if (given.params.empty()) throw std::invalid_argument("FusedAdam: empty parameter group");
    Group g;
    g.params = std::move(given.params);
    g.options = given.options;
    const torch::TensorOptions type = g.params.front().options();
    g.offsets.push_back(0);
    for (const auto& p : g.params) {
      if (!seen.insert(p.unsafeGetTensorImpl()).second)
        throw std::invalid_argument("FusedAdam: a parameter appears twice");
      if (p.scalar_type() != type.dtype().toScalarType() || p.device() != type.device())
        throw std::invalid_argument("FusedAdam: a group mixes dtypes or devices");
      g.offsets.push_back(g.offsets.back() + p.numel());
    }
    const int64_t total = g.offsets.back();
    g.flat = torch::empty({total}, type);
    g.grad = torch::zeros({total}, type);
    g.exp_avg = torch::zeros({total}, type);
    g.exp_avg_sq = torch::zeros({total}, type);
    g.denom = torch::empty({total}, type);
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < g.params.size(); ++i) {
      torch::Tensor& p = g.params[i];
      torch::Tensor slot = Slot(g, g.flat, i);
      slot.copy_(p);
      // Same TensorImpl, new storage: modules holding p see the flat buffer from now on.
      p.set_data(slot);
      p.mutable_grad() = Slot(g, g.grad, i);
    }
    groups_.push_back(std::move(g));
  }
}

torch::Tensor FusedAdam::Slot(const Group& group, const torch::Tensor& flat, size_t i) {
  const torch::Tensor& p = group.params[i];
  return flat.narrow(0, group.offsets[i], p.numel()).view(p.sizes());
}

const void* FusedAdam::GradSlotPtr(const Group& group, size_t i) {
  return static_cast<const char*>(group.grad.data_ptr()) +
         group.offsets[i] * static_cast<int64_t>(group.grad.element_size());
}

torch::Tensor FusedAdam::exp_avg_of(size_t g, size_t i) const {
  return Slot(groups_[g], groups_[g].exp_avg, i);
}

torch::Tensor FusedAdam::exp_avg_sq_of(size_t g, size_t i) const {
  return Slot(groups_[g], groups_[g].exp_avg_sq, i);
}

void FusedAdam::zero_grad() {
  for (auto& g : groups_) {
    g.grad.zero_();
    // Re-point any gradient someone replaced or dropped, so backward accumulates in place.
    for (size_t i = 0; i < g.params.size(); ++i) {
      torch::Tensor& p = g.params[i];
      const torch::Tensor& grad = p.grad();
      if (!grad.defined() || grad.data_ptr() != GradSlotPtr(g, i))
        p.mutable_grad() = Slot(g, g.grad, i);
    }
  }
}

bool FusedAdam::GatherGradients(Group& g) {
  // Only pointer compares when backward accumulated into the views (the fast path).
  bool any = false;
  for (size_t i = 0; i < g.params.size(); ++i) {
    torch::Tensor& p = g.params[i];
    const torch::Tensor& grad = p.grad();
    if (grad.defined() && grad.data_ptr() == GradSlotPtr(g, i)) {
      any = true;
      continue;
    }
    torch::Tensor slot = Slot(g, g.grad, i);
    if (grad.defined()) {
      slot.copy_(grad);
      any = true;
    } else {
      slot.zero_();
    }
    p.mutable_grad() = slot;
  }
  return any;
}

void FusedAdam::step() {
  torch::NoGradGuard no_grad;
  for (auto& g : groups_) {
    if (!GatherGradients(g)) continue;
    const FusedAdamOptions& o = g.options;
    ++g.step;
    // The exact sequence of torch::optim::Adam::step (LibTorch 1.13, amsgrad off), so the two
    // agree to rounding: element-wise kernels give each element the same operations.
    const double bias_correction1 = 1.0 - std::pow(o.beta1, static_cast<double>(g.step));
    const double bias_correction2 = 1.0 - std::pow(o.beta2, static_cast<double>(g.step));
    torch::Tensor grad = g.grad;
    if (o.weight_decay != 0.0) grad = grad.add(g.flat, o.weight_decay);
    g.exp_avg.mul_(o.beta1).add_(grad, 1.0 - o.beta1);
    g.exp_avg_sq.mul_(o.beta2).addcmul_(grad, grad, 1.0 - o.beta2);
    torch::sqrt_out(g.denom, g.exp_avg_sq).div_(std::sqrt(bias_correction2)).add_(o.eps);
    g.flat.addcdiv_(g.exp_avg, g.denom, -o.lr / bias_correction1);
  }
}

}  // namespace qosroute
