#pragma once
// Checkpoints of the distributed trainer (mpirun): one HDF5 file, written by learner 0 after
// every other rank has sent it its part (learner/distributed_run.h has the protocol), with
// the single-process file's agent, config, counters and metrics, plus one group per rank:
//
//   /                      @format @format_version @ranks=<world> @trainer="distributed"
//                          @learners @replay_shards
//   /config /architecture /agent/...       as in a single-process checkpoint
//   /counters              @frames @updates @episodes @weight_version @seed
//   /loop                  learner 0's schedule and stream accounting; /loop/actor_frames
//   /metrics/train_csv, /metrics/eval_csv
//   /rolling               @qos_sum @requests (absent in older files)
//   /selection, /metrics/select_csv         model selection, as in a single-process checkpoint
//   /ranks/<r>             @role = learner | shard | actor
//     actor/               env_<i>, episode_returns, rng_explore, outgoing; counters as attributes
//     replay/              a replay shard (a shard rank, or a learner hosting one): records
//                          [size, record_size] (transition_codec.h bytes), serials, priorities,
//                          rng, next_sequence, actors_done, pending_inserts (+ pending_sizes)
//
// Datasets that would be empty are left out; their count attribute says so.
#include <map>
#include <string>
#include <vector>

#include "comm/protocol.h"
#include "learner/checkpoint_agent.h"
#include "learner/sac.h"
#include "learner/selection_keeper.h"
#include "learner/trainer_core_state.h"
#include "replay/rank_snapshot.h"

namespace qosroute {

// Whether every transition was stored exactly once, and how the shards kept their rate.
struct StreamAccounting {
  long actors_done = 0, shards_done = 0;
  long actor_transitions = 0, shard_transitions = 0;
  uint64_t actor_checksum = 0, shard_checksum = 0;
  double max_rate_deviation = 0.0;
  double episode_lag_sum = 0.0;  // policy lag summed over episode reports
};

// Learner 0's state: the core both trainers share (learner/trainer_core_state.h), the
// actors' frames and the stream accounting.
struct LearnerZeroState : TrainerCoreState {
  long published_updates = 0;
  std::vector<int64_t> actor_frames;  // per actor
  StreamAccounting stream;

  long frames() const {
    long sum = 0;
    for (int64_t f : actor_frames) sum += f;
    return sum;
  }
};

struct DistributedCheckpoint {
  std::string path;
  LearnerZeroState learner;
  AgentState agent;
  std::map<int, ActorSnapshot> actors;  // by rank
  std::map<int, ShardSnapshot> shards;  // by rank (a hosted shard sits at its learner's rank)
};

// What a resuming job must match.
struct DistributedCheckpointExpectations {
  RoleLayout layout;
  int num_envs = 1;
  int shard_capacity = 1;
  bool prioritized = false;
};

// Writes `path`.tmp, then commits it under `path` (checkpoint/files.h).
void WriteDistributedCheckpoint(const std::string& path, const RoleLayout& layout,
                                const LearnerZeroState& state, const SacAgent& agent,
                                const std::map<int, ActorSnapshot>& actors,
                                const std::map<int, ShardSnapshot>& shards, int compression_level);

// Reads and checks the whole file; UserError naming the file and the first problem (format,
// version, rank layout, architecture, env count, shard capacity, any missing dataset).
DistributedCheckpoint ReadDistributedCheckpoint(const std::string& path,
                                                const DistributedCheckpointExpectations& expect,
                                                const SacAgent& agent);

// The state other learners need on resume (parameters, Adam states, RNG, update count), as
// bytes for a CheckpointPart.
std::vector<uint8_t> EncodeLearnerPart(const AgentState& agent, long updates);
AgentState DecodeLearnerPart(const std::vector<uint8_t>& bytes, long* updates);

}  // namespace qosroute
