#pragma once
// A tiny routing environment with a known optimal policy, to test that a learner learns.
//
// Two experts and a drop action. Expert 0 is the better one: a request routed to it earns
// 1.0 while its load is below `capacity`, and 0 once it is overloaded (the request still
// lands there, so the overload persists). Expert 1 always earns 0.5; drop earns 0. Expert 0's
// load rises by one per request routed to it and one unit finishes every `decay_period`
// steps. Request and slot features other than the load are seeded noise that does not affect
// rewards, so a learner has to find the load in the observation.
//
// Optimal policy, for every discount gamma < 1: route to expert 0 iff load < capacity, else
// to expert 1. Why: at overload, expert 0 earns 0 < 0.5 and raises the load, and a lower load
// is never worse. Below capacity, compare routing to 0 now with routing to 1 now and to 0 at
// the first later step t where that succeeds: the load paths coincide from then on, and the
// rewards differ by (1 + 0.5 gamma^t) - (0.5 + gamma^t) = 0.5 (1 - gamma^t) > 0. Drop is
// dominated by expert 1 (same state change, less reward). The advantage at the capacity
// boundary is only about 0.5 (1 - gamma), so learning tests use a modest gamma.
//
// Observation (N = 2, R = max_running, W = max_waiting):
//   expert 0: [load / capacity, load / 10, 0, prompt, 1.0, output, iteration time]
//   expert 1: [0.2, 0, waiting / 10, prompt, 0.5, output, iteration time]
//   expert 0 has min(load, R) running slots present; expert 1 has a random number of waiting
//   slots (noise that exercises the waiting masks).
#include <cstdint>
#include <vector>

#include "common/rng.h"
#include "env/environment.h"

namespace qosroute {

struct TwoExpertToyConfig {
  int capacity = 3;
  int decay_period = 2;  // one unit of expert 0's load finishes every decay_period steps
  int episode_length = 128;
  int max_running = 6;  // R; expert 0's load is capped here so it is always fully visible
  int max_waiting = 2;  // W
  bool allow_drop = true;
};

class TwoExpertToyEnv : public Environment {
 public:
  explicit TwoExpertToyEnv(const TwoExpertToyConfig& config = {});

  const Observation& Reset(uint64_t seed) override;
  const Observation& observation() const override { return observation_; }
  bool done() const override { return done_; }
  std::vector<uint8_t> SaveState() const override;
  void LoadState(const std::vector<uint8_t>& bytes) override;

  int load() const { return load_; }
  int step_index() const { return step_; }
  // The known optimum in the current state (see the header comment).
  int OptimalAction() const { return load_ < config_.capacity ? 0 : 1; }
  const TwoExpertToyConfig& config() const { return config_; }

 protected:
  StepResult DoStep(int action) override;

 private:
  // Draws the next request's noise and writes the observation for the current load.
  void BuildObservation();

  TwoExpertToyConfig config_;
  Rng rng_;
  int load_ = 0;
  int step_ = 0;
  bool done_ = true;
  Observation observation_;
};

}  // namespace qosroute
