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

DistributedResult RunLearnerRole(const DistributedJob& job, Transport* transport,
                                 GradientSync* sync) {
  QR_CHECK(sync != nullptr);
  Learner learner(job, transport, sync);
  return learner.Run();
}

}  // namespace qosroute
