#pragma once
// Uniform exploration over the actions an observation's mask allows (warm-up frames of both
// the single-process trainer and the distributed actors).
#include "common/rng.h"
#include "env/observation.h"

namespace qosroute {

int RandomValidAction(const Observation& obs, Rng& rng);

}  // namespace qosroute
