#pragma once
// The interface shared by the graph (HAN) and flat encoders, so that the SAC heads and the
// agent are written once: an encoder turns a GraphBatch into one embedding for the arrived
// request and one per expert, and the per-action heads score actions from those.
#include <torch/nn/module.h>

#include "learner/graph_batch.h"

namespace qosroute {

struct NodeEmbeddings {
  torch::Tensor request;  // [B, H]
  torch::Tensor experts;  // [B, N, H]

  NodeEmbeddings detach() const { return {request.detach(), experts.detach()}; }
};

class GraphEncoderImpl : public torch::nn::Module {
 public:
  virtual NodeEmbeddings forward(const GraphBatch& batch) = 0;
  // H, the width of both embeddings.
  virtual int64_t embedding_dim() const = 0;
};

}  // namespace qosroute
