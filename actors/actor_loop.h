#pragma once
// The actor of the distributed trainer: a vector of simulators stepped together with one
// batched CPU policy call per round (uniformly random valid actions during its share of the
// warm-up, then samples of the stochastic policy), transitions packed into large
// non-blocking messages to its replay shard, episode statistics to learner 0, and the newest
// published weights adopted between rounds without ever waiting for them.
//
// Flow control: at most `max_inflight_sends` transition messages may be unacknowledged; the
// shard acknowledges a message when its rate limiter admits it, so an actor that is ahead of
// the learners waits here (serving weight messages meanwhile, with an idle deadline).
#include <cstdint>
#include <memory>
#include <vector>

#include "common/transport.h"
#include "env/cluster_env.h"
#include "env/random_action.h"
#include "learner/sac.h"
#include "replay/protocol.h"

namespace qosroute {

struct ActorOptions {
  int actor_index = 0;
  long frame_budget = 0;   // this actor's share of train.total_frames
  long warmup_frames = 0;  // this actor's share of train.warmup_frames
  int num_envs = 1;
  uint64_t seed = 1;
  int send_transitions = 64;   // transitions per message
  int max_inflight_sends = 4;  // unacknowledged messages before the actor waits
  double wait_timeout_s = 600.0;
};

struct ActorResult {
  long frames = 0;
  long episodes = 0;
  long transitions_sent = 0;
  uint64_t checksum = 0;                  // sum of RecordHash over everything sent
  std::vector<int64_t> versions_adopted;  // in adoption order (must increase)
};

// Runs until the budget is spent, everything sent is acknowledged, and learner 0 says stop.
ActorResult RunActor(const RoleLayout& layout, const ActorOptions& options,
                     const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                     const SacConfig& sac_config, Transport* transport);

}  // namespace qosroute
