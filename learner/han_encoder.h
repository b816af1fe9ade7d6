#pragma once
// Heterogeneous Graph Attention Network (Wang et al., WWW 2019) over the routing graph.
//
// Node types: arrived request (1 per graph), expert (N), running slot (N x R), waiting slot
// (N x W). Edges both ways: request <-> every expert, expert <-> its running slots,
// expert <-> its waiting slots. One layer:
//
//   request   x_q --Wq--> q ---------------------------------------+---------> + q --> act
//                          \                   GAT over experts -->|
//   expert    x_e --We--> e --+--- msg from q  ----------------+    |
//                             +--- GAT over running slots -----+--> semantic --> + e --> act
//                             +--- GAT over waiting slots -----+    attention
//   running   x_r --Wr--> r ---- msg from its expert ---------------------------> + r --> act
//   waiting   x_w --Ww--> w ---- msg from its expert ---------------------------> + w --> act
//
// Everything is batched over [B, N, slots]: no per-graph loops, no edge lists. Attention
// reads neighbours' layer inputs rather than their projections (W sum_j a_j x_j equals
// sum_j a_j W x_j), so the last layer never projects the N x (R + W) slots at all, and the
// slot-level steps run as fused kernels (learner/han_kernels.h).
//
// Choices beyond the paper, and why:
//  - Each node adds its own projection to what it receives (a self connection). HAN's
//    bipartite edges have no self loops, so without it an expert would lose its own features
//    (the request's predicted score on it) after the first layer.
//  - Edge types where every node has exactly one neighbour (request -> expert,
//    expert -> slot) carry the neighbour's projection unweighted: a softmax over one
//    neighbour is identically 1, so attention parameters there would be dead weights.
//  - Semantic attention runs only for experts, the one node type with several incoming edge
//    types; elsewhere its softmax over one type is identically 1.
//  - The last layer computes only request and expert outputs, the ones the heads read.
//  - The semantic score's mean over experts is taken per graph (the paper's "mean over the
//    nodes"), not over the whole batch, so a graph's embedding never depends on its batch.
//  - ReLU between layers (the paper uses ELU): on the CPU ELU's exp costs ~4x a ReLU pass
//    over the slot tensors, and nothing here needs ELU's negative outputs.
//
// Absent slots (mask false) are zeroed on input and get exactly zero attention weight, so
// they have no effect on any output. Every expert shares weights and the attention over
// experts is a softmax, so the same weights run on any N and permuting the experts permutes
// the expert embeddings and leaves the request embedding unchanged.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "env/observation.h"
#include "learner/encoder.h"

namespace qosroute {

struct HanEncoderOptions {
  // Node input widths: the observation schema's (SacConfig::schema; env/feature_schema.h).
  TORCH_ARG(int64_t, request_features) = kRequestFeatures;
  TORCH_ARG(int64_t, expert_features) = kExpertFeatures;
  TORCH_ARG(int64_t, hidden) = 64;
  TORCH_ARG(int64_t, heads) = 4;  // hidden must be divisible by heads
  TORCH_ARG(int64_t, layers) = 2;
  TORCH_ARG(int64_t, semantic_hidden) = 128;
  TORCH_ARG(double, negative_slope) = 0.2;  // of the LeakyReLU in node-level attention
};

// Features per node type: a layer's input or its output.
struct HanNodes {
  torch::Tensor request;  // [B, d]
  torch::Tensor expert;   // [B, N, d]
  torch::Tensor running;  // [B, N, R, d]; undefined after the last layer
  torch::Tensor waiting;  // [B, N, W, d]; undefined after the last layer
};

class HanLayerImpl : public torch::nn::Module {
 public:
  HanLayerImpl(int64_t request_in, int64_t expert_in, int64_t slot_in,
               const HanEncoderOptions& options, bool last);

  // Masks are bool [B, N, R] and [B, N, W]; absent slots' inputs must already be finite.
  HanNodes forward(const HanNodes& in, const torch::Tensor& running_mask,
                   const torch::Tensor& waiting_mask);

 private:
  // GAT aggregation into `target` ([..., hidden], already projected) from neighbours whose
  // layer inputs are `source` ([..., M, F]) and whose projection is `source_proj`; `mask`
  // ([..., M] bool) may be undefined (all present). See the .cc for why the neighbours are
  // never projected one by one.
  torch::Tensor Attend(const torch::Tensor& source, const torch::nn::Linear& source_proj,
                       const torch::Tensor& target, const torch::Tensor& att_source,
                       const torch::Tensor& att_target, const torch::Tensor& mask) const;

  HanEncoderOptions options_;
  bool last_;
  torch::nn::Linear request_proj_{nullptr}, expert_proj_{nullptr}, running_proj_{nullptr},
      waiting_proj_{nullptr};
  // [heads, hidden / heads] attention vectors of the three edge types that attend.
  torch::Tensor expert_to_request_src_, expert_to_request_dst_;
  torch::Tensor running_to_expert_src_, running_to_expert_dst_;
  torch::Tensor waiting_to_expert_src_, waiting_to_expert_dst_;
  // Semantic attention: Linear(hidden, semantic_hidden) -> tanh -> q (no bias: a shared
  // offset cancels in the softmax over edge types).
  torch::nn::Linear semantic_proj_{nullptr}, semantic_query_{nullptr};
};
TORCH_MODULE(HanLayer);

class HanEncoderImpl : public GraphEncoderImpl {
 public:
  explicit HanEncoderImpl(const HanEncoderOptions& options = {});

  NodeEmbeddings forward(const GraphBatch& batch) override;
  int64_t embedding_dim() const override { return options_.hidden(); }
  const HanEncoderOptions& options() const { return options_; }

 private:
  HanEncoderOptions options_;
  torch::nn::ModuleList layers_;
};
TORCH_MODULE(HanEncoder);

}  // namespace qosroute
