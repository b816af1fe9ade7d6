#pragma once
// The checkpoint protocol of a distributed job, apart from the learner's update loop
// (learner/learner_role.h holds one per learner): when the next checkpoint is due (learner 0
// decides; the decision rides along with a gradient all-reduce so that every learner takes it
// after the same update), the markers and requests to shards and actors, collecting their
// parts, writing and pruning the file, telling every rank it is done; on resume, sending every
// other rank its part. What a checkpoint holds: learner/distributed_checkpoint.h.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "comm/protocol.h"
#include "comm/transport.h"
#include "learner/distributed_checkpoint.h"
#include "learner/distributed_run.h"
#include "learner/sac.h"

namespace qosroute {

class CheckpointCoordinator {
 public:
  using Clock = std::chrono::steady_clock;
  // Learner 0's own state for the file, given the actors' snapshots (whose frame counts are
  // exact where progress reports may lag).
  using StateSource = std::function<LearnerZeroState(const std::map<int, ActorSnapshot>&)>;

  CheckpointCoordinator(const RoleLayout& layout, const DistributedOptions& options,
                        long total_updates, int learner_index, Transport* transport);

  // Starts the wall-clock trigger.
  void Start() { last_time_ = Clock::now(); }

  // Learner 0, during update `updates` + 1: 0 = nothing, 1 = checkpoint after update
  // `updates` + 2, 2 = checkpoint and stop then (a stop signal here or at a peer, or the
  // test hook stop_at_updates).
  int Decide(long updates);

  // The learner's message pump hands these over.
  void OnPart(const std::vector<uint8_t>& bytes) { parts_.Add(bytes); }
  void OnDone(const CheckpointSignal& c) { done_ = c; }
  void OnStopRequest(int source);

  // Every learner right after update `c.id` (`pump` handles messages and feeds the On*
  // calls). Learner 0 collects every actor's and shard's part, writes the file from `state`
  // and `agent` and tells every rank; the others wait for that. Returns whether the job stops.
  bool Take(const CheckpointSignal& c, const std::function<bool()>& pump, const StateSource& state,
            const SacAgent& agent);

  // Resume, learner 0: every other rank's part of `c` (`learner_part` to the other learners;
  // the shard hosted at this rank is restored by its learner).
  void SendResumeParts(const DistributedCheckpoint& c, const std::vector<uint8_t>& learner_part);

  int checkpoints() const { return checkpoints_; }
  const std::string& last_path() const { return last_path_; }

 private:
  void WriteFile(const CheckpointSignal& c, const StateSource& state, const SacAgent& agent);
  void SendPart(int rank, PartKind kind, const std::vector<uint8_t>& state);

  RoleLayout layout_;
  const DistributedOptions& options_;
  long total_updates_;
  int index_;
  Transport* transport_;
  PartAssembler parts_;                   // learner 0: every actor's and shard's part
  std::optional<CheckpointSignal> done_;  // learners > 0: learner 0's verdict
  bool peer_stop_request_ = false, stop_decided_ = false;
  int checkpoints_ = 0;
  std::string last_path_;
  Clock::time_point last_time_ = Clock::now();
};

}  // namespace qosroute
