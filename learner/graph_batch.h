#pragma once
// A batch of routing observations as tensors, the input of every encoder.
//
// Each field is one contiguous tensor built with a memcpy per observation, because the
// Observation structs are already laid out as fixed-size masked slots. Shapes, with B graphs,
// N experts, R running and W waiting slots per expert:
//
//   request      [B, kRequestFeatures]            float
//   expert       [B, N, F]                        float  (F = Observation::expert_features)
//   running      [B, N, R, kSlotFeatures]         float
//   running_mask [B, N, R]                        bool   (true = slot holds a request)
//   waiting      [B, N, W, kSlotFeatures]         float
//   waiting_mask [B, N, W]                        bool
//   action_mask  [B, N + 1]                       bool   (action N = drop)
#include <torch/types.h>

#include <vector>

#include "env/observation.h"

namespace qosroute {

struct GraphBatch {
  torch::Tensor request;
  torch::Tensor expert;
  torch::Tensor running;
  torch::Tensor running_mask;
  torch::Tensor waiting;
  torch::Tensor waiting_mask;
  torch::Tensor action_mask;

  int64_t batch_size() const { return request.size(0); }
  int64_t num_experts() const { return expert.size(1); }
  int64_t max_running() const { return running.size(2); }
  int64_t max_waiting() const { return waiting.size(2); }
  torch::Device device() const { return request.device(); }

  // Every field moved to `device` (a no-op for fields already there).
  GraphBatch to(torch::Device device, bool non_blocking = false) const;

  // The graphs at `indices` (int64 [K]), e.g. a minibatch out of a larger batch.
  GraphBatch index_select(const torch::Tensor& indices) const;

  // The reference flat encoding, [B, N * FlatWidthPerExpert(R, W)], laid out exactly as
  // Observation::FlatView: per expert [prompt/128, pred score, pred output/128, KV util,
  // running/10, waiting/10, R running slots x 6, W waiting slots x 6], absent slots zero.
  torch::Tensor FlatView() const;
};

// Stacks observations that share N, R, W and F into one batch on the CPU (checked: a mismatch
// is a bug in the caller, not bad user input). Masks are converted to bool.
GraphBatch BatchObservations(const std::vector<const Observation*>& observations);

}  // namespace qosroute
