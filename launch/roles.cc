#include "launch/roles.h"

#include <string>

#include "common/error.h"

namespace qosroute {

bool WantsDistributedTraining(const LaunchConfig& launch, int world_size) {
  return world_size > 1 || launch.learners > 1 || launch.replay_shards > 0;
}

RoleLayout ResolveRoleLayout(const RunConfig& config, int world_size) {
  const LaunchConfig& launch = config.launch;
  RoleLayout layout;
  layout.world = world_size;
  layout.learners = launch.learners;
  layout.replay_shards = launch.replay_shards;
  const std::string ranks = std::to_string(world_size) + " rank" + (world_size == 1 ? "" : "s");
  if (layout.num_actors() < 1) {
    throw UserError("launch.learners (" + std::to_string(launch.learners) +
                    ") + launch.replay_shards (" + std::to_string(launch.replay_shards) +
                    ") leave no actor among " + ranks + ": start at least " +
                    std::to_string(launch.learners + launch.replay_shards + 1) +
                    " ranks (mpirun -np N)");
  }
  if (layout.num_actors() < layout.num_shards()) {
    throw UserError("launch.replay_shards: " + std::to_string(layout.num_shards()) +
                    " shards need at least as many "
                    "actors, but " +
                    ranks + " leave " + std::to_string(layout.num_actors()));
  }
  if (launch.learner_batch == "split" && config.train.batch_size % launch.learners != 0) {
    throw UserError("train.batch_size (" + std::to_string(config.train.batch_size) +
                    ") must be divisible by launch.learners (" + std::to_string(launch.learners) +
                    "): the learners split each batch evenly (or set launch.learner_batch = full)");
  }
  return layout;
}

}  // namespace qosroute
