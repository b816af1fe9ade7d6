// `qosroute loadgen`: replay a simulated episode's requests against a router over HTTP and
// print the same table as `simulate` (serve/loadgen.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>

#include "common/error.h"
#include "common/logging.h"
#include "env/metrics.h"
#include "launch/command_line.h"
#include "launch/commands.h"
#include "launch/config.h"
#include "launch/report.h"
#include "serve/http_server.h"
#include "serve/loadgen.h"

namespace po = boost::program_options;

namespace qosroute {

namespace {

// What the client saw: the send rate it achieved and how long answers took.
void PrintClientTimes(const LoadgenResult& result, double rate) {
  std::vector<double> answer, first;
  double start = 0.0, last_sent = 0.0;
  for (const LoadgenRecord& r : result.records) {
    if (start == 0.0 || r.sent_at_s < start) start = r.sent_at_s;
    last_sent = std::max(last_sent, r.sent_at_s);
    if (r.status != 200) continue;
    answer.push_back(r.done_at_s - r.sent_at_s);
    first.push_back(r.ttft_s);
  }
  if (answer.empty()) return;
  const double span = last_sent - start;
  std::printf(
      "client: sent %zu requests in %.1f s (%.0f req/s asked, %.0f achieved); time to "
      "first token p50 %.2f ms, p99 %.2f ms; whole answer p50 %.2f ms, p99 %.2f ms\n",
      result.records.size(), span, rate, span > 0 ? (result.records.size() - 1) / span : 0.0,
      Percentile(first, 50) * 1e3, Percentile(first, 99) * 1e3, Percentile(answer, 50) * 1e3,
      Percentile(answer, 99) * 1e3);
}

}  // namespace

int RunLoadgenCommand(const Args& args) {
  std::string config_path, url, out, key_file, label = "live";
  std::vector<std::string> overrides;
  double rate = 0.0, timeout_s = 300.0;
  int requests = 0;
  long long seed = -1;
  bool no_stream = false, chat = false;
  po::options_description desc(
      "qosroute loadgen: an open-loop Poisson client replaying one episode of the config's "
      "workload against a router; prints the table `simulate` prints");
  desc.add_options()("help,h", "show this help")("url", po::value(&url),
                                                 "the router, http://host:port (required)")(
      "config", po::value(&config_path), "INI config (workload, experts, predictor, SLA)")(
      "set", po::value(&overrides)->composing(), "override a config key: section.key=value")(
      "rate", po::value(&rate), "requests per second (required)")("requests", po::value(&requests),
                                                                  "how many requests (required)")(
      "seed", po::value(&seed), "episode seed (default: eval.seed_base, simulate's first episode)")(
      "out", po::value(&out), "per-request CSV")("no-stream", po::bool_switch(&no_stream),
                                                 "ask for whole answers instead of streams")(
      "chat", po::bool_switch(&chat), "use /v1/chat/completions")(
      "api-key-file", po::value(&key_file), "the router's key (else $QOSROUTE_API_KEY when set)")(
      "timeout", po::value(&timeout_s)->default_value(timeout_s),
      "seconds a request may go without a byte of its answer")(
      "label", po::value(&label)->default_value(label), "the row's name in the table");
  const auto vm = ParseCommandLine(args, desc);
  if (!vm) return 0;
  if (url.empty()) throw UserError("--url is required");
  if (!(rate > 0)) throw UserError("--rate must be > 0");
  if (requests < 1) throw UserError("--requests must be >= 1");
  if (!(timeout_s > 0)) throw UserError("--timeout must be > 0");
  RunConfig config = LoadRunConfig(config_path, overrides);
  SetupLogging(config.log_level);
  LoadgenOptions o;
  o.url = url;
  o.rate = rate;
  o.requests = requests;
  o.seed = seed >= 0 ? static_cast<uint64_t>(seed) : config.eval.seed_base;
  o.stream = !no_stream;
  o.chat = chat;
  o.api_key = ReadApiKey(key_file, "QOSROUTE_API_KEY");
  o.timeout_s = timeout_s;
  auto workload = LoadConfiguredWorkload(config);
  spdlog::info("loadgen: {} requests at {} req/s (seed {}) to {}", requests, rate, o.seed, url);
  const LoadgenResult result = RunLoadgen(config.env, workload, o);
  long ok = 0, dropped = 0, failed = 0;
  std::map<std::string, long> per_expert;
  for (const LoadgenRecord& r : result.records) {
    if (r.status == 200) {
      ++ok;
      ++per_expert[r.expert];
    } else if (r.status == 503) {
      ++dropped;
    } else {
      ++failed;
      if (failed <= 3)
        spdlog::warn("request {} failed: status {} {}", r.request_id, r.status, r.error);
    }
  }
  if (!out.empty()) WriteLoadgenCsv(out, result.records);
  std::printf("requests %d: answered %ld, dropped by the router (503) %ld, failed %ld\n", requests,
              ok, dropped, failed);
  for (const auto& [name, n] : per_expert) std::printf("  %s: %ld\n", name.c_str(), n);
  const EpisodeMetrics m = LoadgenMetrics(result, config.env.sla);
  std::printf("%s", FormatComparisonTable({{label, {m}}}).c_str());
  std::printf(
      "(KV use, preemptions and J/token are not measured over HTTP: the backends' own "
      "/metrics have them)\n");
  PrintClientTimes(result, rate);
  const RouterOverhead overhead = ReadRouterOverhead(url);
  if (overhead.count > 0)
    std::printf(
        "router's own time per request (its /metrics, %ld requests since it started): "
        "p50 %.3f ms, p99 %.3f ms, mean %.3f ms\n",
        overhead.count, overhead.p50_s * 1e3, overhead.p99_s * 1e3, overhead.mean_s * 1e3);
  return failed == 0 ? 0 : 3;
}

}  // namespace qosroute
