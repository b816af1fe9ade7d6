#include "learner/learner_role.h"

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
#include "learner/periodic_evaluation.h"
#include "learner/planner_targets.h"
#include "learner/policy_io.h"
#include "learner/selection_keeper.h"
#include "replay/replay_shard.h"
#include "replay/transition_codec.h"
#include "telemetry/rolling_qos.h"
#include "telemetry/run_reporter.h"

namespace qosroute {

DistributedResult Learner::Run() {
  Start();
  updates_begin_ = std::chrono::steady_clock::now();
  SacLosses losses;
  std::vector<int64_t> pending;
  if (updates_ < plan_.total_updates) pending = RequestBatch();
  while (updates_ < plan_.total_updates) {
    const std::vector<int64_t> current = pending;
    const auto wait_begin = std::chrono::steady_clock::now();
    WaitUntil(
        [&] {
          const bool busy = Pump();
          for (int64_t id : current) {
            if (!replies_.count(id)) return busy ? WaitStatus::kBusy : WaitStatus::kIdle;
          }
          return WaitStatus::kDone;
        },
        options_.wait_timeout_s, "sampled transitions from the replay shards");
    sample_wait_s_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_begin).count();
    Decode(current);
    // A checkpoint planned one update ago follows this update: no sample request may be
    // open then, so the next batch is requested after it.
    const std::optional<CheckpointSignal> checkpoint = planned_checkpoint_;
    planned_checkpoint_.reset();
    pending.clear();
    // Ask for the next batch now, so that it travels while this one trains.
    if (updates_ + 1 < plan_.total_updates && !checkpoint) pending = RequestBatch();
    // Priorities are the update's own TD errors (before its step): no extra passes.
    losses = agent_.ComputeGradients(obs_, actions_, rewards_, next_obs_, dones_,
                                     options_.prioritized ? &td_errors_ : nullptr, &labels_);
    std::vector<torch::Tensor> grads;
    for (auto& p : agent_.networks()->parameters()) {
      if (p.grad().defined()) grads.push_back(p.grad());
    }
    // Learner 0's checkpoint decision for the update after this one rides along.
    torch::Tensor control = torch::zeros({1}, torch::TensorOptions().device(agent_.device()));
    if (index_ == 0) control.fill_(static_cast<float>(checkpoints_.Decide(updates_)));
    grads.push_back(control);
    sync_->AllReduceMean(grads, wait_);
    const int decision =
        static_cast<int>(std::lround(control.to(torch::kCPU).item<float>() * layout_.learners));
    if (decision > 0) planned_checkpoint_ = CheckpointSignal{updates_ + 2, decision == 2};
    agent_.ApplyGradients();
    ++updates_;
    if (options_.prioritized) SendPriorities();
    if (index_ == 0) {
      schedule_.last_losses = losses;
      if (updates_ % options_.publish_every_updates == 0) Publish();
      MaybeLog(false);
      MaybeEvaluate();
    }
    if (checkpoint) {
      QR_CHECK(checkpoint->id == updates_);
      const bool stop = checkpoints_.Take(
          *checkpoint, [this] { return Pump(); },
          [this](const std::map<int, ActorSnapshot>& actors) {
            // The actors' own counts are exact; progress reports may lag them.
            for (int a = 0; a < layout_.num_actors(); ++a) {
              actor_frames_[a] = actors.at(layout_.ActorRank(a)).frames;
            }
            return Bookkeeping();
          },
          agent_);
      if (stop) return Stopped();
      if (updates_ < plan_.total_updates) pending = RequestBatch();
    }
  }

  return WindDown();
}

void Learner::Start() {
  start_ = Clock::now();
  checkpoints_.Start();
  if (options_.resuming) Restore();
  if (index_ == 0) OpenMetrics();
  // Identical start: every learner takes learner 0's parameters.
  std::vector<torch::Tensor> parameters;
  for (auto& p : agent_.networks()->parameters()) parameters.push_back(p);
  sync_->Broadcast(parameters, 0, wait_);
  if (index_ == 0) {
    spdlog::info(
        "distributed training: {} learner(s) ({} gradient sync), {} shard(s){}, {} actor(s); {} "
        "updates "
        "of {} x {} samples; {:.1f} samples per insert (tolerance {:.0f})",
        layout_.learners, sync_->name(), layout_.num_shards(),
        layout_.replay_shards == 0 ? " inside the learners" : "", layout_.num_actors(),
        plan_.total_updates, layout_.learners, plan_.per_learner_batch, plan_.samples_per_insert,
        plan_.error_buffer);
    // Resumed actors wait for these weights before they act with the policy.
    if (options_.resuming) Publish(/*force=*/true);
  }
}

