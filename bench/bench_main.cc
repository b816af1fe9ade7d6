// qosroute_bench's main: Google Benchmark's runner, after the start-up BLAS check. Its own main
// (not benchmark_main / BENCHMARK_MAIN) because OpenBLAS picks its kernels at load time and a
// misdetected CPU is fixed only by restarting before anything runs (common/blas_reexec.h).
#include <benchmark/benchmark.h>

#include "common/blas_probe.h"

int main(int argc, char** argv) {
  qosroute::ReexecForBlasIfNeeded(argv);
  // In the context header printed before any result: figures mean little without it.
  benchmark::AddCustomContext("blas", qosroute::BlasStartLine());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
