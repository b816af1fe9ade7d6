#include "learner/checkpoint_coordinator.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "checkpoint/files.h"
#include "common/error.h"

namespace qosroute {

CheckpointCoordinator::CheckpointCoordinator(const RoleLayout& layout,
                                             const DistributedOptions& options, long total_updates,
                                             int learner_index, Transport* transport)
    : layout_(layout),
      options_(options),
      total_updates_(total_updates),
      index_(learner_index),
      transport_(transport) {}

int CheckpointCoordinator::Decide(long updates) {
  const TrainLoopOptions& t = options_.train;
  const long id = updates + 2;
  if (t.run_dir.empty() || id > total_updates_ || stop_decided_) return 0;
  const bool stop = (t.stop_requested && t.stop_requested->load()) || peer_stop_request_ ||
                    (t.stop_at_updates > 0 && id >= t.stop_at_updates);
  if (stop) {
    stop_decided_ = true;
    return 2;
  }
  if (t.checkpoint.every_updates > 0 && id % t.checkpoint.every_updates == 0) return 1;
  const double minutes = std::chrono::duration<double>(Clock::now() - last_time_).count() / 60.0;
  if (t.checkpoint.every_minutes > 0 && minutes >= t.checkpoint.every_minutes) {
    last_time_ = Clock::now();  // decided: do not decide again next update
    return 1;
  }
  return 0;
}

void CheckpointCoordinator::OnStopRequest(int source) {
  QR_CHECK_MSG(index_ == 0, "a stop request reached a learner other than learner 0");
  if (!peer_stop_request_) {
    spdlog::info("rank {} caught a stop signal: checkpoint and stop", source);
  }
  peer_stop_request_ = true;
}

bool CheckpointCoordinator::Take(const CheckpointSignal& c, const std::function<bool()>& pump,
                                 const StateSource& state, const SacAgent& agent) {
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
    PumpUntil(
        pump, [&] { return parts_.complete() == expected; }, options_.wait_timeout_s,
        "every actor's and shard's part of " + what);
    WriteFile(c, state, agent);
    for (int r = 1; r < layout_.world; ++r) {
      transport_->Send(r, EncodeCheckpointSignal(MessageKind::kCheckpointDone, c));
    }
  } else {
    PumpUntil(
        pump, [&] { return done_.has_value(); }, options_.wait_timeout_s,
        "learner 0 to write " + what);
    QR_CHECK_MSG(done_->id == c.id, "checkpoint done for another checkpoint");
    done_.reset();
  }
  ++checkpoints_;
  return c.stop;
}

void CheckpointCoordinator::WriteFile(const CheckpointSignal& c, const StateSource& state,
                                      const SacAgent& agent) {
  namespace fs = std::filesystem;
  const auto t0 = Clock::now();
  std::map<int, ActorSnapshot> actors;
  std::map<int, ShardSnapshot> shards;
  for (int a = 0; a < layout_.num_actors(); ++a) {
    const int rank = layout_.ActorRank(a);
    actors[rank] = DecodeActorSnapshot(parts_.Take(rank, PartKind::kActor));
  }
  for (int s = 0; s < layout_.num_shards(); ++s) {
    const int rank = layout_.ShardRank(s);
    shards[rank] = DecodeShardSnapshot(parts_.Take(rank, PartKind::kShard));
  }
  parts_.Clear();
  const LearnerZeroState learner = state(actors);
  const TrainLoopOptions& t = options_.train;
  fs::create_directories(CheckpointFolder(t.run_dir));
  const std::string path = CheckpointPath(t.run_dir, learner.updates);
  WriteDistributedCheckpoint(path, layout_, learner, agent, actors, shards,
                             t.checkpoint.compression);
  PruneCheckpoints(CheckpointFolder(t.run_dir), t.checkpoint.keep);
  last_path_ = path;
  last_time_ = Clock::now();
  long stored = 0;
  for (const auto& [rank, s] : shards) stored += s.size;
  spdlog::info(
      "checkpoint {}{}: {} updates, {} frames, {} transitions in {} shard(s), {:.1f} MB in "
      "{:.2f} s",
      path, c.stop ? " (then stop)" : "", learner.updates, learner.frames(), stored, shards.size(),
      fs::file_size(path) / 1e6, std::chrono::duration<double>(Clock::now() - t0).count());
}

void CheckpointCoordinator::SendResumeParts(const DistributedCheckpoint& c,
                                            const std::vector<uint8_t>& learner_part) {
  for (int l = 1; l < layout_.learners; ++l) SendPart(l, PartKind::kLearner, learner_part);
  for (const auto& [rank, shard] : c.shards) {
    if (rank != transport_->rank()) SendPart(rank, PartKind::kShard, EncodeShardSnapshot(shard));
  }
  for (const auto& [rank, actor] : c.actors) {
    SendPart(rank, PartKind::kActor, EncodeActorSnapshot(actor));
  }
}

void CheckpointCoordinator::SendPart(int rank, PartKind kind, const std::vector<uint8_t>& state) {
  for (auto& chunk :
       EncodeCheckpointPart(0, transport_->rank(), kind, state, options_.max_chunk_bytes)) {
    transport_->Send(rank, std::move(chunk));
  }
}

}  // namespace qosroute
