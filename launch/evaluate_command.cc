// `qosroute evaluate`: a trained policy against every heuristic on the same held-out seeds.
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "common/error.h"
#include "common/logging.h"
#include "env/evaluation.h"
#include "launch/command_line.h"
#include "launch/commands.h"
#include "launch/config.h"
#include "launch/named_policies.h"
#include "launch/report.h"
#include "launch/sac_policy_hook.h"
#include "planner/rollout_policy.h"

namespace po = boost::program_options;

namespace qosroute {

int RunEvaluateCommand(const Args& args) {
  std::string config_path, policy_file, out_csv, planners;
  std::vector<std::string> overrides;
  int seeds = 0;
  bool heuristics = true;
  po::options_description desc(
      "qosroute evaluate: a trained SAC policy against the heuristic routers");
  desc.add_options()("help,h", "show this help")("policy", po::value(&policy_file),
                                                 "trained policy file (.h5)")(
      "config", po::value(&config_path),
      "INI config file (the run's config.cfg reproduces its setting)")(
      "seeds", po::value(&seeds), "evaluation episodes (default: eval.seeds)")(
      "set", po::value(&overrides)->composing(),
      "override a config key: section.key=value (repeatable)")(
      "heuristics", po::value(&heuristics)->default_value(true), "also evaluate every heuristic")(
      "planners", po::value(&planners),
      ("also run these planners beside it, comma-separated (" + Planners().List() +
       "; keys under [planner]); with hindsight the table gains a headroom column")
          .c_str())("out", po::value(&out_csv), "write the comparison as CSV");
  const auto vm = ParseCommandLine(args, desc);
  if (!vm) return 0;
  if (policy_file.empty()) throw UserError("evaluate needs --policy FILE.h5");
  RunConfig config = LoadRunConfig(config_path, overrides);
  SetupLogging(config.log_level);
  if (vm->count("seeds")) {
    if (seeds < 1) throw UserError("--seeds must be >= 1, got " + std::to_string(seeds));
    config.eval.seeds = seeds;
  }
  std::vector<std::string> planner_names;
  if (!planners.empty()) {
    planner_names = RequestedPolicies(planners, "");
    for (const std::string& p : planner_names) {
      if (!Planners().Has(p))
        throw UserError("--planners: '" + p + "' is not a planner (" + Planners().List() + ")");
    }
  }
  auto workload = LoadConfiguredWorkload(config);
  std::vector<PolicyResult> results;
  if (heuristics) results = EvaluateHeuristics(config, workload);
  for (const std::string& p : planner_names)
    results.push_back({p, EvaluateNamedPolicy(p, config, workload, "")});
  results.push_back({"sac", EvaluateLearnedPolicy(config, workload, policy_file)});
  std::printf("%s", FormatComparisonTable(results).c_str());
  if (!out_csv.empty()) WriteText(out_csv, FormatComparisonCsv(results));
  return 0;
}

}  // namespace qosroute
