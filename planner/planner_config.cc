#include "planner/planner_config.h"

#include <cmath>

#include "common/error.h"
#include "env/heuristics.h"

namespace qosroute {

void ValidatePlannerConfig(const PlannerConfig& c) {
  auto fail = [](const std::string& key, const std::string& what) {
    throw UserError("planner." + key + " " + what);
  };
  if (c.samples < 1) fail("samples", "must be >= 1, got " + std::to_string(c.samples));
  if (c.max_samples < c.samples)
    fail("max_samples", "must be >= planner.samples (" + std::to_string(c.samples) + "), got " +
                            std::to_string(c.max_samples));
  if (c.horizon < 1) fail("horizon", "must be >= 1, got " + std::to_string(c.horizon));
  if (c.hindsight_horizons.empty()) fail("hindsight_horizons", "must list at least one horizon");
  for (int h : c.hindsight_horizons) {
    if (h < 1) fail("hindsight_horizons", "must hold horizons >= 1, got " + std::to_string(h));
  }
  if (!(c.confidence >= 0.0 && std::isfinite(c.confidence)))
    fail("confidence", "must be a finite number >= 0, got " + std::to_string(c.confidence));
  if (!(c.prune >= 0.0 && std::isfinite(c.prune)))
    fail("prune", "must be a finite number >= 0, got " + std::to_string(c.prune));
  if (!(c.decision_budget_ms >= 0.0 && std::isfinite(c.decision_budget_ms)))
    fail("decision_budget_ms",
         "must be a finite number >= 0 (0: no limit), got " + std::to_string(c.decision_budget_ms));
  if (c.threads < 1 || c.threads > 256)
    fail("threads", "must be in [1, 256], got " + std::to_string(c.threads));
  // A rollout starts the base from the state alone: a base with a history of its own (round
  // robin's turn, random's stream) would carry it from one rollout into the next.
  const Heuristic base = Heuristics().Parse(c.base, "planner.base");
  if (!MakeHeuristic(base)->DecidesFromStateAlone())
    fail("base",
         "must decide from the state alone (greedy-qos, shortest-queue-first, "
         "least-kv-load, quality), got " +
             c.base);
}

}  // namespace qosroute
