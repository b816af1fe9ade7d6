// GraphBatch, the HAN encoder and the flat encoder: layout, masking, equivariance, any N.
#include "learner/han_encoder.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "learner/flat_encoder.h"
#include "learner/graph_batch.h"
#include "learner/han_kernels.h"
#include "learner/sac.h"

namespace qosroute {
namespace {

// Seeds torch's global generator so module initialisation is repeatable per test.
class Seeded : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(7);
    torch::set_num_threads(1);
  }
};

// An observation with random features and about half of the slots present.
Observation RandomObservation(Rng& rng, int n, int r, int w) {
  Observation o;
  o.Resize(n, r, w);
  for (float& v : o.request) v = static_cast<float>(rng.Uniform());
  for (float& v : o.expert) v = static_cast<float>(rng.Uniform());
  for (float& v : o.running) v = static_cast<float>(rng.Normal());
  for (float& v : o.waiting) v = static_cast<float>(rng.Normal());
  for (auto& m : o.running_mask) m = rng.Uniform() < 0.5 ? 1 : 0;
  for (auto& m : o.waiting_mask) m = rng.Uniform() < 0.5 ? 1 : 0;
  // Absent slots are zero, as every producer writes them (and the flat layout promises).
  for (size_t s = 0; s < o.running_mask.size(); ++s) {
    if (!o.running_mask[s]) std::fill_n(o.running.begin() + s * kSlotFeatures, kSlotFeatures, 0.0f);
  }
  for (size_t s = 0; s < o.waiting_mask.size(); ++s) {
    if (!o.waiting_mask[s]) std::fill_n(o.waiting.begin() + s * kSlotFeatures, kSlotFeatures, 0.0f);
  }
  o.action_mask[n] = rng.Uniform() < 0.5 ? 1 : 0;
  return o;
}

std::vector<Observation> RandomObservations(uint64_t seed, int count, int n, int r, int w) {
  Rng rng(seed);
  std::vector<Observation> out;
  for (int i = 0; i < count; ++i) out.push_back(RandomObservation(rng, n, r, w));
  return out;
}

GraphBatch Batch(const std::vector<Observation>& observations) {
  std::vector<const Observation*> ptrs;
  for (const auto& o : observations) ptrs.push_back(&o);
  return BatchObservations(ptrs);
}

// The same graph with extra absent slots (R2 >= R, W2 >= W) holding `garbage`.
Observation WithExtraAbsentSlots(const Observation& o, int r2, int w2, float garbage) {
  Observation big;
  big.Resize(o.num_experts, r2, w2);
  big.request = o.request;
  big.expert = o.expert;
  big.action_mask = o.action_mask;
  std::fill(big.running.begin(), big.running.end(), garbage);
  std::fill(big.waiting.begin(), big.waiting.end(), garbage);
  for (int e = 0; e < o.num_experts; ++e) {
    for (int s = 0; s < o.max_running; ++s) {
      const size_t from = static_cast<size_t>(e) * o.max_running + s;
      // Present slots are spread out, so absent ones sit between them too.
      const size_t to = static_cast<size_t>(e) * r2 + (r2 - 1 - s);
      big.running_mask[to] = o.running_mask[from];
      if (o.running_mask[from]) {
        std::copy_n(o.running.begin() + from * kSlotFeatures, kSlotFeatures,
                    big.running.begin() + to * kSlotFeatures);
      }
    }
    for (int s = 0; s < o.max_waiting; ++s) {
      const size_t from = static_cast<size_t>(e) * o.max_waiting + s;
      const size_t to = static_cast<size_t>(e) * w2 + 2 * s;
      big.waiting_mask[to] = o.waiting_mask[from];
      if (o.waiting_mask[from]) {
        std::copy_n(o.waiting.begin() + from * kSlotFeatures, kSlotFeatures,
                    big.waiting.begin() + to * kSlotFeatures);
      }
    }
  }
  return big;
}

