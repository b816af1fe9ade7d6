// `qosroute train`: single-process SAC training on a config, then a comparison against the
// heuristic routers on held-out seeds.
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>

#include "checkpoint/files.h"
#include "checkpoint/resume_auto.h"
#include "checkpoint/signals.h"
#include "comm/mpi_scope.h"
#include "common/blas_probe.h"
#include "common/error.h"
#include "common/logging.h"
#include "env/evaluation.h"
#include "launch/command_line.h"
#include "launch/commands.h"
#include "launch/config.h"
#include "launch/distributed_train.h"
#include "launch/report.h"
#include "launch/roles.h"
#include "launch/sac_policy_hook.h"
#include "launch/sac_setup.h"
#include "learner/train_loop.h"
#include "telemetry/run_dir_lock.h"

namespace po = boost::program_options;

namespace qosroute {

namespace {

std::string DefaultRunDir() {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", std::localtime(&now));
  return std::string("runs/train-") + stamp;
}

}  // namespace

int RunTrainCommand(const Args& args) {
  std::string config_path, run_dir, resume;
  std::vector<std::string> overrides;
  bool compare = true;
  po::options_description desc(
      "qosroute train: train the SAC router in one process (the embedded default)");
  desc.add_options()("help,h", "show this help")("config", po::value(&config_path),
                                                 "INI config file")(
      "run-dir", po::value(&run_dir), "run directory (default runs/train-<timestamp>)")(
      "set", po::value(&overrides)->composing(),
      "override a config key: section.key=value (repeatable)")(
      "compare", po::value(&compare)->default_value(true),
      "after training, evaluate every heuristic on the same held-out seeds and print the table")(
      "resume", po::value(&resume),
      "continue from a checkpoint: 'auto' (the newest in <run-dir>/checkpoints/; none starts "
      "fresh) or a path. SIGTERM/SIGINT write a checkpoint and exit 0");
  if (!ParseCommandLine(args, desc)) return 0;
  RunConfig config = LoadRunConfig(config_path, overrides);
  SetupLogging(config.log_level);
  spdlog::info("{}", BlasStartLine());
  if (run_dir.empty()) run_dir = DefaultRunDir();
  // Under mpirun/srun (or with a [launch] layout that asks for roles) the distributed trainer
  // runs instead; -np 1 keeps the single-process trainer below.
  if (WantsDistributedTraining(config.launch, LaunchedWorldSize())) {
    return RunDistributedTrain(config, run_dir, compare, resume);
  }
  // One job per run directory: refused (exit 2, nothing changed) while another holds it.
  const RunDirLock lock(run_dir);
  // Until training ends, SIGTERM/SIGINT ask the trainer to checkpoint and stop (exit code 0).
  auto stop_signals = std::make_unique<StopSignals>();
  TrainLoopOptions options = MakeTrainLoopOptions(config, run_dir);
  // RunTraining writes config.cfg only after a checkpoint to resume from has been checked.
  options.config_text = FormatResolvedConfig(config);
  options.stop_requested = &StopSignals::flag();
  if (resume == "auto") {
    options.resume_from = NewestIntactCheckpoint(run_dir);
    if (options.resume_from.empty()) {
      spdlog::info("--resume auto: no checkpoint in {}; starting fresh", CheckpointFolder(run_dir));
    }
  } else {
    options.resume_from = resume;
  }

  auto workload = LoadConfiguredWorkload(config);
  spdlog::info("training {} SAC on {} experts, {} frames ({} warm-up), batch {}, run dir {}",
               Encoders().Name(config.train.encoder), config.env.experts.size(),
               config.train.total_frames, config.train.warmup_frames, config.train.batch_size,
               run_dir);
  const TrainResult result = RunTraining(config.env, workload, MakeSacConfig(config), options);
  // Training is saved from here on: a signal during the comparison ends the process at once.
  stop_signals.reset();
  if (result.stopped) {
    spdlog::info(
        "stopped by signal {} after {} frames, {} updates; checkpoint {}; continue "
        "with --resume auto",
        StopSignals::signal_number(), result.frames, result.updates, result.checkpoint_path);
    return 0;
  }
  spdlog::info("{}", DescribeTrainedRun(result));

  const std::vector<NamedPolicyFile> compared = TrainedPolicies(config, result);
  if (compare) CompareTrainedPolicy(config, workload, compared, run_dir);
  std::printf("run directory: %s\n", run_dir.c_str());
  return 0;
}

}  // namespace qosroute
