#pragma once
// Heuristic routers of spec section 4. They read the cluster state and the arrived request's
// predictions (never its truth) and return an action: an expert index, or N to drop.
#include <memory>
#include <string>
#include <vector>

#include "common/name_table.h"
#include "common/rng.h"
#include "env/cluster_env.h"

namespace qosroute {

class RoutingPolicy {
 public:
  virtual ~RoutingPolicy() = default;
  virtual std::string name() const = 0;
  // Called at the start of every episode with that episode's seed.
  virtual void Reset(uint64_t seed) { (void)seed; }
  virtual int Act(const ClusterEnv& env) = 0;
  // Policies that decide from the observation alone (learned ones) can take several at once,
  // one batched forward pass (`serve` batches requests that arrive together).
  virtual bool DecidesFromObservations() const { return false; }
  virtual std::vector<int> ActOnObservations(const std::vector<const Observation*>& observations) {
    (void)observations;
    return {};
  }
  // The observation layout a policy that reads observations was trained with (nullptr for
  // the heuristics, which read the cluster itself): whoever builds the observations for it
  // checks this once (serve's router at start), the policy checks every observation.
  virtual const ObservationSchema* schema() const { return nullptr; }
  // False for policies whose decision depends on their own history (round-robin's turn, the
  // random policy's stream), not only on the cluster and the arrived request.
  virtual bool DecidesFromStateAlone() const { return true; }
};

// The heuristic routers, parsed once from their names (config, command line) by Heuristics().
enum class Heuristic {
  kRandom,
  kRoundRobin,
  kShortestQueueFirst,
  kLeastKvLoad,
  kQuality,
  kGreedyQos
};
const NameTable<Heuristic>& Heuristics();

struct GreedyQosOptions {
  // P(meets SLA) = logistic((SLA - estimated latency per token) / (sharpness x SLA)).
  double sharpness = 0.03;
  // Drop when the best expert's value (score x P - harm) is below this. Tuned on the paper
  // config over rates 3..8 (0.05 gives up to 20% less QoS at 8 req/s; 0.3..0.5 is flat).
  double drop_threshold = 0.4;
};

// Heuristics().Names(): what `simulate --policy all` runs and help texts list.
std::vector<std::string> HeuristicNames();
std::unique_ptr<RoutingPolicy> MakeHeuristic(Heuristic kind,
                                             const GreedyQosOptions& greedy = GreedyQosOptions());
// By name (command line): UserError listing the known names for an unknown one.
std::unique_ptr<RoutingPolicy> MakeHeuristic(const std::string& name,
                                             const GreedyQosOptions& greedy = GreedyQosOptions());

// Greedy-qos's look-ahead, exposed for tests: simulates expert `expert`'s queues forward with
// predicted lengths (no future arrivals, KV assumed sufficient), with the arrived request
// added at the back of the waiting queue when `with_arrived`. Returns the estimated latency
// per token of the arrived request (or 0 without it) and, per running/waiting request in
// queue order, its estimated latency per token.
struct LookaheadResult {
  double arrived_latency_per_token = 0.0;
  std::vector<double> queued_latency_per_token;  // running then waiting, queue order
  std::vector<float> queued_pred_score;
};
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

}  // namespace qosroute
