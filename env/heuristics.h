#pragma once
// Heuristic routers of spec section 4. They read the cluster state and the arrived request's
// predictions (never its truth) and return an action: an expert index, or N to drop.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/name_table.h"
#include "common/rng.h"
#include "env/cluster_env.h"
#include "env/lookahead.h"

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
  // Decisions where a policy with a time budget (the rollout planner) ran out of it and took
  // its fallback's action instead; `serve` reports it in /metrics.
  virtual long budget_fallbacks() const { return 0; }
  // The next Act should be decided by `deadline` (serve: the request's arrival plus
  // --decision-budget-ms, so that time spent waiting for the router counts); a policy with a
  // time budget takes the earlier of it and its own. Policies that take no time ignore it.
  virtual void SetNextDeadline(std::chrono::steady_clock::time_point deadline) { (void)deadline; }
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

// Greedy-qos's decision: for each expert, value = predicted score x P(meets the SLA | the
// look-ahead's latency) - the look-ahead's harm to queued requests; the best expert, or N
// (drop) when dropping is allowed and the best value is below options.drop_threshold.
// `estimate` computes the look-ahead (EstimateRouting; tests and benchmarks pass the
// reference to compare decisions).
using RoutingEstimator = LookaheadEstimate (*)(const ClusterEnv&, int, double);
int GreedyQosAction(const ClusterEnv& env, const GreedyQosOptions& options,
                    RoutingEstimator estimate = EstimateRouting);

}  // namespace qosroute
