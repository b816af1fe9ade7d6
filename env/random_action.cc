#include "env/random_action.h"

#include "common/error.h"

namespace qosroute {

int RandomValidAction(const Observation& obs, Rng& rng) {
  int valid = 0;
  for (uint8_t m : obs.action_mask) valid += m;
  QR_CHECK_MSG(valid > 0, "observation has no valid action");
  int pick = static_cast<int>(rng.Below(valid));
  for (int a = 0; a < obs.num_actions(); ++a) {
    if (obs.action_mask[a] && pick-- == 0) return a;
  }
  return 0;
}

}  // namespace qosroute
