#include "learner/graph_batch.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/error.h"

namespace qosroute {
namespace {

// Copies `count` floats per observation into consecutive rows of `dst`.
void CopyFloats(const std::vector<float>& src, size_t count, float* dst) {
  QR_CHECK_MSG(src.size() == count, "observation buffer has " + std::to_string(src.size()) +
                                        " values, expected " + std::to_string(count));
  if (count > 0) std::memcpy(dst, src.data(), count * sizeof(float));
}

// Masks are bytes where any non-zero value means present; torch bools must be exactly 0 or 1,
// so they are normalised here rather than memcpy'd.
void CopyMask(const std::vector<uint8_t>& src, size_t count, bool* dst) {
  QR_CHECK_MSG(src.size() == count, "observation mask has " + std::to_string(src.size()) +
                                        " values, expected " + std::to_string(count));
  std::transform(src.begin(), src.end(), dst, [](uint8_t v) { return v != 0; });
}

}  // namespace

GraphBatch GraphBatch::to(torch::Device device, bool non_blocking) const {
  GraphBatch out;
  out.request = request.to(device, non_blocking);
  out.expert = expert.to(device, non_blocking);
  out.running = running.to(device, non_blocking);
  out.running_mask = running_mask.to(device, non_blocking);
  out.waiting = waiting.to(device, non_blocking);
  out.waiting_mask = waiting_mask.to(device, non_blocking);
  out.action_mask = action_mask.to(device, non_blocking);
  return out;
}

GraphBatch GraphBatch::index_select(const torch::Tensor& indices) const {
  GraphBatch out;
  out.request = request.index_select(0, indices);
  out.expert = expert.index_select(0, indices);
  out.running = running.index_select(0, indices);
  out.running_mask = running_mask.index_select(0, indices);
  out.waiting = waiting.index_select(0, indices);
  out.waiting_mask = waiting_mask.index_select(0, indices);
  out.action_mask = action_mask.index_select(0, indices);
  return out;
}

torch::Tensor GraphBatch::FlatView() const {
  const int64_t b = batch_size();
  const int64_t n = num_experts();
  // masked_fill rather than multiplying by the mask, so that even non-finite garbage in an
  // absent slot becomes the zero the reference layout promises.
  const torch::Tensor run =
      running.masked_fill(running_mask.logical_not().unsqueeze(-1), 0.0f).reshape({b, n, -1});
  const torch::Tensor wait =
      waiting.masked_fill(waiting_mask.logical_not().unsqueeze(-1), 0.0f).reshape({b, n, -1});
  return torch::cat({expert.slice(2, 3, 6), expert.slice(2, 0, 3), run, wait}, 2).reshape({b, -1});
}

GraphBatch BatchObservations(const std::vector<const Observation*>& observations) {
  QR_CHECK_MSG(!observations.empty(), "BatchObservations needs at least one observation");
  const Observation& first = *observations.front();
  const int64_t b = static_cast<int64_t>(observations.size());
  const int64_t n = first.num_experts;
  const int64_t r = first.max_running;
  const int64_t w = first.max_waiting;
  const int64_t f = first.expert_features;
  const int64_t q = first.request_features;

  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  const auto boolean = torch::TensorOptions().dtype(torch::kBool);
  GraphBatch batch;
  batch.request = torch::empty({b, q}, f32);
  batch.expert = torch::empty({b, n, f}, f32);
  batch.running = torch::empty({b, n, r, kSlotFeatures}, f32);
  batch.running_mask = torch::empty({b, n, r}, boolean);
  batch.waiting = torch::empty({b, n, w, kSlotFeatures}, f32);
  batch.waiting_mask = torch::empty({b, n, w}, boolean);
  batch.action_mask = torch::empty({b, n + 1}, boolean);

  const size_t expert_len = static_cast<size_t>(n * f);
  const size_t running_len = static_cast<size_t>(n * r) * kSlotFeatures;
  const size_t waiting_len = static_cast<size_t>(n * w) * kSlotFeatures;
  float* request_dst = batch.request.data_ptr<float>();
  float* expert_dst = batch.expert.data_ptr<float>();
  float* running_dst = batch.running.data_ptr<float>();
  float* waiting_dst = batch.waiting.data_ptr<float>();
  bool* running_mask_dst = batch.running_mask.data_ptr<bool>();
  bool* waiting_mask_dst = batch.waiting_mask.data_ptr<bool>();
  bool* action_mask_dst = batch.action_mask.data_ptr<bool>();

  for (int64_t i = 0; i < b; ++i) {
    const Observation& obs = *observations[i];
    QR_CHECK_MSG(
        obs.SameLayout(first),
        "observation " + std::to_string(i) + " has N,R,W,F,Q = " + std::to_string(obs.num_experts) +
            "," + std::to_string(obs.max_running) + "," + std::to_string(obs.max_waiting) + "," +
            std::to_string(obs.expert_features) + "," + std::to_string(obs.request_features) +
            " but the batch has " + std::to_string(n) + "," + std::to_string(r) + "," +
            std::to_string(w) + "," + std::to_string(f) + "," + std::to_string(q));
    std::memcpy(request_dst + i * q, obs.request.data(), static_cast<size_t>(q) * sizeof(float));
    CopyFloats(obs.expert, expert_len, expert_dst + i * expert_len);
    CopyFloats(obs.running, running_len, running_dst + i * running_len);
    CopyFloats(obs.waiting, waiting_len, waiting_dst + i * waiting_len);
    CopyMask(obs.running_mask, static_cast<size_t>(n * r), running_mask_dst + i * n * r);
    CopyMask(obs.waiting_mask, static_cast<size_t>(n * w), waiting_mask_dst + i * n * w);
    CopyMask(obs.action_mask, static_cast<size_t>(n + 1), action_mask_dst + i * (n + 1));
  }
  return batch;
}

}  // namespace qosroute
