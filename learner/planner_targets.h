#pragma once
// The planner labels of sampled transitions as tensors, for search-guided SAC
// (SacConfig::prior = planner): values [B, N + 1] float and labelled [B] bool.
#include <vector>

#include "learner/sac.h"
#include "replay/uniform_replay.h"

namespace qosroute {

// Rows follow `labels`; an unlabelled row is zeros. Undefined tensors when no row is
// labelled (the update then takes greedy-qos's prior everywhere, exactly as without labels).
// A labelled row whose width is not `actions` is a bug in the producer (checked).
PlannerTargets BatchPlannerTargets(const std::vector<const ActionLabel*>& labels, int64_t actions);

}  // namespace qosroute
