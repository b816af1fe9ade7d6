// ValidateEnvConfig; see cluster_env.h.
#include <cmath>
#include <string>

#include "common/error.h"
#include "env/cluster_env.h"
#include "env/feature_schema.h"

namespace qosroute {

void ValidateEnvConfig(const EnvConfig& c) {
  if (c.shaping_potential != "predicted" && c.shaping_potential != "lookahead")
    throw UserError("env.shaping_potential must be predicted or lookahead, got '" +
                    c.shaping_potential + "'");
  if (c.experts.empty())
    throw UserError("cluster.experts is empty: the cluster needs at least one expert");
  for (size_t i = 0; i < c.experts.size(); ++i) {
    ValidateExpertConfig(c.experts[i]);
    for (size_t j = 0; j < i; ++j) {
      if (c.experts[i].name == c.experts[j].name) {
        throw UserError("cluster.experts names '" + c.experts[i].name + "' twice");
      }
    }
  }
  ValidateArrivalConfig(c.arrivals);
  if (c.requests_per_episode < 1) {
    throw UserError("workload.requests_per_episode must be >= 1, got " +
                    std::to_string(c.requests_per_episode));
  }
  if (c.sampling != "random" && c.sampling != "sequential") {
    throw UserError("workload.sampling must be 'random' or 'sequential', got '" + c.sampling + "'");
  }
  if (!(c.energy_weight >= 0) || !std::isfinite(c.energy_weight))
    throw UserError("env.energy_weight must be >= 0, got " + std::to_string(c.energy_weight));
  if (!(c.sla > 0) || !std::isfinite(c.sla))
    throw UserError("env.sla must be > 0 seconds per token, got " + std::to_string(c.sla));
  if (c.max_running_slots < 1)
    throw UserError("env.max_running_slots must be >= 1, got " +
                    std::to_string(c.max_running_slots));
  if (c.max_waiting_slots < 1)
    throw UserError("env.max_waiting_slots must be >= 1, got " +
                    std::to_string(c.max_waiting_slots));
  if (c.predictor.score_noise < 0)
    throw UserError("predictor.score_noise must be >= 0, got " +
                    std::to_string(c.predictor.score_noise));
  if (c.predictor.length_noise < 0)
    throw UserError("predictor.length_noise must be >= 0, got " +
                    std::to_string(c.predictor.length_noise));
  ValidateFeatureGroups(c);
}

}  // namespace qosroute
