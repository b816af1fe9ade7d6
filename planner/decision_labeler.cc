#include "planner/decision_labeler.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace qosroute {

const NameTable<LabelBehaviour>& LabelBehaviours() {
  static const NameTable<LabelBehaviour> table(
      "train.label_behaviour",
      {{LabelBehaviour::kPolicy, "policy"}, {LabelBehaviour::kPlanner, "planner"}});
  return table;
}

namespace {

// The seed of one labelled decision (a splitmix64 finaliser over the three).
uint64_t LabelSeed(uint64_t seed, int collector, long frame) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL +
               static_cast<uint64_t>(collector) * 0xD1B54A32D192ED03ULL +
               static_cast<uint64_t>(frame);
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

DecisionLabeler::DecisionLabeler(const LabelOptions& options, const PlannerConfig& planner,
                                 const GreedyQosOptions& greedy, const EnvConfig& env,
                                 std::shared_ptr<const Workload> workload, uint64_t seed,
                                 int collector)
    : options_(options), confidence_(planner.confidence), seed_(seed), collector_(collector) {
  if (!(options.share >= 0.0 && options.share <= 1.0)) {
    throw UserError("train.planner_share must be in [0, 1], got " + std::to_string(options.share));
  }
  if (options.share > 0.0) {
    planner_ = std::make_unique<RolloutPolicy>(PlannerKind::kRollout, planner, greedy, env,
                                               std::move(workload));
  }
}

bool DecisionLabeler::Labels(long frame) const {
  if (options_.share <= 0.0) return false;
  if (options_.share >= 1.0) return true;
  return std::floor((frame + 1) * options_.share) > std::floor(frame * options_.share);
}

int DecisionLabeler::Label(const ClusterEnv& env, long frame, ActionLabel* label) {
  QR_CHECK(planner_ != nullptr);
  planner_->ResetForDecision(LabelSeed(seed_, collector_, frame), env);
  const int action = planner_->Act(env);
  const PlannerDecision& d = planner_->last_decision();
  label->labelled = true;
  label->chosen = action;
  label->values.assign(env.experts().size() + 1, 0.0f);
  // The base's action is worth 0; every other valid action its advantage's lower bound.
  for (size_t i = 0; i < d.actions.size(); ++i) {
    if (d.actions[i] == d.base_action) continue;
    label->values[static_cast<size_t>(d.actions[i])] =
        static_cast<float>(d.mean_advantage[i] - confidence_ * d.standard_error[i]);
  }
  ++labelled_;
  if (action != d.base_action) ++deviations_;
  return action;
}

}  // namespace qosroute