DistributedResult Learner::WindDown() {
  DistributedResult result;
  result.role = Role::kLearner;
  result.checkpoints = checkpoints_.checkpoints();
  result.parameter_checksum = ParameterChecksum(agent_);
  if (index_ == 0) {
    Publish();
    for (int s = 0; s < layout_.num_shards(); ++s) {
      transport_->Send(layout_.ShardRank(s), EncodeSignal(MessageKind::kLearnersFinished));
    }
    learner_checksums_[0] = result.parameter_checksum;
    WaitUntil(
        [&] {
          const bool busy = Pump();
          const bool all = stream_.actors_done == layout_.num_actors() &&
                           stream_.shards_done == layout_.num_shards() &&
                           static_cast<int>(learner_checksums_.size()) == layout_.learners;
          return all ? WaitStatus::kDone : busy ? WaitStatus::kBusy : WaitStatus::kIdle;
        },
        options_.wait_timeout_s, "every actor, shard and learner to report its totals");
    for (int r = 1; r < layout_.world; ++r) transport_->Send(r, EncodeSignal(MessageKind::kStop));
    Finish(&result);
  } else {
    transport_->Send(layout_.LearnerRank(0),
                     EncodeLearnerDone(LearnerDone{index_, result.parameter_checksum, updates_}));
    WaitUntil(
        [&] {
          const bool busy = Pump();
          return stop_ ? WaitStatus::kDone : busy ? WaitStatus::kBusy : WaitStatus::kIdle;
        },
        options_.wait_timeout_s, "the stop message from learner 0");
  }
  WaitForSends();
  return result;
}

std::vector<int64_t> Learner::RequestBatch() {
  std::vector<int64_t> ids;
  for (int s = 0; s < layout_.num_shards(); ++s) {
    if (plan_.samples_per_shard[s] == 0) continue;
    const int64_t id = next_request_id_++;
    request_shard_[id] = s;
    transport_->Send(layout_.ShardRank(s),
                     EncodeSampleRequest(SampleRequest{id, plan_.samples_per_shard[s]}));
    ids.push_back(id);
  }
  return ids;
}

void Learner::Decode(const std::vector<int64_t>& ids) {
  batch_keys_.clear();
  int64_t b = 0;
  for (int64_t id : ids) b += ReadSampleReplyHeader(replies_.at(id).bytes).count;
  transitions_.resize(b);
  actions_ = torch::empty({b}, torch::kInt64);
  rewards_ = torch::empty({b}, torch::kFloat32);
  dones_ = torch::empty({b}, torch::kFloat32);
  auto* a = actions_.data_ptr<int64_t>();
  auto* r = rewards_.data_ptr<float>();
  auto* d = dones_.data_ptr<float>();
  std::vector<const Observation*> obs, next;
  int64_t i = 0;
  for (int64_t id : ids) {
    const Message reply = std::move(replies_.at(id));
    replies_.erase(id);
    const SampleReplyHeader h = ReadSampleReplyHeader(reply.bytes);
    const uint8_t* keys = reply.bytes.data() + kSampleReplyHeaderBytes;
    const uint8_t* records = keys + h.count * sizeof(uint64_t);
    auto& shard_keys = batch_keys_[request_shard_.at(id)];
    request_shard_.erase(id);
    for (int j = 0; j < h.count; ++j, ++i) {
      uint64_t key;
      std::memcpy(&key, keys + j * sizeof(uint64_t), sizeof(key));
      shard_keys.push_back({key, i});
      Transition& t = transitions_[i];
      DecodeTransition(records + static_cast<size_t>(j) * h.record_size, h.record_size, &t);
      a[i] = t.action;
      r[i] = t.reward;
      d[i] = t.done ? 1.0f : 0.0f;
    }
  }
  for (const Transition& t : transitions_) {
    obs.push_back(&t.obs);
    next.push_back(&t.next_obs);
    labelled_samples_ += t.label.labelled ? 1 : 0;
  }
  samples_ += b;
  obs_ = BatchObservations(obs);
  next_obs_ = BatchObservations(next);
  labels_ = PlannerTargets();
  if (agent_.config().prior == PriorKind::kPlanner) {
    std::vector<const ActionLabel*> labels;
    for (const Transition& t : transitions_) labels.push_back(&t.label);
    labels_ = BatchPlannerTargets(labels, obs_.num_experts() + 1);
  }
}

