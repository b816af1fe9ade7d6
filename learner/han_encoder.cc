#include "learner/han_encoder.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/init.h>

#include <string>

#include "common/error.h"

namespace qosroute {
namespace {

namespace F = torch::nn::functional;

// Scores of absent entries before the shift; finite so that a row with no present entry
// produces exp(0) * 0 = 0 rather than NaN, and large enough that exp underflows to exactly 0
// next to any real score.
constexpr float kAbsentScore = -1e30f;

torch::Tensor AttentionVector(int64_t heads, int64_t head_dim) {
  torch::Tensor t = torch::empty({heads, head_dim});
  torch::nn::init::xavier_uniform_(t);
  return t;
}

torch::Tensor Activation(const torch::Tensor& x) { return torch::elu(x); }

// Zeroes absent slots so that whatever a producer left in them (even NaN) cannot reach an
// output through a 0 x garbage product.
torch::Tensor ZeroAbsent(const torch::Tensor& slots, const torch::Tensor& mask) {
  return slots.masked_fill(mask.logical_not().unsqueeze(-1), 0.0f);
}

}  // namespace

torch::Tensor MaskedSoftmax(const torch::Tensor& scores, const torch::Tensor& mask, int64_t dim) {
  const torch::Tensor filled = scores.masked_fill(mask.logical_not(), kAbsentScore);
  // The shift cancels in the ratio, so it needs no gradient.
  const torch::Tensor shift = std::get<0>(filled.max(dim, /*keepdim=*/true)).detach();
  const torch::Tensor weights = (filled - shift).exp() * mask;
  // A row with no present entry has sum 0; the clamp turns 0/0 into 0/tiny = 0.
  return weights / weights.sum(dim, /*keepdim=*/true).clamp_min(1e-30f);
}

HanLayerImpl::HanLayerImpl(int64_t request_in, int64_t expert_in, int64_t slot_in,
                           const HanEncoderOptions& options, bool last)
    : options_(options), last_(last) {
  const int64_t hidden = options.hidden();
  const int64_t heads = options.heads();
  const int64_t head_dim = hidden / heads;
  request_proj_ = register_module("request_proj", torch::nn::Linear(request_in, hidden));
  expert_proj_ = register_module("expert_proj", torch::nn::Linear(expert_in, hidden));
  running_proj_ = register_module("running_proj", torch::nn::Linear(slot_in, hidden));
  waiting_proj_ = register_module("waiting_proj", torch::nn::Linear(slot_in, hidden));
  expert_to_request_src_ =
      register_parameter("expert_to_request_src", AttentionVector(heads, head_dim));
  expert_to_request_dst_ =
      register_parameter("expert_to_request_dst", AttentionVector(heads, head_dim));
  running_to_expert_src_ =
      register_parameter("running_to_expert_src", AttentionVector(heads, head_dim));
  running_to_expert_dst_ =
      register_parameter("running_to_expert_dst", AttentionVector(heads, head_dim));
  waiting_to_expert_src_ =
      register_parameter("waiting_to_expert_src", AttentionVector(heads, head_dim));
  waiting_to_expert_dst_ =
      register_parameter("waiting_to_expert_dst", AttentionVector(heads, head_dim));
  semantic_proj_ = register_module(
      "semantic_proj", torch::nn::Linear(hidden, options.semantic_hidden()));
  semantic_query_ = register_module(
      "semantic_query",
      torch::nn::Linear(torch::nn::LinearOptions(options.semantic_hidden(), 1).bias(false)));
}

torch::Tensor HanLayerImpl::Attend(const torch::Tensor& source, const torch::Tensor& target,
                                   const torch::Tensor& att_source,
                                   const torch::Tensor& att_target,
                                   const torch::Tensor& mask) const {
  const int64_t heads = options_.heads();
  const int64_t head_dim = options_.hidden() / heads;
  // source [..., M, hidden] -> [..., M, K, D]; target [..., hidden] -> [..., 1, K, D].
  auto source_shape = source.sizes().vec();
  source_shape.back() = heads;
  source_shape.push_back(head_dim);
  const torch::Tensor src = source.view(source_shape);
  auto target_shape = target.sizes().vec();
  target_shape.back() = 1;
  target_shape.push_back(heads);
  target_shape.push_back(head_dim);
  const torch::Tensor dst = target.view(target_shape);

  // GAT score e_ij = LeakyReLU(a_src . Wh_j + a_dst . Wh_i), per head: [..., M, K].
  const torch::Tensor scores = F::leaky_relu(
      (src * att_source).sum(-1) + (dst * att_target).sum(-1),
      F::LeakyReLUFuncOptions().negative_slope(options_.negative_slope()));
  const torch::Tensor weights =
      mask.defined() ? MaskedSoftmax(scores, mask.unsqueeze(-1), -2) : torch::softmax(scores, -2);
  // Heads concatenated: [..., K, D] -> [..., hidden].
  return (weights.unsqueeze(-1) * src).sum(-3).flatten(-2);
}

HanNodes HanLayerImpl::forward(const HanNodes& in, const torch::Tensor& running_mask,
                               const torch::Tensor& waiting_mask) {
  const torch::Tensor q = request_proj_(in.request);  // [B, H]
  const torch::Tensor e = expert_proj_(in.expert);    // [B, N, H]
  const torch::Tensor r = running_proj_(in.running);  // [B, N, R, H]
  const torch::Tensor w = waiting_proj_(in.waiting);  // [B, N, W, H]

  // Request node: attention over all experts (every expert node exists; the action mask is
  // about actions, not nodes).
  const torch::Tensor request_in =
      Attend(e, q, expert_to_request_src_, expert_to_request_dst_, torch::Tensor());

  // Expert nodes: three incoming edge types, combined by semantic attention.
  const torch::Tensor from_request = q.unsqueeze(1).expand_as(e);
  const torch::Tensor from_running =
      Attend(r, e, running_to_expert_src_, running_to_expert_dst_, running_mask);
  const torch::Tensor from_waiting =
      Attend(w, e, waiting_to_expert_src_, waiting_to_expert_dst_, waiting_mask);
  const torch::Tensor per_type = torch::stack({from_request, from_running, from_waiting}, 2);
  // Score of each edge type per graph: mean over the graph's experts of q^T tanh(W z + b).
  const torch::Tensor type_scores =
      semantic_query_(torch::tanh(semantic_proj_(per_type))).mean(1);  // [B, 3, 1]
  const torch::Tensor beta = torch::softmax(type_scores, 1).unsqueeze(1);  // [B, 1, 3, 1]
  const torch::Tensor expert_in = (beta * per_type).sum(2);                // [B, N, H]

  HanNodes out;
  if (last_) {
    out.request = request_in + q;
    out.expert = expert_in + e;
    return out;
  }
  out.request = Activation(request_in + q);
  out.expert = Activation(expert_in + e);
  // A slot's only neighbour is its expert.
  out.running = Activation(r + e.unsqueeze(2));
  out.waiting = Activation(w + e.unsqueeze(2));
  return out;
}

HanEncoderImpl::HanEncoderImpl(const HanEncoderOptions& options)
    : options_(options), layers_(register_module("layers", torch::nn::ModuleList())) {
  if (options.hidden() <= 0 || options.heads() <= 0 || options.hidden() % options.heads() != 0) {
    throw UserError("HAN encoder hidden=" + std::to_string(options.hidden()) +
                    " must be a positive multiple of heads=" + std::to_string(options.heads()));
  }
  if (options.layers() < 1) {
    throw UserError("HAN encoder needs at least one layer, got layers=" +
                    std::to_string(options.layers()));
  }
  for (int64_t l = 0; l < options.layers(); ++l) {
    const bool first = l == 0;
    layers_->push_back(HanLayer(first ? kRequestFeatures : options.hidden(),
                                first ? kExpertFeatures : options.hidden(),
                                first ? kSlotFeatures : options.hidden(), options,
                                /*last=*/l + 1 == options.layers()));
  }
}

NodeEmbeddings HanEncoderImpl::forward(const GraphBatch& batch) {
  HanNodes nodes{batch.request, batch.expert, ZeroAbsent(batch.running, batch.running_mask),
                 ZeroAbsent(batch.waiting, batch.waiting_mask)};
  for (const auto& layer : *layers_) {
    nodes = layer->as<HanLayer>()->forward(nodes, batch.running_mask, batch.waiting_mask);
  }
  return {nodes.request, nodes.expert};
}

}  // namespace qosroute
