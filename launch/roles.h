#pragma once
// Role assignment over the ranks of a job from the [launch] config: learners first, then
// replay shards, then actors (comm/protocol.h's RoleLayout), validated with one sentence
// naming the key when the ranks do not fit.
#include "comm/protocol.h"
#include "launch/config.h"

namespace qosroute {

// Whether `qosroute train` should run the distributed trainer: more than one rank, or a
// [launch] layout that asks for separate roles.
bool WantsDistributedTraining(const LaunchConfig& launch, int world_size);

// The layout for `world_size` ranks; UserError when L + R + 1 > world size, when there are
// fewer actors than shards, or when train.batch_size does not split evenly over the learners.
RoleLayout ResolveRoleLayout(const RunConfig& config, int world_size);

}  // namespace qosroute
