// main() of the GoogleTest binaries that run under mpiexec: MPI lives for the whole test
// program (MpiScope), and only rank 0 prints gtest's report.
#include <gtest/gtest.h>

#include "comm/mpi_scope.h"

int main(int argc, char** argv) {
  qosroute::MpiScope mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  if (mpi.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  return RUN_ALL_TESTS();
}
