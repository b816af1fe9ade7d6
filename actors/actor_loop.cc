#include "actors/actor_loop.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "env/random_action.h"
#include "learner/distributed_weights.h"
#include "learner/graph_batch.h"
#include "learner/train_loop.h"
#include "replay/transition_codec.h"

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
        shard_rank_(layout.ShardRank(layout.ShardOfActor(options.actor_index))) {
    QR_CHECK(options.num_envs >= 1 && options.send_transitions >= 1 &&
             options.max_inflight_sends >= 1);
    for (int i = 0; i < options.num_envs; ++i) {
      envs_.push_back(std::make_unique<ClusterEnv>(env_config, workload));
      envs_.back()->Reset(NextEpisodeSeed());
    }
    returns_.assign(options.num_envs, 0.0);
    ResetOutgoing();
  }

  ActorResult Run() {
    std::vector<const Observation*> batch;
    std::vector<int> actions;
    while (result_.frames < options_.frame_budget) {
      Pump();
      const int active = static_cast<int>(
          std::min<long>(static_cast<long>(envs_.size()), options_.frame_budget - result_.frames));
      if (result_.frames < options_.warmup_frames) {
        actions.resize(active);
        for (int i = 0; i < active; ++i)
          actions[i] = RandomValidAction(envs_[i]->observation(), explore_rng_);
      } else {
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
    WaitUntil(
        [&] {
          const bool busy = Pump();
          return stop_ ? WaitStatus::kDone : busy ? WaitStatus::kBusy : WaitStatus::kIdle;
        },
        options_.wait_timeout_s, "the stop message from learner 0");
    // Let the last sends complete before the transport goes away.
    WaitUntil(
        [&] { return transport_->PendingSends() == 0 ? WaitStatus::kDone : WaitStatus::kIdle; },
        options_.wait_timeout_s, "the last sends to complete");
    return result_;
  }

 private:
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
    before_ = env.observation();
    const StepResult step = env.Step(action);
    returns_[i] += step.reward;
    const size_t start = outgoing_.size();
    // At the end of an episode the next observation is never used (done masks bootstrap).
    EncodeTransition(before_, action, static_cast<float>(step.reward),
                     step.done ? before_ : env.observation(), step.done, &outgoing_);
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
                     EncodeProgress(Progress{options_.actor_index, result_.frames, version_}));
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
          QR_CHECK_MSG(sequence == acked_, "insert acknowledgements out of order");
          ++acked_;
          --inflight_;
          break;
        }
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
    return busy;
  }

  RoleLayout layout_;
  ActorOptions options_;
  Transport* transport_;
  SacAgent agent_;
  Rng explore_rng_;
  int shard_rank_;
  std::vector<std::unique_ptr<ClusterEnv>> envs_;
  std::vector<double> returns_;
  long episodes_started_ = 0;
  Observation before_;
  std::vector<uint8_t> outgoing_;
  int outgoing_count_ = 0;
  size_t record_size_ = 0;
  int64_t next_sequence_ = 0;
  int64_t acked_ = 0;
  int inflight_ = 0;
  int64_t version_ = 0;  // the initial weights (same seed as the learners) are version 0
  std::vector<uint8_t> newest_weights_;
  bool stop_ = false;
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
