// qosroute: train, evaluate and compare QoS-aware routers for LLM requests at the edge.
#include <boost/program_options/errors.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
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
      "  profile        what the models predict for one iteration of an expert (time, KV, power)\n"
      "  plot           PNG figures of a training run, a load sweep or per-request latencies\n"
      "  serve          route live OpenAI-compatible traffic to backends (heuristic or trained)\n"
      "  fake-backend   an OpenAI-compatible server emulating one expert in real time\n"
      "  loadgen        replay a workload against a router over HTTP, print the QoS table\n"
#ifdef QOSROUTE_HAVE_TORCH
      "  train          train the SAC router (HAN or flat encoder)\n"
      "  evaluate       evaluate a trained policy file against the heuristics\n"
      "  inspect        summarise a training checkpoint (counters, sizes, config)\n"
#endif
      "\nEvery command takes --help. Configs are INI files; --set section.key=value overrides.\n");
}

// A bad flag or config value. Under mpirun every rank reads the same flags and config and
// fails the same way, and the job should say so once: rank 0 prints at once. The other ranks
// wait before they print (with their rank) and exit: when rank 0 failed too, the launcher
// ends them during the wait and only rank 0's line shows; when the error was theirs alone
// (a file only that node lacks), it still reaches the user. Exiting at once instead would
// let the launcher kill rank 0 before its line was out, and the job would fail silently.
int ReportUserError(const std::string& command, const char* what, const char* hint) {
  const int rank = qosroute::LaunchedWorldRank();
  if (rank != 0) {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    std::fprintf(stderr, "qosroute %s (rank %d): error: %s%s\n", command.c_str(), rank, what, hint);
  } else {
    std::fprintf(stderr, "qosroute %s: error: %s%s\n", command.c_str(), what, hint);
  }
  return 2;
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
    if (command == "profile") return qosroute::RunProfileCommand(args);
    if (command == "serve") return qosroute::RunServeCommand(args);
    if (command == "fake-backend") return qosroute::RunFakeBackendCommand(args);
    if (command == "loadgen") return qosroute::RunLoadgenCommand(args);
#ifdef QOSROUTE_HAVE_TORCH
    if (command == "train") return qosroute::RunTrainCommand(args);
    if (command == "evaluate") return qosroute::RunEvaluateCommand(args);
    if (command == "inspect") return qosroute::RunInspectCommand(args);
#endif
    std::fprintf(stderr, "qosroute: unknown command '%s'\n\n", command.c_str());
    PrintUsage();
    return 2;
  } catch (const qosroute::UserError& e) {
    return ReportUserError(command, e.what(), "");
  } catch (const boost::program_options::error& e) {
    return ReportUserError(command, e.what(), " (see --help)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qosroute %s: fatal: %s\n", command.c_str(), e.what());
    return 1;
  }
}
