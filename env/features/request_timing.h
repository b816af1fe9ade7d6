#pragma once
// Helpers the request-level feature groups share (slots, aggregates).
#include <algorithm>

#include "env/expert_server.h"
#include "env/observation.h"

namespace qosroute::features {

// The current latency per token of a request, as slot feature 5 measures it (seconds): time
// since arrival over the tokens generated so far (at least one).
inline double CurrentLatencyPerToken(const ActiveRequest& r, double now) {
  return (now - r.arrival) / std::max(1, r.generated);
}

// Expert e's row of the expert features.
inline float* ExpertRow(Observation* obs, int e) {
  return obs->expert.data() + static_cast<size_t>(e) * obs->expert_features;
}

}  // namespace qosroute::features
