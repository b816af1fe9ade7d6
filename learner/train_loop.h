#pragma once
// Single-process SAC training (the embedded default): a vector of simulators stepped
// together with one batched policy call, uniform replay, random warm-up frames, the
// update-to-data ratio, periodic held-out evaluation, a progress line, metrics CSVs, the
// trained policy and full-state checkpoints in the run directory.
//
// One iteration of the loop is: pay the updates the frames so far are owed, log and evaluate
// when due, checkpoint when due, stop if asked, then one decision round (every env acts on
// one batched policy call). A stop request is honoured between two updates or before a
// decision round; because the loop starts by paying owed updates, a run resumed from a
// checkpoint taken at either point continues exactly as the uninterrupted run would have
// (bit for bit on CPU at a fixed seed and torch thread count: see docs/CHECKPOINTS.md).
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "learner/policy_selection.h"
#include "learner/sac.h"
#include "learner/selection_keeper.h"
#include "planner/planner_config.h"

namespace qosroute {

// The [train] schedule (bound to its keys) and what the run adds.
struct TrainLoopOptions : TrainSchedule {
  GreedyQosOptions greedy;  // for the greedy-qos warm-up
  PlannerConfig planner;    // the rollout planner that labels (TrainSchedule::labels)
  uint64_t eval_seed_base = 1000000;
  // Model selection at every periodic evaluation (learner/policy_selection.h); off while
  // selection.rates is empty.
  PolicySelectionOptions selection;
  std::string run_dir;  // metrics/, policy.h5, config.cfg, checkpoints/ go here

  // Checkpoints (learner/train_schedule.h); off by default here, unlike the config's.
  CheckpointSchedule checkpoint{/*every_updates=*/0, /*every_minutes=*/0.0, /*keep=*/3,
                                /*compression=*/0};
  // A checkpoint to continue from ("" starts fresh). Everything is read and checked before
  // anything in the run directory is written.
  std::string resume_from;
  // The resolved config: written to <run_dir>/config.cfg and into every checkpoint.
  std::string config_text;
  // Polled between updates and decision rounds; once set, the loop writes a checkpoint and
  // returns with TrainResult::stopped (see checkpoint/signals.h).
  const std::atomic<bool>* stop_requested = nullptr;
  // Behave as if a stop was requested once this many updates are done (0 = never): lets
  // tests stop a run at a chosen point.
  long stop_at_updates = 0;
};

struct TrainResult {
  long frames = 0;
  long updates = 0;
  long episodes = 0;
  // This process's wall time, and the counters it started from (0 unless it resumed): rates
  // cover this process's part only, as the progress line's do.
  double seconds = 0.0;
  long start_frames = 0;
  long start_updates = 0;
  double last_eval_qos = 0.0;
  std::string policy_path;
  // With model selection: <run_dir>/policy_selected.h5 and the update count of the snapshot
  // it holds ("" and -1 without selection).
  std::string selected_policy_path;
  long selected_updates = -1;
  double selected_mean_gain = 0.0;  // its validation gain over greedy-qos, mean over rates
  double selected_min_gain = 0.0;   // and at its worst rate
  double selected_margin = 0.0;     // the deviation margin it is deployed with
  bool stopped = false;             // a stop request ended training early, after a checkpoint
  std::string checkpoint_path;      // the last checkpoint written ("" if none)
  // Planner labels taken by this process (train.planner_share), how many left the planner's
  // base, and the seconds the planner took.
  long labelled = 0;
  long label_deviations = 0;
  double label_seconds = 0.0;
};

// The closing line of a training run: totals, and rates over this process's part (a resumed
// run says where it resumed), e.g. "trained 6400 frames, 1350 updates, 31 episodes in 3 s,
// resumed at 1250 updates (1600.0 frames/s, 33.3 updates/s); policy: P".
std::string DescribeTrainedRun(const TrainResult& t);

// With a snapshot selected: its file, update count, validation gains and margin.
void ReportSelection(const SelectionKeeper& keeper, TrainResult* result);

// Called at every evaluation with (frames, updates, the agent's episodes), for reporting.
using EvalCallback = std::function<void(long, long, const std::vector<EpisodeMetrics>&)>;

TrainResult RunTraining(const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                        const SacConfig& sac_config, const TrainLoopOptions& options,
                        const EvalCallback& on_eval = nullptr);

}  // namespace qosroute
