#include "comm/mpi_scope.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "comm/mpi_check.h"

namespace qosroute {

void FailMpiCall(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  MPI_Error_string(code, text, &length);
  char host[MPI_MAX_PROCESSOR_NAME] = {0};
  int host_length = 0;
  MPI_Get_processor_name(host, &host_length);
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "qosroute rank %d on %s: fatal: %s failed at %s:%d: %s\n", rank, host, call,
               file, line, text);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

MpiScope::MpiScope(int* argc, char*** argv) {
  int initialized = 0;
  QR_MPI_CHECK(MPI_Initialized(&initialized));
  if (!initialized) {
    // One thread calls MPI in every rank (the in-process transport is for tests only).
    int provided = 0;
    QR_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    owns_ = true;
  }
  // Errors come back as codes so that QR_MPI_CHECK can name the call before aborting.
  QR_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  QR_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  QR_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  char host[MPI_MAX_PROCESSOR_NAME] = {0};
  int length = 0;
  QR_MPI_CHECK(MPI_Get_processor_name(host, &length));
  host_.assign(host, length);
}

MpiScope::~MpiScope() {
  if (!owns_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace qosroute
