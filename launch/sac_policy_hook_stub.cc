// Built when LibTorch is off: the learned router is unavailable, and says so.
#include "common/error.h"
#include "launch/sac_policy_hook.h"

namespace qosroute {

std::vector<EpisodeMetrics> EvaluateLearnedPolicy(const RunConfig&, std::shared_ptr<const Workload>,
                                                  const std::string&) {
  throw UserError(
      "this qosroute was built without LibTorch (QOSROUTE_WITH_TORCH=OFF): the 'sac' policy is "
      "unavailable");
}

std::unique_ptr<RoutingPolicy> LoadLearnedRoutingPolicy(const RunConfig&, const std::string&,
                                                        EnvConfig*) {
  throw UserError(
      "this qosroute was built without LibTorch (QOSROUTE_WITH_TORCH=OFF): --policy-file is "
      "unavailable; use --policy with a heuristic");
}

}  // namespace qosroute
