#pragma once
// The episode API every routing environment implements (the cluster simulator and the small
// toy environments used to test learners). One decision per arriving request.
#include <cstdint>
#include <vector>

#include "env/observation.h"

namespace qosroute {

struct StepResult {
  double reward = 0.0;    // credited - penalty + shaping
  double credited = 0.0;  // scores of requests that completed within the SLA in this step
  double penalty = 0.0;   // impact penalty charged for this decision
  double shaping = 0.0;   // potential-based shaping term (EnvConfig::potential_shaping)
  bool done = false;
};

class Environment {
 public:
  virtual ~Environment() = default;

  // Starts a new episode; the same seed gives the same episode.
  virtual const Observation& Reset(uint64_t seed) = 0;

  // Validates the action against the observation's action mask, then applies it.
  StepResult Step(int action);

  virtual const Observation& observation() const = 0;
  virtual bool done() const = 0;

  // The complete state as bytes; a restored copy continues identically.
  virtual std::vector<uint8_t> SaveState() const = 0;
  virtual void LoadState(const std::vector<uint8_t>& bytes) = 0;

 protected:
  virtual StepResult DoStep(int action) = 0;
};

}  // namespace qosroute
