#include "actors/actor_loop.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "common/error.h"
#include "env/episode_seeds.h"
#include "env/warmup_actions.h"
#include "learner/distributed_weights.h"
#include "learner/graph_batch.h"
#include "planner/decision_labeler.h"
#include "replay/transition_codec.h"
#include "telemetry/rolling_qos.h"

namespace qosroute {

namespace {

class Actor {
 public:
  Actor(const RoleLayout& layout, const ActorOptions& options, const EnvConfig& env_config,
        std::shared_ptr<const Workload> workload, const SacConfig& sac_config, Transport* transport)
      : layout_(layout),
        options_(options),
        transport_(transport),
        agent_(sac_config),
        explore_rng_(options.seed * 0x2545F4914F6CDD1DULL + 17 +
                     7919ULL * (options.actor_index + 1)),
        shard_rank_(layout.ShardRank(layout.ShardOfActor(options.actor_index))),
        warmup_(options.warmup_policy, options.warmup_epsilon, options.greedy),
        labeler_(options.labels, options.planner, options.greedy, env_config, workload,
                 options.seed, options.actor_index),
        record_fields_(options.labels.share > 0.0 ? kActionValuesField : 0) {
    QR_CHECK(options.num_envs >= 1 && options.send_transitions >= 1 &&
             options.max_inflight_sends >= 1);
    for (int i = 0; i < options.num_envs; ++i) {
      envs_.push_back(MakeTrainingEnv(env_config, workload, sac_config));
      envs_.back()->Reset(NextEpisodeSeed());
    }
    returns_.assign(options.num_envs, 0.0);
    ResetOutgoing();
    if (options.resume) Restore(*options.resume);
  }

  ActorResult Run() {
    try {
      if (!finished_) Act();
      WaitUntil(
          [&] {
            const bool busy = Pump();
            return stop_ ? WaitStatus::kDone : busy ? WaitStatus::kBusy : WaitStatus::kIdle;
          },
          options_.wait_timeout_s, "the stop message from learner 0");
    } catch (const CheckpointStop&) {
      result_.stopped = true;
    }
    // Let the last sends complete before the transport goes away.
    WaitUntil(
        [&] { return transport_->PendingSends() == 0 ? WaitStatus::kDone : WaitStatus::kIdle; },
        options_.wait_timeout_s, "the last sends to complete");
    return result_;
  }

 private:
  // Thrown out of any wait when learner 0 ends the job after a checkpoint.
  struct CheckpointStop {};

  // Spends the frame budget, then reports the totals to the shard and learner 0.
  void Act() {
    std::vector<const Observation*> batch;
    std::vector<int> actions;
    while (result_.frames < options_.frame_budget) {
      Pump();
      const int active = static_cast<int>(
          std::min<long>(static_cast<long>(envs_.size()), options_.frame_budget - result_.frames));
      if (result_.frames < options_.warmup_frames) {
        actions.resize(active);
        for (int i = 0; i < active; ++i) actions[i] = warmup_.Act(*envs_[i], explore_rng_);
      } else {
        if (version_ < 0) {
          PumpUntil([&] { return Pump(); }, [&] { return version_ >= 0; }, options_.wait_timeout_s,
                    "learner 0's weights after the resume");
        }
        batch.clear();
        for (int i = 0; i < active; ++i) batch.push_back(&envs_[i]->observation());
        actions = agent_.Act(BatchObservations(batch), /*greedy=*/false, &explore_rng_);
      }
      for (int i = 0; i < active; ++i) StepEnv(i, actions[i]);
      if (outgoing_count_ >= options_.send_transitions) Flush();
    }
    Flush();
    WaitUntil(
        [&] {
          const bool busy = Pump();
          return inflight_ == 0 ? WaitStatus::kDone : busy ? WaitStatus::kBusy : WaitStatus::kIdle;
        },
        options_.wait_timeout_s, "the replay shard to acknowledge the last transitions");
    StreamTotals totals;
    totals.index = options_.actor_index;
    totals.transitions = result_.transitions_sent;
    totals.checksum = result_.checksum;
    totals.frames = result_.frames;
    transport_->Send(shard_rank_, EncodeTotals(MessageKind::kActorDone, totals));
    if (shard_rank_ != layout_.LearnerRank(0)) {
      transport_->Send(layout_.LearnerRank(0), EncodeTotals(MessageKind::kActorDone, totals));
    }
    finished_ = true;
  }

