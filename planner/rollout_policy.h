#pragma once
// The rollout planner (deployable) and the hindsight bound (not a router): at each decision,
// every valid action is tried on forks of the environment (ClusterEnv::ForkInto), each
// followed by a base policy for `horizon` decisions, and valued by the QoS the fork credits
// plus the look-ahead potential where the rollout stops.
//  - rollout: on `samples` futures drawn from what a router may know (FutureSampler), the
//    same futures for every action (common random numbers); it leaves the base policy's
//    choice only for an action whose paired mean advantage is `confidence` standard errors
//    above 0. Futures come in batches; an action whose advantage is `prune` standard errors
//    below 0 stops being sampled, and up to `max_samples` futures are drawn where the best
//    action's advantage is positive but not yet significant. Reads no truth (test
//    rollout_policy_test). With planner.decision_budget_ms a decision that runs out of time
//    before `samples` futures are valued takes the base policy's action (`serve`).
//  - hindsight: the same search on the episode's true future and true lengths, one rollout per
//    action: a bound on what planning could gain, never offered to `serve`.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "env/heuristics.h"
#include "planner/future_sampler.h"
#include "planner/planner_config.h"

namespace qosroute {

enum class PlannerKind { kRollout, kHindsight };
const NameTable<PlannerKind>& Planners();

// What one decision found, for tests, benchmarks and the docs' figures.
struct PlannerDecision {
  int action = 0;
  int base_action = 0;
  int samples = 0;                     // futures valued
  bool out_of_time = false;            // planner.decision_budget_ms ran out
  std::vector<int> actions;            // the valid actions, in the order of the two below
  std::vector<double> mean_advantage;  // per action: mean over futures of V(a) - V(base)
  std::vector<double> standard_error;  // per action: of that mean (0 with fewer than 2)
};

// Makes the base policy of one planner thread when it is not a heuristic (a trained policy
// file, planner.base_file: the launch layer loads it, the planner has no torch).
using PlannerBaseFactory = std::function<std::unique_ptr<RoutingPolicy>()>;

class RolloutPolicy final : public RoutingPolicy {
 public:
  // `make_base` empty: the heuristic planner.base. A base that decides from observations has
  // its rollout forks build them (MakePlanningFork(true)): a forward pass per rollout step.
  RolloutPolicy(PlannerKind kind, const PlannerConfig& planner, const GreedyQosOptions& greedy,
                const EnvConfig& env, std::shared_ptr<const Workload> workload,
                const PlannerBaseFactory& make_base = {});
  ~RolloutPolicy() override;
  std::string name() const override { return Planners().Name(kind_); }
  void Reset(uint64_t seed) override;
  // Reset, for one decision on `env` mid-episode (training labels): the arrival rate is
  // estimated from the arrivals of env's episode so far.
  void ResetForDecision(uint64_t seed, const ClusterEnv& env);
  int Act(const ClusterEnv& env) override;
  // Its samples come from its own random stream.
  bool DecidesFromStateAlone() const override { return kind_ == PlannerKind::kHindsight; }
  long budget_fallbacks() const override { return budget_fallbacks_; }
  void SetNextDeadline(std::chrono::steady_clock::time_point deadline) override {
    next_deadline_ = deadline;
  }
  const PlannerDecision& last_decision() const { return last_; }

 private:
  struct Worker;
  // Values of every action on future `k`: fork, replace the future, roll out.
  void ValueOnFuture(const ClusterEnv& env, int k, const std::vector<int>& actions, Worker* w,
                     std::vector<double>* values) const;
  // NaN when the decision's time ran out during the rollout.
  double Rollout(const ClusterEnv& prepared, int action, Worker* w) const;
  // Values futures first..first + count - 1; false when time ran out (those valued in full
  // count, the others are left out).
  bool RunSamples(const ClusterEnv& env, int first, int count, const std::vector<int>& actions);
  bool OutOfTime() const;
  // The search of one decision: futures in batches until the best action is settled (or
  // time runs out); returns the index of the best action found.
  size_t SearchBest(const ClusterEnv& env, const std::vector<int>& actions);

  // Paired advantage of one action over the base's, over the futures it was tried on.
  struct Stats {
    double sum = 0.0, sq = 0.0;
    int n = 0;
    double Mean() const;
    double StandardError() const;
  };

  PlannerKind kind_;
  PlannerConfig planner_;
  GreedyQosOptions greedy_;
  FutureSampler sampler_;
  uint64_t seed_ = 0;
  long decision_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::vector<double>> values_;  // [sample][action index]
  std::vector<uint8_t> active_;              // per action index: still sampled
  std::vector<Stats> stats_;                 // per action index
  size_t base_index_ = 0;
  bool base_observes_ = false;  // the base decides from observations: forks build them
  PlannerDecision last_;
  bool timed_ = false;  // this decision has a deadline
  std::chrono::steady_clock::time_point deadline_;
  std::optional<std::chrono::steady_clock::time_point> next_deadline_;  // SetNextDeadline
  std::atomic<long> budget_fallbacks_{0};  // read by serve's /metrics while deciding
};

std::unique_ptr<RoutingPolicy> MakePlanner(PlannerKind kind, const PlannerConfig& planner,
                                           const GreedyQosOptions& greedy, const EnvConfig& env,
                                           std::shared_ptr<const Workload> workload,
                                           const PlannerBaseFactory& make_base = {});

}  // namespace qosroute
