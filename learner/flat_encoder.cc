#include "learner/flat_encoder.h"

#include <torch/nn/modules/activation.h>

#include <string>

#include "common/error.h"

namespace qosroute {

FlatEncoderImpl::FlatEncoderImpl(const FlatEncoderOptions& options) : options_(options) {
  if (options.num_experts() < 1 || options.max_running() < 0 || options.max_waiting() < 0 ||
      options.hidden() < 1 || options.mlp_hidden().empty()) {
    throw UserError(
        "flat encoder needs N >= 1, R, W >= 0, hidden >= 1 and a non-empty MLP, got N=" +
        std::to_string(options.num_experts()) + " R=" + std::to_string(options.max_running()) +
        " W=" + std::to_string(options.max_waiting()) +
        " hidden=" + std::to_string(options.hidden()));
  }
  int64_t width =
      options.num_experts() * FlatWidthPerExpert(static_cast<int>(options.max_running()),
                                                 static_cast<int>(options.max_waiting()));
  for (int64_t units : options.mlp_hidden()) {
    trunk_->push_back(torch::nn::Linear(width, units));
    trunk_->push_back(torch::nn::ReLU());
    width = units;
  }
  register_module("trunk", trunk_);
  request_head_ = register_module("request_head", torch::nn::Linear(width, options.hidden()));
  expert_head_ = register_module(
      "expert_head", torch::nn::Linear(width, options.num_experts() * options.hidden()));
}

NodeEmbeddings FlatEncoderImpl::forward(const GraphBatch& batch) {
  QR_CHECK_MSG(batch.num_experts() == options_.num_experts() &&
                   batch.max_running() == options_.max_running() &&
                   batch.max_waiting() == options_.max_waiting(),
               "flat encoder built for N,R,W = " + std::to_string(options_.num_experts()) + "," +
                   std::to_string(options_.max_running()) + "," +
                   std::to_string(options_.max_waiting()) + " got a batch with " +
                   std::to_string(batch.num_experts()) + "," + std::to_string(batch.max_running()) +
                   "," + std::to_string(batch.max_waiting()));
  const torch::Tensor trunk = trunk_->forward(batch.FlatView());
  return {request_head_(trunk),
          expert_head_(trunk).view({batch.batch_size(), options_.num_experts(), -1})};
}

}  // namespace qosroute
