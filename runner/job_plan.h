#pragma once
// Computes a distributed job's plan (replay/job_plan.h) from the layout and the options: the
// runner assigns each rank its role and hands it this plan; `train --resume` uses it to check
// a checkpoint's shard capacity.
#include "learner/distributed_run.h"
#include "replay/job_plan.h"

namespace qosroute {

DistributedPlan MakeDistributedPlan(const RoleLayout& layout, const DistributedOptions& options);

}  // namespace qosroute
