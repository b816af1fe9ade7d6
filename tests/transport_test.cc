#include <gtest/gtest.h>

#include <thread>

#include "comm/transport_inproc.h"

namespace qosroute {
namespace {

TEST(InProcessTransport, DeliversInOrderPerSource) {
  InProcessHub hub(3);
  InProcessTransport a(&hub, 0), b(&hub, 1), c(&hub, 2);
  for (uint8_t i = 0; i < 10; ++i) {
    a.Send(2, {i});
    b.Send(2, {static_cast<uint8_t>(100 + i)});
  }
  uint8_t next_a = 0, next_b = 100;
  Message m;
  int received = 0;
  while (c.Poll(&m)) {
    ++received;
    if (m.source == 0) {
      EXPECT_EQ(m.bytes[0], next_a++);
    } else {
      EXPECT_EQ(m.bytes[0], next_b++);
    }
  }
  EXPECT_EQ(received, 20);
}

TEST(InProcessTransport, AbortOnOneRankUnwindsTheOthers) {
  InProcessHub hub(2);
  std::string seen;
  std::thread waiter([&] {
    InProcessTransport t(&hub, 1);
    try {
      WaitUntil(
          [&] {
            Message m;
            return t.Poll(&m) ? WaitStatus::kDone : WaitStatus::kIdle;
          },
          30.0, "a message that never comes");
    } catch (const JobAborted& e) {
      seen = e.what();
    }
  });
  InProcessTransport t0(&hub, 0);
  t0.set_role("learner 0");
  EXPECT_THROW(t0.Abort("boom"), JobAborted);
  waiter.join();
  EXPECT_EQ(seen, "qosroute rank 0 (learner 0): fatal: boom");
}

TEST(WaitUntil, ThrowsAfterTheIdleDeadline) {
  const auto start = SteadyClock::now();
  EXPECT_THROW(WaitUntil([] { return WaitStatus::kIdle; }, 0.2, "nothing"), DeadlineExceeded);
  const double waited = std::chrono::duration<double>(SteadyClock::now() - start).count();
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 5.0);
}

TEST(WaitUntil, BusyStepsRestartTheDeadline) {
  int steps = 0;
  const auto start = SteadyClock::now();
  WaitUntil(
      [&] {
        ++steps;
        if (std::chrono::duration<double>(SteadyClock::now() - start).count() > 0.5)
          return WaitStatus::kDone;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return WaitStatus::kBusy;
      },
      0.2, "a busy wait longer than its idle deadline");
  EXPECT_GT(steps, 10);
}

}  // namespace
}  // namespace qosroute
