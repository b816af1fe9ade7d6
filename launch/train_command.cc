// `qosroute train`: single-process SAC training on a config, then a comparison against the
// heuristic routers on held-out seeds.
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "common/error.h"
#include "common/logging.h"
#include "env/evaluation.h"
#include "launch/commands.h"
#include "launch/config.h"
#include "launch/report.h"
#include "launch/sac_policy_hook.h"
#include "launch/sac_setup.h"
#include "learner/train_loop.h"

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
  std::string config_path, run_dir;
  std::vector<std::string> overrides;
  bool compare = true;
  po::options_description desc("qosroute train: train the SAC router in one process (the embedded default)");
  desc.add_options()("help,h", "show this help")("config", po::value(&config_path), "INI config file")(
      "run-dir", po::value(&run_dir), "run directory (default runs/train-<timestamp>)")(
      "set", po::value(&overrides)->composing(), "override a config key: section.key=value (repeatable)")(
      "compare", po::value(&compare)->default_value(true),
      "after training, evaluate every heuristic on the same held-out seeds and print the table");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  po::notify(vm);
  RunConfig config = LoadRunConfig(config_path, overrides);
  SetupLogging(config.log_level);
  if (run_dir.empty()) run_dir = DefaultRunDir();
  std::filesystem::create_directories(run_dir);
  WriteText(run_dir + "/config.cfg", FormatResolvedConfig(config));

  auto workload = LoadConfiguredWorkload(config);
  spdlog::info("training {} SAC on {} experts, {} frames ({} warm-up), batch {}, run dir {}", config.train.encoder,
               config.env.experts.size(), config.train.total_frames, config.train.warmup_frames,
               config.train.batch_size, run_dir);
  const TrainResult result =
      RunTraining(config.env, workload, MakeSacConfig(config), MakeTrainLoopOptions(config, run_dir));
  spdlog::info("trained {} frames, {} updates, {} episodes in {:.0f} s ({:.1f} updates/s); policy: {}",
               result.frames, result.updates, result.episodes, result.seconds, result.updates / result.seconds,
               result.policy_path);

  if (compare) {
    std::vector<PolicyResult> results;
    for (const std::string& name : HeuristicNames()) {
      results.push_back({name, EvaluatePolicy(config.env, workload, [&] { return MakeHeuristic(name, config.greedy); },
                                              config.eval.seed_base, config.eval.seeds, config.eval.threads)});
    }
    results.push_back({"sac-" + config.train.encoder, EvaluateLearnedPolicy(config, workload, result.policy_path)});
    const std::string table = FormatComparisonTable(results);
    std::printf("\n%s", table.c_str());
    WriteText(run_dir + "/metrics/comparison.csv", FormatComparisonCsv(results));
    WriteText(run_dir + "/metrics/comparison.txt", table);
  }
  std::printf("run directory: %s\n", run_dir.c_str());
  return 0;
}

}  // namespace qosroute
