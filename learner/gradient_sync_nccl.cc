// The NCCL gradient-sync backend; compiled only when CMake found CUDA and NCCL
// (QOSROUTE_HAVE_NCCL). Tensors must be CUDA tensors, which needs a CUDA LibTorch. No MPI in
// this file: tools/gpu_check.sh builds it alone against PyTorch's CUDA LibTorch.
#include <cuda_runtime.h>
#include <nccl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "comm/transport.h"
#include "learner/gradient_sync.h"

namespace qosroute {

namespace {

std::string HostName() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

// Every CUDA / NCCL call goes through these: host, call, file and line in the message.
[[noreturn]] void ThrowGpuError(const char* call, const char* file, int line, const char* what) {
  throw std::runtime_error(HostName() + ": " + call + " failed at " + file + ":" +
                           std::to_string(line) + ": " + what);
}
#define QR_GPU_CHECK(call, Result, ok, describe)                                          \
  do {                                                                                    \
    const Result qr_result_ = (call);                                                     \
    if (qr_result_ != ok) ThrowGpuError(#call, __FILE__, __LINE__, describe(qr_result_)); \
  } while (0)
#define QR_CUDA_CHECK(call) QR_GPU_CHECK(call, cudaError_t, cudaSuccess, cudaGetErrorString)
#define QR_NCCL_CHECK(call) QR_GPU_CHECK(call, ncclResult_t, ncclSuccess, ncclGetErrorString)

class NcclGradientSync final : public GradientSync {
 public:
  NcclGradientSync(int rank, int size, const NcclId& unique_id, int device)
      : rank_(rank), size_(size) {
    int devices = 0;
    QR_CUDA_CHECK(cudaGetDeviceCount(&devices));
    if (devices < 1) throw std::runtime_error(HostName() + ": no CUDA device for the NCCL backend");
    device_ = device % devices;
    QR_CUDA_CHECK(cudaSetDevice(device_));
    ncclUniqueId id;
    static_assert(sizeof(id) == std::tuple_size<NcclId>::value, "ncclUniqueId is 128 bytes");
    std::memcpy(&id, unique_id.data(), sizeof(id));
    QR_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
    QR_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~NcclGradientSync() override {
    if (stream_) cudaStreamDestroy(stream_);
    if (comm_) ncclCommDestroy(comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "nccl"; }

  void AllReduceMean(const std::vector<torch::Tensor>& tensors, const SyncWait& wait) override {
    if (tensors.empty()) return;
    torch::Tensor flat = Stage(tensors);
    QR_NCCL_CHECK(ncclAllReduce(flat.data_ptr<float>(), flat.data_ptr<float>(), flat.numel(),
                                ncclFloat, ncclSum, comm_, stream_));
    Wait(wait, "the NCCL gradient all-reduce of the other learners");
    flat.div_(static_cast<float>(size_));
    UnflattenInto(flat, tensors);
  }

  void Broadcast(const std::vector<torch::Tensor>& tensors, int root,
                 const SyncWait& wait) override {
    if (tensors.empty()) return;
    torch::Tensor flat = Stage(tensors);
    QR_NCCL_CHECK(ncclBroadcast(flat.data_ptr<float>(), flat.data_ptr<float>(), flat.numel(),
                                ncclFloat, root, comm_, stream_));
    Wait(wait, "the NCCL parameter broadcast");
    UnflattenInto(flat, tensors);
  }

 private:
  torch::Tensor Stage(const std::vector<torch::Tensor>& tensors) {
    for (const auto& t : tensors) {
      if (!t.is_cuda())
        throw std::runtime_error("the NCCL backend needs CUDA tensors (train.device = cuda)");
    }
    torch::Tensor flat = FlattenTensors(tensors);
    // torch's kernels run on its own stream; the collective runs on ours once they are done.
    QR_CUDA_CHECK(cudaDeviceSynchronize());
    return flat;
  }

  void Wait(const SyncWait& wait, const std::string& what) {
    WaitUntil(
        [&] {
          const cudaError_t state = cudaStreamQuery(stream_);
          if (state == cudaSuccess) return WaitStatus::kDone;
          if (state != cudaErrorNotReady) QR_CUDA_CHECK(state);
          ncclResult_t async_error = ncclSuccess;
          QR_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async_error));
          QR_NCCL_CHECK(async_error);
          return wait.serve && wait.serve() ? WaitStatus::kBusy : WaitStatus::kIdle;
        },
        wait.idle_timeout_s, what);
  }

  int rank_ = 0, size_ = 1, device_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

bool NcclBackendCompiled() {
  return true;
}

bool CudaDeviceUsable() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices < 1) return false;
  return torch::cuda::is_available();
}

NcclId NewNcclUniqueId() {
  ncclUniqueId id;
  QR_NCCL_CHECK(ncclGetUniqueId(&id));
  NcclId out;
  std::memcpy(out.data(), &id, sizeof(id));
  return out;
}

std::unique_ptr<GradientSync> MakeNcclGradientSync(int rank, int size, const NcclId& id,
                                                   int device) {
  return std::make_unique<NcclGradientSync>(rank, size, id, device);
}

}  // namespace qosroute
