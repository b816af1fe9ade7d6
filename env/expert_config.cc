#include "env/expert_config.h"

#include <cmath>
#include <utility>

#include "common/error.h"
#include "env/time_models.h"

namespace qosroute {

namespace {

struct CatalogEntry {
  const char* name;
  int layers;  // KV bytes/token = layers x 4096 hidden x 2 (K and V) x 2 bytes (fp16)
  double weights_gb;
  double k1;
};

// Spec section 1. Models beyond the default three are LLaMA-7B-class, with the same costs.
const CatalogEntry kCatalog[] = {
    {"alpaca-native", 32, 13.5, 7.2e-5},   {"chatglm-6b", 28, 12.5, 6.8e-5},
    {"mpt-7b-instruct", 32, 13.5, 7.2e-5}, {"open-assistant", 32, 13.5, 7.2e-5},
    {"vicuna", 32, 13.5, 7.2e-5},          {"koala", 32, 13.5, 7.2e-5},
};

}  // namespace

int ExpertConfig::NumBlocks() const {
  if (num_blocks > 0) return num_blocks;
  const double kv_bytes = (gpu_memory_gb * gpu_memory_utilization - weights_gb - reserve_gb) * 1e9;
  const double block_bytes = block_size * kv_bytes_per_token;
  return kv_bytes <= 0 ? 0 : static_cast<int>(std::floor(kv_bytes / block_bytes));
}

int ExpertConfig::WatermarkBlocks() const {
  return static_cast<int>(watermark * NumBlocks());
}

const NameTable<TimeModelKind>& TimeModels() {
  static const NameTable<TimeModelKind> table("time model",
                                              {{TimeModelKind::kLinear, "linear"},
                                               {TimeModelKind::kCalibrated, "calibrated"},
                                               {TimeModelKind::kTable, "table"}});
  return table;
}

std::shared_ptr<const IterationTimeModel> ExpertConfig::MakeTimeModel() const {
  if (time_model == TimeModelKind::kCalibrated)
    return std::make_shared<CalibratedIterationTimeModel>(c0, k1, k2, k3, k4, c1);
  if (time_model == TimeModelKind::kTable) {
    QR_CHECK_MSG(profile != nullptr, "time_model table without a loaded profile");
    return std::make_shared<TableIterationTimeModel>(profile);
  }
  return std::make_shared<LinearIterationTimeModel>(c0, k1, k2);
}

void ApplyGpuProfile(const GpuProfile& gpu, ExpertConfig* c) {
  const double weights = c->weights_gb / kReferenceWeightsGb;
  c->gpu = gpu.name;
  c->gpu_memory_gb = gpu.gpu_memory_gb;
  c->reserve_gb = gpu.reserve_gb;
  c->time_model = TimeModelKind::kCalibrated;
  c->c0 = gpu.c0 * weights;
  c->k1 = gpu.k1 * weights;
  c->c1 = gpu.c1 * weights;
  c->k2 = gpu.k2 * c->kv_bytes_per_token / kReferenceKvBytesPerToken;
  c->k3 = gpu.k3;
  // Attention's work per query-key pair grows with layers x KV width, as k2's reads do.
  c->k4 = gpu.k4 * c->kv_bytes_per_token / kReferenceKvBytesPerToken;
  c->power = gpu.power;
}

std::vector<std::string> ModelNames(const std::vector<ExpertConfig>& experts) {
  std::vector<std::string> models;
  for (const ExpertConfig& e : experts) models.push_back(e.ModelName());
  return models;
}

bool IsCatalogExpert(const std::string& name) {
  for (const auto& entry : kCatalog) {
    if (name == entry.name) return true;
  }
  return false;
}

ExpertConfig CatalogExpert(const std::string& name) {
  for (const auto& entry : kCatalog) {
    if (name == entry.name) {
      ExpertConfig config;
      config.name = name;
      config.kv_bytes_per_token = entry.layers * 4096.0 * 2 * 2;
      config.weights_gb = entry.weights_gb;
      config.k1 = entry.k1;
      return config;
    }
  }
  std::string known;
  for (const auto& entry : kCatalog) known += std::string(known.empty() ? "" : ", ") + entry.name;
  throw UserError("unknown expert '" + name + "' in cluster.experts; known experts: " + known);
}

std::vector<std::string> CatalogExpertNames() {
  std::vector<std::string> names;
  for (const auto& entry : kCatalog) names.push_back(entry.name);
  return names;
}

namespace {

void ValidatePower(const PowerModel& p, const std::string& key) {
  const std::pair<double, const char*> fields[] = {
      {p.idle_w, "power_idle_w"},       {p.base_w, "power_base_w"}, {p.span_w, "power_span_w"},
      {p.prefill_w, "power_prefill_w"}, {p.slope, "power_slope"},   {p.mid_log2, "power_mid_log2"}};
  for (const auto& [value, field] : fields) {
    if (!std::isfinite(value) || (value < 0 && std::string(field) != "power_mid_log2")) {
      throw UserError(key + field + " must be a finite number >= 0, got " + std::to_string(value));
    }
  }
  // Busy power is at least the decode power of one sequence; an idle GPU cannot draw more.
  if (p.idle_w > p.base_w + 1e-9 || p.idle_w > p.prefill_w + 1e-9) {
    throw UserError(key + "power_idle_w (" + std::to_string(p.idle_w) +
                    " W) is above the busy power (power_base_w " + std::to_string(p.base_w) +
                    " W, power_prefill_w " + std::to_string(p.prefill_w) + " W)");
  }
}

}  // namespace

void ValidateExpertConfig(const ExpertConfig& c) {
  const std::string key = "expert." + c.name + ".";
  auto positive = [&](double v, const char* field) {
    if (!(v > 0) || !std::isfinite(v)) {
      throw UserError(key + field + " must be > 0, got " + std::to_string(v));
    }
  };
  auto non_negative = [&](double v, const char* field) {
    if (!(v >= 0) || !std::isfinite(v)) {
      throw UserError(key + field + " must be >= 0, got " + std::to_string(v));
    }
  };
  positive(c.kv_bytes_per_token, "kv_bytes_per_token");
  non_negative(c.weights_gb, "weights_gb");
  positive(c.gpu_memory_gb, "gpu_memory_gb");
  if (!(c.gpu_memory_utilization > 0 && c.gpu_memory_utilization <= 1)) {
    throw UserError(key + "gpu_memory_utilization must be in (0, 1], got " +
                    std::to_string(c.gpu_memory_utilization));
  }
  non_negative(c.reserve_gb, "reserve_gb");
  positive(c.block_size, "block_size");
  positive(c.max_num_seqs, "max_num_seqs");
  positive(c.max_num_batched_tokens, "max_num_batched_tokens");
  if (!(c.watermark >= 0 && c.watermark < 1)) {
    throw UserError(key + "watermark must be in [0, 1), got " + std::to_string(c.watermark));
  }
  non_negative(c.c0, "c0");
  non_negative(c.k1, "k1");
  non_negative(c.k2, "k2");
  non_negative(c.k3, "k3");
  non_negative(c.k4, "k4");
  non_negative(c.c1, "c1");
  if (c.time_model == TimeModelKind::kTable && c.profile == nullptr) {
    throw UserError(key + "profile: time_model = table needs a profile CSV (cluster.profile or " +
                    key + "profile)");
  }
  if (c.time_model != TimeModelKind::kTable && c.c0 + c.k1 + c.k2 <= 0)
    throw UserError(key + "c0, k1 and k2 are all zero: iterations would take no time");
  ValidatePower(c.power, key);
  if (!(c.mean_score >= 0 && c.mean_score < 1)) {
    throw UserError(key + "mean_score must be in (0, 1) (0 = unset), got " +
                    std::to_string(c.mean_score));
  }
  non_negative(c.num_blocks, "num_blocks");
  // A request of up to 128 prompt + 128 output tokens must fit on an otherwise empty GPU.
  const int min_blocks = (256 + c.block_size - 1) / c.block_size + c.WatermarkBlocks();
  if (c.NumBlocks() < min_blocks) {
    throw UserError(key + "KV cache has " + std::to_string(c.NumBlocks()) +
                    " blocks, fewer than the " + std::to_string(min_blocks) +
                    " one long request needs; check gpu_memory_gb, weights_gb and reserve_gb");
  }
}

}  // namespace qosroute
