#include "comm/transport.h"

#include <string>
#include <thread>

namespace qosroute {

void WaitUntil(const std::function<WaitStatus()>& step, double idle_timeout_s,
               const std::string& what) {
  const auto timeout = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(idle_timeout_s));
  auto deadline = SteadyClock::now() + timeout;
  int idle_rounds = 0;
  for (;;) {
    const WaitStatus status = step();
    if (status == WaitStatus::kDone) return;
    if (status == WaitStatus::kBusy) {
      idle_rounds = 0;
      deadline = SteadyClock::now() + timeout;
      continue;
    }
    if (SteadyClock::now() > deadline) {
      throw DeadlineExceeded("timed out after " +
                             std::to_string(static_cast<long>(idle_timeout_s)) +
                             " s without a message while waiting for " + what);
    }
    // Spin briefly (latency matters for sample replies), then yield, then sleep.
    if (++idle_rounds > 64) {
      std::this_thread::sleep_for(std::chrono::microseconds(idle_rounds > 1024 ? 200 : 20));
    } else {
      std::this_thread::yield();
    }
  }
}

void PumpUntil(const std::function<bool()>& pump, const std::function<bool()>& done,
               double idle_timeout_s, const std::string& what) {
  WaitUntil(
      [&] {
        const bool busy = pump();
        return done() ? WaitStatus::kDone : busy ? WaitStatus::kBusy : WaitStatus::kIdle;
      },
      idle_timeout_s, what);
}

}  // namespace qosroute
