#include "learner/planner_targets.h"

#include <torch/torch.h>

#include <algorithm>

#include "common/error.h"

namespace qosroute {

PlannerTargets BatchPlannerTargets(const std::vector<const ActionLabel*>& labels, int64_t actions) {
  PlannerTargets targets;
  const bool any = std::any_of(labels.begin(), labels.end(),
                               [](const ActionLabel* l) { return l != nullptr && l->labelled; });
  if (!any) return targets;
  const int64_t b = static_cast<int64_t>(labels.size());
  targets.values = torch::zeros({b, actions}, torch::kFloat32);
  targets.labelled = torch::zeros({b}, torch::kBool);
  float* v = targets.values.data_ptr<float>();
  bool* l = targets.labelled.data_ptr<bool>();
  for (int64_t i = 0; i < b; ++i) {
    const ActionLabel* label = labels[static_cast<size_t>(i)];
    if (label == nullptr || !label->labelled) continue;
    QR_CHECK_MSG(static_cast<int64_t>(label->values.size()) == actions,
                 "a planner label of " + std::to_string(label->values.size()) +
                     " values in a batch of " + std::to_string(actions) + " actions");
    std::copy(label->values.begin(), label->values.end(), v + i * actions);
    l[i] = true;
  }
  return targets;
}

}  // namespace qosroute
