#include "learner/han_encoder.h"

#include <torch/nn/init.h>

#include <string>
#include <tuple>

#include "common/error.h"
#include "learner/han_kernels.h"

namespace qosroute {
namespace {

torch::Tensor AttentionVector(int64_t heads, int64_t head_dim) {
  torch::Tensor t = torch::empty({heads, head_dim});
  torch::nn::init::xavier_uniform_(t);
  return t;
}

// Zeroes absent slots so that whatever a producer left in them (even NaN) cannot reach an
// output through a 0 x garbage product.
torch::Tensor ZeroAbsent(const torch::Tensor& slots, const torch::Tensor& mask) {
  return slots.masked_fill(mask.logical_not().unsqueeze(-1), 0.0f);
}

}  // namespace

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
  // Each edge type's source and destination attention vectors, registered (and so drawn
  // from the generator) in this order.
  const std::tuple<const char*, torch::Tensor*, torch::Tensor*> edges[] = {
      {"expert_to_request", &expert_to_request_src_, &expert_to_request_dst_},
      {"running_to_expert", &running_to_expert_src_, &running_to_expert_dst_},
      {"waiting_to_expert", &waiting_to_expert_src_, &waiting_to_expert_dst_},
  };
  for (const auto& [edge, src, dst] : edges) {
    *src = register_parameter(std::string(edge) + "_src", AttentionVector(heads, head_dim));
    *dst = register_parameter(std::string(edge) + "_dst", AttentionVector(heads, head_dim));
  }
  semantic_proj_ =
      register_module("semantic_proj", torch::nn::Linear(hidden, options.semantic_hidden()));
  semantic_query_ = register_module(
      "semantic_query",
      torch::nn::Linear(torch::nn::LinearOptions(options.semantic_hidden(), 1).bias(false)));
}

torch::Tensor HanLayerImpl::Attend(const torch::Tensor& source,
                                   const torch::nn::Linear& source_proj,
                                   const torch::Tensor& target, const torch::Tensor& att_source,
                                   const torch::Tensor& att_target,
                                   const torch::Tensor& mask) const {
  // GAT per head k, with neighbour projections p_j = W x_j + b:
  //   e_jk = LeakyReLU(a_src_k . p_jk + a_dst_k . t_k),  alpha = softmax_j(e),
  //   out_k = sum_j alpha_jk p_jk.
  // Both are linear in p_j, so they are computed from the inputs x_j without projecting
  // every neighbour: a_src_k . p_jk = x_j . (W_k^T a_src_k) + b_k . a_src_k, and
  // out_k = W_k (sum_j alpha_jk x_j) + b_k (sum_j alpha_jk), where the last sum is 1, or 0
  // for a target without neighbours.
  const int64_t heads = options_.heads();
  const int64_t hidden = options_.hidden();
  const int64_t head_dim = hidden / heads;
  const int64_t in_dim = source.size(-1);
  const int64_t neighbours = source.size(-2);
  const int64_t targets = target.numel() / hidden;
  const torch::Tensor weight = source_proj->weight.view({heads, head_dim, in_dim});
  const torch::Tensor bias = source_proj->bias.view({heads, head_dim});

  auto target_shape = target.sizes().vec();
  target_shape.back() = heads;
  target_shape.push_back(head_dim);
  const torch::Tensor target_score = (target.view(target_shape) * att_target).sum(-1);
  const torch::Tensor mixed =
      AttentionMix(source.reshape({targets, neighbours, in_dim}),
                   mask.defined() ? mask.reshape({targets, neighbours}) : torch::Tensor(),
                   (weight * att_source.unsqueeze(-1)).sum(1), (bias * att_source).sum(-1),
                   target_score.reshape({targets, heads}), options_.negative_slope());  // [K, P, F]
  // Per-head projection as one batched product over heads: [K, P, F] x [K, F, D].
  torch::Tensor projected = torch::bmm(mixed, weight.transpose(1, 2)).transpose(0, 1);
  if (mask.defined()) {
    const torch::Tensor any = mask.reshape({targets, neighbours}).any(1).to(bias.scalar_type());
    projected = projected + any.view({targets, 1, 1}) * bias;
  } else {
    projected = projected + bias;
  }
  return projected.reshape(target.sizes());
}

HanNodes HanLayerImpl::forward(const HanNodes& in, const torch::Tensor& running_mask,
                               const torch::Tensor& waiting_mask) {
  const torch::Tensor q = request_proj_(in.request);  // [B, H]
  const torch::Tensor e = expert_proj_(in.expert);    // [B, N, H]

  // Request node: attention over all experts (every expert node exists; the action mask is
  // about actions, not nodes).
  const torch::Tensor request_in = Attend(in.expert, expert_proj_, q, expert_to_request_src_,
                                          expert_to_request_dst_, torch::Tensor());

  // Expert nodes: three incoming edge types, combined by semantic attention.
  const torch::Tensor from_running = Attend(in.running, running_proj_, e, running_to_expert_src_,
                                            running_to_expert_dst_, running_mask);
  const torch::Tensor from_waiting = Attend(in.waiting, waiting_proj_, e, waiting_to_expert_src_,
                                            waiting_to_expert_dst_, waiting_mask);
  // Score of each edge type per graph: mean over the graph's experts of q^T tanh(W z + b).
  // The request's message q is the same for every expert, so its mean is one row per graph.
  const torch::Tensor query = semantic_query_->weight.view({-1});
  auto type_score = [this, &query](const torch::Tensor& z) {
    return SemanticScore(semantic_proj_(z), query);  // q^T tanh(W z + b), fused
  };
  const torch::Tensor type_scores = torch::stack(
      {type_score(q), type_score(from_running).mean(1), type_score(from_waiting).mean(1)},
      1);                                                                   // [B, 3]
  const torch::Tensor beta = torch::softmax(type_scores, 1).unsqueeze(-1);  // [B, 3, 1]
  const torch::Tensor expert_in = beta.select(1, 0).unsqueeze(1) * q.unsqueeze(1) +
                                  beta.select(1, 1).unsqueeze(1) * from_running +
                                  beta.select(1, 2).unsqueeze(1) * from_waiting;  // [B, N, H]

  HanNodes out;
  if (last_) {
    out.request = request_in + q;
    out.expert = expert_in + e;
    return out;
  }
  out.request = torch::relu(request_in + q);
  out.expert = torch::relu(expert_in + e);
  // A slot's only neighbour is its expert: relu(W x + b + e), fused, zero where absent.
  auto embed = [&e](const torch::Tensor& slots, const torch::Tensor& mask,
                    const torch::nn::Linear& proj) {
    const auto s = slots.sizes();  // [B, N, S, F]
    return EmbedSlots(slots.reshape({s[0] * s[1], s[2], s[3]}), mask.reshape({s[0] * s[1], s[2]}),
                      proj->weight, proj->bias, e.reshape({s[0] * s[1], -1}))
        .view({s[0], s[1], s[2], -1});
  };
  out.running = embed(in.running, running_mask, running_proj_);
  out.waiting = embed(in.waiting, waiting_mask, waiting_proj_);
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
    layers_->push_back(HanLayer(first ? options.request_features() : options.hidden(),
                                first ? options.expert_features() : options.hidden(),
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
