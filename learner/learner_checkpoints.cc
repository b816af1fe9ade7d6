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

#include "common/error.h"
#include "checkpoint/files.h"
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

int Learner::DecideCheckpoint() {
  const TrainLoopOptions& t = options_.train;
  const long id = updates_ + 2;
  if (t.run_dir.empty() || id > plan_.total_updates || stop_decided_) return 0;
  const bool stop = (t.stop_requested && t.stop_requested->load()) || peer_stop_request_ ||
                    (t.stop_at_updates > 0 && id >= t.stop_at_updates);
  if (stop) {
    stop_decided_ = true;
    return 2;
  }
  if (t.checkpoint.every_updates > 0 && id % t.checkpoint.every_updates == 0) return 1;
  const double minutes =
      std::chrono::duration<double>(Clock::now() - last_checkpoint_time_).count() / 60.0;
  if (t.checkpoint.every_minutes > 0 && minutes >= t.checkpoint.every_minutes) {
    last_checkpoint_time_ = Clock::now();  // decided: do not decide again next update
    return 1;
  }
  return 0;
}

bool Learner::TakeCheckpoint(const CheckpointSignal& c) {
  for (int s = 0; s < layout_.num_shards(); ++s) {
    transport_->Send(layout_.ShardRank(s),
                     EncodeCheckpointSignal(MessageKind::kCheckpointMarker, c));
  }
  const std::string what = "checkpoint " + std::to_string(c.id);
  if (index_ == 0) {
    for (int a = 0; a < layout_.num_actors(); ++a) {
      transport_->Send(layout_.ActorRank(a),
                       EncodeCheckpointSignal(MessageKind::kCheckpointRequest, c));
    }
    const size_t expected = static_cast<size_t>(layout_.num_actors() + layout_.num_shards());
    PumpUntil([&] { return Pump(); }, [&] { return parts_.complete() == expected; },
              options_.wait_timeout_s, "every actor's and shard's part of " + what);
    WriteCheckpointFile(c);
    for (int r = 1; r < layout_.world; ++r) {
      transport_->Send(r, EncodeCheckpointSignal(MessageKind::kCheckpointDone, c));
    }
  } else {
    PumpUntil([&] { return Pump(); }, [&] { return checkpoint_done_.has_value(); },
              options_.wait_timeout_s, "learner 0 to write " + what);
    QR_CHECK_MSG(checkpoint_done_->id == c.id, "checkpoint done for another checkpoint");
    checkpoint_done_.reset();
  }
  ++checkpoints_;
  return c.stop;
}

void Learner::WriteCheckpointFile(const CheckpointSignal& c) {
  namespace fs = std::filesystem;
  const auto t0 = Clock::now();
  std::map<int, ActorSnapshot> actors;
  std::map<int, ShardSnapshot> shards;
  for (int a = 0; a < layout_.num_actors(); ++a) {
    const int rank = layout_.ActorRank(a);
    actors[rank] = DecodeActorSnapshot(parts_.Take(rank, PartKind::kActor));
    // The actor's own count is exact; progress reports may lag it.
    actor_frames_[a] = actors[rank].frames;
  }
  for (int s = 0; s < layout_.num_shards(); ++s) {
    const int rank = layout_.ShardRank(s);
    shards[rank] = DecodeShardSnapshot(parts_.Take(rank, PartKind::kShard));
  }
  parts_.Clear();
  const TrainLoopOptions& t = options_.train;
  fs::create_directories(CheckpointFolder(t.run_dir));
  const std::string path = CheckpointPath(t.run_dir, updates_);
  WriteDistributedCheckpoint(path, layout_, Bookkeeping(), agent_, actors, shards,
                             t.checkpoint.compression);
  PruneCheckpoints(CheckpointFolder(t.run_dir), t.checkpoint.keep);
  last_checkpoint_path_ = path;
  last_checkpoint_time_ = Clock::now();
  long stored = 0;
  for (const auto& [rank, s] : shards) stored += s.size;
  spdlog::info(
      "checkpoint {}{}: {} updates, {} frames, {} transitions in {} shard(s), {:.1f} MB in "
      "{:.2f} s",
      path, c.stop ? " (then stop)" : "", updates_, TotalFrames(), stored, shards.size(),
      fs::file_size(path) / 1e6, std::chrono::duration<double>(Clock::now() - t0).count());
}

