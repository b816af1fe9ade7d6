#pragma once
// What an actor and a replay shard of the distributed trainer hold at a checkpoint, as plain
// structs with a byte codec (they travel to learner 0, which writes them into the checkpoint
// file under /ranks/<r>, and back to their rank on resume). No torch, no HDF5.
#include <array>
#include <cstdint>
#include <vector>

#include "comm/protocol.h"

namespace qosroute {

struct ActorSnapshot {
  int32_t actor = 0;
  std::vector<std::vector<uint8_t>> env_states;  // ClusterEnv::SaveState, one per env
  std::vector<double> episode_returns;           // in-progress return of each env
  std::array<uint64_t, 4> explore_rng{};
  int64_t episodes_started = 0;  // the episode-seed counter
  int64_t frames = 0;
  int64_t episodes = 0;
  int64_t transitions_sent = 0;
  uint64_t checksum = 0;       // RecordHash sum of everything sent (stream accounting)
  int64_t next_sequence = 0;   // of the next transitions message
  int64_t policy_version = 0;  // of the weights it acted with (informational: resumed actors
                               // take learner 0's weights before they act again)
  bool finished = false;       // its budget is spent and it reported ActorDone
  // The transitions message being filled (header space + records; sent once full).
  std::vector<uint8_t> outgoing;
  int32_t outgoing_count = 0;
  uint64_t record_size = 0;
};

struct ShardSnapshot {
  int32_t shard = 0;
  int32_t capacity = 0;
  uint64_t record_size = 0;  // 0 while empty
  int32_t size = 0;
  uint64_t next_serial = 0;        // insertion serial of the next record; slot = serial % capacity
  std::vector<uint8_t> records;    // slots [0, size) x record_size
  std::vector<uint64_t> serials;   // serial of the record in each slot [size]
  std::vector<double> priorities;  // sum-tree leaves [capacity]; empty when uniform
  double max_priority = 1.0;
  std::array<uint64_t, 4> rng{};
  int64_t limiter_inserts = 0;
  int64_t limiter_samples = 0;
  bool limiter_released = false;
  std::vector<int64_t> next_sequence;  // per actor of the job: the message expected next
  std::vector<int32_t> actors_done;    // actors that reported ActorDone
  bool done_sent = false;              // ShardDone sent to learner 0
  StreamTotals totals;
  // Transitions messages received but not yet admitted by the rate limiter, in order.
  std::vector<std::vector<uint8_t>> pending_inserts;
};

std::vector<uint8_t> EncodeActorSnapshot(const ActorSnapshot& s);
// QR_CHECK failure (not UB) on truncated or malformed bytes.
ActorSnapshot DecodeActorSnapshot(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> EncodeShardSnapshot(const ShardSnapshot& s);
ShardSnapshot DecodeShardSnapshot(const std::vector<uint8_t>& bytes);

}  // namespace qosroute
