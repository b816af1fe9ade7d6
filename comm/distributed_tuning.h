#pragma once
// The [launch] section's tuning of a distributed run's message streams, shared by every role
// (launch/config.cc binds the INI keys launch.<field> straight to these fields; the role
// layout's keys stay in launch/config.h). Torch-free and MPI-free.
namespace qosroute {

struct DistributedTuning {
  int publish_every_updates = 10;  // learner 0 publishes weights to actors every K updates
  int send_transitions = 64;       // transitions per actor -> shard message
  int max_inflight_sends = 4;      // unacknowledged messages per actor
  bool prioritized = false;        // prioritized (sum-tree) sampling instead of uniform
  double priority_exponent = 0.6;  // PER alpha
  double rate_error_buffer = 0.0;  // rate-limiter tolerance in samples; 0 = smallest safe
  double wait_timeout_s = 600.0;   // every wait fails after this long without a message
};

}  // namespace qosroute
