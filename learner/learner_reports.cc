#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "checkpoint/files.h"
#include "common/error.h"
#include "learner/distributed_weights.h"
#include "learner/graph_batch.h"
#include "learner/learner_role.h"
#include "learner/periodic_evaluation.h"
#include "learner/policy_io.h"
#include "learner/selection_keeper.h"
#include "replay/replay_shard.h"
#include "replay/transition_codec.h"
#include "telemetry/rolling_qos.h"
#include "telemetry/run_reporter.h"

namespace qosroute {

namespace {

// One more actor's or shard's closing totals into the stream's sums.
void AddTotals(const StreamTotals& t, long* done, long* transitions, uint64_t* checksum) {
  ++*done;
  *transitions += t.transitions;
  *checksum += t.checksum;
}

}  // namespace

void Learner::HandleReport(const Message& message) {
  switch (KindOf(message.bytes)) {
    case MessageKind::kProgress: {
      const Progress p = DecodeProgress(message.bytes);
      actor_frames_[p.actor] = std::max<long>(actor_frames_[p.actor], p.frames);
      rolling_.Add(p.credited_qos, p.credited_requests);
      lag_sum_ += static_cast<double>(version_ - p.policy_version);
      ++lag_count_;
      break;
    }
    case MessageKind::kEpisode: {
      const EpisodeReport e = DecodeEpisode(message.bytes);
      actor_frames_[e.actor] = std::max<long>(actor_frames_[e.actor], e.frames);
      ++episodes_;
      schedule_.last_episode_qos = e.avg_qos;
      const long lag = static_cast<long>(version_ - e.policy_version);
      stream_.episode_lag_sum += lag;
      if (index_ == 0) {
        TrainRow row;
        row.kind = "episode";
        row.frames = TotalFrames();
        row.updates = updates_;
        row.episodes = episodes_;
        row.wall_s = Elapsed();
        row.episode_qos = e.avg_qos;
        row.policy_lag = static_cast<double>(lag);
        reporter_.Episode(row);
      }
      spdlog::info(
          "episode {} (actor {}) done: avg QoS {:.4f}, SLA attainment {:.3f}, drop rate {:.3f}, "
          "return {:.1f}, policy lag {}",
          episodes_, e.actor, e.avg_qos, e.sla_attainment, e.drop_rate, e.episode_return, lag);
      break;
    }
    case MessageKind::kActorDone: {
      const StreamTotals t = DecodeTotals(message.bytes);
      AddTotals(t, &stream_.actors_done, &stream_.actor_transitions, &stream_.actor_checksum);
      actor_frames_[t.index] = t.frames;
      break;
    }
    case MessageKind::kShardDone: {
      const StreamTotals t = DecodeTotals(message.bytes);
      AddTotals(t, &stream_.shards_done, &stream_.shard_transitions, &stream_.shard_checksum);
      stream_.max_rate_deviation = std::max(stream_.max_rate_deviation, t.rate_deviation_max);
      break;
    }
    case MessageKind::kLearnerDone: {
      const LearnerDone d = DecodeLearnerDone(message.bytes);
      learner_checksums_[d.learner] = d.parameter_checksum;
      break;
    }
    default:
      QR_CHECK_MSG(false, std::string("learner 0 got an unexpected ") +
                              KindName(KindOf(message.bytes)) + " message from rank " +
                              std::to_string(message.source));
  }
}

void Learner::OpenMetrics() {
  if (!options_.resuming) {
    schedule_.next_log_frames = options_.train.log_every_frames;
    schedule_.next_eval_frames = options_.train.eval_every_frames;
  }
  reporter_.Open(resumed_train_csv_, resumed_eval_csv_, TotalFrames(), updates_, options_.resuming);
  resumed_train_csv_.clear();
  resumed_eval_csv_.clear();
  selection_.Open(std::move(resumed_selection_));
  resumed_selection_ = SelectionState();
}

void Learner::MaybeLog(bool force) {
  const long frames = TotalFrames();
  if (!force && frames < schedule_.next_log_frames) return;
  const RunReporter::Rates rates = reporter_.TakeRates(frames, updates_);
  TrainRow row;
  row.frames = frames;
  row.updates = updates_;
  row.episodes = episodes_;
  row.wall_s = Elapsed();
  row.frames_per_s = rates.frames_per_s;
  row.updates_per_s = rates.updates_per_s;
  if (episodes_ > 0) row.episode_qos = schedule_.last_episode_qos;
  if (updates_ > 0) {
    row.critic_loss = schedule_.last_losses.critic;
    row.actor_loss = schedule_.last_losses.actor;
    row.alpha = schedule_.last_losses.alpha;
    row.entropy = schedule_.last_losses.entropy;
    row.q_mean = schedule_.last_losses.q_mean;
  }
  if (lag_count_ > 0) row.policy_lag = lag_sum_ / lag_count_;
  row.rolling_qos = rolling_.Value();
  row.rolling_requests = rolling_.resolved();
  rolling_.Clear();
  spdlog::info("{}", FormatProgressLine(row, options_.train.total_frames,
                                        fmt::format("weights v{} | policy lag {:.2f}", version_,
                                                    row.policy_lag.value_or(0.0))));
  reporter_.Log(row);
  schedule_.last_log_frames = frames;
  schedule_.last_log_updates = updates_;
  lag_sum_ = 0.0;
  lag_count_ = 0;
  while (schedule_.next_log_frames <= frames)
    schedule_.next_log_frames += options_.train.log_every_frames;
}

void Learner::MaybeEvaluate() {
  if (!options_.evaluate || TotalFrames() < schedule_.next_eval_frames) return;
  Evaluate();
  while (schedule_.next_eval_frames <= TotalFrames())
    schedule_.next_eval_frames += options_.train.eval_every_frames;
}

void Learner::Evaluate() {
  const EvalRow row = evaluator_.Run(agent_, TotalFrames(), updates_);
  reporter_.Eval(row);
  schedule_.last_eval_qos = row.avg_qos;
  spdlog::info(
      "eval at {} frames / {} updates: avg QoS {:.4f} ± {:.4f} over {} held-out episodes "
      "(greedy-qos {:.4f}, paired difference {:+.4f} ± {:.4f})",
      TotalFrames(), updates_, row.avg_qos, row.avg_qos_ci95, row.episodes, *row.greedy_qos,
      *row.vs_greedy_qos, *row.vs_greedy_qos_ci95);
  if (options_.train.run_dir.empty()) return;
  SavePolicy(PolicyPath(), agent_);
  if (selection_.enabled() && options_.write_metrics) {
    selection_.Select(agent_, TotalFrames(), updates_, &reporter_);
  }
}

std::string Learner::PolicyPath() const {
  return (std::filesystem::path(options_.train.run_dir) / "policy.h5").string();
}

void Learner::Finish(DistributedResult* result) {
  MaybeLog(true);
  result->actor_transitions = stream_.actor_transitions;
  result->shard_transitions = stream_.shard_transitions;
  result->actor_checksum = stream_.actor_checksum;
  result->shard_checksum = stream_.shard_checksum;
  result->stream_consistent = stream_.actor_transitions == stream_.shard_transitions &&
                              stream_.actor_checksum == stream_.shard_checksum;
  result->learners_identical = true;
  for (const auto& [learner, checksum] : learner_checksums_) {
    result->learners_identical =
        result->learners_identical && checksum == result->parameter_checksum;
  }
  result->max_rate_deviation = stream_.max_rate_deviation;
  result->rate_error_buffer = plan_.error_buffer;
  result->mean_policy_lag = episodes_ > 0 ? stream_.episode_lag_sum / episodes_ : 0.0;
  spdlog::info(
      "stream check: actors sent {} transitions (checksum {:016x}), shards stored {} ({:016x}): "
      "{}",
      stream_.actor_transitions, stream_.actor_checksum, stream_.shard_transitions,
      stream_.shard_checksum,
      result->stream_consistent ? "every transition exactly once" : "MISMATCH");
  spdlog::info(
      "learners bitwise identical: {}; worst rate-limiter deviation {:.0f} samples (tolerance "
      "{:.0f}); "
      "mean policy lag {:.2f} versions",
      result->learners_identical ? "yes" : "NO", stream_.max_rate_deviation, plan_.error_buffer,
      result->mean_policy_lag);
  const double loop_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - updates_begin_).count();
  spdlog::info(
      "learner 0 busy {:.0f}% of its update loop ({:.1f} s of {:.1f} s waiting for samples)",
      loop_s > 0 ? 100.0 * (1.0 - sample_wait_s_ / loop_s) : 0.0, sample_wait_s_, loop_s);
  if (labelled_samples_ > 0) {
    spdlog::info("planner-labelled samples: {} of the {} this learner sampled ({:.1f}%)",
                 labelled_samples_, samples_, 100.0 * labelled_samples_ / samples_);
  }
  QR_CHECK_MSG(result->stream_consistent,
               "transitions were lost or duplicated between actors and shards");
  QR_CHECK_MSG(result->learners_identical, "learners diverged: their parameters differ");
  TrainResult& t = result->train;
  FillTotals(&t);
  if (options_.evaluate) Evaluate();
  if (!options_.train.run_dir.empty()) {
    if (!options_.evaluate) SavePolicy(PolicyPath(), agent_);
    t.policy_path = PolicyPath();
  }
  t.last_eval_qos = schedule_.last_eval_qos;
  t.seconds = ProcessSeconds();  // after the final evaluation, as the one-process trainer's
  ReportSelection(selection_, &t);
}

void Learner::FillTotals(TrainResult* t) const {
  t->frames = TotalFrames();
  t->updates = updates_;
  t->episodes = episodes_;
  t->seconds = ProcessSeconds();
  t->start_frames = start_frames_;
  t->start_updates = start_updates_;
}

}  // namespace qosroute