void Learner::SendPriorities() {
  const std::vector<float>& td = td_errors_;
  for (const auto& [shard, keys] : batch_keys_) {
    PriorityUpdate update;
    for (const auto& [key, position] : keys) {
      update.keys.push_back(key);
      update.priorities.push_back(td[position]);
    }
    transport_->Send(layout_.ShardRank(shard), EncodePriorityUpdate(update));
  }
}

void Learner::Publish(bool force) {
  if (!force && published_updates_ == updates_ && version_ > 0) return;
  ++version_;
  published_updates_ = updates_;
  const std::vector<uint8_t> message = EncodeWeights(version_, agent_);
  for (int a = 0; a < layout_.num_actors(); ++a) {
    const int rank = layout_.ActorRank(a);
    // An actor still receiving an older version skips this one: it only wants the newest.
    // A forced publish (after a resume, which actors wait for) always goes out.
    if (!force && transport_->PendingSendsTo(rank) > 2) continue;
    transport_->Send(rank, message);
  }
}

bool Learner::Pump() {
  bool busy = false;
  Message message;
  while (NextMessage(&message)) {
    busy = true;
    const MessageKind kind = KindOf(message.bytes);
    if (kind == MessageKind::kActorDone) {
      // One message serves both the hosted shard and learner 0's accounting (an actor whose
      // shard lives in learner 0 sends it once).
      const int actor = DecodeTotals(message.bytes).index;
      if (hosted_shard_ && layout_.ShardOfActor(actor) == index_) hosted_shard_->Handle(&message);
      if (index_ == 0) HandleReport(message);
      continue;
    }
    if (hosted_shard_ && hosted_shard_->Handle(&message)) continue;
    switch (kind) {
      case MessageKind::kSampleReply: {
        const int64_t id = ReadSampleReplyHeader(message.bytes).request_id;
        replies_[id] = std::move(message);
        break;
      }
      case MessageKind::kStop:
        stop_ = true;
        break;
      case MessageKind::kCheckpointPart:
        checkpoints_.OnPart(message.bytes);
        break;
      case MessageKind::kCheckpointDone:
        QR_CHECK_MSG(index_ != 0, "learner 0 got a checkpoint-done message");
        checkpoints_.OnDone(DecodeCheckpointSignal(kind, message.bytes));
        break;
      case MessageKind::kStopRequest:
        checkpoints_.OnStopRequest(message.source);
        break;
      default:
        QR_CHECK_MSG(index_ == 0,
                     std::string("learner got an unexpected ") + KindName(kind) + " message");
        HandleReport(message);
    }
  }
  if (hosted_shard_ && hosted_shard_->Serve()) busy = true;
  const std::atomic<bool>* signal = options_.train.stop_requested;
  if (index_ != 0 && signal && signal->load() && !stop_forwarded_) {
    transport_->Send(layout_.LearnerRank(0), EncodeSignal(MessageKind::kStopRequest));
    stop_forwarded_ = true;
  }
  return busy;
}

bool Learner::NextMessage(Message* message) {
  if (!early_.empty()) {
    *message = std::move(early_.front());
    early_.pop_front();
    return true;
  }
  return transport_->Poll(message);
}

void Learner::WaitForSends() {
  WaitUntil([&] { return transport_->PendingSends() == 0 ? WaitStatus::kDone : WaitStatus::kIdle; },
            options_.wait_timeout_s, "the last sends to complete");
}

}  // namespace qosroute