// Experts reordered: new expert i is old expert perm[i].
Observation PermuteExperts(const Observation& o, const std::vector<int>& perm) {
  Observation p = o;
  const int r = o.max_running;
  const int w = o.max_waiting;
  for (int i = 0; i < o.num_experts; ++i) {
    const int j = perm[i];
    std::copy_n(o.expert.begin() + j * kExpertFeatures, kExpertFeatures,
                p.expert.begin() + i * kExpertFeatures);
    std::copy_n(o.running.begin() + j * r * kSlotFeatures, r * kSlotFeatures,
                p.running.begin() + i * r * kSlotFeatures);
    std::copy_n(o.running_mask.begin() + j * r, r, p.running_mask.begin() + i * r);
    std::copy_n(o.waiting.begin() + j * w * kSlotFeatures, w * kSlotFeatures,
                p.waiting.begin() + i * w * kSlotFeatures);
    std::copy_n(o.waiting_mask.begin() + j * w, w, p.waiting_mask.begin() + i * w);
    p.action_mask[i] = o.action_mask[j];
  }
  return p;
}

void ExpectClose(const torch::Tensor& a, const torch::Tensor& b, double tol = 1e-5) {
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_TRUE(torch::allclose(a, b, /*rtol=*/tol, /*atol=*/tol))
      << "max abs difference " << (a - b).abs().max().item<double>();
}

TEST(GraphBatch, CopiesEveryFieldAndNormalisesMasksToBool) {
  auto obs = RandomObservations(1, 4, 3, 5, 4);
  obs[2].running_mask[1] = 7;  // any non-zero byte means present
  const GraphBatch b = Batch(obs);
  EXPECT_EQ(b.request.sizes(), (std::vector<int64_t>{4, kRequestFeatures}));
  EXPECT_EQ(b.running.sizes(), (std::vector<int64_t>{4, 3, 5, kSlotFeatures}));
  EXPECT_EQ(b.waiting_mask.sizes(), (std::vector<int64_t>{4, 3, 4}));
  EXPECT_EQ(b.action_mask.sizes(), (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(b.running_mask.scalar_type(), torch::kBool);
  for (int i = 0; i < 4; ++i) {
    const auto& o = obs[i];
    for (size_t k = 0; k < o.expert.size(); ++k) {
      EXPECT_EQ(b.expert[i].flatten()[k].item<float>(), o.expert[k]);
    }
    for (size_t k = 0; k < o.waiting.size(); ++k) {
      EXPECT_EQ(b.waiting[i].flatten()[k].item<float>(), o.waiting[k]);
    }
    for (size_t k = 0; k < o.running_mask.size(); ++k) {
      EXPECT_EQ(b.running_mask[i].flatten()[k].item<bool>(), o.running_mask[k] != 0);
    }
    for (size_t k = 0; k < o.action_mask.size(); ++k) {
      EXPECT_EQ(b.action_mask[i][k].item<bool>(), o.action_mask[k] != 0);
    }
  }
}

TEST(GraphBatch, FlatViewMatchesObservationFlatView) {
  const auto obs = RandomObservations(2, 3, 3, 10, 10);
  const torch::Tensor flat = Batch(obs).FlatView();
  ASSERT_EQ(flat.sizes(), (std::vector<int64_t>{3, 3 * FlatWidthPerExpert(10, 10)}));
  EXPECT_EQ(FlatWidthPerExpert(10, 10), 126);
  for (int i = 0; i < 3; ++i) {
    std::vector<float> expected;
    obs[i].FlatView(&expected);
    const torch::Tensor row = flat[i].contiguous();
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), row.data_ptr<float>()));
  }
}

