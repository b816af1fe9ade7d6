#include "env/environment.h"

#include <string>

#include "common/error.h"

namespace qosroute {

StepResult Environment::Step(int action) {
  QR_CHECK_MSG(!done(), "Step called on a finished episode; call Reset first");
  const Observation& obs = observation();
  QR_CHECK_MSG(action >= 0 && action < obs.num_actions(),
               "action " + std::to_string(action) + " outside [0, " +
                   std::to_string(obs.num_actions()) + ")");
  QR_CHECK_MSG(obs.action_mask[action] != 0,
               "action " + std::to_string(action) + " is masked out (drop disabled?)");
  return DoStep(action);
}

}  // namespace qosroute
