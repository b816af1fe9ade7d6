#pragma once
// The run configuration: INI files parsed with Boost.Program_options into the components'
// config structs. Only launch/ parses; every component receives a plain struct.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "env/workload.h"

namespace qosroute {

struct WorkloadSourceConfig {
  std::string source = "synthetic";  // "synthetic" or a path to mix-instruct JSON / JSON lines
  int synthetic_records = 20000;
  uint64_t synthetic_seed = 7;
  int max_output_tokens = 127;
};

struct EvalConfig {
  int seeds = 5;                 // held-out evaluation episodes
  uint64_t seed_base = 1000000;  // evaluation seeds are seed_base + k: disjoint from training seeds
  int threads = 0;               // 0 = one per core
};

// Training settings (the learner issue); parsed here so that one file configures a run.
struct TrainConfig {
  long total_frames = 1000000;
  long warmup_frames = 25000;
  double updates_per_frame = 1.0;  // update-to-data ratio
  int batch_size = 256;
  int replay_capacity = 100000;
  long eval_every_frames = 100000;
  int eval_seeds = 5;
  long log_every_frames = 5000;
  int num_envs = 1;
  uint64_t seed = 1;
  std::string encoder = "han";  // han | flat
  // SAC (spec section 3).
  double gamma = 0.99;
  double tau = 0.005;
  double actor_lr = 3e-5;
  double critic_lr = 3e-5;
  double alpha_lr = 3e-4;
  double alpha_init = 1.0;
  double target_entropy_ratio = 0.5;
  std::vector<int> mlp_hidden = {64, 64};
  // HAN.
  int hidden = 64;
  int heads = 4;
  int layers = 2;
  int threads = 0;  // torch intra-op threads, 0 = one per core
};

struct RunConfig {
  std::string config_path;  // the file it came from ("" for defaults only)
  EnvConfig env;
  WorkloadSourceConfig workload;
  GreedyQosOptions greedy;
  EvalConfig eval;
  TrainConfig train;
  std::string log_level = "info";
  // Every key with its resolved value, for writing the run directory's config.cfg.
  std::map<std::string, std::string> resolved;
};

// Parses `path` (may be empty: defaults) with `overrides` ("section.key=value") applied on
// top. Unknown keys, malformed values and out-of-range values throw UserError naming the file
// and key. Relative data paths are resolved against the config file's folder.
RunConfig LoadRunConfig(const std::string& path, const std::vector<std::string>& overrides);

// Writes the resolved config as INI.
std::string FormatResolvedConfig(const RunConfig& config);

// Loads or generates the configured workload.
std::shared_ptr<const Workload> LoadConfiguredWorkload(const RunConfig& config);

}  // namespace qosroute