TEST(GraphBatch, IndexSelectPicksGraphs) {
  const auto obs = RandomObservations(3, 5, 2, 3, 3);
  const GraphBatch all = Batch(obs);
  const GraphBatch picked = all.index_select(torch::tensor({4, 1}, torch::kInt64));
  const GraphBatch direct = Batch({obs[4], obs[1]});
  EXPECT_TRUE(torch::equal(picked.running, direct.running));
  EXPECT_TRUE(torch::equal(picked.waiting_mask, direct.waiting_mask));
  EXPECT_TRUE(torch::equal(picked.action_mask, direct.action_mask));
}

TEST(MaskedSoftmax, MatchesSoftmaxOverPresentEntriesAndZeroesEmptyRows) {
  const torch::Tensor scores = torch::tensor({{1.0f, 2.0f, 3.0f}, {0.5f, -1.0f, 4.0f}});
  const torch::Tensor mask = torch::tensor({{true, false, true}, {false, false, false}});
  const torch::Tensor w = MaskedSoftmax(scores, mask, 1);
  const torch::Tensor expected_row0 = torch::softmax(torch::tensor({1.0f, 3.0f}), 0);
  EXPECT_NEAR(w[0][0].item<float>(), expected_row0[0].item<float>(), 1e-7);
  EXPECT_EQ(w[0][1].item<float>(), 0.0f);
  EXPECT_NEAR(w[0][2].item<float>(), expected_row0[1].item<float>(), 1e-7);
  EXPECT_TRUE(torch::equal(w[1], torch::zeros({3})));
}

// The fused CPU kernels must match the plain torch composition in value and gradient,
// including targets whose neighbours are all absent.
class HanKernels : public Seeded {
 protected:
  // Gradients of sum(out * probe) with respect to each input, for fused and reference paths.
  static std::vector<torch::Tensor> Grads(const std::function<torch::Tensor()>& run,
                                          const std::vector<torch::Tensor>& inputs) {
    for (const auto& t : inputs) t.mutable_grad() = torch::Tensor();
    const torch::Tensor out = run();
    torch::Tensor probe = torch::arange(out.numel(), torch::kFloat32).reshape(out.sizes()).sin();
    (out * probe).sum().backward();
    std::vector<torch::Tensor> grads{out.detach()};
    for (const auto& t : inputs) grads.push_back(t.grad().clone());
    return grads;
  }
};

TEST_F(HanKernels, AttentionMixMatchesTheTorchComposition) {
  const int64_t p = 37, m = 10, k = 4;
  for (int64_t f : {6, 64}) {
    torch::Tensor mask = torch::rand({p, m}) < 0.5;
    mask[3].fill_(false);  // a target without neighbours
    const torch::Tensor source = (torch::randn({p, m, f}) * mask.unsqueeze(-1)).requires_grad_();
    const torch::Tensor weight = torch::randn({k, f}).requires_grad_();
    const torch::Tensor bias = torch::randn({k}).requires_grad_();
    const torch::Tensor target = torch::randn({p, k}).requires_grad_();
    const std::vector<torch::Tensor> inputs{source, weight, bias, target};
    for (const auto& used_mask : {mask, torch::Tensor()}) {
      auto run = [&](bool fused) {
        return [&, fused] {
          return AttentionMix(source, used_mask, weight, bias, target, 0.2, fused);
        };
      };
      const auto fused = Grads(run(true), inputs);
      const auto reference = Grads(run(false), inputs);
      EXPECT_EQ(fused[0].sizes(), (std::vector<int64_t>{k, p, f}));
      for (size_t i = 0; i < fused.size(); ++i) {
        EXPECT_TRUE(torch::allclose(fused[i], reference[i], 1e-4, 1e-4))
            << "F=" << f << " tensor " << i << " max difference "
            << (fused[i] - reference[i]).abs().max().item<double>();
      }
    }
  }
}

