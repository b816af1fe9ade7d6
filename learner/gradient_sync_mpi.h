#pragma once
// The MPI gradient-sync backend, and the MPI bootstrap of the NCCL one (gradient_sync.h).
#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "learner/gradient_sync.h"

namespace qosroute {

// `comm` holds exactly the learners (the caller keeps it alive and frees it).
class MpiGradientSync final : public GradientSync {
 public:
  explicit MpiGradientSync(MPI_Comm comm);
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  void AllReduceMean(const std::vector<torch::Tensor>& tensors, const SyncWait& wait) override;
  void Broadcast(const std::vector<torch::Tensor>& tensors, int root,
                 const SyncWait& wait) override;

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

// The NCCL backend over the learners in `comm` (as nccl-tests bootstraps): the local GPU is
// the rank's index among the ranks on its host (all-gather of host-name hashes), rank 0's
// ncclUniqueId is broadcast over MPI. `*device_index` receives the CUDA device used.
std::unique_ptr<GradientSync> MakeNcclGradientSyncOverMpi(MPI_Comm comm, int* device_index);

// Waits on an MPI request with the serve hook and idle deadline.
void WaitForRequest(MPI_Request* request, const SyncWait& wait, const std::string& what);

}  // namespace qosroute
