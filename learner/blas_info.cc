#include "learner/blas_info.h"

#include "common/blas_probe.h"
#include "common/blas_reexec.h"

namespace qosroute {

// The probes live in common/blas_probe.cc (torch-free, shared with the start-up restart in
// main); these keep the learner's names.
std::string BlasCoreName() {
  return OpenBlasCoreName();
}

std::string SuggestedOpenBlasCore() {
  return SupportedOpenBlasCore(GatherBlasReexecInputs());
}

bool BlasCoreIsMisdetected() {
  const BlasReexecInputs in = GatherBlasReexecInputs();
  return IsGenericOpenBlasCore(in.core) && !SupportedOpenBlasCore(in).empty();
}

}  // namespace qosroute
