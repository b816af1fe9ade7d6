#pragma once
// Which BLAS kernels this process runs, for logs and benchmarks.
//
// Why it matters: OpenBLAS picks its kernels from a table of known CPU models. Version 0.3.21
// (Debian 12) does not know Sapphire Rapids under KVM and falls back to "Prescott" (SSE3),
// which makes every matrix product 3-5x slower; one SAC update then takes ~1.6x as long.
// Setting OPENBLAS_CORETYPE=SkylakeX (AVX-512 CPUs) or Haswell (AVX2) in the environment
// before the process starts fixes it; OpenBLAS reads it once, at load time. qosroute and
// qosroute_bench do that themselves at start-up (common/blas_probe.h, ReexecForBlasIfNeeded);
// BlasStartLine() there gives the line every run logs.
#include <string>

namespace qosroute {

// The OpenBLAS core in use ("SkylakeX", "Prescott", ...), or "" when the BLAS in this process
// is not OpenBLAS.
std::string BlasCoreName();

// The OPENBLAS_CORETYPE this CPU and OS support best ("SkylakeX", "Haswell"), or "" when
// neither AVX-512 nor AVX2 is usable (or not on x86-64).
std::string SuggestedOpenBlasCore();

// True when OpenBLAS runs a generic core although the CPU could run a faster one, i.e. when
// setting OPENBLAS_CORETYPE=SuggestedOpenBlasCore() would speed up training.
bool BlasCoreIsMisdetected();

}  // namespace qosroute
