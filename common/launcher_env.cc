#include "common/launcher_env.h"

#include <cstdlib>
#include <initializer_list>

namespace qosroute {

int LaunchedWorldRank() {
  if (LaunchedWorldSize() <= 1) return 0;
  for (const char* name :
       {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK", "SLURM_PROCID"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return 0;
}

int LaunchedWorldSize() {
  for (const char* name :
       {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE"}) {
    if (const char* value = std::getenv(name)) {
      const int n = std::atoi(value);
      if (n > 0) return n;
    }
  }
  // srun steps only (a numeric step id): a batch script running qosroute directly is one task
  // even when its allocation holds many.
  const char* step = std::getenv("SLURM_STEP_ID");
  const char* tasks = std::getenv("SLURM_STEP_NUM_TASKS");
  if (step && tasks && *step >= '0' && *step <= '9' && std::atoi(tasks) > 0)
    return std::atoi(tasks);
  return 1;
}

}  // namespace qosroute
