// Helper for blas_reexec_test: a process that restarts itself the way qosroute does, so the
// test can look at what survives the restart. Modes:
//   force ARGS...      restart once with OPENBLAS_CORETYPE=Prescott, then print env and ARGS
//   openblas LIB ARGS  load OpenBLAS (as libtorch would), run the start-up check, print it
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/blas_probe.h"

namespace {

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "<unset>";
}

void PrintArgs(int argc, char** argv, int first) {
  std::printf("args=");
  for (int i = first; i < argc; ++i) std::printf("[%s]", argv[i]);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string mode = argv[1];
  if (mode == "force") {
    if (std::getenv(qosroute::kBlasReexecGuard) == nullptr) {
      std::printf("before restart\n");  // must be flushed before execv, and printed once
      qosroute::ReexecWithOpenBlasCore(argv, "Prescott");
      std::printf("exec failed\n");
      return 1;
    }
    std::printf("restarted coretype=%s guard=%s\n", Env("OPENBLAS_CORETYPE"),
                Env(qosroute::kBlasReexecGuard));
    PrintArgs(argc, argv, 2);
    return 0;
  }
  if (mode == "openblas" && argc >= 3) {
    // Loaded here rather than linked so the test needs no BLAS at build time; its load-time
    // constructor reads OPENBLAS_CORETYPE exactly as when libtorch pulls it in.
    if (dlopen(argv[2], RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      std::printf("no openblas\n");
      return 3;
    }
    const qosroute::BlasReexecDecision d = qosroute::ReexecForBlasIfNeeded(argv);
    const qosroute::BlasReexecInputs in = qosroute::GatherBlasReexecInputs();
    std::printf("guard=%s\ncore=%s\nsupported=%s\nreason=%s\nline=%s\n",
                Env(qosroute::kBlasReexecGuard), in.core.c_str(),
                qosroute::SupportedOpenBlasCore(in).c_str(), d.reason.c_str(),
                qosroute::BlasStartLine().c_str());
    PrintArgs(argc, argv, 3);
    return 0;
  }
  return 2;
}
