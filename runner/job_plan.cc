#include "runner/job_plan.h"

#include <algorithm>

#include "common/error.h"

namespace qosroute {

namespace {

// Every shard's rate limiter.
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

// Shard `shard`'s storage.
ReplayShardOptions ShardOptions(const DistributedPlan& plan, const DistributedOptions& options,
                                int shard) {
  ReplayShardOptions o;
  o.capacity = plan.shard_capacity;
  o.prioritized = options.prioritized;
  o.priority_exponent = options.priority_exponent;
  o.seed = options.train.seed * 0x9E3779B97F4A7C15ULL + 101 + shard;
  return o;
}

}  // namespace

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
  plan.limiter = LimiterOptions(plan, options);
  for (int s = 0; s < shards; ++s) plan.shards.push_back(ShardOptions(plan, options, s));
  return plan;
}

}  // namespace qosroute
