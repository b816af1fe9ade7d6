#include "launch/config_experts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <sstream>

#include "common/error.h"
#include "env/time_models.h"

namespace po = boost::program_options;

namespace qosroute {

namespace {

// Per-expert numeric keys and the field each sets.
struct DoubleField {
  const char* key;
  double ExpertConfig::*field;
};
const DoubleField kExpertDoubles[] = {
    {"kv_bytes_per_token", &ExpertConfig::kv_bytes_per_token},
    {"weights_gb", &ExpertConfig::weights_gb},
    {"k1", &ExpertConfig::k1},
    {"k2", &ExpertConfig::k2},
    {"k3", &ExpertConfig::k3},
    {"k4", &ExpertConfig::k4},
    {"c1", &ExpertConfig::c1},
    {"c0", &ExpertConfig::c0},
    {"gpu_memory_gb", &ExpertConfig::gpu_memory_gb},
    {"reserve_gb", &ExpertConfig::reserve_gb},
    {"mean_score", &ExpertConfig::mean_score},
};
struct PowerField {
  const char* key;
  double PowerModel::*field;
};
const PowerField kPowerFields[] = {
    {"power_idle_w", &PowerModel::idle_w}, {"power_base_w", &PowerModel::base_w},
    {"power_span_w", &PowerModel::span_w}, {"power_prefill_w", &PowerModel::prefill_w},
    {"power_slope", &PowerModel::slope},   {"power_mid_log2", &PowerModel::mid_log2},
};

// Exact text for a double: std::to_string where it round-trips (the historical format of the
// resolved config), otherwise 17 significant digits (6.5e-7 is not 0.000001).
std::string ExactText(double v) {
  const std::string fixed = std::to_string(v);
  if (std::stod(fixed) == v) return fixed;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Text as the key table prints it (ostream), where it round-trips; else 17 digits.
std::string StreamText(double v) {
  std::ostringstream s;
  s << v;
  if (std::stod(s.str()) == v) return s.str();
  return ExactText(v);
}

bool Explicit(const po::variables_map& vm, const std::string& key) {
  return vm.count(key) && !vm[key].defaulted();
}

std::string CatalogList() {
  std::string known;
  for (const auto& n : CatalogExpertNames()) known += (known.empty() ? "" : ", ") + n;
  return known;
}

// An expert's starting point: its model's catalog entry (expert.<name>.model, or the name
// itself), or for another model the keys that size it.
ExpertConfig BaseExpert(const std::string& name, const po::variables_map& vm,
                        const std::string& where, const std::vector<std::string>& synthetic) {
  const std::string p = "expert." + name + ".";
  const std::string model = vm.count(p + "model") ? vm[p + "model"].as<std::string>() : name;
  if (model.empty()) throw UserError(where + ": " + p + "model is empty");
  ExpertConfig config;
  if (IsCatalogExpert(model)) {
    config = CatalogExpert(model);
  } else {
    for (const char* required : {"kv_bytes_per_token", "weights_gb"}) {
      if (!vm.count(p + required)) {
        throw UserError(where + ": model '" + model + "' of expert '" + name +
                        "' is not in the built-in catalog (" + CatalogList() + "); it needs " + p +
                        required);
      }
    }
    const bool generated = std::find(synthetic.begin(), synthetic.end(), model) != synthetic.end();
    if (!synthetic.empty() && !generated && !vm.count(p + "mean_score")) {
      throw UserError(where + ": model '" + model + "' of expert '" + name +
                      "' is not a model of the synthetic workload; it needs " + p +
                      "mean_score (its mean BERTScore), or a workload.source file");
    }
  }
  config.name = name;
  if (model != name) config.model = model;
  return config;
}

// The expert's GPU kind: expert.<name>.gpu (a profile), else cluster.gpu ("none" for none).
std::string ExpertGpu(const std::string& name, const po::variables_map& vm,
                      const std::string& cluster_gpu, const std::string& where) {
  const std::string key = "expert." + name + ".gpu";
  if (!vm.count(key)) return cluster_gpu;
  const std::string gpu = vm[key].as<std::string>();
  const std::vector<std::string> known = GpuProfileNames();
  if (std::find(known.begin(), known.end(), gpu) == known.end()) {
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    throw UserError(where + ": " + key + ": unknown GPU kind '" + gpu + "'; known: " + list);
  }
  return gpu;
}

}  // namespace

ClusterKeys::ClusterKeys(const ClusterPrelude& prelude, po::options_description* desc)
    : prelude_(prelude) {
  shared_ = IsCatalogExpert(prelude.names.front()) ? CatalogExpert(prelude.names.front())
                                                   : ExpertConfig();
  if (prelude.gpu != "none") {
    const GpuProfile& gpu = FindGpuProfile(prelude.gpu);  // UserError for an unknown name
    shared_.gpu_memory_gb = gpu.gpu_memory_gb;
    shared_.reserve_gb = gpu.reserve_gb;
    shared_.c0 = gpu.c0;
    shared_.time_model = TimeModelKind::kCalibrated;
    shared_.power = gpu.power;
  }
  auto add = [&](const std::string& key, auto* field, const char* help) {
    desc->add_options()(key.c_str(), po::value(field)->default_value(*field), help);
  };
  desc->add_options()("cluster.experts",
                      po::value<std::string>()->default_value(prelude.experts_text),
                      "comma-separated expert (model) names");
  desc->add_options()("cluster.gpu", po::value<std::string>()->default_value(prelude.gpu),
                      "GPU profile: none | rtx4090 | a100-80gb | h100-80gb");
  add("cluster.gpu_memory_gb", &shared_.gpu_memory_gb, "GPU memory of every expert's card (GB)");
  add("cluster.gpu_memory_utilization", &shared_.gpu_memory_utilization,
      "vLLM gpu_memory_utilization");
  add("cluster.reserve_gb", &shared_.reserve_gb,
      "activations + non-torch memory, not available to the KV cache (GB)");
  add("cluster.c0", &shared_.c0, "fixed iteration cost (s)");
  add("cluster.max_num_seqs", &shared_.max_num_seqs, "vLLM max_num_seqs");
  add("cluster.max_num_batched_tokens", &shared_.max_num_batched_tokens,
      "vLLM max_num_batched_tokens");
  add("cluster.block_size", &shared_.block_size, "KV block size (tokens)");
  add("cluster.watermark", &shared_.watermark, "free-block watermark at admission (fraction)");
  time_model_text_ = TimeModels().Name(shared_.time_model);
  add("cluster.time_model", &time_model_text_, ("time model: " + TimeModels().List(" | ")).c_str());
  add("cluster.profile", &profile_path_, "profile CSV of measured iterations (time_model table)");
  for (const PowerField& f : kPowerFields) {
    add(std::string("cluster.") + f.key, &(shared_.power.*f.field), "power model (W, docs)");
  }
  for (const std::string& name : prelude.names) {
    const std::string p = "expert." + name + ".";
    for (const DoubleField& f : kExpertDoubles)
      desc->add_options()((p + f.key).c_str(), po::value<double>());
    for (const PowerField& f : kPowerFields)
      desc->add_options()((p + f.key).c_str(), po::value<double>());
    desc->add_options()((p + "num_blocks").c_str(), po::value<int>());
    desc->add_options()((p + "time_model").c_str(), po::value<std::string>());
    desc->add_options()((p + "profile").c_str(), po::value<std::string>());
    desc->add_options()((p + "model").c_str(), po::value<std::string>());
    desc->add_options()((p + "gpu").c_str(), po::value<std::string>());
  }
}

std::vector<ExpertConfig> ClusterKeys::Build(const po::variables_map& vm, const std::string& where,
                                             const std::string& base_dir,
                                             const std::vector<std::string>& synthetic) const {
  std::map<std::string, std::shared_ptr<const ProfileTable>> tables;  // one read per file
  std::vector<ExpertConfig> experts;
  for (const std::string& name : prelude_.names) {
    const std::string p = "expert." + name + ".";
    const std::string gpu = ExpertGpu(name, vm, prelude_.gpu, where);
    const bool has_gpu = gpu != "none";
    // Keys a GPU profile sets apply only when given explicitly; the others always do.
    auto profile_key = [&](const char* key) { return !has_gpu || Explicit(vm, key); };
    ExpertConfig ec = BaseExpert(name, vm, where, synthetic);
    for (const char* size_key : {"kv_bytes_per_token", "weights_gb"}) {
      for (const DoubleField& f : kExpertDoubles) {
        if (std::string(f.key) == size_key && vm.count(p + f.key))
          ec.*f.field = vm[p + f.key].as<double>();
      }
    }
    if (has_gpu) ApplyGpuProfile(FindGpuProfile(gpu), &ec);
    if (profile_key("cluster.gpu_memory_gb")) ec.gpu_memory_gb = shared_.gpu_memory_gb;
    if (profile_key("cluster.reserve_gb")) ec.reserve_gb = shared_.reserve_gb;
    if (profile_key("cluster.c0")) ec.c0 = shared_.c0;
    if (profile_key("cluster.time_model"))
      ec.time_model = TimeModels().Parse(time_model_text_, where + ": cluster.time_model");
    for (const PowerField& f : kPowerFields) {
      if (profile_key((std::string("cluster.") + f.key).c_str()))
        ec.power.*f.field = shared_.power.*f.field;
    }
    ec.gpu_memory_utilization = shared_.gpu_memory_utilization;
    ec.max_num_seqs = shared_.max_num_seqs;
    ec.max_num_batched_tokens = shared_.max_num_batched_tokens;
    ec.block_size = shared_.block_size;
    ec.watermark = shared_.watermark;
    for (const DoubleField& f : kExpertDoubles) {
      if (vm.count(p + f.key)) ec.*f.field = vm[p + f.key].as<double>();
    }
    for (const PowerField& f : kPowerFields) {
      if (vm.count(p + f.key)) ec.power.*f.field = vm[p + f.key].as<double>();
    }
    if (vm.count(p + "num_blocks")) ec.num_blocks = vm[p + "num_blocks"].as<int>();
    if (vm.count(p + "time_model"))
      ec.time_model = TimeModels().Parse(vm[p + "time_model"].as<std::string>(),
                                         where + ": " + p + "time_model");
    std::string profile = profile_path_;
    std::string profile_key_name = "cluster.profile";
    if (vm.count(p + "profile")) {
      profile = vm[p + "profile"].as<std::string>();
      profile_key_name = p + "profile";
    }
    if (ec.time_model == TimeModelKind::kTable) {
      if (profile.empty()) {
        throw UserError(where + ": " + p + "time_model is table but no profile CSV is given (" +
                        "cluster.profile or " + p + "profile)");
      }
      if (std::filesystem::path(profile).is_relative())
        profile = (std::filesystem::path(base_dir) / profile).lexically_normal().string();
      if (!tables.count(profile)) {
        try {
          tables[profile] = LoadProfileTable(profile);
        } catch (const UserError& e) {
          throw UserError(where + ": " + profile_key_name + ": " + e.what());
        }
      }
      ec.profile = tables[profile];
      ec.profile_path = profile;
    }
    experts.push_back(std::move(ec));
  }
  return experts;
}

void ClusterKeys::AddResolved(const std::vector<ExpertConfig>& experts,
                              std::map<std::string, std::string>* resolved) const {
  auto& r = *resolved;
  r["cluster.experts"] = prelude_.experts_text;
  r["cluster.gpu"] = prelude_.gpu;
  r["cluster.gpu_memory_gb"] = StreamText(shared_.gpu_memory_gb);
  r["cluster.gpu_memory_utilization"] = StreamText(shared_.gpu_memory_utilization);
  r["cluster.reserve_gb"] = StreamText(shared_.reserve_gb);
  r["cluster.c0"] = StreamText(shared_.c0);
  r["cluster.max_num_seqs"] = std::to_string(shared_.max_num_seqs);
  r["cluster.max_num_batched_tokens"] = std::to_string(shared_.max_num_batched_tokens);
  r["cluster.block_size"] = std::to_string(shared_.block_size);
  r["cluster.watermark"] = StreamText(shared_.watermark);
  r["cluster.time_model"] = time_model_text_;
  r["cluster.profile"] = profile_path_;
  for (const PowerField& f : kPowerFields)
    r[std::string("cluster.") + f.key] = StreamText(shared_.power.*f.field);
  for (const ExpertConfig& ec : experts) {
    const std::string p = "expert." + ec.name + ".";
    for (const DoubleField& f : kExpertDoubles) {
      // k4 and c1 at 0 (terms off) are left out, as resolved configs before them had neither.
      const bool later = f.field == &ExpertConfig::k4 || f.field == &ExpertConfig::c1;
      if (!later || ec.*f.field != 0.0) r[p + f.key] = ExactText(ec.*f.field);
    }
    for (const PowerField& f : kPowerFields) r[p + f.key] = ExactText(ec.power.*f.field);
    r[p + "num_blocks"] = std::to_string(ec.num_blocks);
    r[p + "time_model"] = TimeModels().Name(ec.time_model);
    if (!ec.profile_path.empty()) r[p + "profile"] = ec.profile_path;
    // Only where they say something: configs before replicas resolve as they did.
    if (!ec.model.empty()) r[p + "model"] = ec.model;
    if (!ec.gpu.empty() && ec.gpu != prelude_.gpu) r[p + "gpu"] = ec.gpu;
  }
}

}  // namespace qosroute
