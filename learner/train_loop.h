#pragma once
// Single-process SAC training (the embedded default): a vector of simulators stepped
// together with one batched policy call, uniform replay, random warm-up frames, the
// update-to-data ratio, periodic held-out evaluation, a progress line, metrics CSVs and the
// trained policy in the run directory.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "env/cluster_env.h"
#include "learner/sac.h"

namespace qosroute {

struct TrainLoopOptions {
  long total_frames = 1000000;
  long warmup_frames = 25000;
  double updates_per_frame = 1.0;
  int batch_size = 256;
  int replay_capacity = 100000;
  long eval_every_frames = 100000;
  int eval_seeds = 5;
  uint64_t eval_seed_base = 1000000;
  long log_every_frames = 5000;
  int num_envs = 1;
  uint64_t seed = 1;
  std::string run_dir;  // metrics/, policy.h5 go here
};

struct TrainResult {
  long frames = 0;
  long updates = 0;
  long episodes = 0;
  double seconds = 0.0;
  double last_eval_qos = 0.0;
  std::string policy_path;
};

// Called at every evaluation with (frames, updates, the agent's episodes), for reporting.
using EvalCallback = std::function<void(long, long, const std::vector<EpisodeMetrics>&)>;

TrainResult RunTraining(const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                        const SacConfig& sac_config, const TrainLoopOptions& options,
                        const EvalCallback& on_eval = nullptr);

// Training episodes use seeds (seed << 32) + episode, disjoint from evaluation seeds below 2^32.
uint64_t TrainingEpisodeSeed(uint64_t seed, long episode);

}  // namespace qosroute
