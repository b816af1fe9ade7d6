#pragma once
// `qosroute train` under mpirun/srun: every rank runs this; rank 0 (learner 0) writes the run
// directory and prints the comparison table.
#include <string>

#include "launch/config.h"

namespace qosroute {

// `resume`: "" (fresh; refused when the run directory holds checkpoints), "auto" (the newest
// checkpoint, or fresh when there is none) or a checkpoint path. Learner 0 reads and checks
// the checkpoint before any rank starts or anything is written; a bad one ends every rank
// with exit code 2 and one message. SIGTERM, SIGINT and SIGUSR1 (what mpirun forwards) on any
// rank make the job checkpoint and exit 0. Returns the process exit code.
int RunDistributedTrain(const RunConfig& config, const std::string& run_dir, bool compare,
                        const std::string& resume);

}  // namespace qosroute
