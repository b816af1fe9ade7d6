#pragma once
// Whether to restart the process with OPENBLAS_CORETYPE set, decided from plain inputs.
//
// Why a restart: OpenBLAS reads OPENBLAS_CORETYPE once, in its load-time constructor, before
// main. Version 0.3.21 (Debian 12) sends CPU models missing from its table (Sapphire Rapids
// under KVM, for one) to its SSE3 "Prescott" kernels, 3-5x slower for the learner's matrix
// products. Setting the variable and exec'ing the same binary again is the only in-process
// fix. OpenBLAS itself checks nothing when told a core: forcing one the CPU or OS lacks dies
// with SIGILL, so the decision checks both. This header is pure (no torch, no system calls);
// common/blas_probe.h gathers the inputs and performs the restart.
#include <string>

namespace qosroute {

// The guard variable a restart sets, so the restarted process never restarts again.
inline constexpr const char* kBlasReexecGuard = "QOSROUTE_BLAS_REEXEC";

struct BlasReexecInputs {
  std::string core;           // openblas_get_corename(); "" when the BLAS is not OpenBLAS
  bool dynamic_arch = true;   // OpenBLAS built with DYNAMIC_ARCH (else it ignores the variable)
  bool cpu_avx512 = false;    // CPUID: AVX-512 F, BW, DQ and VL
  bool cpu_avx2 = false;      // CPUID: AVX, AVX2 and FMA
  bool os_avx = false;        // XCR0: the OS saves SSE and YMM state
  bool os_avx512 = false;     // XCR0: the OS saves opmask and ZMM state
  bool coretype_set = false;  // OPENBLAS_CORETYPE present in the environment
  std::string coretype;       // its value
  bool guard_set = false;     // kBlasReexecGuard present: this process is a restart
};

struct BlasReexecDecision {
  bool reexec = false;
  std::string coretype;  // the OPENBLAS_CORETYPE to restart with ("SkylakeX", "Haswell")
  std::string reason;    // one sentence for the log
  bool warn = false;     // worth a warning: still on a generic core after a restart
};

// True for OpenBLAS 0.3.21's pre-AVX x86 cores (the names its DYNAMIC_ARCH build reports:
// Prescott and older Intel, K8/K10-era AMD, VIA Nano, "Unknown"): what a model missing from
// its table falls back to. AVX-era cores (Sandybridge, Bulldozer..Excavator) are choices it
// made on purpose and are left alone, as is any name this list does not know.
bool IsGenericOpenBlasCore(const std::string& core);

// The best OPENBLAS_CORETYPE that both CPU and OS support: "SkylakeX", "Haswell" or "".
std::string SupportedOpenBlasCore(const BlasReexecInputs& in);

BlasReexecDecision DecideBlasReexec(const BlasReexecInputs& in);

}  // namespace qosroute
