#pragma once
// GPU profiles: memory as vLLM sees it, the calibrated iteration-time constants for a 7B fp16
// reference model and the power model, for the cards of shared/spec/serving-calibration.md
// (RTX 4090, A100-80GB, H100-80GB). Every number and its source: docs/SIMULATOR.md section 9.
#include <string>
#include <vector>

namespace qosroute {

// Board power of one GPU: idle when nothing runs; during a decode iteration of B sequences
// base + span x logistic(slope x (log2 B - mid_log2)) (ML.ENERGY's form); during a prefill
// iteration prefill (compute-bound, near the power cap).
struct PowerModel {
  double idle_w = 20.0;  // RTX 4090 defaults (spec section 3)
  double base_w = 230.0;
  double span_w = 200.0;
  double prefill_w = 440.0;
  double slope = 0.6;
  double mid_log2 = 3.8;

  double DecodeWatts(int batch) const;
  double PrefillWatts() const { return prefill_w; }
};

struct GpuProfile {
  std::string name;
  double gpu_memory_gb;  // total memory vLLM sees, in GB (1e9 bytes)
  double reserve_gb;     // peak activations + non-torch memory, GB
  // Calibrated model constants for the reference model (13.5 GB fp16 weights, 512 KiB of KV
  // per token): c0 (s), k1 (s per processed token), k2 (s per context token), k3 (s per seq).
  double c0, k1, k2, k3;
  PowerModel power;
  // Prefill attention (s per prompt token^2; docs/SIMULATOR.md section 9). 0: not fitted.
  double k4 = 0.0;
  // Fixed part of a compute-bound pass (s), inside the max with c0. 0: not fitted.
  double c1 = 0.0;
};

// The reference model the profile constants were fitted for (LLaMA-7B / MPT-7B fp16).
inline constexpr double kReferenceWeightsGb = 13.5;
inline constexpr double kReferenceKvBytesPerToken = 524288.0;

// "rtx4090", "a100-80gb", "h100-80gb"; throws UserError listing them for another name.
const GpuProfile& FindGpuProfile(const std::string& name);
std::vector<std::string> GpuProfileNames();

}  // namespace qosroute