TEST_F(HanKernels, EmbedSlotsMatchesTheTorchComposition) {
  const int64_t p = 29, m = 10, h = 64;
  for (int64_t f : {6, 64}) {
    torch::Tensor mask = torch::rand({p, m}) < 0.5;
    mask[0].fill_(false);
    const torch::Tensor slots = torch::randn({p, m, f}).requires_grad_();
    const torch::Tensor weight = torch::randn({h, f}).requires_grad_();
    const torch::Tensor bias = torch::randn({h}).requires_grad_();
    const torch::Tensor expert = torch::randn({p, h}).requires_grad_();
    const std::vector<torch::Tensor> inputs{slots, weight, bias, expert};
    auto run = [&](bool fused) {
      return [&, fused] { return EmbedSlots(slots, mask, weight, bias, expert, fused); };
    };
    const auto fused = Grads(run(true), inputs);
    const auto reference = Grads(run(false), inputs);
    for (size_t i = 0; i < fused.size(); ++i) {
      EXPECT_TRUE(torch::allclose(fused[i], reference[i], 1e-4, 1e-4))
          << "F=" << f << " tensor " << i << " max difference "
          << (fused[i] - reference[i]).abs().max().item<double>();
    }
  }
}

TEST_F(HanKernels, SemanticScoreMatchesTheTorchComposition) {
  const torch::Tensor pre = (torch::randn({300, 128}) * 2.0f).requires_grad_();
  const torch::Tensor query = torch::randn({128}).requires_grad_();
  const std::vector<torch::Tensor> inputs{pre, query};
  auto run = [&](bool fused) { return [&, fused] { return SemanticScore(pre, query, fused); }; };
  const auto fused = Grads(run(true), inputs);
  const auto reference = Grads(run(false), inputs);
  for (size_t i = 0; i < fused.size(); ++i) {
    EXPECT_TRUE(torch::allclose(fused[i], reference[i], 1e-5, 1e-5))
        << "tensor " << i << " max difference "
        << (fused[i] - reference[i]).abs().max().item<double>();
  }
}

TEST_F(HanKernels, FusedKernelsDoNotDependOnTheThreadCount) {
  const int64_t p = 300, m = 10, k = 4, f = 64;
  const torch::Tensor mask = torch::rand({p, m}) < 0.5;
  const torch::Tensor source = (torch::randn({p, m, f}) * mask.unsqueeze(-1)).requires_grad_();
  const torch::Tensor weight = torch::randn({k, f}).requires_grad_();
  const torch::Tensor bias = torch::randn({k}).requires_grad_();
  const torch::Tensor target = torch::randn({p, k}).requires_grad_();
  const std::vector<torch::Tensor> inputs{source, weight, bias, target};
  auto run = [&] { return AttentionMix(source, mask, weight, bias, target, 0.2); };
  const auto one = Grads(run, inputs);
  torch::set_num_threads(2);
  const auto two = Grads(run, inputs);
  torch::set_num_threads(1);
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(torch::equal(one[i], two[i])) << i;
}

class HanEncoderTest : public Seeded {};

TEST_F(HanEncoderTest, OutputsRequestAndExpertEmbeddings) {
  HanEncoder han(HanEncoderOptions().hidden(32).heads(4).layers(2));
  const NodeEmbeddings e = han->forward(Batch(RandomObservations(4, 5, 3, 10, 10)));
  EXPECT_EQ(e.request.sizes(), (std::vector<int64_t>{5, 32}));
  EXPECT_EQ(e.experts.sizes(), (std::vector<int64_t>{5, 3, 32}));
  EXPECT_TRUE(torch::isfinite(e.request).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(e.experts).all().item<bool>());
}

TEST_F(HanEncoderTest, RejectsHiddenNotDivisibleByHeads) {
  EXPECT_THROW(HanEncoder(HanEncoderOptions().hidden(30).heads(4)), UserError);
}

