// Learner 0's checkpointed state (what the CheckpointCoordinator writes) and resume.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <vector>

#include "common/error.h"
#include "learner/distributed_weights.h"
#include "learner/learner_role.h"

namespace qosroute {

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
    start_frames_ = TotalFrames();
    start_updates_ = updates_;
    checkpoints_.SendResumeParts(c, EncodeLearnerPart(c.agent, updates_));
    const auto hosted = c.shards.find(transport_->rank());
    if (hosted != c.shards.end()) hosted_shard_->Restore(hosted->second);
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

DistributedResult Learner::Stopped() {
  DistributedResult result;
  result.role = Role::kLearner;
  result.checkpoints = checkpoints_.checkpoints();
  result.parameter_checksum = ParameterChecksum(agent_);
  TrainResult& t = result.train;
  t.stopped = true;
  FillTotals(&t);
  t.checkpoint_path = checkpoints_.last_path();
  t.last_eval_qos = schedule_.last_eval_qos;
  WaitForSends();
  return result;
}

}  // namespace qosroute
