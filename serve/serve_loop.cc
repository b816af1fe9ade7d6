// SIGTERM drain for the serve/ processes (see serve_loop.h).
#include "serve/serve_loop.h"

#include <spdlog/spdlog.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>

namespace qosroute {

long RunUntilSignal(net::io_context& io, HttpServer& server, std::chrono::milliseconds drain,
                    const std::function<void()>& on_signal) {
  net::signal_set signals(io, SIGINT, SIGTERM);
  net::steady_timer poll(io);
  std::chrono::steady_clock::time_point deadline;
  long left = 0;
  std::function<void()> check = [&] {
    left = server.active_exchanges();
    if (left == 0 || std::chrono::steady_clock::now() >= deadline) {
      if (left > 0) spdlog::warn("drain deadline reached with {} requests unanswered", left);
      io.stop();
      return;
    }
    poll.expires_after(std::chrono::milliseconds(20));
    poll.async_wait([&](beast::error_code ec) {
      if (!ec) check();
    });
  };
  signals.async_wait([&](beast::error_code ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: draining {} requests in flight (deadline {} ms)", signal,
                 server.active_exchanges(), drain.count());
    server.StopAccepting();
    if (on_signal) on_signal();
    deadline = std::chrono::steady_clock::now() + drain;
    check();
  });
  io.run();
  return left;
}

}  // namespace qosroute
