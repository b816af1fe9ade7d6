#pragma once
// The runner of a distributed job: every rank of `mpirun -np P qosroute train` calls
// RunDistributedRank, which runs the role RoleLayout gives it (learner, replay shard, actor)
// over a Transport. Roles are peers: learner/ and actors/ do not include each other, and this
// is the one place that knows all of them. The same code runs on MPI ranks and on threads of
// one process (tests). What each role does and how a job stops, checkpoints and resumes:
// learner/distributed_run.h.
#include <memory>

#include "comm/transport.h"
#include "env/cluster_env.h"
#include "learner/distributed_run.h"
#include "learner/gradient_sync.h"
#include "learner/sac.h"

namespace qosroute {

// The frame budget (or warm-up share) of actor `actor`: total_frames spread over the actors,
// the first total_frames % num_actors taking one more.
long ActorFrameBudget(long total_frames, int num_actors, int actor);

// Runs this rank's role to the end of the job. Any exception ends the whole job through
// Transport::Abort with the rank and the message.
DistributedResult RunDistributedRank(const DistributedJob& job, Transport* transport,
                                     GradientSync* sync);

}  // namespace qosroute
