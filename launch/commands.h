#pragma once
// The qosroute subcommands. Each parses its own flags (with --help) and returns an exit code;
// bad input surfaces as UserError, which main turns into one message and exit code 2.
#include <string>
#include <vector>

namespace qosroute {

using Args = std::vector<std::string>;  // arguments after the command name

int RunSimulateCommand(const Args& args);
int RunMakeWorkloadCommand(const Args& args);
int RunPlotCommand(const Args& args);  // runs tools/plot_run.py; no torch needed
int RunProfileCommand(const Args& args);
// serve/: the router, an emulated backend, a load generator.
int RunServeCommand(const Args& args);
int RunFakeBackendCommand(const Args& args);
int RunLoadgenCommand(const Args& args);
#ifdef QOSROUTE_HAVE_TORCH
int RunTrainCommand(const Args& args);
int RunEvaluateCommand(const Args& args);
int RunInspectCommand(const Args& args);
#endif

}  // namespace qosroute
