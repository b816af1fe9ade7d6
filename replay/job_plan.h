#pragma once
// The plan of a distributed job: the numbers every role derives the same way from the layout
// and the options (runner/job_plan.h computes it once per rank and hands it to the role it
// runs): each learner's batch and its split over the shards, the run's updates, the rate
// limiter's target and every shard's storage. Torch-free, so that a shard role needs nothing
// above replay/.
#include <vector>

#include "replay/rate_limiter.h"
#include "replay/replay_shard.h"

namespace qosroute {

struct DistributedPlan {
  int per_learner_batch = 0;
  std::vector<int> samples_per_shard;  // a learner's request to each shard per update
  long total_updates = 0;
  double samples_per_insert = 0.0;
  long min_size_to_sample = 1;
  double error_buffer = 0.0;
  int shard_capacity = 1;
  RateLimiterOptions limiter;              // every shard's
  std::vector<ReplayShardOptions> shards;  // storage of shard 0, 1, ...
};

}  // namespace qosroute
