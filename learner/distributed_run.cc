#include "learner/distributed_run.h"

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
#include "learner/checkpoint_files.h"
#include "learner/distributed_weights.h"
#include "learner/graph_batch.h"
#include "learner/periodic_evaluation.h"
#include "learner/policy_io.h"
#include "learner/selection_keeper.h"
#include "replay/replay_shard.h"
#include "replay/transition_codec.h"
#include "telemetry/rolling_qos.h"
#include "telemetry/run_reporter.h"

namespace qosroute {

DistributedPlan MakeDistributedPlan(const RoleLayout& layout, const DistributedOptions& options) {
  const TrainLoopOptions& t = options.train;
  QR_CHECK(layout.learners >= 1 && layout.num_actors() >= layout.num_shards());
  const bool full = options.full_batch_per_learner;
  QR_CHECK(full || t.batch_size % layout.learners == 0);
  DistributedPlan plan;
  const int shards = layout.num_shards();
  plan.per_learner_batch = full ? t.batch_size : t.batch_size / layout.learners;
  int max_request = 1;
  for (int s = 0; s < shards; ++s) {
    plan.samples_per_shard.push_back(plan.per_learner_batch / shards +
                                     (s < plan.per_learner_batch % shards ? 1 : 0));
    max_request = std::max(max_request, plan.samples_per_shard.back());
  }
  plan.total_updates =
      static_cast<long>(std::max(0L, t.total_frames - t.warmup_frames) * t.updates_per_frame);
  // Each global update draws per_learner_batch x L samples over all shards (batch_size when
  // the learners split it); each frame inserts one.
  plan.samples_per_insert =
      t.updates_per_frame * static_cast<double>(plan.per_learner_batch) * layout.learners;
  plan.min_size_to_sample =
      std::max<long>({1, (t.warmup_frames + shards - 1) / shards, max_request});
  const double needed = options.send_transitions * plan.samples_per_insert + max_request;
  plan.error_buffer = std::max(options.rate_error_buffer, needed);
  plan.shard_capacity = std::max(1, (t.replay_capacity + shards - 1) / shards);
  return plan;
}

using Clock = std::chrono::steady_clock;

RateLimiterOptions LimiterOptions(const DistributedPlan& plan, const DistributedOptions& options) {
  RateLimiterOptions o;
  o.samples_per_insert = plan.samples_per_insert;
  o.min_size_to_sample = plan.min_size_to_sample;
  o.error_buffer = plan.error_buffer;
  o.max_insert_batch = options.send_transitions;
  o.max_sample_batch = 1;
  for (int k : plan.samples_per_shard) o.max_sample_batch = std::max<long>(o.max_sample_batch, k);
  return o;
}

ReplayShardOptions ShardOptions(const DistributedPlan& plan, const DistributedOptions& options,
                                int shard) {
  ReplayShardOptions o;
  o.capacity = plan.shard_capacity;
  o.prioritized = options.prioritized;
  o.priority_exponent = options.priority_exponent;
  o.seed = options.train.seed * 0x9E3779B97F4A7C15ULL + 101 + shard;
  return o;
}

std::map<PartKind, std::vector<uint8_t>> ReceiveResumeParts(Transport* transport,
                                                            const std::vector<PartKind>& wanted,
                                                            double timeout_s,
                                                            std::deque<Message>* early) {
  PartAssembler assembler;
  WaitUntil(
      [&] {
        bool busy = false;
        Message message;
        while (assembler.complete() < wanted.size() && transport->Poll(&message)) {
          busy = true;
          if (KindOf(message.bytes) == MessageKind::kCheckpointPart && message.source == 0) {
            assembler.Add(message.bytes);
          } else {
            early->push_back(std::move(message));
          }
        }
        return assembler.complete() == wanted.size() ? WaitStatus::kDone
               : busy                                ? WaitStatus::kBusy
                                                     : WaitStatus::kIdle;
      },
      timeout_s, "this rank's part of the checkpoint from learner 0");
  std::map<PartKind, std::vector<uint8_t>> out;
  for (PartKind kind : wanted) out[kind] = assembler.Take(0, kind);
  return out;
}

namespace {

class Learner {
 public:
  Learner(const RoleLayout& layout, const DistributedOptions& options, const EnvConfig& env_config,
          std::shared_ptr<const Workload> workload, const SacConfig& sac_config,
          Transport* transport, GradientSync* sync)
      : layout_(layout),
        options_(options),
        plan_(MakeDistributedPlan(layout, options)),
        env_config_(env_config),
        workload_(std::move(workload)),
        transport_(transport),
        sync_(sync),
        index_(layout.IndexOf(transport->rank())),
        agent_(sac_config),
        actor_frames_(layout.num_actors(), 0),
        reporter_(options.train.run_dir, options.write_metrics && index_ == 0),
        evaluator_(env_config_, workload_, options.train.greedy, options.train.eval_seed_base,
                   options.train.eval_seeds),
        selection_(env_config_, workload_, options.train.greedy, options.train.selection,
                   options.train.run_dir, options.write_metrics && index_ == 0) {
    if (layout.replay_shards == 0) {
      hosted_shard_ =
          std::make_unique<ShardServer>(layout, index_, ShardOptions(plan_, options, index_),
                                        LimiterOptions(plan_, options), transport);
      hosted_shard_->set_max_chunk_bytes(options.max_chunk_bytes);
    }
    wait_.serve = [this] { return Pump(); };
    wait_.idle_timeout_s = options.wait_timeout_s;
  }

