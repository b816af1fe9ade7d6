// `qosroute profile`: what the simulator's models predict for one iteration of one expert, one
// figure a line (iteration time, KV capacity, power), for capacity planning from the command
// line and for checking a GPU profile against measured iterations (docs/SIMULATOR.md §9).
#include <boost/program_options.hpp>
#include <cstdio>

#include "common/error.h"
#include "env/iteration_estimate.h"
#include "launch/command_line.h"
#include "launch/commands.h"
#include "launch/config.h"

namespace po = boost::program_options;

namespace qosroute {

namespace {

const ExpertConfig& FindExpert(const RunConfig& config, const std::string& name,
                               const std::string& config_path) {
  std::string known;
  for (const ExpertConfig& e : config.env.experts) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : ", ") + e.name;
  }
  throw UserError("--expert " + (name.empty() ? std::string("is required") : "'" + name + "'") +
                  ": " + config_path + " has the experts " + known);
}

}  // namespace

int RunProfileCommand(const Args& args) {
  std::string config_path, expert;
  std::vector<std::string> overrides;
  IterationQuery query;
  po::options_description desc(
      "qosroute profile: what the models predict for one iteration of one expert (time, KV "
      "capacity, power)");
  auto add = desc.add_options();
  add("help,h", "show this help");
  add("config", po::value(&config_path), "INI config file");
  add("expert", po::value(&expert), "the expert (a name in cluster.experts)");
  add("prefill", po::value(&query.prefill_tokens), "a prefill of P prompt tokens (one sequence)");
  add("batch", po::value(&query.batch), "a decode of B sequences (with --context)");
  add("context", po::value(&query.context_tokens),
      "context tokens of the whole decoding batch (with --batch)");
  add("set", po::value(&overrides)->composing(),
      "override a config key: section.key=value (repeatable)");
  if (!ParseCommandLine(args, desc)) return 0;

  const RunConfig config = LoadRunConfig(config_path, overrides);
  const ExpertConfig& e = FindExpert(config, expert, config_path);
  const IterationEstimate estimate = EstimateIteration(e, query);
  std::printf("iteration: %.3f ms\n", estimate.seconds * 1e3);
  std::printf("kv capacity: %ld tokens\n", estimate.kv_capacity_tokens);
  std::printf("power: %.1f W\n", estimate.power_w);
  if (!estimate.fits()) {
    std::printf("fits: no (%ld tokens > the KV capacity)\n", estimate.kv_tokens);
  }
  return 0;
}

}  // namespace qosroute
