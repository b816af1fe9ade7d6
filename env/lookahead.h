#pragma once
// Greedy-qos's look-ahead: each expert's queues simulated forward with predicted lengths (no
// later arrivals, KV assumed sufficient), by the engine's rule (prefill the waiting requests
// while there are any, else decode every prefilled one). Greedy-qos, the look-ahead feature
// groups and the "lookahead" shaping potential all read it, several times per decision, so it
// is the simulator's hot path: LookAhead runs the decode phase from one request's finish to
// the next in one go (the batch is constant in between) instead of one engine iteration at a
// time, with the same floating-point sums, so its results equal the iteration-by-iteration
// reference (LookAheadReference, kept to test and benchmark against) to the bit.
#include <vector>

namespace qosroute {

class ClusterEnv;

struct LookaheadResult {
  double arrived_latency_per_token = 0.0;
  std::vector<double> queued_latency_per_token;  // running then waiting, queue order
  std::vector<float> queued_pred_score;
};
// Simulates expert `expert`'s queues, with the arrived request added at the back of the
// waiting queue when `with_arrived`. Returns the estimated latency per token of the arrived
// request (or 0 without it) and, per running/waiting request in queue order, its estimated
// latency per token and predicted score.
LookaheadResult LookAhead(const ClusterEnv& env, int expert, bool with_arrived);

// P(meets SLA) of an estimated latency per token: logistic((SLA - lpt) / (sharpness x SLA)).
double MeetProbability(double latency_per_token, double sla, double sharpness);

// Expected predicted score lost by queued requests when the arrived request joins `expert`,
// and the arrived request's estimated latency per token there.
struct LookaheadEstimate {
  double arrived_latency_per_token = 0.0;
  double harm = 0.0;
};
LookaheadEstimate EstimateRouting(const ClusterEnv& env, int expert, double sharpness);

// The implementation before the event-stepped one, one engine iteration at a time: the
// reference that tests compare LookAhead and greedy-qos's decisions with, and that the
// benchmarks measure the speed-up against. Not used by any router.
LookaheadResult LookAheadReference(const ClusterEnv& env, int expert, bool with_arrived);
LookaheadEstimate EstimateRoutingReference(const ClusterEnv& env, int expert, double sharpness);

}  // namespace qosroute
