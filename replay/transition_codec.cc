#include "replay/transition_codec.h"

#include <cstring>
#include <string>

#include "common/error.h"

namespace qosroute {

namespace {

template <typename T>
void Append(const T* values, size_t count, std::vector<uint8_t>* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(values);
  out->insert(out->end(), p, p + count * sizeof(T));
}

template <typename T>
void Read(const uint8_t*& p, T* values, size_t count) {
  std::memcpy(values, p, count * sizeof(T));
  p += count * sizeof(T);
}

void EncodeObservation(const Observation& o, std::vector<uint8_t>* out) {
  const int32_t dims[3] = {o.num_experts, o.max_running, o.max_waiting};
  Append(dims, 3, out);
  Append(o.request.data(), o.request.size(), out);
  Append(o.expert.data(), o.expert.size(), out);
  Append(o.running.data(), o.running.size(), out);
  Append(o.running_mask.data(), o.running_mask.size(), out);
  Append(o.waiting.data(), o.waiting.size(), out);
  Append(o.waiting_mask.data(), o.waiting_mask.size(), out);
  Append(o.action_mask.data(), o.action_mask.size(), out);
}

// N, R, W of the observation at `p` (not consumed).
void PeekDims(const uint8_t* p, const uint8_t* end, int32_t dims[3]) {
  QR_CHECK(end - p >= static_cast<ptrdiff_t>(3 * sizeof(int32_t)));
  std::memcpy(dims, p, 3 * sizeof(int32_t));
  QR_CHECK_MSG(dims[0] > 0 && dims[1] >= 0 && dims[2] >= 0, "corrupt transition record");
}

void DecodeObservation(const uint8_t*& p, const uint8_t* end, int expert_features, Observation* o) {
  int32_t dims[3];
  PeekDims(p, end, dims);
  QR_CHECK(static_cast<size_t>(end - p) >=
           EncodedObservationSize(dims[0], dims[1], dims[2], expert_features));
  p += sizeof(dims);
  if (o->num_experts != dims[0] || o->max_running != dims[1] || o->max_waiting != dims[2] ||
      o->expert_features != expert_features) {
    o->Resize(dims[0], dims[1], dims[2], expert_features);
  }
  Read(p, o->request.data(), o->request.size());
  Read(p, o->expert.data(), o->expert.size());
  Read(p, o->running.data(), o->running.size());
  Read(p, o->running_mask.data(), o->running_mask.size());
  Read(p, o->waiting.data(), o->waiting.size());
  Read(p, o->waiting_mask.data(), o->waiting_mask.size());
  Read(p, o->action_mask.data(), o->action_mask.size());
}

}  // namespace

size_t EncodedObservationSize(int n, int r, int w, int f) {
  return 3 * sizeof(int32_t) + kRequestFeatures * sizeof(float) +
         static_cast<size_t>(n) * f * sizeof(float) +
         static_cast<size_t>(n) * (r + w) * (kSlotFeatures * sizeof(float) + 1) + (n + 1);
}

size_t EncodedTransitionSize(int n, int r, int w, int f) {
  return 2 * EncodedObservationSize(n, r, w, f) + sizeof(int32_t) + sizeof(float) + 1;
}

size_t EncodedTransitionSize(const Observation& layout) {
  return EncodedTransitionSize(layout.num_experts, layout.max_running, layout.max_waiting,
                               layout.expert_features);
}

void EncodeTransition(const Observation& obs, int action, float reward, const Observation& next_obs,
                      bool done, std::vector<uint8_t>* out) {
  QR_CHECK(obs.SameLayout(next_obs));
  const size_t before = out->size();
  EncodeObservation(obs, out);
  const int32_t a = action;
  Append(&a, 1, out);
  Append(&reward, 1, out);
  EncodeObservation(next_obs, out);
  const uint8_t d = done ? 1 : 0;
  Append(&d, 1, out);
  QR_CHECK(out->size() - before == EncodedTransitionSize(obs));
}

void DecodeTransition(const uint8_t* data, size_t size, Transition* t) {
  const uint8_t* p = data;
  const uint8_t* end = data + size;
  // F from the size: everything else in the record is fixed by N, R and W.
  int32_t dims[3];
  PeekDims(p, end, dims);
  const size_t without_experts = EncodedTransitionSize(dims[0], dims[1], dims[2], 0);
  const size_t per_feature = 2 * static_cast<size_t>(dims[0]) * sizeof(float);
  QR_CHECK_MSG(size > without_experts && (size - without_experts) % per_feature == 0,
               "transition record of " + std::to_string(size) + " bytes fits no expert width");
  const int f = static_cast<int>((size - without_experts) / per_feature);
  DecodeObservation(p, end, f, &t->obs);
  int32_t a;
  Read(p, &a, 1);
  t->action = a;
  Read(p, &t->reward, 1);
  DecodeObservation(p, end, f, &t->next_obs);
  uint8_t d;
  Read(p, &d, 1);
  t->done = d != 0;
  QR_CHECK(p == end);
}

uint64_t RecordHash(const uint8_t* data, size_t size) {
  // Four independent multiply-xor lanes over 8-byte words (the CPU overlaps them), then the
  // tail bytes and a final mix: ~0.1 ns per byte, where byte-wise FNV-1a costs ~2 ns, which
  // made the checksum the shard's bottleneck.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  uint64_t lanes[4] = {0x243F6A8885A308D3ULL, 0x13198A2E03707344ULL, 0xA4093822299F31D0ULL,
                       0x082EFA98EC4E6C89ULL};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    for (int k = 0; k < 4; ++k) {
      uint64_t word;
      std::memcpy(&word, data + i + 8 * k, 8);
      lanes[k] = (lanes[k] ^ word) * kMul;
      lanes[k] ^= lanes[k] >> 31;
    }
  }
  uint64_t h = size;
  for (int k = 0; k < 4; ++k) h = (h ^ lanes[k]) * kMul;
  for (; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

}  // namespace qosroute
