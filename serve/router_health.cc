// Router's health checks: each backend's /metrics scraped on a period (its load for the live
// state, and whether it is up), and a backend marked down ending its calls in flight.
#include <spdlog/spdlog.h>

#include "serve/router_internal.h"

namespace qosroute {

void Router::Start() {
  running_ = true;
  for (size_t b = 0; b < backends_.size(); ++b) HealthCheck(b);
}

void Router::Stop() {
  running_ = false;
  for (auto& b : backends_) {
    b->timer->cancel();
    if (b->scrape) b->scrape->Cancel();
  }
}

void Router::HealthCheck(size_t index) {
  if (!running_) return;
  Backend& b = *backends_[index];
  HttpRequest req{http::verb::get, b.pool->url().prefix + "/metrics", 11};
  if (!b.spec.api_key.empty()) req.set(http::field::authorization, "Bearer " + b.spec.api_key);
  HttpCallHandlers h;
  auto status = std::make_shared<unsigned>(0);
  h.on_header = [status](const http::response_header<>& header, bool) {
    *status = header.result_int();
  };
  h.on_done = [this, index, status](beast::error_code ec, std::string body) {
    Backend& b = *backends_[index];
    b.scrape.reset();
    if (!running_) return;
    if (ec || *status >= 500) {
      MarkDown(index, ec ? ec.message() : "status " + std::to_string(*status));
    } else {
      if (!live_.healthy(index)) spdlog::info("backend {} is healthy again", b.spec.name);
      live_.MarkUp(index);
      live_.Scraped(index, *status == 200 ? ReadVllmLoad(ParsePrometheusText(body)) : VllmLoad());
    }
    b.timer->expires_after(options_.health_interval);
    b.timer->async_wait([this, index](beast::error_code e) {
      if (!e) HealthCheck(index);
    });
  };
  HttpCallOptions o;
  o.connect_timeout = options_.health_timeout;
  o.read_timeout = options_.health_timeout;
  b.scrape = HttpCall::Start(*b.pool, std::move(req), std::move(h), o);
}

void Router::MarkDown(size_t index, const std::string& why) {
  Backend& b = *backends_[index];
  if (!live_.MarkDown(index)) return;  // its load is forgotten either way
  spdlog::warn("backend {} is down ({}): no new requests until it answers again", b.spec.name, why);
  b.pool->Clear();
  // Its requests in flight will not be answered: end them now with 502 instead of waiting for
  // their read deadline.
  std::vector<std::shared_ptr<HttpCall>> doomed;
  for (const auto& [id, call] : calls_) {
    if (call->expert != index || !call->http) continue;
    call->cancelled_because = "it went down (" + why + ")";
    doomed.push_back(call->http);
  }
  for (const auto& http_call : doomed) http_call->Cancel();
}

}  // namespace qosroute
