#pragma once
// Checking macro for MPI calls (as nccl-tests does for CUDA/NCCL/MPI): a failing call reports
// host, rank, file, line and MPI's own error string, then ends the whole job. A failed MPI call
// is not something a rank can recover from, and returning would leave the other ranks waiting.
#include <mpi.h>

namespace qosroute {

[[noreturn]] void FailMpiCall(int code, const char* call, const char* file, int line);

}  // namespace qosroute

#define QR_MPI_CHECK(call)                                              \
  do {                                                                  \
    const int qr_mpi_code_ = (call);                                    \
    if (qr_mpi_code_ != MPI_SUCCESS) {                                  \
      ::qosroute::FailMpiCall(qr_mpi_code_, #call, __FILE__, __LINE__); \
    }                                                                   \
  } while (0)
