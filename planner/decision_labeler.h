#pragma once
// Planner labels for training (the teacher of search-guided SAC, docs/LEARNER.md): on a share
// of a collector's decisions the rollout planner values every action, and its values and
// choice become the transition's ActionLabel (replay records' kActionValuesField).
//
// A label's values are what the planner decides on: for each valid action its paired mean
// advantage over the base policy's action less `planner.confidence` standard errors (the
// base's own action 0; the planner leaves its base only for an action whose bound is above 0),
// 0 for masked actions (the learner masks them). Units: credited QoS over the rollout, the
// same for every decision, so one softmax temperature (sac.planner_temperature) fits all.
//
// Determinism: each labelled decision reseeds the planner from (seed, collector, frame), so
// labels depend on nothing a checkpoint would have to carry and a resumed run labels exactly
// as the uninterrupted one.
#include <cstdint>
#include <memory>

#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "planner/label_options.h"
#include "planner/planner_config.h"
#include "planner/rollout_policy.h"
#include "replay/uniform_replay.h"

namespace qosroute {

class DecisionLabeler {
 public:
  // `collector` tells the actors of one run apart (their labels' futures differ).
  DecisionLabeler(const LabelOptions& options, const PlannerConfig& planner,
                  const GreedyQosOptions& greedy, const EnvConfig& env,
                  std::shared_ptr<const Workload> workload, uint64_t seed, int collector = 0);

  // Whether the collector's decision number `frame` (0-based, over the whole run) is labelled.
  bool Labels(long frame) const;
  // Runs the planner on env's pending decision; fills *label (labelled, chosen, values [N + 1])
  // and returns the planner's action.
  int Label(const ClusterEnv& env, long frame, ActionLabel* label);
  // The action to take given the behaviour's and the planner's.
  int Act(int behaviour_action, const ActionLabel& label) const {
    return options_.behaviour == LabelBehaviour::kPlanner && label.labelled ? label.chosen
                                                                            : behaviour_action;
  }

  const LabelOptions& options() const { return options_; }
  long labelled() const { return labelled_; }
  long deviations() const { return deviations_; }  // labels whose choice is not the base's

 private:
  LabelOptions options_;
  double confidence_;
  std::unique_ptr<RolloutPolicy> planner_;
  uint64_t seed_;
  int collector_;
  long labelled_ = 0, deviations_ = 0;
};

}  // namespace qosroute
