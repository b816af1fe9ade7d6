// qosroute: train, evaluate and compare QoS-aware routers for LLM requests at the edge.
#include <boost/program_options/errors.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "common/blas_probe.h"
#include "common/error.h"
#include "common/launcher_env.h"
#include "launch/commands.h"

namespace {

void PrintUsage() {
  std::printf(
      "usage: qosroute <command> [options]\n\n"
      "commands:\n"
      "  simulate       run heuristic (and learned) routers on a config, print the comparison "
      "table\n"
      "  make-workload  write a calibrated synthetic mix-instruct workload (JSON lines)\n"
      "  plot           PNG figures of a training run, a load sweep or per-request latencies\n"
#ifdef QOSROUTE_HAVE_TORCH
      "  train          train the SAC router (HAN or flat encoder)\n"
      "  evaluate       evaluate a trained policy file against the heuristics\n"
      "  inspect        summarise a training checkpoint (counters, sizes, config)\n"
#endif
      "\nEvery command takes --help. Configs are INI files; --set section.key=value overrides.\n");
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything else: OpenBLAS chose its kernels when it loaded, and a misdetected CPU is
  // fixed only by restarting with OPENBLAS_CORETYPE set (common/blas_reexec.h).
  qosroute::ReexecForBlasIfNeeded(argv);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const qosroute::Args args(argv + 2, argv + argc);
  try {
    if (command == "simulate") return qosroute::RunSimulateCommand(args);
    if (command == "make-workload") return qosroute::RunMakeWorkloadCommand(args);
    if (command == "plot") return qosroute::RunPlotCommand(args);
#ifdef QOSROUTE_HAVE_TORCH
    if (command == "train") return qosroute::RunTrainCommand(args);
    if (command == "evaluate") return qosroute::RunEvaluateCommand(args);
    if (command == "inspect") return qosroute::RunInspectCommand(args);
#endif
    std::fprintf(stderr, "qosroute: unknown command '%s'\n\n", command.c_str());
    PrintUsage();
    return 2;
  } catch (const qosroute::UserError& e) {
    // Under mpirun every rank reads the same flags and config and fails the same way: the
    // job says so once, from rank 0.
    if (qosroute::LaunchedWorldRank() == 0)
      std::fprintf(stderr, "qosroute %s: error: %s\n", command.c_str(), e.what());
    return 2;
  } catch (const boost::program_options::error& e) {
    if (qosroute::LaunchedWorldRank() == 0)
      std::fprintf(stderr, "qosroute %s: error: %s (see --help)\n", command.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qosroute %s: fatal: %s\n", command.c_str(), e.what());
    return 1;
  }
}
