#pragma once
// One shard of the distributed replay: transition records (transition_codec.h) in one flat
// ring with FIFO eviction, uniform or prioritized (sum-tree) sampling, priority updates
// keyed by insertion serial (an update for a record evicted since it was sampled is
// ignored), and the samples-per-insert rate limiter.
//
// ReplayShard is the storage; ShardServer speaks the protocol (comm/protocol.h) on a
// transport: it queues transitions and sample requests as they arrive and admits each as
// soon as the rate limiter allows, so nothing blocks and a shard can also live inside a
// learner process (replay_shards = 0). Neither is thread-safe: one thread serves a shard.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "comm/protocol.h"
#include "comm/transport.h"
#include "common/rng.h"
#include "replay/rank_snapshot.h"
#include "replay/rate_limiter.h"
#include "replay/sum_tree.h"

namespace qosroute {

struct ReplayShardOptions {
  int capacity = 100000;
  bool prioritized = false;
  double priority_exponent = 0.6;  // stored priority = |td| ^ exponent (alpha of PER)
  double priority_epsilon = 1e-3;  // added to |td| so no record becomes unsampleable
  uint64_t seed = 1;
};

class ReplayShard {
 public:
  explicit ReplayShard(const ReplayShardOptions& options);

  // Appends `count` records of `record_size` bytes (the first insert fixes the size).
  // Returns the sum of their RecordHash values.
  uint64_t Insert(const uint8_t* records, int count, size_t record_size);
  // Appends `count` sampled (key, record) pairs: keys to *keys, records to *records.
  void Sample(int count, std::vector<uint64_t>* keys, std::vector<uint8_t>* records);
  // Sets priorities (|td| values) of the records still holding these keys.
  void UpdatePriorities(const std::vector<uint64_t>& keys, const std::vector<float>& td_errors);

  int size() const { return size_; }
  int capacity() const { return options_.capacity; }
  size_t record_size() const { return record_size_; }
  uint64_t total_inserted() const { return next_serial_; }
  const SumTree* priorities() const { return tree_.get(); }  // null when uniform
  const uint8_t* record(int slot) const { return storage_.data() + slot * record_size_; }

  // Storage, serials, priorities and RNG into / out of a checkpoint snapshot (the other
  // fields of *snapshot are the server's). Restore checks capacity and sizes (QR_CHECK).
  void SaveTo(ShardSnapshot* snapshot) const;
  void RestoreFrom(const ShardSnapshot& snapshot);

 private:
  ReplayShardOptions options_;
  size_t record_size_ = 0;
  std::vector<uint8_t> storage_;  // capacity * record_size
  std::vector<uint64_t> serial_;  // serial of the record in each slot
  int size_ = 0;
  uint64_t next_serial_ = 0;  // slot = serial % capacity
  std::unique_ptr<SumTree> tree_;
  double max_priority_ = 1.0;  // new records get the largest priority seen (PER)
  Rng rng_;
};

class ShardServer {
 public:
  ShardServer(const RoleLayout& layout, int shard_index, const ReplayShardOptions& replay,
              const RateLimiterOptions& limiter, Transport* transport);

  // Handles a message meant for the shard (transitions, sample requests, priority updates,
  // actor-done, learners-finished), taking its bytes; returns false for any other kind, and
  // leaves that message untouched.
  bool Handle(Message* message);
  // Admits queued inserts and serves queued sample requests as far as the rate limiter
  // allows; sends ShardDone once every actor of the shard has finished. Returns true if it
  // did anything.
  bool Serve();

  // Every actor of this shard has finished and the shard has reported its totals.
  bool done_sent() const { return done_sent_; }

  // Checkpoints: Handle counts CheckpointMarkers; once every learner and every actor of this
  // shard has sent checkpoint id's marker (each after everything it sent before), the shard
  // takes its snapshot and sends it to learner 0 as a CheckpointPart. No sample request may
  // be outstanding then (the learners stop requesting before they send their markers).
  ShardSnapshot Snapshot() const;
  // Continues from a checkpoint: storage, limiter, sequences, totals and the transitions that
  // were waiting for the rate limiter. Acknowledgements of those still go to their actors,
  // which ignore acknowledgements of messages sent before their own snapshot.
  void Restore(const ShardSnapshot& snapshot);
  // Test hook: the largest chunk of a checkpoint part (default 64 MiB).
  void set_max_chunk_bytes(size_t bytes) { max_chunk_bytes_ = bytes; }
  const ReplayShard& replay() const { return replay_; }
  const RateLimiter& limiter() const { return limiter_; }
  const StreamTotals& totals() const { return totals_; }

 private:
  struct PendingSample {
    int learner_rank;
    SampleRequest request;
  };
  RoleLayout layout_;
  int shard_index_;
  Transport* transport_;
  ReplayShard replay_;
  RateLimiter limiter_;
  std::deque<Message> pending_inserts_;
  std::deque<PendingSample> pending_samples_;
  std::vector<int64_t> next_sequence_;  // per actor: the sequence number expected next
  std::set<int> actors_done_;
  bool done_sent_ = false;
  StreamTotals totals_;
  std::map<int64_t, int> markers_;  // checkpoint id -> markers received
  size_t max_chunk_bytes_ = 64u << 20;
};

}  // namespace qosroute
