#pragma once
// The run configuration: INI files parsed with Boost.Program_options into the components'
// config structs. Only launch/ parses; every component receives a plain struct.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "comm/distributed_tuning.h"
#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "env/workload.h"
#include "learner/sac_hyperparameters.h"
#include "learner/train_schedule.h"
#include "planner/planner_config.h"

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

// [train] (the schedule, learner/train_schedule.h) and the model's shape: train.encoder,
// train.threads and [han].
struct TrainConfig : TrainSchedule {
  EncoderKind encoder = EncoderKind::kHan;
  int hidden = 64;
  int heads = 4;
  int layers = 2;
  int threads = 0;  // torch intra-op threads, 0 = one per core
};

// [sac]: the learner's hyper-parameters (learner/sac_hyperparameters.h), except that
// deviation_margin defaults to -1 here: the policy file's own (0 while training).
struct SacKeys : SacHyperparameters {
  SacKeys() { deviation_margin = -1.0; }
};

// Distributed training under mpirun/srun (docs/DISTRIBUTED.md): the role layout here, the
// streams' tuning in comm/distributed_tuning.h.
struct LaunchConfig : DistributedTuning {
  int learners = 1;                       // L >= 1 data-parallel learners (ranks 0..L-1)
  int replay_shards = 0;                  // R >= 0 shard ranks; 0 = one shard inside each learner
  std::string gradient_backend = "auto";  // auto | mpi | nccl
  std::string learner_device = "cpu";     // cpu | cuda
  // split: the global batch train.batch_size is divided among the L learners (each computes
  // batch / L samples; the averaged gradient is the one-learner gradient of the whole batch),
  // so updates/s of the job grow with L. full: every learner takes train.batch_size samples
  // (an effective batch of L x batch_size, L x the samples per insert).
  std::string learner_batch = "split";
};

struct RunConfig {
  std::string config_path;  // the file it came from ("" for defaults only)
  EnvConfig env;
  WorkloadSourceConfig workload;
  GreedyQosOptions greedy;
  PlannerConfig planner;  // [planner]: the rollout router and the hindsight bound
  EvalConfig eval;
  TrainConfig train;
  SacKeys sac;
  PolicySelectionOptions select;  // [select] (threads: eval.threads)
  CheckpointSchedule checkpoint;
  LaunchConfig launch;
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
