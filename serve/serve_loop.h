#pragma once
// How the serve/ processes run and stop: the io_context on this thread until SIGINT or
// SIGTERM, then a drain: stop accepting, let the exchanges in progress finish up to a
// deadline, and return (the command then exits 0).
#include <chrono>
#include <functional>

#include "serve/http_server.h"

namespace qosroute {

// Returns the number of exchanges still unanswered when the deadline cut the drain short.
long RunUntilSignal(net::io_context& io, HttpServer& server, std::chrono::milliseconds drain,
                    const std::function<void()>& on_signal = {});

}  // namespace qosroute
