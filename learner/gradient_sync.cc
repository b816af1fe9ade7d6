#include "learner/gradient_sync.h"

#include <torch/torch.h>

#include "common/error.h"

namespace qosroute {

torch::Tensor FlattenTensors(const std::vector<torch::Tensor>& tensors) {
  QR_CHECK(!tensors.empty());
  std::vector<torch::Tensor> flat;
  flat.reserve(tensors.size());
  for (const auto& t : tensors) flat.push_back(t.detach().reshape({-1}).to(torch::kFloat32));
  return torch::cat(flat).contiguous();
}

void UnflattenInto(const torch::Tensor& flat, const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.copy_(flat.narrow(0, offset, n).view(t.sizes()));
    offset += n;
  }
  QR_CHECK(offset == flat.numel());
}

#ifndef QOSROUTE_HAVE_NCCL
bool NcclBackendCompiled() {
  return false;
}
bool CudaDeviceUsable() {
  return false;
}
NcclId NewNcclUniqueId() {
  throw std::runtime_error("this build has no NCCL backend (CUDA and NCCL were not found)");
}
std::unique_ptr<GradientSync> MakeNcclGradientSync(int, int, const NcclId&, int) {
  throw std::runtime_error(
      "this build has no NCCL backend (CUDA and NCCL were not found at configure time)");
}
#endif

}  // namespace qosroute
