#pragma once
// `qosroute train` under mpirun/srun: every rank runs this; rank 0 (learner 0) writes the run
// directory and prints the comparison table.
#include <string>

#include "launch/config.h"

namespace qosroute {

// Returns the process exit code.
int RunDistributedTrain(const RunConfig& config, const std::string& run_dir, bool compare);

}  // namespace qosroute
