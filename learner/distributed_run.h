#pragma once
// The distributed trainer's learner role and the plan every role shares (one `mpirun -np P
// qosroute train`: every rank calls RunDistributedRank in runner/distributed_ranks.h, which runs
// the role RoleLayout gives it: learner (here), replay shard or actor, over a Transport). The
// same code runs on MPI ranks and on threads of one process (tests).
//
// Learners: identical start (parameters broadcast from learner 0), each samples
// batch_size / L transitions per update (spread over every shard; batch_size each with
// full_batch_per_learner), averages gradients with
// GradientSync, and steps; learner 0 publishes weights every K updates, writes
// metrics/train.csv (policy_lag = published version - the version that acted), evaluates,
// saves policy.h5 and ends the run. Updates total floor((total_frames - warmup) * ratio), as in
// the single-process trainer; the shards' rate limiters keep samples/inserts at
// updates_per_frame * batch_size whatever the number of actors.
//
// Checkpoints (issue 5): learner 0 decides at one update whether a checkpoint follows the
// next one (every checkpoint.every_updates, every checkpoint.every_minutes, on a stop
// request: its own SIGTERM/SIGINT or a StopRequest from any rank, or the stop_at_updates
// test hook) and tells the other learners inside that update's gradient all-reduce (one
// extra value), so every learner skips prefetching the next batch. After that update:
//   1. every learner sends a CheckpointMarker to every shard (after its priority updates);
//      learner 0 sends a CheckpointRequest to every actor;
//   2. an actor, at its next wait or between decision rounds, snapshots itself (envs,
//      RNG, counters, the transitions message it was filling), sends a marker to its shard
//      and its snapshot to learner 0, and waits;
//   3. a shard, once it has the markers of all its actors and all learners (so everything
//      sent before them has arrived, and no sample request is open), snapshots storage,
//      limiter, sequences, totals and its queue of not-yet-admitted transitions, and sends
//      it to learner 0;
//   4. learner 0 writes one HDF5 file (learner/distributed_checkpoint.h) with its own agent,
//      counters and metrics and every part, commits it, prunes, and sends CheckpointDone:
//      continue, or (stop) every rank ends and the job exits 0.
// Nothing is sent twice or lost across a resume, so the stream check below still holds for
// a resumed run. Resume: learner 0 reads the file and sends each rank its part before anyone
// starts; resumed actors take learner 0's newly published weights before they act.
//
// Stop: learners finish their updates -> learner 0 tells shards to stop limiting inserts ->
// actors finish their frame budgets and report totals -> shards report totals -> learner 0
// checks that every transition arrived exactly once (counts and checksums) and that the
// learners are bitwise identical, then sends Stop. Any exception on a rank ends the job via
// Transport::Abort with the rank and the message; every wait has an idle deadline.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "comm/distributed_tuning.h"
#include "comm/protocol.h"
#include "comm/transport.h"
#include "env/cluster_env.h"
#include "learner/distributed_checkpoint.h"
#include "learner/gradient_sync.h"
#include "learner/sac.h"
#include "learner/train_loop.h"
#include "replay/job_plan.h"
#include "replay/replay_shard.h"

namespace qosroute {

// The [launch] tuning (comm/distributed_tuning.h, bound to its keys) and what the run adds.
struct DistributedOptions : DistributedTuning {
  TrainLoopOptions train;  // totals, batch, replay capacity (all shards together), ...
  // false: the learners split train.batch_size (launch.learner_batch = split, the default);
  // true: every learner takes the whole batch_size (launch.learner_batch = full).
  bool full_batch_per_learner = false;
  bool evaluate = true;       // learner 0: periodic and final held-out evaluation
  bool write_metrics = true;  // learner 0: metrics/*.csv in run_dir
  // Resume: learner 0 holds the checkpoint read (and checked) before the job started; every
  // rank knows whether to wait for its part.
  std::shared_ptr<const DistributedCheckpoint> resume;
  bool resuming = false;
  size_t max_chunk_bytes = 64u << 20;  // checkpoint parts travel in chunks of at most this
};

// What every rank of a job is given (each role takes the parts it needs).
struct DistributedJob {
  RoleLayout layout;
  DistributedOptions options;
  EnvConfig env_config;
  std::shared_ptr<const Workload> workload;
  SacConfig sac_config;
  // Filled by the runner (runner/job_plan.h) before it hands the job to a role.
  DistributedPlan plan;
};

struct DistributedResult {
  Role role = Role::kActor;
  TrainResult train;  // learner 0: the run's totals
  // Learner 0: stream accounting (every transition stored exactly once?).
  long actor_transitions = 0;
  long shard_transitions = 0;
  uint64_t actor_checksum = 0;
  uint64_t shard_checksum = 0;
  bool stream_consistent = false;
  bool learners_identical = false;        // learner 0: every learner's parameter checksum equal
  uint64_t parameter_checksum = 0;        // learners
  double max_rate_deviation = 0.0;        // learner 0: worst |samples - target| over shards
  double rate_error_buffer = 0.0;         // the tolerance the shards used
  double mean_policy_lag = 0.0;           // learner 0: over episode reports
  std::vector<int64_t> versions_adopted;  // actors
  long actor_frames = 0;                  // actors
  int checkpoints = 0;                    // checkpoints taken (learner 0: written)
};

// Resume: waits for this rank's parts of the checkpoint from learner 0; messages of other
// kinds that arrive first are kept in `early`, in order, for the role to handle after.
std::map<PartKind, std::vector<uint8_t>> ReceiveResumeParts(Transport* transport,
                                                            const std::vector<PartKind>& wanted,
                                                            double timeout_s,
                                                            std::deque<Message>* early);

// The learner role (learner/ knows no other role; runner/distributed_ranks.h dispatches):
// samples, updates, averages gradients with the other learners; learner 0 also publishes
// weights, writes metrics, evaluates, selects, coordinates checkpoints and ends the run.
DistributedResult RunLearnerRole(const DistributedJob& job, Transport* transport,
                                 GradientSync* sync);

}  // namespace qosroute