  ActorSnapshot Snapshot() const {
    ActorSnapshot s;
    s.actor = options_.actor_index;
    for (const auto& env : envs_) s.env_states.push_back(env->SaveState());
    s.episode_returns = returns_;
    s.explore_rng = explore_rng_.state();
    s.episodes_started = episodes_started_;
    s.frames = result_.frames;
    s.episodes = result_.episodes;
    s.transitions_sent = result_.transitions_sent;
    s.checksum = result_.checksum;
    s.next_sequence = next_sequence_;
    s.policy_version = version_;
    s.finished = finished_;
    s.outgoing = outgoing_;
    s.outgoing_count = outgoing_count_;
    s.record_size = record_size_;
    return s;
  }

  void Restore(const ActorSnapshot& s) {
    QR_CHECK_MSG(s.actor == options_.actor_index, "checkpoint part of actor " +
                                                      std::to_string(s.actor) + " given to actor " +
                                                      std::to_string(options_.actor_index));
    QR_CHECK_MSG(s.env_states.size() == envs_.size() && s.episode_returns.size() == envs_.size(),
                 "checkpointed actor has " + std::to_string(s.env_states.size()) +
                     " environments; this run has " + std::to_string(envs_.size()) +
                     " (train.num_envs)");
    for (size_t i = 0; i < envs_.size(); ++i) envs_[i]->LoadState(s.env_states[i]);
    returns_ = s.episode_returns;
    explore_rng_.set_state(s.explore_rng);
    episodes_started_ = s.episodes_started;
    result_.frames = s.frames;
    result_.episodes = s.episodes;
    result_.transitions_sent = s.transitions_sent;
    result_.checksum = s.checksum;
    next_sequence_ = s.next_sequence;
    // Messages sent before the snapshot are the shard's business now (stored, or restored in
    // its queue): their acknowledgements, if any come, are ignored.
    acked_ = next_sequence_;
    ignore_acks_below_ = next_sequence_;
    inflight_ = 0;
    finished_ = s.finished;
    outgoing_ = s.outgoing;
    outgoing_count_ = s.outgoing_count;
    record_size_ = s.record_size;
    if (outgoing_.size() < kTransitionsHeaderBytes) ResetOutgoing();
    // Records of a checkpoint from before version-2 records go out as this build's; the
    // stream accounting counts what is sent.
    result_.checksum +=
        UpgradeRecordsInPlace(&outgoing_, kTransitionsHeaderBytes, outgoing_count_, &record_size_);
    version_ = -1;  // act with the policy only after learner 0's weights arrive
  }

  // Serves a CheckpointRequest: snapshot, marker to the shard, snapshot to learner 0, then
  // wait for learner 0's verdict.
  void TakeCheckpoint(const CheckpointSignal& request) {
    QR_CHECK_MSG(!in_checkpoint_, "checkpoint request during a checkpoint");
    in_checkpoint_ = true;
    const std::vector<uint8_t> state = EncodeActorSnapshot(Snapshot());
    transport_->Send(shard_rank_, EncodeCheckpointSignal(MessageKind::kCheckpointMarker,
                                                         CheckpointSignal{request.id, false}));
    for (auto& chunk : EncodeCheckpointPart(request.id, transport_->rank(), PartKind::kActor, state,
                                            options_.max_chunk_bytes)) {
      transport_->Send(layout_.LearnerRank(0), std::move(chunk));
    }
    checkpoint_done_.reset();
    PumpUntil([&] { return Pump(); }, [&] { return checkpoint_done_.has_value(); },
              options_.wait_timeout_s,
              "learner 0 to write checkpoint " + std::to_string(request.id));
    in_checkpoint_ = false;
    ++result_.checkpoints;
    QR_CHECK_MSG(checkpoint_done_->id == request.id, "checkpoint done for another checkpoint");
    if (checkpoint_done_->stop) throw CheckpointStop{};
  }

