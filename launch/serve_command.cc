// `qosroute serve`: the router in front of OpenAI-compatible servers (serve/router.h).
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdio>

#include "common/error.h"
#include "common/logging.h"
#include "launch/command_line.h"
#include "launch/commands.h"
#include "launch/config.h"
#include "launch/named_policies.h"
#include "launch/sac_policy_hook.h"
#include "planner/rollout_policy.h"
#include "serve/router.h"
#include "serve/serve_loop.h"

namespace po = boost::program_options;

namespace qosroute {
namespace {

// NAME=VALUE of a repeatable flag.
std::pair<std::string, std::string> SplitAssignment(const std::string& item, const char* flag) {
  const size_t eq = item.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
    throw UserError(std::string(flag) + " '" + item + "' is not NAME=VALUE");
  return {item.substr(0, eq), item.substr(eq + 1)};
}

// --backend NAME=URL and --backend-key-file NAME=FILE into one spec per backend.
std::vector<BackendSpec> ParseBackendFlags(const std::vector<std::string>& backend_flags,
                                           const std::vector<std::string>& backend_keys) {
  std::vector<BackendSpec> backends;
  for (const std::string& item : backend_flags) {
    const auto [name, url] = SplitAssignment(item, "--backend");
    for (const BackendSpec& b : backends)
      if (b.name == name) throw UserError("--backend " + name + " is given twice");
    backends.push_back({name, url, ""});
  }
  for (const std::string& item : backend_keys) {
    const auto [name, file] = SplitAssignment(item, "--backend-key-file");
    auto it = std::find_if(backends.begin(), backends.end(),
                           [&](const BackendSpec& b) { return b.name == name; });
    if (it == backends.end()) throw UserError("--backend-key-file " + name + ": no such --backend");
    it->api_key = ReadApiKey(file, nullptr);
  }
  return backends;
}

// The router's policy: a trained file, the rollout planner, or a heuristic. `env` takes a
// trained policy's feature groups.
std::unique_ptr<RoutingPolicy> MakeServePolicy(const RunConfig& config, const std::string& policy,
                                               const std::string& policy_file, bool budget_given,
                                               std::shared_ptr<const Workload> workload,
                                               EnvConfig* env) {
  if (!policy_file.empty()) return LoadLearnedRoutingPolicy(config, policy_file, env);
  if (Planners().Has(policy)) {
    if (Planners().Parse(policy, "--policy") == PlannerKind::kHindsight)
      throw UserError(
          "--policy hindsight reads each request's true length and score: it is a bound for "
          "simulate and evaluate, not a router (serve takes --policy rollout)");
    const PlannerBaseFactory base = PlannerBaseOf(config, env);
    return MakePlanner(PlannerKind::kRollout, config.planner, config.greedy, *env, workload, base);
  }
  if (budget_given) throw UserError("--decision-budget-ms applies to --policy rollout only");
  return MakeHeuristic(policy, config.greedy);
}

RouterOptions MakeRouterOptions(const RunConfig& config, const RoutingPolicy& routing,
                                const std::string& key_file, int health_ms, double budget_ms) {
  RouterOptions options;
  options.api_key = ReadApiKey(key_file, "QOSROUTE_API_KEY");
  options.health_interval = std::chrono::milliseconds(health_ms);
  options.policy_seed = config.eval.seed_base;
  if (routing.name() == Planners().Name(PlannerKind::kRollout)) {
    // Milliseconds per decision: on a thread of its own, with a deadline from each arrival.
    options.decision_budget = std::chrono::microseconds(static_cast<long>(budget_ms * 1000.0));
    options.decide_off_loop = true;
    spdlog::warn(
        "serve --policy rollout is experimental: in front of the fake backends on edge-4090 it "
        "has measured below greedy-qos (docs/PLANNER.md, 'Serving'), though it gains in "
        "simulation");
  }
  return options;
}

}  // namespace

int RunServeCommand(const Args& args) {
  std::string config_path, host = "127.0.0.1", key_file, ready_file, policy = "greedy-qos",
                           policy_file;
  std::vector<std::string> overrides, backend_flags, backend_keys;
  int port = 8000, health_ms = 200;
  double drain_s = 30.0, budget_ms = 20.0;
  size_t body_limit = 1 << 20;
  po::options_description desc(
      "qosroute serve: an OpenAI-compatible router that sends each request to one backend (or "
      "drops it) with a heuristic or a trained policy");
  desc.add_options()("help,h", "show this help")("config", po::value(&config_path), "INI config")(
      "set", po::value(&overrides)->composing(), "override a config key: section.key=value")(
      "backend", po::value(&backend_flags)->composing(),
      "NAME=http://host:port: the server of the config's expert NAME (one per expert)")(
      "backend-key-file", po::value(&backend_keys)->composing(),
      "NAME=FILE: the API key the backend NAME needs (vLLM --api-key)")(
      "policy", po::value(&policy)->default_value(policy),
      ("a heuristic (" + Heuristics().List() +
       ") or rollout (the planner, keys under [planner]; hindsight reads the truth and is not a "
       "router)")
          .c_str())(
      "decision-budget-ms", po::value(&budget_ms)->default_value(budget_ms),
      "rollout: ms from a request's arrival to its decision (time waiting for the router "
      "counts); when it runs out before planner.samples futures are valued, the planner's base "
      "policy decides (0: no limit)")("policy-file", po::value(&policy_file),
                                      "a trained policy (.h5); overrides --policy")(
      "host", po::value(&host)->default_value(host),
      "address to bind (127.0.0.1: this machine only; 0.0.0.0: every interface)")(
      "port", po::value(&port)->default_value(port), "port (0: any free port)")(
      "api-key-file", po::value(&key_file),
      "clients must send 'Authorization: Bearer <key>' (else $QOSROUTE_API_KEY when set)")(
      "health-interval-ms", po::value(&health_ms)->default_value(health_ms),
      "how often each backend's /metrics is scraped (also its health check)")(
      "max-body-bytes", po::value(&body_limit)->default_value(body_limit),
      "larger request bodies get 413")("ready-file", po::value(&ready_file),
                                       "write the bound port here once listening")(
      "drain-seconds", po::value(&drain_s)->default_value(drain_s),
      "on SIGTERM, how long requests in flight may take to finish");
  const auto vm = ParseCommandLine(args, desc);
  if (!vm) return 0;
  if (port < 0 || port > 65535) throw UserError("--port must be 0..65535");
  if (health_ms < 10) throw UserError("--health-interval-ms must be >= 10");
  if (!(drain_s >= 0)) throw UserError("--drain-seconds must be >= 0");
  if (!(budget_ms >= 0)) throw UserError("--decision-budget-ms must be >= 0");
  if (backend_flags.empty())
    throw UserError("give one --backend NAME=URL per expert of the config");

  RunConfig config = LoadRunConfig(config_path, overrides);
  SetupLogging(config.log_level);
  const std::vector<BackendSpec> backends = ParseBackendFlags(backend_flags, backend_keys);

  EnvConfig env = config.env;
  auto workload = LoadConfiguredWorkload(config);
  const bool budget_given =
      vm->count("decision-budget-ms") && !vm->at("decision-budget-ms").defaulted();
  std::unique_ptr<RoutingPolicy> routing =
      MakeServePolicy(config, policy, policy_file, budget_given, workload, &env);
  // Priors by model: a replica's are its model's (by expert name it would find no candidate).
  auto predictor = std::make_unique<WorkloadPriorPredictor>(*workload, ModelNames(env.experts),
                                                            config.env.predictor.max_output_tokens);

  const RouterOptions options = MakeRouterOptions(config, *routing, key_file, health_ms, budget_ms);
  net::io_context io;
  Router router(io, env, workload, std::move(routing), std::move(predictor), backends, options);
  HttpServerOptions server_options;
  server_options.address = host;
  server_options.port = static_cast<unsigned short>(port);
  server_options.body_limit = body_limit;
  HttpServer server(io, server_options, [&](std::shared_ptr<Exchange> ex) { router.Handle(ex); });
  router.Start();
  spdlog::info("qosroute serve: policy {} over {} backends on http://{}:{}{}", router.policy_name(),
               backends.size(), host, server.port(),
               options.api_key.empty() ? "" : " (API key required)");
  WriteReadyFile(ready_file, server.port());
  RunUntilSignal(io, server, std::chrono::milliseconds(static_cast<long>(drain_s * 1000)),
                 [&] { router.Stop(); });
  return 0;
}

}  // namespace qosroute
