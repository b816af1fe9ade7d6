#include "common/blas_reexec.h"

#include <array>

namespace qosroute {

bool IsGenericOpenBlasCore(const std::string& core) {
  // Exact names from OpenBLAS 0.3.21 driver/others/dynamic.c. Case matters on purpose: a
  // build without DYNAMIC_ARCH reports its compile-time target in capitals ("PRESCOTT") and
  // cannot switch kernels anyway.
  static const std::array<const char*, 17> kGeneric = {
      "Unknown", "Katmai",       "Coppermine", "Northwood",  "Prescott", "Banias",
      "Atom",    "Core2",        "Penryn",     "Dunnington", "Nehalem",  "Athlon",
      "Opteron", "Opteron_SSE3", "Barcelona",  "Nano",       "Bobcat"};
  for (const char* name : kGeneric) {
    if (core == name) return true;
  }
  return false;
}

std::string SupportedOpenBlasCore(const BlasReexecInputs& in) {
  // AVX-512 kernels need the AVX state as well as the opmask/ZMM state.
  if (in.cpu_avx512 && in.cpu_avx2 && in.os_avx && in.os_avx512) return "SkylakeX";
  if (in.cpu_avx2 && in.os_avx) return "Haswell";
  return "";
}

BlasReexecDecision DecideBlasReexec(const BlasReexecInputs& in) {
  BlasReexecDecision d;
  if (in.core.empty()) {
    d.reason = "not OpenBLAS; nothing to choose";
    return d;
  }
  const bool generic = IsGenericOpenBlasCore(in.core);
  const std::string best = SupportedOpenBlasCore(in);
  if (in.guard_set) {
    // A restart already happened (or someone set the guard to opt out): never loop.
    d.warn = generic && !best.empty();
    if (d.warn) {
      d.reason = "still on generic core " + in.core + " with " + kBlasReexecGuard +
                 " set (OpenBLAS ignored OPENBLAS_CORETYPE=" + in.coretype + "?); no restart";
    } else if (in.coretype_set) {
      d.reason = "started with OPENBLAS_CORETYPE=" + in.coretype + " and " + kBlasReexecGuard;
    } else {
      d.reason = std::string(kBlasReexecGuard) + " set; no restart";
    }
    return d;
  }
  if (in.coretype_set) {
    d.reason = "OPENBLAS_CORETYPE=" + in.coretype + " set by the user; kept";
    return d;
  }
  if (!generic) {
    d.reason = "core " + in.core + " detected by OpenBLAS; kept";
    return d;
  }
  if (!in.dynamic_arch) {
    d.reason = "OpenBLAS built without DYNAMIC_ARCH ignores OPENBLAS_CORETYPE; kept " + in.core;
    return d;
  }
  if (best.empty()) {
    d.reason = "generic core " + in.core + ", but CPU or OS lacks AVX2; kept";
    return d;
  }
  d.reexec = true;
  d.coretype = best;
  d.reason = "OpenBLAS fell back to generic core " + in.core + " on a CPU with " +
             (best == "SkylakeX" ? "AVX-512" : "AVX2") +
             "; restarting with OPENBLAS_CORETYPE=" + best;
  return d;
}

}  // namespace qosroute
