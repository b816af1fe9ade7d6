#pragma once
// One expert = one LLM served by a vLLM-style engine on one edge GPU. Every number is a
// config value; the catalog below holds the spec's defaults for the mix-instruct models.
#include <memory>
#include <string>
#include <vector>

namespace qosroute {

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

 private:
  double c0_, k1_, k2_;
};

struct ExpertConfig {
  std::string name;                      // also the candidate model name looked up in the workload
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

  // floor((gpu_mem x util - weights - reserve) / (block_size x kv_bytes_per_token)).
  int NumBlocks() const;
  int WatermarkBlocks() const;
  std::shared_ptr<const IterationTimeModel> MakeTimeModel() const;
};

// Spec defaults for a named mix-instruct model; throws UserError for an unknown name.
ExpertConfig CatalogExpert(const std::string& name);
std::vector<std::string> CatalogExpertNames();

// Throws UserError naming the key (expert.<name>.<field>) when a value is out of range,
// including an expert whose KV cache cannot hold even one block.
void ValidateExpertConfig(const ExpertConfig& config);

}  // namespace qosroute
