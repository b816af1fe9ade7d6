#pragma once
// The actor of the distributed trainer: a vector of simulators stepped together with one
// batched CPU policy call per round (uniformly random valid actions during its share of the
// warm-up, then samples of the stochastic policy), transitions packed into large
// non-blocking messages to its replay shard, episode statistics to learner 0, and the newest
// published weights adopted between rounds without ever waiting for them.
//
// Checkpoints: a CheckpointRequest from learner 0 (served in any wait, between two decision
// rounds) makes the actor snapshot itself, send a CheckpointMarker to its shard (after every
// transition it sent before) and its snapshot to learner 0, then wait for CheckpointDone:
// continue, or end (ActorResult::stopped). The message being filled is part of the snapshot,
// so no transition is lost or sent twice across a resume.
//
// Flow control: at most `max_inflight_sends` transition messages may be unacknowledged; the
// shard acknowledges a message when its rate limiter admits it, so an actor that is ahead of
// the learners waits here (serving weight messages meanwhile, with an idle deadline).
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "comm/protocol.h"
#include "comm/transport.h"
#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "env/warmup_actions.h"
#include "learner/sac.h"
#include "planner/label_options.h"
#include "planner/planner_config.h"
#include "replay/rank_snapshot.h"

namespace qosroute {

struct ActorOptions {
  int actor_index = 0;
  long frame_budget = 0;                               // this actor's share of train.total_frames
  long warmup_frames = 0;                              // this actor's share of train.warmup_frames
  WarmupPolicy warmup_policy = WarmupPolicy::kRandom;  // env/warmup_actions.h
  double warmup_epsilon = 0.3;
  GreedyQosOptions greedy;
  // Planner labels on a share of this actor's decisions (planner/decision_labeler.h): with a
  // share > 0 every record carries kActionValuesField (labelled or not), so that records keep
  // one size per run.
  LabelOptions labels;
  PlannerConfig planner;
  int num_envs = 1;
  uint64_t seed = 1;
  int send_transitions = 64;   // transitions per message
  int max_inflight_sends = 4;  // unacknowledged messages before the actor waits
  double wait_timeout_s = 600.0;
  // Resume: the actor's state from a checkpoint (null starts fresh). A resumed actor takes
  // learner 0's weights before it acts with the policy again.
  const ActorSnapshot* resume = nullptr;
  // Set by a SIGTERM/SIGINT handler: the actor asks learner 0 (once) to checkpoint and stop.
  const std::atomic<bool>* stop_requested = nullptr;
  size_t max_chunk_bytes = 64u << 20;  // checkpoint part chunks (tests make it small)
};

struct ActorResult {
  long frames = 0;
  long episodes = 0;
  long transitions_sent = 0;
  uint64_t checksum = 0;                  // sum of RecordHash over everything sent
  std::vector<int64_t> versions_adopted;  // in adoption order (must increase)
  bool stopped = false;  // a checkpoint with stop ended the job (totals are not final)
  int checkpoints = 0;   // checkpoints this actor took part in
};

// Runs until the budget is spent, everything sent is acknowledged, and learner 0 says stop.
ActorResult RunActor(const RoleLayout& layout, const ActorOptions& options,
                     const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                     const SacConfig& sac_config, Transport* transport);

}  // namespace qosroute
