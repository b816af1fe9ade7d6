#pragma once
// The flat RL baseline's encoder ("baseline-rl" in the system model): an MLP on the
// reference flat observation (126 values per expert for R = W = 10), no graph.
//
//   flat [B, N * width] --Linear-ReLU-Linear-ReLU--> trunk [B, m]
//                                                     +--Linear--> request  [B, H]
//                                                     +--Linear--> experts  [B, N * H] -> [B, N, H]
//
// It emits the same two embeddings as the HAN so the SAC heads are shared, but its input
// width fixes N, R and W: it runs only on the layout it was built for.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "learner/encoder.h"

namespace qosroute {

struct FlatEncoderOptions {
  FlatEncoderOptions(int64_t num_experts, int64_t max_running, int64_t max_waiting)
      : num_experts_(num_experts), max_running_(max_running), max_waiting_(max_waiting) {}
  TORCH_ARG(int64_t, num_experts);
  TORCH_ARG(int64_t, max_running);
  TORCH_ARG(int64_t, max_waiting);
  TORCH_ARG(int64_t, hidden) = 64;  // H, the embedding width
  TORCH_ARG(std::vector<int64_t>, mlp_hidden) = std::vector<int64_t>{64, 64};
};

class FlatEncoderImpl : public GraphEncoderImpl {
 public:
  explicit FlatEncoderImpl(const FlatEncoderOptions& options);

  NodeEmbeddings forward(const GraphBatch& batch) override;
  int64_t embedding_dim() const override { return options_.hidden(); }
  const FlatEncoderOptions& options() const { return options_; }

 private:
  FlatEncoderOptions options_;
  torch::nn::Sequential trunk_;
  torch::nn::Linear request_head_{nullptr}, expert_head_{nullptr};
};
TORCH_MODULE(FlatEncoder);

}  // namespace qosroute
