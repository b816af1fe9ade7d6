#pragma once
// The learner role of a distributed job (learner/distributed_run.h says what it does): one
// class, its parts in three files by concern:
//   learner_role.cc         sampling from the shards, the update, the gradient all-reduce,
//                           publishing weights, the message pump (Run)
//   learner_checkpoints.cc  learner 0's checkpoint coordination, writing and resuming
//   learner_reports.cc      actors' reports, metrics and TensorBoard, evaluation, model
//                           selection, the end-of-run accounting
// Private to learner/: other code runs the role through RunLearnerRole.
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "learner/checkpoint_coordinator.h"
#include "learner/distributed_run.h"
#include "learner/graph_batch.h"
#include "learner/periodic_evaluation.h"
#include "learner/selection_keeper.h"
#include "replay/replay_shard.h"
#include "replay/transition_codec.h"
#include "telemetry/rolling_qos.h"
#include "telemetry/run_reporter.h"

namespace qosroute {

class Learner {
 public:
  using Clock = std::chrono::steady_clock;

  Learner(const DistributedJob& job, Transport* transport, GradientSync* sync)
      : layout_(job.layout),
        options_(job.options),
        plan_(job.plan),
        env_config_(job.env_config),
        workload_(job.workload),
        transport_(transport),
        sync_(sync),
        index_(layout_.IndexOf(transport->rank())),
        agent_(job.sac_config),
        actor_frames_(layout_.num_actors(), 0),
        reporter_(options_.train.run_dir, options_.write_metrics && index_ == 0),
        evaluator_(env_config_, workload_, options_.train.greedy, options_.train.eval_seed_base,
                   options_.train.eval_seeds),
        selection_(env_config_, workload_, options_.train.greedy, options_.train.selection,
                   options_.train.run_dir, options_.write_metrics && index_ == 0),
        checkpoints_(layout_, options_, plan_.total_updates, index_, transport) {
    if (layout_.replay_shards == 0) {
      hosted_shard_ = std::make_unique<ShardServer>(layout_, index_, plan_.shards.at(index_),
                                                    plan_.limiter, transport);
      hosted_shard_->set_max_chunk_bytes(options_.max_chunk_bytes);
    }
    wait_.serve = [this] { return Pump(); };
    wait_.idle_timeout_s = options_.wait_timeout_s;
  }

  DistributedResult Run();

 private:
  // Before the first update: resume if asked, open the metrics, take learner 0's parameters.
  void Start();
  // After the last update: learner 0 collects every rank's totals, checks the stream and
  // sends Stop; the other learners report theirs and wait for it.
  DistributedResult WindDown();
  std::vector<int64_t> RequestBatch();
  void Decode(const std::vector<int64_t>& ids);
  void SendPriorities();
  void Publish(bool force = false);

  // Handles every message that has arrived, then lets the hosted shard work.
  bool Pump();

  // Messages kept while waiting for this rank's resume part come first.
  bool NextMessage(Message* message);
  void WaitForSends();

  // ------------------------------------------------------------------------- checkpoints

  // Learner 0's state as a checkpoint holds it.
  LearnerZeroState Bookkeeping() const;

  // Resume: learner 0 takes its state from the checkpoint and sends every other rank its
  // part; the other learners wait for theirs.
  void Restore();
  static long StoredTransitions(const DistributedCheckpoint& c);
  DistributedResult Stopped();

  // Learner 0's bookkeeping of actor, shard and learner reports.
  void HandleReport(const Message& message);
  long TotalFrames() const {
    long sum = 0;
    for (long f : actor_frames_) sum += f;
    return sum;
  }
  double ProcessSeconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }
  double Elapsed() const { return elapsed_before_ + ProcessSeconds(); }
  // The closing figures: totals, this process's time and the counters it began at.
  void FillTotals(TrainResult* t) const;

  // Fresh: headers and the first log/eval points. Resumed: the rows up to the checkpoint
  // (rows written after it are dropped; the resumed run writes them again).
  void OpenMetrics();
  void MaybeLog(bool force);
  void MaybeEvaluate();
  void Evaluate();
  std::string PolicyPath() const;
  void Finish(DistributedResult* result);
  RoleLayout layout_;
  DistributedOptions options_;
  DistributedPlan plan_;
  EnvConfig env_config_;
  std::shared_ptr<const Workload> workload_;
  Transport* transport_;
  GradientSync* sync_;
  int index_;
  SacAgent agent_;
  std::unique_ptr<ShardServer> hosted_shard_;
  SyncWait wait_;

  int64_t next_request_id_ = 0;
  std::map<int64_t, Message> replies_;
  std::map<int64_t, int> request_shard_;
  std::map<int, std::vector<std::pair<uint64_t, int64_t>>>
      batch_keys_;  // shard -> (key, batch row)
  std::vector<Transition> transitions_;
  long samples_ = 0, labelled_samples_ = 0;  // sampled by this learner (this process)
  // The learner's busy share: the time of its update loop not spent waiting for samples (the
  // rate limiter holds them back while actors are slow, e.g. while the planner labels).
  std::chrono::steady_clock::time_point updates_begin_;
  double sample_wait_s_ = 0.0;
  GraphBatch obs_, next_obs_;
  PlannerTargets labels_;  // prior = planner: the batch's planner labels
  torch::Tensor actions_, rewards_, dones_;
  std::vector<float> td_errors_;  // the last update's |TD error| per sample (prioritized)
  long updates_ = 0;
  int64_t version_ = 0;
  long published_updates_ = 0;
  bool stop_ = false;

  // Learner 0 only.
  Clock::time_point start_;
  std::vector<long> actor_frames_;
  long episodes_ = 0;
  ReportSchedule schedule_;  // the next progress row and evaluation (checkpointed)
  double lag_sum_ = 0.0;     // policy lag since the last progress row
  long lag_count_ = 0;
  StreamAccounting stream_;  // every transition stored once? (checkpointed)
  std::map<int, uint64_t> learner_checksums_;
  RunReporter reporter_;  // metrics/*.csv and TensorBoard (their text rides in checkpoints)
  std::string resumed_train_csv_, resumed_eval_csv_;  // the checkpoint's, until OpenMetrics
  RollingQos rolling_;  // over the actors' progress reports since the last log row
  PeriodicEvaluator evaluator_;
  SelectionKeeper selection_;         // model selection at every evaluation (learner 0)
  SelectionState resumed_selection_;  // the checkpoint's, until OpenMetrics

  // Checkpoints.
  std::optional<CheckpointSignal> planned_checkpoint_;  // follows the next update
  std::deque<Message> early_;  // resume: messages that arrived before this rank's part
  bool stop_forwarded_ = false;
  CheckpointCoordinator checkpoints_;          // when, and the protocol with every rank
  double elapsed_before_ = 0.0;                // training wall time before the resume
  long start_frames_ = 0, start_updates_ = 0;  // the counters this process resumed at
};

}  // namespace qosroute
