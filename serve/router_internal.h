#pragma once
// Router's per-backend and per-call records, shared by its files (router.cc, router_health.cc,
// router_endpoints.cc). What the live state is built from is in LiveState, not here.
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

#include "serve/router.h"

namespace qosroute {

struct Router::Backend {
  BackendSpec spec;
  std::unique_ptr<ConnectionPool> pool;
  std::unique_ptr<net::steady_timer> timer;
  std::shared_ptr<HttpCall> scrape;
};

struct Router::Call {
  size_t expert = 0;
  std::shared_ptr<Exchange> exchange;
  std::shared_ptr<HttpCall> http;
  bool streamed = false;  // the client has the header already
  double received = 0.0;
  unsigned status = 0;
  std::string content_type;
  std::string cancelled_because;  // set when the router ends the call itself
};

}  // namespace qosroute
