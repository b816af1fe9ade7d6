#include "learner/distributed_weights.h"

#include <torch/torch.h>

#include <cstring>

#include "comm/protocol.h"
#include "common/bytes.h"
#include "common/error.h"

namespace qosroute {

std::vector<uint8_t> EncodeWeights(int64_t version, const SacAgent& agent) {
  ByteWriter w;
  w.Put<uint8_t>(static_cast<uint8_t>(MessageKind::kWeights));
  w.Put<int64_t>(version);
  const auto parameters = agent.NamedParameters();
  w.Put<uint32_t>(static_cast<uint32_t>(parameters.size()));
  for (const auto& [name, tensor] : parameters) {
    const torch::Tensor cpu = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    w.PutString(name);
    w.Put<int32_t>(static_cast<int32_t>(cpu.dim()));
    for (int64_t d : cpu.sizes()) w.Put<int64_t>(d);
    const float* p = cpu.data_ptr<float>();
    w.PutVector(std::vector<float>(p, p + cpu.numel()));
  }
  return w.Take();
}

int64_t WeightsVersion(const std::vector<uint8_t>& message) {
  QR_CHECK(KindOf(message) == MessageKind::kWeights);
  ByteReader r(message);
  r.Get<uint8_t>();
  return r.Get<int64_t>();
}

int64_t LoadWeights(const std::vector<uint8_t>& message, SacAgent* agent) {
  QR_CHECK(KindOf(message) == MessageKind::kWeights);
  ByteReader r(message);
  r.Get<uint8_t>();
  const int64_t version = r.Get<int64_t>();
  const uint32_t count = r.Get<uint32_t>();
  std::vector<NamedTensor> parameters;
  parameters.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::string name = r.GetString();
    const int32_t ndim = r.Get<int32_t>();
    std::vector<int64_t> dims(ndim);
    for (auto& d : dims) d = r.Get<int64_t>();
    std::vector<float> values = r.GetVector<float>();
    torch::Tensor t = torch::from_blob(values.data(), dims, torch::kFloat32).clone();
    QR_CHECK(t.numel() == static_cast<int64_t>(values.size()));
    parameters.emplace_back(std::move(name), std::move(t));
  }
  QR_CHECK(r.AtEnd());
  agent->LoadParameters(parameters);
  return version;
}

uint64_t ParameterChecksum(const SacAgent& agent) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const auto& [name, tensor] : agent.NamedParameters()) {
    const torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    const auto* p = static_cast<const uint8_t*>(cpu.data_ptr());
    const size_t n = cpu.numel() * cpu.element_size();
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 0x100000001b3ULL;
    }
  }
  return h;
}

}  // namespace qosroute
