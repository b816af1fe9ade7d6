#pragma once
// One expert = one LLM served by a vLLM-style engine on one edge GPU. Every number is a
// config value; the catalog below holds the spec's defaults for the mix-instruct models.
#include <memory>
#include <string>
#include <vector>

#include "common/name_table.h"
#include "env/gpu_profile.h"

namespace qosroute {

struct ProfileTable;  // env/time_models.h

// How an expert's iteration time is modelled (env/time_models.h): the paper's linear model,
// the calibrated one of a GPU profile, or a table of measured iterations.
enum class TimeModelKind { kLinear, kCalibrated, kTable };
const NameTable<TimeModelKind>& TimeModels();

// Iteration-time model behind an interface, so a profile table fitted to measured iterations
// can replace the linear default without touching the scheduler.
class IterationTimeModel {
 public:
  virtual ~IterationTimeModel() = default;
  // A prefill iteration over `prefill_tokens` prompt tokens of `num_seqs` new requests.
  virtual double PrefillSeconds(long prefill_tokens, int num_seqs) const = 0;
  // A decode iteration in which `num_seqs` requests with `context_tokens` in total each
  // produce one token.
  virtual double DecodeSeconds(long context_tokens, int num_seqs) const = 0;
  // `steps` decode iterations in a row of the same `num_seqs`, the context growing by
  // `num_seqs` each: adds each one's seconds to *clock in order, the same sum to the bit as
  // a loop over DecodeSeconds (the look-ahead's hot loop; models override it to inline it).
  virtual void AddDecodeRun(long context_tokens, int num_seqs, long steps, double* clock) const {
    AddDecodeRunOf(*this, context_tokens, num_seqs, steps, clock);
  }

 protected:
  template <typename Model>
  static void AddDecodeRunOf(const Model& model, long context_tokens, int num_seqs, long steps,
                             double* clock) {
    for (long s = 0; s < steps; ++s, context_tokens += num_seqs)
      *clock += model.DecodeSeconds(context_tokens, num_seqs);
  }
};

// t = c0 + k1 x prefill tokens (prefill) or c0 + k2 x context tokens (decode).
class LinearIterationTimeModel final : public IterationTimeModel {
 public:
  LinearIterationTimeModel(double c0, double k1, double k2) : c0_(c0), k1_(k1), k2_(k2) {}
  double PrefillSeconds(long prefill_tokens, int) const override {
    return c0_ + k1_ * prefill_tokens;
  }
  double DecodeSeconds(long context_tokens, int) const override {
    return c0_ + k2_ * context_tokens;
  }
  void AddDecodeRun(long context_tokens, int num_seqs, long steps, double* clock) const override {
    AddDecodeRunOf(*this, context_tokens, num_seqs, steps, clock);
  }

 private:
  double c0_, k1_, k2_;
};

struct ExpertConfig {
  std::string name;  // the expert's node in the cluster (unique)
  // The model it serves, whose answers (the workload's candidates, so its quality) it gives;
  // empty: `name`. Replicas of a model are experts of other names serving the same model.
  std::string model;
  std::string gpu;  // the GPU profile applied (ApplyGpuProfile), empty for none
  double kv_bytes_per_token = 524288.0;  // fp16 K+V over all layers
  double weights_gb = 13.5;
  double gpu_memory_gb = 24.0;  // RTX 4090-class edge card
  double gpu_memory_utilization = 0.9;
  double reserve_gb = 1.0;  // activations, CUDA context, graphs: not available to the KV cache
  int block_size = 16;
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  double watermark = 0.01;  // fraction of blocks kept free when admitting
  double c0 = 0.020;        // fixed cost of one iteration (s): one pass over the weights
  double k1 = 7.2e-5;       // prefill seconds per prompt token
  double k2 = 2.5e-5;       // decode seconds per context token per iteration
  int num_blocks = 0;       // 0: derived from memory; > 0 overrides (tests, small scenarios)
  // Which IterationTimeModel times this expert's iterations (docs/SIMULATOR.md section 2):
  //  linear      c0 + k1 x prefill tokens, c0 + k2 x context tokens (the paper's setting);
  //  calibrated  max(c0, c1 + k1 x processed tokens) + k2 x decoding context + k3 x sequences
  //              (+ k4 x prompt^2 in a prefill);
  //  table       interpolated from `profile`, a CSV of measured iterations.
  TimeModelKind time_model = TimeModelKind::kLinear;
  double k3 = 0.0;           // calibrated: seconds per sequence in the batch (CPU, sampling)
  double k4 = 0.0;           // calibrated: prefill attention, seconds per prompt token^2
  double c1 = 0.0;           // calibrated: fixed part of a compute-bound pass (s)
  std::string profile_path;  // table: where `profile` was read from (for messages)
  std::shared_ptr<const ProfileTable> profile;  // table: loaded by the launcher
  PowerModel power;                             // board power, integrated into the energy metrics
  double mean_score = 0.0;  // synthetic workload: mean BERTScore (0 = the generator's default)

  // floor((gpu_mem x util - weights - reserve) / (block_size x kv_bytes_per_token)): vLLM's
  // determine_num_available_blocks with reserve = peak activations + non-torch memory.
  int NumBlocks() const;
  // Tokens the KV cache holds: NumBlocks() x block_size.
  long KvCapacityTokens() const { return static_cast<long>(NumBlocks()) * block_size; }
  int WatermarkBlocks() const;
  const std::string& ModelName() const { return model.empty() ? name : model; }
  std::shared_ptr<const IterationTimeModel> MakeTimeModel() const;
};

// Sets memory, time model (calibrated) and power from a GPU profile. The profile's time
// constants are for a 7B fp16 reference; they scale with this expert's size: c0 and k1 (a
// pass over the weights, FLOPs per token) with weights_gb, k2 (attention reads each context
// token's KV) with kv_bytes_per_token. Call after weights_gb and kv_bytes_per_token are final.
void ApplyGpuProfile(const GpuProfile& gpu, ExpertConfig* config);

// The model each expert serves, in expert order: what the workload's candidates, the
// predictors and the synthetic generator are looked up by (replicas repeat their model).
std::vector<std::string> ModelNames(const std::vector<ExpertConfig>& experts);

// Spec defaults for a named mix-instruct model; throws UserError for an unknown name.
ExpertConfig CatalogExpert(const std::string& name);
std::vector<std::string> CatalogExpertNames();
bool IsCatalogExpert(const std::string& name);

// Throws UserError naming the key (expert.<name>.<field>) when a value is out of range,
// including an expert whose KV cache cannot hold even one block.
void ValidateExpertConfig(const ExpertConfig& config);

}  // namespace qosroute
