// `qosroute simulate`: every requested router on the same evaluation seeds, one table.
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <chrono>
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
#include "planner/rollout_policy.h"

namespace po = boost::program_options;

namespace qosroute {

int RunSimulateCommand(const Args& args) {
  std::string config_path, policy = "all", out_csv, policy_file, requests_csv;
  std::vector<std::string> overrides;
  int seeds = 0;
  po::options_description desc(
      "qosroute simulate: run routers on evaluation episodes and print mean and 95% interval per "
      "policy");
  desc.add_options()("help,h", "show this help")("config", po::value(&config_path),
                                                 "INI config file")(
      "policy", po::value(&policy)->default_value(policy),
      ("a policy name, a comma-separated list, or 'all' (heuristics: " + Heuristics().List() +
       "; planners, keys under [planner]: " + Planners().List() +
       " (hindsight reads the episode's truth: a bound, not a router); learned: sac, with "
       "--policy-file; 'all' runs the heuristics and sac)")
          .c_str())("policy-file", po::value(&policy_file),
                    "trained policy (.h5) used for the policy name 'sac'")(
      "seeds", po::value(&seeds), "evaluation episodes (default: eval.seeds of the config)")(
      "set", po::value(&overrides)->composing(),
      "override a config key: section.key=value (repeatable)")("out", po::value(&out_csv),
                                                               "write the comparison as CSV")(
      "requests-out", po::value(&requests_csv),
      "write every request's latency per token as CSV (policy,episode,latency_per_token_s; "
      "empty for a dropped request): the input of qosroute plot --latency");
  const auto vm = ParseCommandLine(args, desc);
  if (!vm) return 0;

  RunConfig config = LoadRunConfig(config_path, overrides);
  SetupLogging(config.log_level);
  if (seeds > 0) config.eval.seeds = seeds;
  if (vm->count("seeds") && seeds < 1)
    throw UserError("--seeds must be >= 1, got " + std::to_string(seeds));

  const std::vector<std::string> policies = RequestedPolicies(policy, policy_file);

  auto workload = LoadConfiguredWorkload(config);
  spdlog::info("workload: {} records from {}; {} experts; {} episodes of {} requests",
               workload->records.size(), workload->source, config.env.experts.size(),
               config.eval.seeds, config.env.requests_per_episode);
  std::vector<PolicyResult> results;
  for (const std::string& p : policies) {
    const auto start = std::chrono::steady_clock::now();
    PolicyResult r{p, EvaluateNamedPolicy(p, config, workload, policy_file)};
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    spdlog::info("{}: {} episodes in {:.1f} s", p, r.episodes.size(), seconds);
    results.push_back(std::move(r));
  }
  std::printf("%s", FormatComparisonTable(results).c_str());
  if (!out_csv.empty()) {
    WriteText(out_csv, FormatComparisonCsv(results));
    spdlog::info("wrote {}", out_csv);
  }
  if (!requests_csv.empty()) {
    WriteText(requests_csv, FormatRequestLatencyCsv(results, config.env.sla));
    spdlog::info("wrote {}", requests_csv);
  }
  return 0;
}

}  // namespace qosroute
