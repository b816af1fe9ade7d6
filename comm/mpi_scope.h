#pragma once
// MPI lifetime as an RAII scope (as gloo's MPI context): MPI_Init in the constructor,
// MPI_Finalize in the destructor, so every return path and exception finalises exactly once.
//
// MPI is started only for a job that a launcher (mpirun, srun) started with more than one
// rank: LaunchedWorldSize() reads the launcher's environment, so `qosroute train` without
// mpirun never touches MPI (no singleton start-up, no MPI needed on a laptop).
#include <string>

#include "common/launcher_env.h"

namespace qosroute {

class MpiScope {
 public:
  MpiScope(int* argc, char*** argv);
  ~MpiScope();
  MpiScope(const MpiScope&) = delete;
  MpiScope& operator=(const MpiScope&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Host name of this rank, for messages.
  const std::string& host() const { return host_; }

 private:
  bool owns_ = false;  // false when MPI was already initialised by someone else
  int rank_ = 0;
  int size_ = 1;
  std::string host_;
};

}  // namespace qosroute