TEST_F(HanEncoderTest, AddingAbsentSlotsLeavesOutputsUnchanged) {
  HanEncoder han{HanEncoderOptions()};
  torch::NoGradGuard no_grad;
  const auto obs = RandomObservations(5, 6, 3, 4, 3);
  std::vector<Observation> bigger;
  for (const auto& o : obs) bigger.push_back(WithExtraAbsentSlots(o, 9, 7, 123.0f));
  const NodeEmbeddings small = han->forward(Batch(obs));
  const NodeEmbeddings big = han->forward(Batch(bigger));
  ExpectClose(small.request, big.request);
  ExpectClose(small.experts, big.experts);
}

TEST_F(HanEncoderTest, FeaturesInsideAbsentSlotsHaveNoEffectEvenNaN) {
  HanEncoder han{HanEncoderOptions()};
  torch::NoGradGuard no_grad;
  auto obs = RandomObservations(6, 4, 3, 10, 10);
  const NodeEmbeddings before = han->forward(Batch(obs));
  const float values[] = {1e6f, -3.0f, std::numeric_limits<float>::quiet_NaN()};
  for (float garbage : values) {
    for (auto& o : obs) {
      for (size_t s = 0; s < o.running_mask.size(); ++s) {
        if (!o.running_mask[s])
          std::fill_n(o.running.begin() + s * kSlotFeatures, kSlotFeatures, garbage);
      }
      for (size_t s = 0; s < o.waiting_mask.size(); ++s) {
        if (!o.waiting_mask[s])
          std::fill_n(o.waiting.begin() + s * kSlotFeatures, kSlotFeatures, garbage);
      }
    }
    const NodeEmbeddings after = han->forward(Batch(obs));
    EXPECT_TRUE(torch::equal(before.request, after.request)) << "garbage " << garbage;
    EXPECT_TRUE(torch::equal(before.experts, after.experts)) << "garbage " << garbage;
  }
}

TEST_F(HanEncoderTest, PresentSlotFeaturesDoAffectTheOutput) {
  // Guards the tests above against an encoder that ignores slots altogether.
  HanEncoder han{HanEncoderOptions()};
  torch::NoGradGuard no_grad;
  auto obs = RandomObservations(7, 1, 2, 4, 4);
  obs[0].running_mask[0] = 1;
  obs[0].waiting_mask[0] = 1;
  const NodeEmbeddings before = han->forward(Batch(obs));
  obs[0].running[0] += 1.0f;
  const NodeEmbeddings after_running = han->forward(Batch(obs));
  EXPECT_FALSE(torch::allclose(before.request, after_running.request));
  EXPECT_FALSE(torch::allclose(before.experts[0][0], after_running.experts[0][0]));
  obs[0].waiting[0] += 1.0f;
  const NodeEmbeddings after_waiting = han->forward(Batch(obs));
  EXPECT_FALSE(torch::allclose(after_running.experts[0][0], after_waiting.experts[0][0]));
}

TEST_F(HanEncoderTest, EmptyQueuesEverywhereGiveFiniteOutputs) {
  HanEncoder han{HanEncoderOptions()};
  Observation o;
  o.Resize(3, 10, 10);
  o.expert.assign(o.expert.size(), 0.3f);
  const NodeEmbeddings e = han->forward(Batch({o}));
  EXPECT_TRUE(torch::isfinite(e.request).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(e.experts).all().item<bool>());
}

TEST_F(HanEncoderTest, PermutingExpertsPermutesEmbeddingsAndKeepsTheRequestEmbedding) {
  HanEncoder han{HanEncoderOptions()};
  torch::NoGradGuard no_grad;
  const std::vector<int> perm = {2, 0, 3, 1};
  const auto obs = RandomObservations(8, 5, 4, 6, 5);
  std::vector<Observation> permuted;
  for (const auto& o : obs) permuted.push_back(PermuteExperts(o, perm));
  const NodeEmbeddings a = han->forward(Batch(obs));
  const NodeEmbeddings b = han->forward(Batch(permuted));
  ExpectClose(a.request, b.request);
  ExpectClose(a.experts.index_select(1, torch::tensor({2, 0, 3, 1}, torch::kInt64)), b.experts);
}

