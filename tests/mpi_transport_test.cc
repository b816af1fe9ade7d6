// The MPI transport between real processes (run under mpiexec with 2 or more ranks).
#include <gtest/gtest.h>
#include <mpi.h>

#include <numeric>

#include "comm/transport_mpi.h"

namespace qosroute {
namespace {

int AllMin(int value) {
  int out = 0;
  MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return out;
}

// Every rank sends to every other rank messages of growing size (up to 8 MiB, well past the
// eager limit); each receiver sees every sender's messages complete and in order.
TEST(MpiTransport, DeliversLargeMessagesInOrderFromEverySender) {
  MpiTransport transport;
  const int n = transport.size();
  ASSERT_GE(n, 2);
  const std::vector<size_t> sizes = {1, 1000, 100000, 8u << 20};
  for (int d = 0; d < n; ++d) {
    if (d == transport.rank()) continue;
    for (size_t i = 0; i < sizes.size(); ++i) {
      std::vector<uint8_t> bytes(sizes[i], static_cast<uint8_t>(transport.rank() * 16 + i));
      transport.Send(d, std::move(bytes));
    }
  }
  std::vector<size_t> next(n, 0);
  int received = 0;
  const int expected = (n - 1) * static_cast<int>(sizes.size());
  WaitUntil(
      [&] {
        Message m;
        if (!transport.Poll(&m))
          return received == expected ? WaitStatus::kDone : WaitStatus::kIdle;
        const size_t i = next[m.source]++;
        EXPECT_EQ(m.bytes.size(), sizes[i]);
        EXPECT_EQ(m.bytes.front(), static_cast<uint8_t>(m.source * 16 + i));
        EXPECT_EQ(m.bytes.back(), static_cast<uint8_t>(m.source * 16 + i));
        ++received;
        return received == expected ? WaitStatus::kDone : WaitStatus::kBusy;
      },
      60.0, "messages from every rank");
  WaitUntil([&] { return transport.PendingSends() == 0 ? WaitStatus::kDone : WaitStatus::kIdle; },
            60.0, "sends to complete");
  EXPECT_EQ(AllMin(received == expected ? 1 : 0), 1);
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(MpiTransport, AWaitWithoutMessagesEndsAtItsDeadline) {
  MpiTransport transport;
  const auto start = SteadyClock::now();
  EXPECT_THROW(WaitUntil(
                   [&] {
                     Message m;
                     return transport.Poll(&m) ? WaitStatus::kBusy : WaitStatus::kIdle;
                   },
                   0.3, "a message nobody sends"),
               DeadlineExceeded);
  EXPECT_LT(std::chrono::duration<double>(SteadyClock::now() - start).count(), 10.0);
  MPI_Barrier(MPI_COMM_WORLD);
}

}  // namespace
}  // namespace qosroute
