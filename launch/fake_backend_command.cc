// `qosroute fake-backend`: one expert of the config emulated in real time behind an
// OpenAI-compatible API (serve/fake_backend.h).
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cstdio>

#include "common/error.h"
#include "common/logging.h"
#include "launch/command_line.h"
#include "launch/commands.h"
#include "launch/config.h"
#include "serve/fake_backend.h"
#include "serve/serve_loop.h"

namespace po = boost::program_options;

namespace qosroute {

int RunFakeBackendCommand(const Args& args) {
  std::string config_path, expert, host = "127.0.0.1", key_file, ready_file;
  std::vector<std::string> overrides;
  int port = 8001, default_tokens = 16;
  double drain_s = 10.0;
  bool instant = false;
  po::options_description desc(
      "qosroute fake-backend: an OpenAI-compatible server emulating one expert of the config in "
      "real time (vLLM queues, paged KV, the config's iteration times; /metrics with vLLM's "
      "names)");
  desc.add_options()("help,h", "show this help")("config", po::value(&config_path), "INI config")(
      "set", po::value(&overrides)->composing(), "override a config key: section.key=value")(
      "expert", po::value(&expert), "the config's expert to emulate (required)")(
      "host", po::value(&host)->default_value(host), "address to bind")(
      "port", po::value(&port)->default_value(port), "port (0: any free port)")(
      "instant", po::bool_switch(&instant),
      "answer at once without simulated compute (to measure a router's own overhead)")(
      "default-output-tokens", po::value(&default_tokens)->default_value(default_tokens),
      "answer length without max_tokens and without the X-Qosroute-Truth header")(
      "api-key-file", po::value(&key_file),
      "require this key from clients (else $QOSROUTE_BACKEND_API_KEY when set)")(
      "ready-file", po::value(&ready_file), "write the bound port here once listening")(
      "drain-seconds", po::value(&drain_s)->default_value(drain_s),
      "on SIGTERM, how long requests in flight may take to finish");
  const auto vm = ParseCommandLine(args, desc);
  if (!vm) return 0;
  if (expert.empty()) throw UserError("--expert NAME is required (a name from the config)");
  if (port < 0 || port > 65535) throw UserError("--port must be 0..65535");
  if (default_tokens < 1) throw UserError("--default-output-tokens must be >= 1");
  if (!(drain_s >= 0)) throw UserError("--drain-seconds must be >= 0");
  const RunConfig config = LoadRunConfig(config_path, overrides);
  SetupLogging(config.log_level);
  const ExpertConfig* found = nullptr;
  for (const ExpertConfig& e : config.env.experts)
    if (e.name == expert) found = &e;
  if (!found) throw UserError("--expert " + expert + ": the config has no expert of that name");

  FakeBackendOptions options;
  options.expert_name = expert;
  options.instant = instant;
  options.default_output_tokens = default_tokens;
  options.api_key = ReadApiKey(key_file, "QOSROUTE_BACKEND_API_KEY");
  net::io_context io;
  FakeBackend backend(io, *found, options);
  HttpServerOptions server_options;
  server_options.address = host;
  server_options.port = static_cast<unsigned short>(port);
  HttpServer server(io, server_options, [&](std::shared_ptr<Exchange> ex) { backend.Handle(ex); });
  spdlog::info("fake backend for {} ({} model, {} KV blocks{}) on http://{}:{}", expert,
               TimeModels().Name(found->time_model), found->NumBlocks(), instant ? ", instant" : "",
               host, server.port());
  WriteReadyFile(ready_file, server.port());
  const long left =
      RunUntilSignal(io, server, std::chrono::milliseconds(static_cast<long>(drain_s * 1000)));
  (void)left;  // logged by the drain; a deadline cut is not a failure of the server
  return 0;
}

}  // namespace qosroute
