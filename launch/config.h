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
  std::string warmup_policy = "random";  // random | greedy-qos (env/warmup_actions.h)
  double warmup_epsilon = 0.3;           // greedy-qos warm-up: share of random actions
  double updates_per_frame = 1.0;        // update-to-data ratio
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
  bool dueling = false;  // dueling critic heads (learner/sac.h)
  // Actor and critic rates fall linearly to this fraction of themselves over the run's
  // updates (learner/sac.h); 1 = constant.
  double lr_final_fraction = 1.0;
  std::string twin_reduction = "min";  // min | mean (learner/sac.h)
  // KL-regularised SAC towards a prior policy (learner/sac.h): none | greedy-qos.
  std::string prior = "none";
  double prior_temperature = 0.01;
  double prior_kl_target = 0.05;
  // Deployment (learner/sac.h): -1 = the policy file's own (0 while training); >= 0 overrides.
  double deviation_margin = -1.0;
  // HAN.
  int hidden = 64;
  int heads = 4;
  int layers = 2;
  int threads = 0;  // torch intra-op threads, 0 = one per core
};

// Model selection during `qosroute train` (learner/policy_selection.h): at every periodic
// evaluation the policy is validated against greedy-qos at these rates and the best snapshot
// is kept as policy_selected.h5. Single-process training only.
struct SelectConfig {
  std::vector<double> rates;     // empty = off
  int seeds = 5;                 // validation episodes per rate
  uint64_t seed_base = 3000000;  // disjoint from eval seeds and below 2^32 (training seeds)
  int requests_per_episode = 0;  // 0 = workload.requests_per_episode
  double tolerance = 0.0005;     // admissible: paired gain >= -tolerance at every rate
  // Deviation margins (nats) every snapshot is tried with; needs sac.prior unless just 0.
  std::vector<double> margins = {0.0};
};

// Distributed training under mpirun/srun (docs/DISTRIBUTED.md): role layout and tuning.
struct LaunchConfig {
  int learners = 1;                       // L >= 1 data-parallel learners (ranks 0..L-1)
  int replay_shards = 0;                  // R >= 0 shard ranks; 0 = one shard inside each learner
  int publish_every_updates = 10;         // learner 0 publishes weights to actors every K updates
  int send_transitions = 64;              // transitions per actor -> shard message
  int max_inflight_sends = 4;             // unacknowledged messages per actor
  bool prioritized = false;               // prioritized (sum-tree) sampling instead of uniform
  double priority_exponent = 0.6;         // PER alpha
  double rate_error_buffer = 0.0;         // rate-limiter tolerance in samples; 0 = smallest safe
  double wait_timeout_s = 600.0;          // every wait fails after this long without a message
  std::string gradient_backend = "auto";  // auto | mpi | nccl
  std::string learner_device = "cpu";     // cpu | cuda
  // split: the global batch train.batch_size is divided among the L learners (each computes
  // batch / L samples; the averaged gradient is the one-learner gradient of the whole batch),
  // so updates/s of the job grow with L. full: every learner takes train.batch_size samples
  // (an effective batch of L x batch_size, L x the samples per insert).
  std::string learner_batch = "split";
};

// Full-state checkpoints of `qosroute train` (docs/CHECKPOINTS.md); 0 turns a trigger off.
struct CheckpointConfig {
  long every_updates = 10000;  // a checkpoint every so many SAC updates
  double every_minutes = 30;   // and every so many minutes of wall time
  int keep = 3;                // newest checkpoints kept in <run_dir>/checkpoints/
  int compression = 1;         // 0 = raw, 1-9 = shuffle + deflate level (1: 7x smaller)
};

struct RunConfig {
  std::string config_path;  // the file it came from ("" for defaults only)
  EnvConfig env;
  WorkloadSourceConfig workload;
  GreedyQosOptions greedy;
  EvalConfig eval;
  TrainConfig train;
  SelectConfig select;
  CheckpointConfig checkpoint;
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