  DistributedResult Run() {
    start_ = last_checkpoint_time_ = Clock::now();
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

    SacLosses losses;
    std::vector<int64_t> pending;
    if (updates_ < plan_.total_updates) pending = RequestBatch();
    while (updates_ < plan_.total_updates) {
      const std::vector<int64_t> current = pending;
      WaitUntil(
          [&] {
            const bool busy = Pump();
            for (int64_t id : current) {
              if (!replies_.count(id)) return busy ? WaitStatus::kBusy : WaitStatus::kIdle;
            }
            return WaitStatus::kDone;
          },
          options_.wait_timeout_s, "sampled transitions from the replay shards");
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
                                       options_.prioritized ? &td_errors_ : nullptr);
      std::vector<torch::Tensor> grads;
      for (auto& p : agent_.networks()->parameters()) {
        if (p.grad().defined()) grads.push_back(p.grad());
      }
      // Learner 0's checkpoint decision for the update after this one rides along.
      torch::Tensor control = torch::zeros({1}, torch::TensorOptions().device(agent_.device()));
      if (index_ == 0) control.fill_(static_cast<float>(DecideCheckpoint()));
      grads.push_back(control);
      sync_->AllReduceMean(grads, wait_);
      const int decision =
          static_cast<int>(std::lround(control.to(torch::kCPU).item<float>() * layout_.learners));
      if (decision > 0) planned_checkpoint_ = CheckpointSignal{updates_ + 2, decision == 2};
      agent_.ApplyGradients();
      ++updates_;
      if (options_.prioritized) SendPriorities();
      if (index_ == 0) {
        last_losses_ = losses;
        if (updates_ % options_.publish_every_updates == 0) Publish();
        MaybeLog(false);
        MaybeEvaluate();
      }
      if (checkpoint) {
        QR_CHECK(checkpoint->id == updates_);
        if (TakeCheckpoint(*checkpoint)) return Stopped();
        if (updates_ < plan_.total_updates) pending = RequestBatch();
      }
    }

    DistributedResult result;
    result.role = Role::kLearner;
    result.checkpoints = checkpoints_;
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
            const bool all = actors_done_ == layout_.num_actors() &&
                             shards_done_ == layout_.num_shards() &&
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

 private:
  std::vector<int64_t> RequestBatch() {
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

  void Decode(const std::vector<int64_t>& ids) {
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
    }
    obs_ = BatchObservations(obs);
    next_obs_ = BatchObservations(next);
  }