LearnerZeroState Learner::Bookkeeping() const {
  LearnerZeroState s;
  s.updates = updates_;
  s.episodes = episodes_;
  s.weight_version = version_;
  s.published_updates = published_updates_;
  s.seed = options_.train.seed;
  s.actor_frames.assign(actor_frames_.begin(), actor_frames_.end());
  s.schedule = schedule_;
  s.elapsed_seconds = Elapsed();
  s.stream = stream_;
  s.train_csv = reporter_.train_text();
  s.eval_csv = reporter_.eval_text();
  s.rolling_qos_sum = rolling_.qos();
  s.rolling_requests = rolling_.resolved();
  s.selection = selection_.Snapshot();
  s.config_text = options_.train.config_text;
  return s;
}

void Learner::Restore() {
  if (index_ == 0) {
    QR_CHECK_MSG(options_.resume != nullptr, "learner 0 resumes without a checkpoint");
    const DistributedCheckpoint& c = *options_.resume;
    ApplyAgentState(c.agent, c.path, &agent_);
    const LearnerZeroState& s = c.learner;
    QR_CHECK(static_cast<int>(s.actor_frames.size()) == layout_.num_actors());
    updates_ = s.updates;
    episodes_ = s.episodes;
    version_ = s.weight_version;
    published_updates_ = s.published_updates;
    actor_frames_.assign(s.actor_frames.begin(), s.actor_frames.end());
    schedule_ = s.schedule;
    elapsed_before_ = s.elapsed_seconds;
    stream_ = s.stream;
    resumed_train_csv_ = s.train_csv;
    resumed_eval_csv_ = s.eval_csv;
    resumed_selection_ = s.selection;
    rolling_.Set(s.rolling_qos_sum, s.rolling_requests);
    schedule_.last_log_frames = std::min(schedule_.last_log_frames, TotalFrames());
    const std::vector<uint8_t> learner_part = EncodeLearnerPart(c.agent, updates_);
    for (int l = 1; l < layout_.learners; ++l) SendPart(l, PartKind::kLearner, learner_part);
    for (const auto& [rank, shard] : c.shards) {
      if (rank == transport_->rank()) {
        hosted_shard_->Restore(shard);
      } else {
        SendPart(rank, PartKind::kShard, EncodeShardSnapshot(shard));
      }
    }
    for (const auto& [rank, actor] : c.actors) {
      SendPart(rank, PartKind::kActor, EncodeActorSnapshot(actor));
    }
    spdlog::info(
        "resumed from {}: {} updates, {} frames, {} episodes, weights v{}, {} transitions in "
        "the replay",
        c.path, updates_, TotalFrames(), episodes_, version_, StoredTransitions(c));
    return;
  }
  std::vector<PartKind> wanted = {PartKind::kLearner};
  if (hosted_shard_) wanted.push_back(PartKind::kShard);
  auto parts = ReceiveResumeParts(transport_, wanted, options_.wait_timeout_s, &early_);
  long updates = 0;
  ApplyAgentState(DecodeLearnerPart(parts.at(PartKind::kLearner), &updates), "checkpoint part",
                  &agent_);
  updates_ = updates;
  if (hosted_shard_) hosted_shard_->Restore(DecodeShardSnapshot(parts.at(PartKind::kShard)));
}

long Learner::StoredTransitions(const DistributedCheckpoint& c) {
  long n = 0;
  for (const auto& [rank, s] : c.shards) n += s.size;
  return n;
}

void Learner::SendPart(int rank, PartKind kind, const std::vector<uint8_t>& state) {
  for (auto& chunk :
       EncodeCheckpointPart(0, transport_->rank(), kind, state, options_.max_chunk_bytes)) {
    transport_->Send(rank, std::move(chunk));
  }
}

DistributedResult Learner::Stopped() {
  DistributedResult result;
  result.role = Role::kLearner;
  result.checkpoints = checkpoints_;
  result.parameter_checksum = ParameterChecksum(agent_);
  TrainResult& t = result.train;
  t.stopped = true;
  t.frames = TotalFrames();
  t.updates = updates_;
  t.episodes = episodes_;
  t.checkpoint_path = last_checkpoint_path_;
  t.seconds = Elapsed();
  t.last_eval_qos = schedule_.last_eval_qos;
  WaitForSends();
  return result;
}

}  // namespace qosroute