  uint64_t NextEpisodeSeed() {
    // Episodes of all actors interleave: actor a runs episodes a, a + A, a + 2A, ...
    return TrainingEpisodeSeed(options_.seed,
                               episodes_started_++ * layout_.num_actors() + options_.actor_index);
  }

  void ResetOutgoing() {
    outgoing_.assign(kTransitionsHeaderBytes, 0);
    outgoing_count_ = 0;
  }

  void StepEnv(int i, int action) {
    ClusterEnv& env = *envs_[i];
    label_.labelled = false;
    if (labeler_.Labels(result_.frames)) {
      labeler_.Label(env, result_.frames, &label_);
      action = labeler_.Act(action, label_);
    }
    before_ = env.observation();
    const double credited_qos = env.CreditedQos();
    const long credited_requests = env.CreditedRequests();
    const StepResult step = env.Step(action);
    credited_.Add(env.CreditedQos() - credited_qos, env.CreditedRequests() - credited_requests);
    returns_[i] += step.reward;
    const size_t start = outgoing_.size();
    // At the end of an episode the next observation is never used (done masks bootstrap).
    EncodeTransition(before_, action, static_cast<float>(step.reward),
                     step.done ? before_ : env.observation(), step.done, &outgoing_, record_fields_,
                     &label_);
    record_size_ = outgoing_.size() - start;
    result_.checksum += RecordHash(outgoing_.data() + start, record_size_);
    ++outgoing_count_;
    ++result_.frames;
    if (step.done) {
      const EpisodeMetrics m = env.Metrics();
      EpisodeReport report;
      report.actor = options_.actor_index;
      report.frames = result_.frames;
      report.policy_version = version_;
      report.avg_qos = m.avg_qos;
      report.sla_attainment = m.sla_attainment;
      report.drop_rate = m.drop_rate;
      report.episode_return = returns_[i];
      transport_->Send(layout_.LearnerRank(0), EncodeEpisode(report));
      ++result_.episodes;
      returns_[i] = 0.0;
      env.Reset(NextEpisodeSeed());
    }
  }

  void Flush() {
    if (outgoing_count_ == 0) return;
    WaitUntil(
        [&] {
          const bool busy = Pump();
          return inflight_ < options_.max_inflight_sends ? WaitStatus::kDone
                 : busy                                  ? WaitStatus::kBusy
                                                         : WaitStatus::kIdle;
        },
        options_.wait_timeout_s, "the replay shard to admit transitions (rate limiter)");
    TransitionsHeader header;
    header.actor = options_.actor_index;
    header.sequence = next_sequence_++;
    header.policy_version = version_;
    header.count = outgoing_count_;
    header.record_size = static_cast<uint32_t>(record_size_);
    WriteTransitionsHeader(header, &outgoing_);
    transport_->Send(shard_rank_, std::move(outgoing_));
    result_.transitions_sent += outgoing_count_;
    ++inflight_;
    transport_->Send(layout_.LearnerRank(0),
                     EncodeProgress(Progress{options_.actor_index, result_.frames, version_,
                                             credited_.qos(), credited_.resolved()}));
    credited_.Clear();
    ResetOutgoing();
  }

