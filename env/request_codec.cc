#include "env/request_codec.h"

#include <cstring>
#include <type_traits>

#include "common/error.h"

namespace qosroute {

namespace {

// A value at `offset` of a raw record of versions 1 and 2 (x86-64 layout of the structs then).
template <typename T>
T At(const uint8_t* record, size_t offset) {
  T value;
  std::memcpy(&value, record + offset, sizeof(T));
  return value;
}

// Records written field by field (version 3 on), or raw `raw_size`-byte records (versions 1
// and 2) decoded by `from_raw(bytes)`.
template <typename T, typename VisitFields, typename FromRaw>
std::vector<T> GetRecords(ByteReader* in, uint32_t version, VisitFields visit, size_t raw_size,
                          FromRaw from_raw) {
  const uint64_t n = in->Get<uint64_t>();
  const bool fieldwise = version >= kFieldwiseRequestsVersion;
  if (n > in->remaining() / (fieldwise ? 1 : raw_size))
    throw UserError("state snapshot is cut off");
  std::vector<T> records(n);
  for (T& record : records) {
    if (fieldwise) {
      visit(record, [in](auto& field) { field = in->Get<std::decay_t<decltype(field)>>(); });
    } else {
      std::vector<uint8_t> raw(raw_size);
      for (uint8_t& b : raw) b = in->Get<uint8_t>();
      record = from_raw(raw.data());
    }
  }
  return records;
}

}  // namespace

std::vector<ActiveRequest> GetRequests(ByteReader* in, uint32_t version) {
  auto visit = [version](ActiveRequest& r, auto&& f) { VisitActiveRequest(r, f, version); };
  return GetRecords<ActiveRequest>(in, version, visit, 48, [version](const uint8_t* p) {
    ActiveRequest r;
    r.id = At<int>(p, 0);
    r.arrival = At<double>(p, 8);
    r.prompt_tokens = At<int>(p, 16);
    r.output_tokens = At<int>(p, 20);
    r.score = At<float>(p, 24);
    r.pred_score = At<float>(p, 28);
    r.pred_output_tokens = At<int>(p, 32);
    r.generated = At<int>(p, 36);
    r.blocks = At<int>(p, 40);
    r.energy_j = version >= 2 ? At<float>(p, 44) : 0.0f;  // padding in version 1
    return r;
  });
}

void PutCompletions(ByteWriter* out, const std::vector<Completion>& completions) {
  PutRecords(out, completions, [](const Completion& c, auto&& f) { VisitCompletion(c, f); });
}

std::vector<Completion> GetCompletions(ByteReader* in, uint32_t version) {
  auto visit = [version](Completion& c, auto&& f) { VisitCompletion(c, f, version); };
  return GetRecords<Completion>(in, version, visit, 40, [version](const uint8_t* p) {
    Completion c;
    c.id = At<int>(p, 0);
    c.expert = At<int>(p, 4);
    c.arrival = At<double>(p, 8);
    c.finish = At<double>(p, 16);
    c.output_tokens = At<int>(p, 24);
    c.score = At<float>(p, 28);
    c.rejected = At<uint8_t>(p, 32) != 0;
    c.energy_j = version >= 2 ? At<float>(p, 36) : 0.0f;  // padding in version 1
    return c;
  });
}

}  // namespace qosroute
