#pragma once
// What an actor and a replay shard of the distributed trainer hold at a checkpoint, as plain
// structs (they travel to learner 0 as bytes, which writes them into the checkpoint file
// under /ranks/<r>, and back to their rank on resume). No torch, no HDF5.
//
// One serialization mechanism: VisitActorSnapshot / VisitShardSnapshot list every field once,
// with its name in the checkpoint file; the byte codec (rank_snapshot.cc) and the HDF5 form
// (learner/distributed_checkpoint.cc) both walk that list. A new field is one line there (and
// files written before it lack it: bump kSnapshotVersion and let the readers give older
// versions a default).
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

// The version of the snapshots' field lists (bytes and the HDF5 groups' `state_version`).
// 1: the hand-written forms before the field lists (HDF5: pending transitions messages as one
// concatenated dataset); 2: the field lists.
constexpr int64_t kSnapshotVersion = 2;

// A list of byte strings in the field lists: stored as `count` (an integer) and one dataset
// `<item>_<i>` per entry in HDF5.
struct ByteStrings {
  const char* item;
  const char* count;
};

// Every field of an actor's snapshot with its name in the checkpoint file. `visit(name,
// field)` for scalars (integers, double, bool), vectors of numbers, the RNG state; `visit(
// ByteStrings, field)` for lists of byte strings. Works on const and non-const snapshots.
template <typename Snapshot, typename Visit>
void VisitActorSnapshot(Snapshot& s, Visit&& visit) {
  visit("actor", s.actor);
  visit(ByteStrings{"env", "num_envs"}, s.env_states);
  visit("episode_returns", s.episode_returns);
  visit("rng_explore", s.explore_rng);
  visit("episodes_started", s.episodes_started);
  visit("frames", s.frames);
  visit("episodes", s.episodes);
  visit("transitions_sent", s.transitions_sent);
  visit("checksum", s.checksum);
  visit("next_sequence", s.next_sequence);
  visit("policy_version", s.policy_version);
  visit("finished", s.finished);
  visit("outgoing", s.outgoing);
  visit("outgoing_count", s.outgoing_count);
  visit("record_size", s.record_size);
}

// Every field of a shard's snapshot (totals.index is the shard).
template <typename Snapshot, typename Visit>
void VisitShardSnapshot(Snapshot& s, Visit&& visit) {
  visit("shard", s.shard);
  visit("capacity", s.capacity);
  visit("record_size", s.record_size);
  visit("size", s.size);
  visit("next_serial", s.next_serial);
  visit("records", s.records);
  visit("serials", s.serials);
  visit("priorities", s.priorities);
  visit("max_priority", s.max_priority);
  visit("rng", s.rng);
  visit("limiter_inserts", s.limiter_inserts);
  visit("limiter_samples", s.limiter_samples);
  visit("limiter_released", s.limiter_released);
  visit("next_sequence", s.next_sequence);
  visit("actors_done", s.actors_done);
  visit("done_sent", s.done_sent);
  visit("totals_transitions", s.totals.transitions);
  visit("totals_checksum", s.totals.checksum);
  visit("totals_samples", s.totals.frames);
  visit("totals_rate_deviation_max", s.totals.rate_deviation_max);
  visit(ByteStrings{"pending_insert", "pending_inserts"}, s.pending_inserts);
}

std::vector<uint8_t> EncodeActorSnapshot(const ActorSnapshot& s);
// QR_CHECK failure (not UB) on truncated or malformed bytes.
ActorSnapshot DecodeActorSnapshot(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> EncodeShardSnapshot(const ShardSnapshot& s);
ShardSnapshot DecodeShardSnapshot(const std::vector<uint8_t>& bytes);

}  // namespace qosroute