TEST_F(HanEncoderTest, ActionProbabilitiesPermuteWithTheExperts) {
  SacConfig config;
  config.seed = 3;
  SacAgent agent(config);
  const std::vector<int> perm = {1, 2, 0};
  const auto obs = RandomObservations(9, 6, 3, 10, 10);
  std::vector<Observation> permuted;
  for (const auto& o : obs) permuted.push_back(PermuteExperts(o, perm));
  const torch::Tensor p = agent.ActionProbs(Batch(obs));
  const torch::Tensor q = agent.ActionProbs(Batch(permuted));
  // Expert columns follow the permutation; the drop column stays last.
  ExpectClose(p.index_select(1, torch::tensor({1, 2, 0, 3}, torch::kInt64)), q);
}

TEST_F(HanEncoderTest, SameWeightsRunOnAnyNumberOfExperts) {
  HanEncoder han{HanEncoderOptions()};
  torch::NoGradGuard no_grad;
  for (int n : {2, 3, 6, 16}) {
    const NodeEmbeddings e = han->forward(Batch(RandomObservations(10 + n, 3, n, 10, 10)));
    EXPECT_EQ(e.experts.sizes(), (std::vector<int64_t>{3, n, 64})) << "N=" << n;
    EXPECT_TRUE(torch::isfinite(e.experts).all().item<bool>()) << "N=" << n;
  }
  SacConfig config;
  SacAgent agent(config);
  for (int n : {2, 3, 6, 16}) {
    const torch::Tensor p = agent.ActionProbs(Batch(RandomObservations(20 + n, 3, n, 10, 10)));
    EXPECT_EQ(p.sizes(), (std::vector<int64_t>{3, n + 1}));
    ExpectClose(p.sum(1), torch::ones({3}));
  }
}

TEST_F(HanEncoderTest, AGraphsEmbeddingDoesNotDependOnItsBatch) {
  HanEncoder han{HanEncoderOptions()};
  torch::NoGradGuard no_grad;
  const auto obs = RandomObservations(11, 7, 3, 10, 10);
  const NodeEmbeddings all = han->forward(Batch(obs));
  const NodeEmbeddings one = han->forward(Batch({obs[4]}));
  ExpectClose(all.request[4], one.request[0]);
  ExpectClose(all.experts[4], one.experts[0]);
}

class FlatEncoderTest : public Seeded {};

TEST_F(FlatEncoderTest, EmbedsTheFlatViewIntoTheSameShapes) {
  FlatEncoder flat(FlatEncoderOptions(3, 10, 10).hidden(48));
  const auto obs = RandomObservations(12, 5, 3, 10, 10);
  const NodeEmbeddings e = flat->forward(Batch(obs));
  EXPECT_EQ(e.request.sizes(), (std::vector<int64_t>{5, 48}));
  EXPECT_EQ(e.experts.sizes(), (std::vector<int64_t>{5, 3, 48}));
  // Input width is the reference's 126 per expert.
  const auto params = flat->named_parameters();
  EXPECT_EQ(params["trunk.0.weight"].size(1), 3 * 126);
}

TEST_F(FlatEncoderTest, AbsentSlotContentsHaveNoEffect) {
  FlatEncoder flat(FlatEncoderOptions(2, 4, 4));
  torch::NoGradGuard no_grad;
  auto obs = RandomObservations(13, 3, 2, 4, 4);
  const NodeEmbeddings before = flat->forward(Batch(obs));
  for (auto& o : obs) {
    for (size_t s = 0; s < o.running_mask.size(); ++s) {
      if (!o.running_mask[s])
        std::fill_n(o.running.begin() + s * kSlotFeatures, kSlotFeatures, 9.0f);
    }
  }
  const NodeEmbeddings after = flat->forward(Batch(obs));
  EXPECT_TRUE(torch::equal(before.experts, after.experts));
}

}  // namespace
}  // namespace qosroute
