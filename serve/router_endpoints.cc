// Router's own endpoints: /health (each backend up or down), /v1/models (the experts) and
// /metrics (its counters and each backend's last scrape, in the Prometheus text format).
#include "serve/router_internal.h"

namespace qosroute {

std::vector<double> AddedLatencyBuckets() {
  return {25e-6, 50e-6, 75e-6, 100e-6, 150e-6, 200e-6, 300e-6, 400e-6, 500e-6, 750e-6, 1e-3, 1.5e-3,
          2e-3,  3e-3,  4e-3,  5e-3,   7.5e-3, 10e-3,  25e-3,  50e-3,  0.1,    0.25,   1.0};
}

void Router::HandleHealth(std::shared_ptr<Exchange> ex) {
  nlohmann::json backends = nlohmann::json::object();
  bool any = false;
  for (size_t e = 0; e < backends_.size(); ++e) {
    backends[backends_[e]->spec.name] = live_.healthy(e) ? "up" : "down";
    any = any || live_.healthy(e);
  }
  HttpResponse res{any ? http::status::ok : http::status::service_unavailable,
                   ex->request().version()};
  res.set(http::field::content_type, "application/json");
  res.body() = nlohmann::json{
      {"status", any ? "ok" : "no healthy backend"},
      {"policy", policy_name_},
      {"backends",
       backends}}.dump();
  ex->Send(std::move(res));
}

void Router::HandleModels(std::shared_ptr<Exchange> ex) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& b : backends_)
    data.push_back({{"id", b->spec.name}, {"object", "model"}, {"owned_by", "qosroute"}});
  HttpResponse res{http::status::ok, ex->request().version()};
  res.set(http::field::content_type, "application/json");
  res.body() = nlohmann::json{{"object", "list"}, {"data", data}}.dump();
  ex->Send(std::move(res));
}

void Router::HandleMetrics(std::shared_ptr<Exchange> ex) {
  PrometheusWriter w;
  for (const auto& [key, value] : requests_)
    w.Counter("qosroute_requests_total", "Requests answered, by expert and outcome.",
              {{"expert", key.first}, {"outcome", key.second}}, static_cast<double>(value));
  w.Counter("qosroute_decisions_total", "Routing decisions taken (rate() gives decisions/s).",
            {{"policy", policy_name_}}, static_cast<double>(decisions_));
  w.Counter("qosroute_decision_batches_total",
            "Decision rounds (requests that arrived together are decided in one).",
            {{"policy", policy_name_}}, static_cast<double>(batches_));
  const double uptime = Now();
  w.Gauge("qosroute_decisions_per_second", "Routing decisions per second since start.",
          {{"policy", policy_name_}}, uptime > 0 ? decisions_ / uptime : 0.0);
  const std::vector<long> in_flight = live_.InFlight();
  for (size_t e = 0; e < backends_.size(); ++e) {
    const VllmLoad& load = live_.load(e);
    const std::vector<std::pair<std::string, std::string>> label = {
        {"expert", backends_[e]->spec.name}};
    w.Gauge("qosroute_in_flight", "Requests the router has sent and not yet answered.", label,
            static_cast<double>(in_flight[e]));
    w.Gauge("qosroute_backend_up", "1 when the backend's last health check succeeded.", label,
            live_.healthy(e) ? 1.0 : 0.0);
    if (load.running)
      w.Gauge("qosroute_backend_running", "The backend's vllm:num_requests_running.", label,
              *load.running);
    if (load.waiting)
      w.Gauge("qosroute_backend_waiting", "The backend's vllm:num_requests_waiting.", label,
              *load.waiting);
    if (load.kv_usage)
      w.Gauge("qosroute_backend_kv_usage", "The backend's KV-cache usage (0 to 1).", label,
              *load.kv_usage);
  }
  w.Histogram("qosroute_added_latency_seconds",
              "Router time per request: parse, decide, hand over to the backend.", {},
              added_bounds_, added_counts_, added_sum_);
  w.Histogram("qosroute_decision_seconds",
              "The policy's time per decision round (one request, or one batched forward pass).",
              {{"policy", policy_name_}}, added_bounds_, decide_counts_, decide_sum_);
  w.Counter("qosroute_decision_budget_fallbacks_total",
            "Decisions where the policy ran out of its time budget (--decision-budget-ms) and "
            "took its base policy's action.",
            {{"policy", policy_name_}}, static_cast<double>(policy_->budget_fallbacks()));
  HttpResponse res{http::status::ok, ex->request().version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = w.text();
  ex->Send(std::move(res));
}

}  // namespace qosroute
