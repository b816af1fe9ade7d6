#pragma once
// `qosroute loadgen`: an open-loop Poisson client that replays one simulated episode's
// requests (the config's workload, arrivals at --rate, the config's predictor) against a
// router over HTTP, and measures what the simulator measures. Requests are those that
// ClusterEnv::Reset(seed) draws, so a live run and `simulate` see the same requests for the
// same seed. Each request carries its predictions in the "qosroute" body field and the true
// answer of every expert in the X-Qosroute-Truth header (used only by fake backends).
#include <memory>
#include <string>
#include <vector>

#include "env/cluster_env.h"
#include "env/metrics.h"

namespace qosroute {

struct LoadgenOptions {
  std::string url;  // the router, http://host:port
  double rate = 0.0;
  int requests = 0;
  uint64_t seed = 0;
  bool stream = true;
  bool chat = false;
  std::string api_key;
  double timeout_s = 300.0;  // per request, between two pieces of its answer
};

struct LoadgenRecord {
  long request_id = 0;
  std::string expert;  // from the router's X-Qosroute-Expert header ("" when not routed)
  int status = 0;      // HTTP status; 0 when no answer came (connection failed)
  int prompt_tokens = 0;
  int output_tokens = 0;
  double ttft_s = -1.0;  // first token (streaming) or whole answer; -1 without one
  double latency_per_token_s = -1.0;
  double score = 0.0;      // the true score of the expert that served it (0 when none did)
  double sent_at_s = 0.0;  // Unix seconds
  double done_at_s = 0.0;
  std::string error;  // why a request failed, for the log
};

struct LoadgenResult {
  std::vector<LoadgenRecord> records;
  double upper_bound = 0.0;  // mean over requests of the best expert's true score
};

// Sends every request and waits for every answer (each bounded by options.timeout_s).
LoadgenResult RunLoadgen(const EnvConfig& env, std::shared_ptr<const Workload> workload,
                         const LoadgenOptions& options);

// The episode's metrics as `simulate` computes them: served within the SLA counts its score;
// 503 (the router's drop) and every failure count as dropped.
EpisodeMetrics LoadgenMetrics(const LoadgenResult& result, double sla);

// The router's own time per request from its /metrics histogram
// (qosroute_added_latency_seconds, every request since it started); count 0 when the URL
// serves no such series (not a qosroute router) or cannot be reached.
struct RouterOverhead {
  long count = 0;
  double p50_s = 0.0, p99_s = 0.0, mean_s = 0.0;
};
RouterOverhead ReadRouterOverhead(const std::string& url);

void WriteLoadgenCsv(const std::string& path, const std::vector<LoadgenRecord>& records);

}  // namespace qosroute
