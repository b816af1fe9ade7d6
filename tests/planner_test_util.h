#pragma once
// Shared by the planner's test suites: the calibrated edge world at a given load and a small,
// fast rollout planner.
#include "env/gpu_profile.h"
#include "env_test_util.h"
#include "planner/planner_config.h"

namespace qosroute::planner_test_util {

// The paper-like cluster on RTX 4090 profiles (configs/edge-4090.cfg's world).
inline EnvConfig Edge(double rate, int requests) {
  EnvConfig c = testing_util::PaperLikeConfig(rate, requests);
  for (ExpertConfig& e : c.experts) ApplyGpuProfile(FindGpuProfile("rtx4090"), &e);
  return c;
}

inline PlannerConfig SmallPlanner() {
  PlannerConfig p;
  p.samples = 6;
  p.max_samples = 12;
  p.horizon = 8;
  return p;
}

}  // namespace qosroute::planner_test_util
