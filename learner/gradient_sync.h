#pragma once
// Gradient averaging across data-parallel learners, behind one interface with two backends:
//  - MPI  (CPU tensors): the gradients are flattened into one float buffer, summed with one
//    MPI_Iallreduce over the learners' communicator, divided by the learner count, copied back.
//  - NCCL (CUDA tensors): the same on the GPU with ncclAllReduce; the communicator is
//    bootstrapped by broadcasting an ncclUniqueId over MPI (as nccl-tests does). Compiled only
//    where CUDA and NCCL are found (QOSROUTE_HAVE_NCCL), usable only with a CUDA LibTorch.
// Plus the one-learner case, which does nothing. The MPI pieces are in gradient_sync_mpi.h, so
// that this interface and the NCCL backend build without MPI.
//
// Waits are non-blocking collectives polled in a loop that calls the caller's `serve` hook
// (a learner keeps serving its replay shard and its messages meanwhile) and ends with
// DeadlineExceeded when nothing happens for `idle_timeout_s`.
#include <torch/types.h>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qosroute {

struct SyncWait {
  std::function<bool()> serve;  // returns true if it handled something; may be empty
  double idle_timeout_s = 600.0;
};

class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;
  // Every tensor becomes the mean of that tensor over the learners (identical on all).
  virtual void AllReduceMean(const std::vector<torch::Tensor>& tensors, const SyncWait& wait) = 0;
  // Every tensor becomes root's value.
  virtual void Broadcast(const std::vector<torch::Tensor>& tensors, int root,
                         const SyncWait& wait) = 0;
};

// One learner: nothing to average.
class LocalGradientSync final : public GradientSync {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "local"; }
  void AllReduceMean(const std::vector<torch::Tensor>&, const SyncWait&) override {}
  void Broadcast(const std::vector<torch::Tensor>&, int, const SyncWait&) override {}
};

// Whether this build has the NCCL backend and this machine a CUDA device torch can use.
bool NcclBackendCompiled();
bool CudaDeviceUsable();

// The NCCL backend for learner `rank` of `size`, all given the same unique id (from
// NewNcclUniqueId on one of them), on CUDA device `device`. No MPI here: the MPI bootstrap is
// MakeNcclGradientSyncOverMpi (gradient_sync_mpi.h), and tools/gpu_check.sh builds this part
// alone. Throws std::runtime_error when the build has no NCCL or the GPU is unusable.
using NcclId = std::array<char, 128>;
NcclId NewNcclUniqueId();
std::unique_ptr<GradientSync> MakeNcclGradientSync(int rank, int size, const NcclId& id,
                                                   int device);

// Flattens tensors (any device) into one contiguous float32 CPU or same-device buffer, and
// copies a buffer back into them.
torch::Tensor FlattenTensors(const std::vector<torch::Tensor>& tensors);
void UnflattenInto(const torch::Tensor& flat, const std::vector<torch::Tensor>& tensors);

}  // namespace qosroute
