#include "learner/gradient_sync_mpi.h"

#include <torch/torch.h>
#include <unistd.h>

#include "comm/mpi_check.h"
#include "comm/transport.h"

namespace qosroute {

void WaitForRequest(MPI_Request* request, const SyncWait& wait, const std::string& what) {
  WaitUntil(
      [&] {
        // A non-blocking collective advances only inside MPI calls, one step of its algorithm
        // per call: test in a short burst so that a multi-step all-reduce does not pay
        // WaitUntil's idle back-off (tens of microseconds) for every step.
        for (int i = 0; i < 64; ++i) {
          int done = 0;
          QR_MPI_CHECK(MPI_Test(request, &done, MPI_STATUS_IGNORE));
          if (done) return WaitStatus::kDone;
        }
        return wait.serve && wait.serve() ? WaitStatus::kBusy : WaitStatus::kIdle;
      },
      wait.idle_timeout_s, what);
}

MpiGradientSync::MpiGradientSync(MPI_Comm comm) : comm_(comm) {
  QR_MPI_CHECK(MPI_Comm_rank(comm, &rank_));
  QR_MPI_CHECK(MPI_Comm_size(comm, &size_));
}

void MpiGradientSync::AllReduceMean(const std::vector<torch::Tensor>& tensors,
                                    const SyncWait& wait) {
  if (size_ == 1 || tensors.empty()) return;
  torch::Tensor flat = FlattenTensors(tensors).to(torch::kCPU).contiguous();
  MPI_Request request;
  QR_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, flat.data_ptr<float>(), static_cast<int>(flat.numel()),
                              MPI_FLOAT, MPI_SUM, comm_, &request));
  WaitForRequest(&request, wait, "the gradient all-reduce of the other learners");
  flat.div_(static_cast<float>(size_));
  UnflattenInto(flat.to(tensors.front().device()), tensors);
}

void MpiGradientSync::Broadcast(const std::vector<torch::Tensor>& tensors, int root,
                                const SyncWait& wait) {
  if (size_ == 1 || tensors.empty()) return;
  torch::Tensor flat = FlattenTensors(tensors).to(torch::kCPU).contiguous();
  MPI_Request request;
  QR_MPI_CHECK(MPI_Ibcast(flat.data_ptr<float>(), static_cast<int>(flat.numel()), MPI_FLOAT, root,
                          comm_, &request));
  WaitForRequest(&request, wait, "the parameter broadcast from learner " + std::to_string(root));
  UnflattenInto(flat.to(tensors.front().device()), tensors);
}

std::unique_ptr<GradientSync> MakeNcclGradientSyncOverMpi(MPI_Comm comm, int* device_index) {
  int rank = 0, size = 1;
  QR_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  QR_MPI_CHECK(MPI_Comm_size(comm, &size));
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  uint64_t hash = 5381;
  for (const char* c = host; *c; ++c) hash = hash * 33 + static_cast<uint8_t>(*c);
  std::vector<uint64_t> hashes(size);
  QR_MPI_CHECK(MPI_Allgather(&hash, 1, MPI_UINT64_T, hashes.data(), 1, MPI_UINT64_T, comm));
  int local_rank = 0;
  for (int r = 0; r < rank; ++r) local_rank += hashes[r] == hash;
  NcclId id{};
  if (rank == 0) id = NewNcclUniqueId();
  QR_MPI_CHECK(MPI_Bcast(id.data(), static_cast<int>(id.size()), MPI_BYTE, 0, comm));
  *device_index = local_rank;  // the backend wraps it modulo the device count
  auto sync = MakeNcclGradientSync(rank, size, id, local_rank);
  return sync;
}

}  // namespace qosroute
