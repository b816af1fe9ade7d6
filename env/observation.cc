#include "env/observation.h"

#include <algorithm>

namespace qosroute {

void Observation::Resize(int n, int r, int w, int f, int q) {
  num_experts = n;
  max_running = r;
  max_waiting = w;
  expert_features = f;
  request_features = q;
  request.assign(static_cast<size_t>(q), 0.0f);
  expert.assign(static_cast<size_t>(n) * f, 0.0f);
  running.assign(static_cast<size_t>(n) * r * kSlotFeatures, 0.0f);
  running_mask.assign(static_cast<size_t>(n) * r, 0);
  waiting.assign(static_cast<size_t>(n) * w * kSlotFeatures, 0.0f);
  waiting_mask.assign(static_cast<size_t>(n) * w, 0);
  action_mask.assign(static_cast<size_t>(n) + 1, 1);
}

void Observation::FlatView(std::vector<float>* out) const {
  const int width = FlatWidthPerExpert(max_running, max_waiting);
  out->assign(static_cast<size_t>(num_experts) * width, 0.0f);
  for (int e = 0; e < num_experts; ++e) {
    float* dst = out->data() + static_cast<size_t>(e) * width;
    const float* ex = expert.data() + static_cast<size_t>(e) * expert_features;
    dst[0] = ex[3];
    dst[1] = ex[4];
    dst[2] = ex[5];
    dst[3] = ex[0];
    dst[4] = ex[1];
    dst[5] = ex[2];
    const size_t run_len = static_cast<size_t>(max_running) * kSlotFeatures;
    const size_t wait_len = static_cast<size_t>(max_waiting) * kSlotFeatures;
    std::copy_n(running.data() + e * run_len, run_len, dst + 6);
    std::copy_n(waiting.data() + e * wait_len, wait_len, dst + 6 + run_len);
  }
}

}  // namespace qosroute
