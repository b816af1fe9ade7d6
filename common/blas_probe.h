#pragma once
// What BLAS this process runs and on which CPU, and the start-up restart that picks OpenBLAS
// kernels right (see common/blas_reexec.h for why). Plain C++ (dlsym, cpuid): no torch, so
// the simulator-only binaries can call it too; without OpenBLAS loaded everything is a no-op.
#include <string>

#include "common/blas_reexec.h"

namespace qosroute {

// openblas_get_corename() looked up at run time, or "" when no OpenBLAS is loaded: the BLAS
// behind libtorch is chosen by the system (Debian alternatives), and only OpenBLAS has it.
std::string OpenBlasCoreName();

// The file of the loaded BLAS (symlinks resolved), or "" when none is loaded.
std::string BlasLibraryPath();

// Every input of DecideBlasReexec, read from this process: cpuid, xgetbv, the environment.
BlasReexecInputs GatherBlasReexecInputs();

// Call first thing in main(). When DecideBlasReexec says so, sets OPENBLAS_CORETYPE and the
// guard and execv()s /proc/self/exe with the same argv (does not return); otherwise returns
// the decision (also kept for BlasStartLine) after printing a warning when it has one. Safe
// under mpirun: each rank restarts itself in place, keeping its pid and environment.
BlasReexecDecision ReexecForBlasIfNeeded(char** argv);

// The restart itself, with a given core: exposed so a test can check argv and environment
// survive it. Returns only when execv fails (with the environment restored).
void ReexecWithOpenBlasCore(char** argv, const std::string& coretype);

// "BLAS: <library> core <name>", plus what the start-up decision did when it was not the plain
// "kept what OpenBLAS detected" (user's OPENBLAS_CORETYPE, a restart, a warning). For the
// first log line of every training run and benchmark.
std::string BlasStartLine();

}  // namespace qosroute
