#pragma once
// What the trainer is told by the [train], [checkpoint] and [select] sections, declared by the
// learner that reads them; launch/config.cc binds the INI keys straight to these fields.
// Torch-free, so that config parsing stays torch-free.
#include <cstdint>
#include <string>
#include <vector>

#include "env/warmup_actions.h"
#include "planner/label_options.h"

namespace qosroute {

// [train]: the training loop's budget and schedule (both topologies).
struct TrainSchedule {
  long total_frames = 1000000;
  long warmup_frames = 25000;
  WarmupPolicy warmup_policy = WarmupPolicy::kRandom;  // env/warmup_actions.h
  double warmup_epsilon = 0.3;     // greedy-qos warm-up: share of random actions
  double updates_per_frame = 1.0;  // update-to-data ratio
  int batch_size = 256;
  int replay_capacity = 100000;
  long eval_every_frames = 100000;
  int eval_seeds = 5;
  long log_every_frames = 5000;
  int num_envs = 1;
  uint64_t seed = 1;
  // Planner labels on a share of the decisions (planner/label_options.h; train.planner_share,
  // train.label_behaviour; the planner is the [planner] section's rollout).
  LabelOptions labels;
};

// [checkpoint]: full-state checkpoints in <run_dir>/checkpoints/ckpt_<updates>.h5, every so
// many updates and every so many minutes of wall time (0 turns a trigger off), on a stop
// request and at the end of training; the newest `keep` are kept.
struct CheckpointSchedule {
  long every_updates = 10000;
  double every_minutes = 30;
  int keep = 3;
  int compression = 1;  // 0 = raw, 1-9 = shuffle + deflate level (1: 7x smaller)
};

// [select]: model selection at every periodic evaluation (learner/policy_selection.h): the
// policy is validated against greedy-qos at these rates and the best snapshot is kept as
// policy_selected.h5.
struct PolicySelectionOptions {
  std::vector<double> rates;  // Poisson rates to validate at; empty turns selection off
  // Deviation margins each snapshot is tried with (nats; only with a prior, else {0}).
  std::vector<double> margins = {0.0};
  int seeds = 5;                 // validation episodes per rate
  uint64_t seed_base = 3000000;  // disjoint from eval seeds and below 2^32 (training seeds)
  int requests_per_episode = 0;  // 0 = the training config's episode length
  double tolerance = 0.0005;     // admissible: gain >= -tolerance at every rate
  int threads = 0;  // greedy-qos validation threads (0 = one per core; from eval.threads)
};

}  // namespace qosroute