  // Handles every message that has arrived; adopts the newest weights among them.
  bool Pump() {
    bool busy = false;
    Message message;
    while (transport_->Poll(&message)) {
      busy = true;
      switch (KindOf(message.bytes)) {
        case MessageKind::kWeights:
          if (WeightsVersion(message.bytes) > version_ &&
              (newest_weights_.empty() ||
               WeightsVersion(message.bytes) > WeightsVersion(newest_weights_))) {
            newest_weights_ = std::move(message.bytes);
          }
          break;
        case MessageKind::kInsertAck: {
          const int64_t sequence = DecodeInsertAck(message.bytes);
          if (sequence < ignore_acks_below_) break;  // sent before the resumed snapshot
          QR_CHECK_MSG(sequence == acked_, "insert acknowledgements out of order");
          ++acked_;
          --inflight_;
          break;
        }
        case MessageKind::kCheckpointRequest:
          // Served once the messages that arrived with it are handled (below).
          QR_CHECK_MSG(!checkpoint_request_ && !in_checkpoint_,
                       "checkpoint request during a checkpoint");
          checkpoint_request_ =
              DecodeCheckpointSignal(MessageKind::kCheckpointRequest, message.bytes);
          break;
        case MessageKind::kCheckpointDone:
          QR_CHECK_MSG(in_checkpoint_, "checkpoint done without a checkpoint");
          checkpoint_done_ = DecodeCheckpointSignal(MessageKind::kCheckpointDone, message.bytes);
          break;
        case MessageKind::kStop:
          QR_CHECK_MSG(acked_ == next_sequence_ && result_.frames >= options_.frame_budget,
                       "stop before this actor finished");
          stop_ = true;
          break;
        default:
          QR_CHECK_MSG(false, std::string("actor got an unexpected ") +
                                  KindName(KindOf(message.bytes)) + " message from rank " +
                                  std::to_string(message.source));
      }
    }
    if (!newest_weights_.empty()) {
      version_ = LoadWeights(newest_weights_, &agent_);
      result_.versions_adopted.push_back(version_);
      newest_weights_.clear();
    }
    if (options_.stop_requested && options_.stop_requested->load() && !stop_forwarded_) {
      transport_->Send(layout_.LearnerRank(0), EncodeSignal(MessageKind::kStopRequest));
      stop_forwarded_ = true;
    }
    if (checkpoint_request_) {
      const CheckpointSignal request = *checkpoint_request_;
      checkpoint_request_.reset();
      TakeCheckpoint(request);
      busy = true;
    }
    return busy;
  }

  RoleLayout layout_;
  ActorOptions options_;
  Transport* transport_;
  SacAgent agent_;
  Rng explore_rng_;
  int shard_rank_;
  WarmupActions warmup_;
  DecisionLabeler labeler_;
  uint16_t record_fields_;  // kActionValuesField when labelling
  ActionLabel label_;
  std::vector<std::unique_ptr<ClusterEnv>> envs_;
  std::vector<double> returns_;
  long episodes_started_ = 0;
  Observation before_;
  RollingQos credited_;  // QoS and requests credited since the last Progress report
  std::vector<uint8_t> outgoing_;
  int outgoing_count_ = 0;
  size_t record_size_ = 0;
  int64_t next_sequence_ = 0;
  int64_t acked_ = 0;
  int inflight_ = 0;
  int64_t version_ = 0;  // the initial weights (same seed as the learners) are version 0
  std::vector<uint8_t> newest_weights_;
  bool stop_ = false;
  bool finished_ = false;  // ActorDone sent
  int64_t ignore_acks_below_ = 0;
  bool in_checkpoint_ = false;
  bool stop_forwarded_ = false;
  std::optional<CheckpointSignal> checkpoint_request_, checkpoint_done_;
  ActorResult result_;
};

}  // namespace

ActorResult RunActor(const RoleLayout& layout, const ActorOptions& options,
                     const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                     const SacConfig& sac_config, Transport* transport) {
  Actor actor(layout, options, env_config, std::move(workload), sac_config, transport);
  return actor.Run();
}

}  // namespace qosroute
