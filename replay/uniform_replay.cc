#include "replay/uniform_replay.h"

#include "common/error.h"

namespace qosroute {

UniformReplay::UniformReplay(int capacity) : capacity_(capacity) {
  QR_CHECK(capacity > 0);
  storage_.reserve(capacity);
}

void UniformReplay::Add(const Observation& obs, int action, float reward, const Observation& next_obs, bool done) {
  if (size_ < capacity_) {
    storage_.emplace_back();
    ++size_;
  }
  Transition& t = storage_[cursor_];
  t.obs = obs;  // vector assignment reuses the slot's buffers once the ring has wrapped
  t.action = action;
  t.reward = reward;
  t.next_obs = next_obs;
  t.done = done;
  cursor_ = (cursor_ + 1) % capacity_;
  ++total_added_;
}

void UniformReplay::SampleIndices(int count, Rng& rng, std::vector<int>* indices) const {
  QR_CHECK_MSG(size_ > 0, "sampling from an empty replay");
  indices->resize(count);
  for (int& i : *indices) i = static_cast<int>(rng.Below(size_));
}

}  // namespace qosroute
