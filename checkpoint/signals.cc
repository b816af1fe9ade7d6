#include "checkpoint/signals.h"

#include <csignal>

#include "common/error.h"

namespace qosroute {
namespace {

// Lock-free atomics are async-signal-safe ([support.signal]); a mutex or a logger is not.
std::atomic<bool> g_stop_requested{false};
std::atomic<int> g_signal_number{0};
static_assert(std::atomic<bool>::is_always_lock_free, "the stop flag must be lock-free");
static_assert(std::atomic<int>::is_always_lock_free, "the signal number must be lock-free");

struct sigaction g_previous_term, g_previous_int, g_previous_usr1;
bool g_installed = false;

void OnStopSignal(int signal_number) {
  g_signal_number.store(signal_number);
  g_stop_requested.store(true);
}

}  // namespace

StopSignals::StopSignals() {
  QR_CHECK_MSG(!g_installed, "StopSignals is installed twice");
  g_stop_requested.store(false);
  g_signal_number.store(0);
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGTERM, &action, &g_previous_term);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGUSR1, &action, &g_previous_usr1);
  g_installed = true;
}

StopSignals::~StopSignals() {
  sigaction(SIGTERM, &g_previous_term, nullptr);
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGUSR1, &g_previous_usr1, nullptr);
  g_installed = false;
}

const std::atomic<bool>& StopSignals::flag() {
  return g_stop_requested;
}

int StopSignals::signal_number() {
  return g_signal_number.load();
}

}  // namespace qosroute
