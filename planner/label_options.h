#pragma once
// What a trainer's actors do with the rollout planner while they collect ([train]
// planner_share and label_behaviour; planner/decision_labeler.h does it). Torch-free and
// header-light, so that the config layer can bind the keys.
#include "common/name_table.h"

namespace qosroute {

// Who acts on a labelled decision.
//   policy   the behaviour is unchanged (warm-up actions, then the learned policy's samples):
//            the labels only teach;
//   planner  the planner's choice is taken where it labelled, the behaviour's elsewhere (a mix
//            whose planner share is train.planner_share).
enum class LabelBehaviour { kPolicy, kPlanner };
const NameTable<LabelBehaviour>& LabelBehaviours();

struct LabelOptions {
  // Share of the decisions the planner labels, spread evenly over each collector's frames
  // (decision f is labelled when floor((f + 1) share) > floor(f share)): no random draw, so
  // share 0 leaves every stream of the run as it was.
  double share = 0.0;
  LabelBehaviour behaviour = LabelBehaviour::kPolicy;
};

}  // namespace qosroute