  void SendPriorities() {
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

  void Publish(bool force = false) {
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

  // Handles every message that has arrived, then lets the hosted shard work.
  bool Pump() {
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
          parts_.Add(message.bytes);
          break;
        case MessageKind::kCheckpointDone:
          QR_CHECK_MSG(index_ != 0, "learner 0 got a checkpoint-done message");
          checkpoint_done_ = DecodeCheckpointSignal(kind, message.bytes);
          break;
        case MessageKind::kStopRequest:
          QR_CHECK_MSG(index_ == 0, "a stop request reached a learner other than learner 0");
          if (!peer_stop_request_) {
            spdlog::info("rank {} caught a stop signal: checkpoint and stop", message.source);
          }
          peer_stop_request_ = true;
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

  // Messages kept while waiting for this rank's resume part come first.
  bool NextMessage(Message* message) {
    if (!early_.empty()) {
      *message = std::move(early_.front());
      early_.pop_front();
      return true;
    }
    return transport_->Poll(message);
  }

  void WaitForSends() {
    WaitUntil(
        [&] { return transport_->PendingSends() == 0 ? WaitStatus::kDone : WaitStatus::kIdle; },
        options_.wait_timeout_s, "the last sends to complete");
  }

  // ------------------------------------------------------------------------- checkpoints

  // Learner 0, during update updates_ + 1: 0 = nothing, 1 = checkpoint after update
  // updates_ + 2, 2 = checkpoint and stop then.
  int DecideCheckpoint() {
    const TrainLoopOptions& t = options_.train;
    const long id = updates_ + 2;
    if (t.run_dir.empty() || id > plan_.total_updates || stop_decided_) return 0;
    const bool stop = (t.stop_requested && t.stop_requested->load()) || peer_stop_request_ ||
                      (t.stop_at_updates > 0 && id >= t.stop_at_updates);
    if (stop) {
      stop_decided_ = true;
      return 2;
    }
    if (t.checkpoint_every_updates > 0 && id % t.checkpoint_every_updates == 0) return 1;
    const double minutes =
        std::chrono::duration<double>(Clock::now() - last_checkpoint_time_).count() / 60.0;
    if (t.checkpoint_every_minutes > 0 && minutes >= t.checkpoint_every_minutes) {
      last_checkpoint_time_ = Clock::now();  // decided: do not decide again next update
      return 1;
    }
    return 0;
  }

  // Every learner, right after update `c.id`. Returns whether the job stops now.
  bool TakeCheckpoint(const CheckpointSignal& c) {
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

  void WriteCheckpointFile(const CheckpointSignal& c) {
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
                               t.checkpoint_compression);
    PruneCheckpoints(CheckpointFolder(t.run_dir), t.checkpoint_keep);
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

  LearnerZeroState Bookkeeping() const {
    LearnerZeroState s;
    s.updates = updates_;
    s.episodes = episodes_;
    s.weight_version = version_;
    s.published_updates = published_updates_;
    s.seed = options_.train.seed;
    s.actor_frames.assign(actor_frames_.begin(), actor_frames_.end());
    s.next_log = next_log_;
    s.next_eval = next_eval_;
    s.last_log_frames = last_log_frames_;
    s.last_log_updates = last_log_updates_;
    s.last_episode_qos = last_episode_qos_;
    s.last_eval_qos = last_eval_qos_;
    s.elapsed_seconds = Elapsed();
    s.episode_lag_sum = episode_lag_sum_;
    s.actors_done = actors_done_;
    s.shards_done = shards_done_;
    s.actor_transitions = actor_transitions_;
    s.shard_transitions = shard_transitions_;
    s.actor_checksum = actor_checksum_;
    s.shard_checksum = shard_checksum_;
    s.max_rate_deviation = max_rate_deviation_;
    s.last_losses = last_losses_;
    s.train_csv = reporter_.train_text();
    s.eval_csv = reporter_.eval_text();
    s.rolling_qos_sum = rolling_.qos();
    s.rolling_requests = rolling_.resolved();
    s.selection = selection_.Snapshot();
    s.config_text = options_.train.config_text;
    return s;
  }

  // Resume: learner 0 takes its state from the checkpoint and sends every other rank its
  // part; the other learners wait for theirs.
  void Restore() {
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
      next_log_ = s.next_log;
      next_eval_ = s.next_eval;
      last_log_frames_ = s.last_log_frames;
      last_log_updates_ = s.last_log_updates;
      last_episode_qos_ = s.last_episode_qos;
      last_eval_qos_ = s.last_eval_qos;
      elapsed_before_ = s.elapsed_seconds;
      episode_lag_sum_ = s.episode_lag_sum;
      actors_done_ = s.actors_done;
      shards_done_ = s.shards_done;
      actor_transitions_ = s.actor_transitions;
      shard_transitions_ = s.shard_transitions;
      actor_checksum_ = s.actor_checksum;
      shard_checksum_ = s.shard_checksum;
      max_rate_deviation_ = s.max_rate_deviation;
      last_losses_ = s.last_losses;
      resumed_train_csv_ = s.train_csv;
      resumed_eval_csv_ = s.eval_csv;
      resumed_selection_ = s.selection;
      rolling_.Set(s.rolling_qos_sum, s.rolling_requests);
      last_log_frames_ = std::min(last_log_frames_, TotalFrames());
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

  static long StoredTransitions(const DistributedCheckpoint& c) {
    long n = 0;
    for (const auto& [rank, s] : c.shards) n += s.size;
    return n;
  }

  void SendPart(int rank, PartKind kind, const std::vector<uint8_t>& state) {
    for (auto& chunk :
         EncodeCheckpointPart(0, transport_->rank(), kind, state, options_.max_chunk_bytes)) {
      transport_->Send(rank, std::move(chunk));
    }
  }

  DistributedResult Stopped() {
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
    t.last_eval_qos = last_eval_qos_;
    WaitForSends();
    return result;
  }

  // Learner 0's bookkeeping of actor, shard and learner reports.
  void HandleReport(const Message& message) {
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
        last_episode_qos_ = e.avg_qos;
        const long lag = static_cast<long>(version_ - e.policy_version);
        episode_lag_sum_ += lag;
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
        ++actors_done_;
        actor_transitions_ += t.transitions;
        actor_checksum_ += t.checksum;
        actor_frames_[t.index] = t.frames;
        break;
      }
      case MessageKind::kShardDone: {
        const StreamTotals t = DecodeTotals(message.bytes);
        ++shards_done_;
        shard_transitions_ += t.transitions;
        shard_checksum_ += t.checksum;
        max_rate_deviation_ = std::max(max_rate_deviation_, t.rate_deviation_max);
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

  long TotalFrames() const {
    long sum = 0;
    for (long f : actor_frames_) sum += f;
    return sum;
  }
  double Elapsed() const {
    return elapsed_before_ + std::chrono::duration<double>(Clock::now() - start_).count();
  }

  // Fresh: headers and the first log/eval points. Resumed: the rows up to the checkpoint
  // (rows written after it are dropped; the resumed run writes them again).
  void OpenMetrics() {
    if (!options_.resuming) {
      next_log_ = options_.train.log_every_frames;
      next_eval_ = options_.train.eval_every_frames;
    }
    reporter_.Open(resumed_train_csv_, resumed_eval_csv_, TotalFrames(), updates_,
                   options_.resuming);
    resumed_train_csv_.clear();
    resumed_eval_csv_.clear();
    selection_.Open(std::move(resumed_selection_));
    resumed_selection_ = SelectionState();
  }

  void MaybeLog(bool force) {
    const long frames = TotalFrames();
    if (!force && frames < next_log_) return;
    const RunReporter::Rates rates = reporter_.TakeRates(frames, updates_);
    TrainRow row;
    row.frames = frames;
    row.updates = updates_;
    row.episodes = episodes_;
    row.wall_s = Elapsed();
    row.frames_per_s = rates.frames_per_s;
    row.updates_per_s = rates.updates_per_s;
    if (episodes_ > 0) row.episode_qos = last_episode_qos_;
    if (updates_ > 0) {
      row.critic_loss = last_losses_.critic;
      row.actor_loss = last_losses_.actor;
      row.alpha = last_losses_.alpha;
      row.entropy = last_losses_.entropy;
      row.q_mean = last_losses_.q_mean;
    }
    if (lag_count_ > 0) row.policy_lag = lag_sum_ / lag_count_;
    row.rolling_qos = rolling_.Value();
    row.rolling_requests = rolling_.resolved();
    rolling_.Clear();
    spdlog::info("{}", FormatProgressLine(row, options_.train.total_frames,
                                          fmt::format("weights v{} | policy lag {:.2f}", version_,
                                                      row.policy_lag.value_or(0.0))));
    reporter_.Log(row);
    last_log_frames_ = frames;
    last_log_updates_ = updates_;
    lag_sum_ = 0.0;
    lag_count_ = 0;
    while (next_log_ <= frames) next_log_ += options_.train.log_every_frames;
  }

  void MaybeEvaluate() {
    if (!options_.evaluate || TotalFrames() < next_eval_) return;
    Evaluate();
    while (next_eval_ <= TotalFrames()) next_eval_ += options_.train.eval_every_frames;
  }

  void Evaluate() {
    const EvalRow row = evaluator_.Run(agent_, TotalFrames(), updates_);
    reporter_.Eval(row);
    last_eval_qos_ = row.avg_qos;
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

  std::string PolicyPath() const {
    return (std::filesystem::path(options_.train.run_dir) / "policy.h5").string();
  }

  void Finish(DistributedResult* result) {
    MaybeLog(true);
    result->actor_transitions = actor_transitions_;
    result->shard_transitions = shard_transitions_;
    result->actor_checksum = actor_checksum_;
    result->shard_checksum = shard_checksum_;
    result->stream_consistent =
        actor_transitions_ == shard_transitions_ && actor_checksum_ == shard_checksum_;
    result->learners_identical = true;
    for (const auto& [learner, checksum] : learner_checksums_) {
      result->learners_identical =
          result->learners_identical && checksum == result->parameter_checksum;
    }
    result->max_rate_deviation = max_rate_deviation_;
    result->rate_error_buffer = plan_.error_buffer;
    result->mean_policy_lag = episodes_ > 0 ? episode_lag_sum_ / episodes_ : 0.0;
    spdlog::info(
        "stream check: actors sent {} transitions (checksum {:016x}), shards stored {} ({:016x}): "
        "{}",
        actor_transitions_, actor_checksum_, shard_transitions_, shard_checksum_,
        result->stream_consistent ? "every transition exactly once" : "MISMATCH");
    spdlog::info(
        "learners bitwise identical: {}; worst rate-limiter deviation {:.0f} samples (tolerance "
        "{:.0f}); "
        "mean policy lag {:.2f} versions",
        result->learners_identical ? "yes" : "NO", max_rate_deviation_, plan_.error_buffer,
        result->mean_policy_lag);
    QR_CHECK_MSG(result->stream_consistent,
                 "transitions were lost or duplicated between actors and shards");
    QR_CHECK_MSG(result->learners_identical, "learners diverged: their parameters differ");
    TrainResult& t = result->train;
    t.frames = TotalFrames();
    t.updates = updates_;
    t.episodes = episodes_;
    if (options_.evaluate) Evaluate();
    if (!options_.train.run_dir.empty()) {
      if (!options_.evaluate) SavePolicy(PolicyPath(), agent_);
      t.policy_path = PolicyPath();
    }
    t.last_eval_qos = last_eval_qos_;
    t.seconds = Elapsed();
    const SelectionState& selected = selection_.state();
    if (selection_.enabled() && selected.updates >= 0) {
      t.selected_policy_path = selection_.selected_path();
      t.selected_updates = selected.updates;
      t.selected_mean_gain = selected.mean_gain;
      t.selected_min_gain = selected.min_gain;
      t.selected_margin = selected.margin;
    }
  }

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
  GraphBatch obs_, next_obs_;
  torch::Tensor actions_, rewards_, dones_;
  std::vector<float> td_errors_;  // the last update's |TD error| per sample (prioritized)
  long updates_ = 0;
  int64_t version_ = 0;
  long published_updates_ = 0;
  bool stop_ = false;

  // Learner 0 only.
  Clock::time_point start_;
  std::vector<long> actor_frames_;
  long episodes_ = 0, next_log_ = 0, next_eval_ = 0, last_log_frames_ = 0, last_log_updates_ = 0;
  double last_episode_qos_ = 0.0, last_eval_qos_ = 0.0;
  double lag_sum_ = 0.0, episode_lag_sum_ = 0.0;
  long lag_count_ = 0;
  SacLosses last_losses_;
  int actors_done_ = 0, shards_done_ = 0;
  long actor_transitions_ = 0, shard_transitions_ = 0;
  uint64_t actor_checksum_ = 0, shard_checksum_ = 0;
  double max_rate_deviation_ = 0.0;
  std::map<int, uint64_t> learner_checksums_;
  RunReporter reporter_;  // metrics/*.csv and TensorBoard (their text rides in checkpoints)
  std::string resumed_train_csv_, resumed_eval_csv_;  // the checkpoint's, until OpenMetrics
  RollingQos rolling_;  // over the actors' progress reports since the last log row
  PeriodicEvaluator evaluator_;
  SelectionKeeper selection_;         // model selection at every evaluation (learner 0)
  SelectionState resumed_selection_;  // the checkpoint's, until OpenMetrics

  // Checkpoints.
  std::optional<CheckpointSignal> planned_checkpoint_;  // follows the next update
  std::optional<CheckpointSignal> checkpoint_done_;     // learners > 0: learner 0's verdict
  PartAssembler parts_;        // learner 0: every rank's part; others: theirs on resume
  std::deque<Message> early_;  // resume: messages that arrived before this rank's part
  bool peer_stop_request_ = false, stop_decided_ = false, stop_forwarded_ = false;
  int checkpoints_ = 0;
  std::string last_checkpoint_path_;
  Clock::time_point last_checkpoint_time_ = Clock::now();
  double elapsed_before_ = 0.0;  // training wall time before the resume
};

}  // namespace

DistributedResult RunLearnerRole(const RoleLayout& layout, const DistributedOptions& options,
                                 const EnvConfig& env_config,
                                 std::shared_ptr<const Workload> workload,
                                 const SacConfig& sac_config, Transport* transport,
                                 GradientSync* sync) {
  QR_CHECK(sync != nullptr);
  Learner learner(layout, options, env_config, std::move(workload), sac_config, transport, sync);
  return learner.Run();
}

}  // namespace qosroute
