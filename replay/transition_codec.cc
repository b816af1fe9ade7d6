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

constexpr uint32_t kRecordMagic = 0x32545251;  // "QRT2" in file order

struct RecordHeader {
  uint32_t magic = kRecordMagic;
  uint16_t header_bytes = kRecordHeaderBytes;
  uint16_t fields = 0;
  uint64_t schema_id = 0;
  uint16_t request_width = kRequestFeatures;
  uint16_t expert_width = 0;
  uint16_t slot_width = kSlotFeatures;
  uint16_t reserved = 0;
};
static_assert(sizeof(RecordHeader) == kRecordHeaderBytes, "record header layout");

size_t OptionalFieldsSize(int n, uint16_t fields) {
  size_t size = 0;
  if (fields & kActionValuesField) size += 1 + sizeof(int32_t) + (n + 1) * sizeof(float);
  return size;
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

void DecodeObservation(const uint8_t*& p, const uint8_t* end, int expert_features,
                       int request_features, Observation* o) {
  int32_t dims[3];
  PeekDims(p, end, dims);
  QR_CHECK(static_cast<size_t>(end - p) >=
           EncodedObservationSize(dims[0], dims[1], dims[2], expert_features, request_features));
  p += sizeof(dims);
  if (o->num_experts != dims[0] || o->max_running != dims[1] || o->max_waiting != dims[2] ||
      o->expert_features != expert_features || o->request_features != request_features) {
    o->Resize(dims[0], dims[1], dims[2], expert_features, request_features);
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

size_t EncodedObservationSize(int n, int r, int w, int f, int q) {
  return 3 * sizeof(int32_t) + static_cast<size_t>(q) * sizeof(float) +
         static_cast<size_t>(n) * f * sizeof(float) +
         static_cast<size_t>(n) * (r + w) * (kSlotFeatures * sizeof(float) + 1) + (n + 1);
}

size_t LegacyTransitionSize(int n, int r, int w, int f) {
  return 2 * EncodedObservationSize(n, r, w, f) + sizeof(int32_t) + sizeof(float) + 1;
}

size_t EncodedTransitionSize(int n, int r, int w, int f, uint16_t fields, int q) {
  return kRecordHeaderBytes + 2 * EncodedObservationSize(n, r, w, f, q) + sizeof(int32_t) +
         sizeof(float) + 1 + OptionalFieldsSize(n, fields);
}

size_t EncodedTransitionSize(const Observation& layout, uint16_t fields) {
  return EncodedTransitionSize(layout.num_experts, layout.max_running, layout.max_waiting,
                               layout.expert_features, fields, layout.request_features);
}

void EncodeTransition(const Observation& obs, int action, float reward, const Observation& next_obs,
                      bool done, std::vector<uint8_t>* out, uint16_t fields,
                      const ActionLabel* label) {
  QR_CHECK(obs.SameLayout(next_obs));
  QR_CHECK((fields & ~kKnownRecordFields) == 0);
  const size_t before = out->size();
  RecordHeader h;
  h.fields = fields;
  h.schema_id = obs.schema_id;
  h.expert_width = static_cast<uint16_t>(obs.expert_features);
  h.request_width = static_cast<uint16_t>(obs.request_features);
  Append(&h, 1, out);
  EncodeObservation(obs, out);
  const int32_t a = action;
  Append(&a, 1, out);
  Append(&reward, 1, out);
  EncodeObservation(next_obs, out);
  const uint8_t d = done ? 1 : 0;
  Append(&d, 1, out);
  if (fields & kActionValuesField) {
    const bool labelled = label != nullptr && label->labelled;
    const uint8_t l = labelled ? 1 : 0;
    const int32_t chosen = labelled ? label->chosen : -1;
    Append(&l, 1, out);
    Append(&chosen, 1, out);
    std::vector<float> values(static_cast<size_t>(obs.num_actions()), 0.0f);
    if (labelled) {
      QR_CHECK(label->values.size() == values.size());
      values = label->values;
    }
    Append(values.data(), values.size(), out);
  }
  QR_CHECK(out->size() - before == EncodedTransitionSize(obs, fields));
}

bool IsVersion2Record(const uint8_t* data, size_t size) {
  uint32_t magic = 0;
  if (size >= kRecordHeaderBytes) std::memcpy(&magic, data, sizeof(magic));
  return magic == kRecordMagic;
}

namespace {

// The body (observations, action, reward, done) of expert width `f` and request width `q`,
// from p; returns past it.
const uint8_t* DecodeBody(const uint8_t* p, const uint8_t* end, int f, int q, Transition* t) {
  DecodeObservation(p, end, f, q, &t->obs);
  int32_t a;
  Read(p, &a, 1);
  t->action = a;
  Read(p, &t->reward, 1);
  DecodeObservation(p, end, f, q, &t->next_obs);
  uint8_t d;
  Read(p, &d, 1);
  t->done = d != 0;
  return p;
}

void DecodeLegacy(const uint8_t* data, size_t size, Transition* t) {
  const uint8_t* end = data + size;
  // F from the size: everything else in the record is fixed by N, R and W.
  int32_t dims[3];
  PeekDims(data, end, dims);
  const size_t without_experts = LegacyTransitionSize(dims[0], dims[1], dims[2], 0);
  const size_t per_feature = 2 * static_cast<size_t>(dims[0]) * sizeof(float);
  QR_CHECK_MSG(size > without_experts && (size - without_experts) % per_feature == 0,
               "transition record of " + std::to_string(size) + " bytes fits no expert width");
  const int f = static_cast<int>((size - without_experts) / per_feature);
  QR_CHECK(DecodeBody(data, end, f, kRequestFeatures, t) == end);
  t->obs.schema_id = t->next_obs.schema_id = 0;
  t->label = ActionLabel();
}

}  // namespace

void DecodeTransition(const uint8_t* data, size_t size, Transition* t) {
  if (!IsVersion2Record(data, size)) return DecodeLegacy(data, size, t);
  RecordHeader h;
  std::memcpy(&h, data, sizeof(h));
  QR_CHECK_MSG(h.header_bytes == kRecordHeaderBytes && (h.fields & ~kKnownRecordFields) == 0,
               "transition record of a newer format (header " + std::to_string(h.header_bytes) +
                   " bytes, fields " + std::to_string(h.fields) + ")");
  QR_CHECK_MSG(h.request_width > 0 && h.slot_width == kSlotFeatures,
               "transition record with request/slot widths " + std::to_string(h.request_width) +
                   "/" + std::to_string(h.slot_width) + " this build cannot hold");
  const uint8_t* end = data + size;
  const uint8_t* p = data + kRecordHeaderBytes;
  int32_t dims[3];
  PeekDims(p, end, dims);
  QR_CHECK_MSG(size == EncodedTransitionSize(dims[0], dims[1], dims[2], h.expert_width, h.fields,
                                             h.request_width),
               "transition record of " + std::to_string(size) + " bytes does not match its header");
  p = DecodeBody(p, end, h.expert_width, h.request_width, t);
  t->obs.schema_id = t->next_obs.schema_id = h.schema_id;
  t->label.labelled = false;
  if (h.fields & kActionValuesField) {
    uint8_t labelled;
    int32_t chosen;
    Read(p, &labelled, 1);
    Read(p, &chosen, 1);
    t->label.labelled = labelled != 0;
    t->label.chosen = chosen;
    t->label.values.resize(static_cast<size_t>(dims[0]) + 1);
    Read(p, t->label.values.data(), t->label.values.size());
  } else {
    t->label = ActionLabel();
  }
  QR_CHECK(p == end);
}

std::vector<uint8_t> UpgradeRecords(const uint8_t* records, size_t count, size_t record_size,
                                    size_t* new_size) {
  *new_size = record_size;
  if (count == 0 || IsVersion2Record(records, record_size)) {
    return std::vector<uint8_t>(records, records + count * record_size);
  }
  std::vector<uint8_t> out;
  Transition t;
  for (size_t i = 0; i < count; ++i) {
    DecodeTransition(records + i * record_size, record_size, &t);
    EncodeTransition(t.obs, t.action, t.reward, t.next_obs, t.done, &out);
  }
  *new_size = out.size() / count;
  return out;
}

uint64_t UpgradeRecordsInPlace(std::vector<uint8_t>* bytes, size_t offset, size_t count,
                               size_t* record_size) {
  const uint8_t* records = bytes->data() + offset;
  if (count == 0 || IsVersion2Record(records, *record_size)) return 0;
  size_t new_size = 0;
  const std::vector<uint8_t> upgraded = UpgradeRecords(records, count, *record_size, &new_size);
  uint64_t delta = 0;
  for (size_t i = 0; i < count; ++i) {
    delta += RecordHash(upgraded.data() + i * new_size, new_size);
    delta -= RecordHash(records + i * *record_size, *record_size);
  }
  bytes->resize(offset);
  bytes->insert(bytes->end(), upgraded.begin(), upgraded.end());
  *record_size = new_size;
  return delta;
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
