// FusedAdam against torch::optim::Adam: the same two-group model trained side by side on the
// same data (with a learning-rate change midway) stays equal, gradients land in the flat
// buffer, and the state converts to and from the per-parameter form.
#include "learner/fused_adam.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <vector>

namespace qosroute {
namespace {

// Two groups as in SAC: an MLP (with weight decay, other betas) and a head plus a scalar.
struct Model {
  torch::nn::Sequential mlp{torch::nn::Linear(5, 16), torch::nn::ReLU(), torch::nn::Linear(16, 3)};
  torch::nn::Linear head{3, 2};
  torch::Tensor log_scale = torch::zeros({}, torch::requires_grad());

  explicit Model(uint64_t seed) {
    torch::manual_seed(seed);
    for (auto& p : Group(0)) {
      torch::NoGradGuard no_grad;
      p.uniform_(-0.5, 0.5);
    }
  }
  std::vector<torch::Tensor> Group(int g) const {
    if (g == 0) return mlp->parameters();
    std::vector<torch::Tensor> out = head->parameters();
    out.push_back(log_scale);
    return out;
  }
  torch::Tensor Loss(const torch::Tensor& x, const torch::Tensor& y) {
    const torch::Tensor z = mlp->forward(x);
    // The head reads z detached, as SAC's actor reads detached embeddings: each group has
    // its own loss and every parameter gets a gradient.
    const torch::Tensor out = head->forward(z.detach()) * log_scale.exp();
    return (z - y.narrow(1, 0, 3)).pow(2).mean() + (out - y.narrow(1, 3, 2)).pow(2).mean();
  }
};

const FusedAdamOptions kMlpOptions{1e-2, 0.8, 0.99, 1e-6, 1e-3};
const FusedAdamOptions kHeadOptions{3e-3, 0.9, 0.999, 1e-8, 0.0};

torch::optim::AdamOptions TorchOptions(const FusedAdamOptions& o) {
  return torch::optim::AdamOptions(o.lr)
      .betas({o.beta1, o.beta2})
      .eps(o.eps)
      .weight_decay(o.weight_decay);
}

void CopyParameters(const Model& from, Model& to) {
  torch::NoGradGuard no_grad;
  for (int g = 0; g < 2; ++g) {
    const auto src = from.Group(g);
    auto dst = to.Group(g);
    for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  }
}

double MaxDifference(const Model& a, const Model& b) {
  double worst = 0;
  for (int g = 0; g < 2; ++g) {
    const auto pa = a.Group(g), pb = b.Group(g);
    for (size_t i = 0; i < pa.size(); ++i)
      worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
  }
  return worst;
}

struct Batch {
  torch::Tensor x, y;
};

std::vector<Batch> Data(int n) {
  torch::manual_seed(99);
  std::vector<Batch> out;
  for (int i = 0; i < n; ++i) out.push_back({torch::randn({32, 5}), torch::randn({32, 5})});
  return out;
}

// drop_gradients: clear grads before backward (what SacAgent does today), so autograd makes
// fresh tensors and step() copies them in; otherwise zero_grad() keeps the flat views.
void TrainSideBySide(bool drop_gradients) {
  Model reference(1), fused_model(2);
  CopyParameters(reference, fused_model);
  torch::optim::Adam adam_mlp(reference.Group(0), TorchOptions(kMlpOptions));
  torch::optim::Adam adam_head(reference.Group(1), TorchOptions(kHeadOptions));
  FusedAdam fused({{fused_model.Group(0), kMlpOptions}, {fused_model.Group(1), kHeadOptions}});
  ASSERT_EQ(MaxDifference(reference, fused_model), 0.0);  // flattening kept the values

  const std::vector<Batch> data = Data(50);
  for (int step = 0; step < 50; ++step) {
    if (step == 25) {  // the learning-rate schedule's kind of change
      static_cast<torch::optim::AdamOptions&>(adam_mlp.param_groups()[0].options()).lr(2e-3);
      fused.set_lr(0, 2e-3);
    }
    adam_mlp.zero_grad();
    adam_head.zero_grad();
    const torch::Tensor ref_loss = reference.Loss(data[step].x, data[step].y);
    ref_loss.backward();
    adam_mlp.step();
    adam_head.step();

    if (drop_gradients) {
      for (int g = 0; g < 2; ++g)
        for (auto& p : fused_model.Group(g)) p.mutable_grad() = torch::Tensor();
    } else {
      fused.zero_grad();
    }
    const torch::Tensor loss = fused_model.Loss(data[step].x, data[step].y);
    loss.backward();
    fused.step();
    ASSERT_NEAR(loss.item<double>(), ref_loss.item<double>(), 1e-6) << "step " << step;
  }
  // Absolute, on parameters of size ~0.1-1 after 50 steps (printed: it has been exactly 0).
  const double difference = MaxDifference(reference, fused_model);
  std::printf("max |parameter difference| after 50 steps: %g\n", difference);
  EXPECT_LT(difference, 1e-6);
  EXPECT_EQ(fused.step_count(0), 50);
  EXPECT_EQ(fused.step_count(1), 50);
  // The per-parameter views hold torch's per-parameter state.
  const auto ref_params = reference.Group(0);
  for (size_t i = 0; i < ref_params.size(); ++i) {
    const auto& s = static_cast<const torch::optim::AdamParamState&>(
        *adam_mlp.state().at(c10::guts::to_string(ref_params[i].unsafeGetTensorImpl())));
    EXPECT_EQ(s.step(), fused.step_count(0));
    EXPECT_LT((s.exp_avg() - fused.exp_avg_of(0, i)).abs().max().item<double>(), 1e-7);
    EXPECT_LT((s.exp_avg_sq() - fused.exp_avg_sq_of(0, i)).abs().max().item<double>(), 1e-9);
  }
}

TEST(FusedAdam, MatchesTorchAdamWithFlatGradientViews) {
  TrainSideBySide(false);
}

TEST(FusedAdam, MatchesTorchAdamWhenGradientsAreDropped) {
  TrainSideBySide(true);
}

TEST(FusedAdam, BackwardAccumulatesIntoTheFlatBuffer) {
  Model model(3);
  FusedAdam fused({{model.Group(0), kMlpOptions}, {model.Group(1), kHeadOptions}});
  const std::vector<Batch> data = Data(1);
  fused.zero_grad();
  model.Loss(data[0].x, data[0].y).backward();
  // Same storage: autograd added into the views instead of replacing them.
  int64_t offset = 0;
  for (const auto& p : model.Group(0)) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_EQ(p.grad().data_ptr(), fused.flat_grads(0).narrow(0, offset, 1).data_ptr());
    EXPECT_EQ(p.data_ptr(), fused.flat_params(0).narrow(0, offset, 1).data_ptr());
    offset += p.numel();
  }
  EXPECT_EQ(offset, fused.flat_grads(0).numel());
  EXPECT_GT(fused.flat_grads(0).abs().sum().item<double>(), 0.0);
  EXPECT_GT(fused.flat_grads(1).abs().sum().item<double>(), 0.0);
  fused.zero_grad();
  EXPECT_EQ(fused.flat_grads(0).abs().sum().item<double>(), 0.0);
}

TEST(FusedAdam, StateRoundTripsThroughThePerParameterForm) {
  const std::vector<Batch> data = Data(30);
  Model original(4);
  FusedAdam fused({{original.Group(0), kMlpOptions}, {original.Group(1), kHeadOptions}});
  auto train = [&data](Model& m, FusedAdam& opt, int from, int to) {
    for (int s = from; s < to; ++s) {
      opt.zero_grad();
      m.Loss(data[s].x, data[s].y).backward();
      opt.step();
    }
  };
  train(original, fused, 0, 20);

  // Save as a checkpoint would: per-parameter copies plus the step count.
  std::vector<std::vector<torch::Tensor>> saved_avg(2), saved_sq(2);
  for (size_t g = 0; g < 2; ++g) {
    for (size_t i = 0; i < fused.params(g).size(); ++i) {
      saved_avg[g].push_back(fused.exp_avg_of(g, i).clone());
      saved_sq[g].push_back(fused.exp_avg_sq_of(g, i).clone());
    }
  }
  const int64_t saved_step = fused.step_count(0);

  Model restored(5);
  CopyParameters(original, restored);
  FusedAdam loaded({{restored.Group(0), kMlpOptions}, {restored.Group(1), kHeadOptions}});
  for (size_t g = 0; g < 2; ++g) {
    loaded.set_step_count(g, saved_step);
    for (size_t i = 0; i < loaded.params(g).size(); ++i) {
      loaded.exp_avg_of(g, i).copy_(saved_avg[g][i]);
      loaded.exp_avg_sq_of(g, i).copy_(saved_sq[g][i]);
    }
  }
  EXPECT_TRUE(torch::equal(loaded.exp_avg(0), fused.exp_avg(0)));
  EXPECT_TRUE(torch::equal(loaded.exp_avg_sq(1), fused.exp_avg_sq(1)));
  train(original, fused, 20, 30);
  train(restored, loaded, 20, 30);
  EXPECT_EQ(MaxDifference(original, restored), 0.0);  // bit for bit, as a resume must be

  // A fresh optimizer (no state loaded) takes different steps: the state mattered.
  Model fresh(6);
  CopyParameters(restored, fresh);
  FusedAdam cold({{fresh.Group(0), kMlpOptions}, {fresh.Group(1), kHeadOptions}});
  train(fresh, cold, 20, 21);
  EXPECT_GT(MaxDifference(restored, fresh), 1e-6);
}

TEST(FusedAdam, RejectsSharedParametersAndEmptyGroups) {
  Model model(7);
  const std::vector<FusedAdamGroup> shared = {{model.Group(0), {}}, {model.Group(0), {}}};
  EXPECT_THROW(FusedAdam{shared}, std::invalid_argument);
  const std::vector<FusedAdamGroup> empty = {FusedAdamGroup{}};
  EXPECT_THROW(FusedAdam{empty}, std::invalid_argument);
}

}  // namespace
}  // namespace qosroute
