#pragma once
// `qosroute serve`: the trained router (or a heuristic) in front of OpenAI-compatible servers.
// Each request is decided on the live cluster as the router sees it: its own accounting of
// every request in flight (prompt tokens, tokens streamed so far, latency per token so far,
// running or waiting) plus each backend's vLLM gauges scraped on a short period, turned into
// the training observation by ClusterEnv::ObserveLive. The chosen backend gets the request
// (the qosroute extension stripped, its own API key set); the drop action answers 503.
//
// One class over several files: router.cc (construction, decisions, forwarding, answers),
// router_health.cc (health checks and scrapes), router_endpoints.cc (/health, /v1/models,
// /metrics); the accounting that becomes the live state is LiveState (live_state.h).
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "serve/http_client.h"
#include "serve/live_state.h"
#include "serve/openai_api.h"
#include "serve/prometheus_text.h"
#include "serve/serve_predictor.h"

namespace qosroute {

struct BackendSpec {
  std::string name;  // the config's expert it serves
  std::string url;   // http://host:port
  std::string api_key;
};

struct RouterOptions {
  std::string api_key;  // clients' key; empty: none
  std::chrono::milliseconds health_interval{200};
  std::chrono::milliseconds health_timeout{300};
  HttpCallOptions call;
  uint64_t policy_seed = 0;  // the random heuristic's stream
  // Each request's decision is due this long after it arrived (0: no deadline); the policy
  // learns it through SetNextDeadline (the rollout planner then falls back to its base).
  std::chrono::microseconds decision_budget{0};
  // Decide on a thread of its own, one request at a time, so that the event loop keeps
  // reading requests and relaying answers while a slow policy (the planner: milliseconds per
  // decision) decides. Heuristics and learned policies decide on the loop (microseconds).
  bool decide_off_loop = false;
};

class Router {
 public:
  // `env` names the experts; every one must have a backend. The policy decides on the
  // observation the env builds (a trained policy's optional features must be set in `env`).
  Router(net::io_context& io, const EnvConfig& env, std::shared_ptr<const Workload> workload,
         std::unique_ptr<RoutingPolicy> policy, std::unique_ptr<ServePredictor> predictor,
         const std::vector<BackendSpec>& backends, const RouterOptions& options);
  ~Router();
  void Handle(std::shared_ptr<Exchange> exchange);
  // Health checks (and scrapes) start / stop.
  void Start();
  void Stop();
  long in_flight() const { return static_cast<long>(calls_.size()); }
  const std::string& policy_name() const { return policy_name_; }

 private:
  struct Backend;
  struct Call;

  // A request read and waiting for its decision.
  struct Pending {
    std::shared_ptr<Exchange> exchange;
    CompletionRequest request;
    int prompt_tokens = 0;
    double received = 0.0;
    ArrivedRequestView view;
    bool healthy = false;  // some backend was healthy when it was observed
    int action = -1;       // -1: no backend healthy
  };

  void HandleCompletion(std::shared_ptr<Exchange> exchange, bool chat, double received);
  void DecideBatch();
  // decide_off_loop: starts the next queued decision unless one is running.
  void DecideNextOffLoop();
  void SetDeadline(const Pending& p);
  // Builds the live observation of p's decision in live_env_; false when no backend is healthy.
  bool Observe(Pending* p, std::vector<uint8_t>* available);
  int Fallback(int action, const std::vector<uint8_t>& available) const;
  void Dispatch(Pending p);
  void Forward(std::shared_ptr<Exchange> exchange, CompletionRequest request, int expert,
               const ArrivedRequestView& view, double received);
  HttpCallHandlers CallHandlers(long id, const std::string& name);
  void FinishCall(long id, const std::string& name, beast::error_code ec, std::string body);
  void EndCall(long id, const std::string& outcome);
  void RecordAddedLatency(long id, const Call& call);
  void RecordDecisionTime(double seconds);
  // One observation into a histogram with the AddedLatencyBuckets() bounds.
  void CountInBuckets(double seconds, std::vector<uint64_t>* counts, double* sum) const;
  void HealthCheck(size_t backend);
  void MarkDown(size_t backend, const std::string& why);
  void HandleHealth(std::shared_ptr<Exchange> exchange);
  void HandleModels(std::shared_ptr<Exchange> exchange);
  void HandleMetrics(std::shared_ptr<Exchange> exchange);
  void Count(const std::string& expert, const std::string& outcome);
  double Now() const;

  net::io_context& io_;
  ClusterEnv live_env_;
  LiveState live_;  // the accounting of calls_ and of the backends' scrapes
  std::unique_ptr<RoutingPolicy> policy_;
  std::string policy_name_;
  std::unique_ptr<ServePredictor> predictor_;
  RouterOptions options_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::map<long, std::unique_ptr<Call>> calls_;  // in flight, by id (= arrival order)
  long next_id_ = 0;
  bool running_ = false;
  std::chrono::steady_clock::time_point origin_;
  // Metrics.
  std::map<std::pair<std::string, std::string>, long> requests_;  // (expert, outcome)
  long decisions_ = 0;
  long batches_ = 0;
  std::vector<Pending> pending_;
  std::deque<Pending> to_decide_;  // decide_off_loop: waiting for the decider
  bool deciding_ = false;
  std::unique_ptr<net::thread_pool> decider_;  // decide_off_loop: one thread
  std::vector<double> added_bounds_;
  std::vector<uint64_t> added_counts_;
  double added_sum_ = 0.0;
  // The policy's own time per decision round (same buckets): a planner's budget shows here.
  std::vector<uint64_t> decide_counts_;
  double decide_sum_ = 0.0;
};

// The router's added-latency histogram buckets (seconds).
std::vector<double> AddedLatencyBuckets();

}  // namespace qosroute
