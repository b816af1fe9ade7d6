#include "replay/uniform_replay.h"

#include <string>
#include <utility>

#include "common/error.h"

namespace qosroute {

UniformReplay::UniformReplay(int capacity) : capacity_(capacity) {
  QR_CHECK(capacity > 0);
  storage_.reserve(capacity);
}

void UniformReplay::Add(const Observation& obs, int action, float reward,
                        const Observation& next_obs, bool done, const ActionLabel* label) {
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
  labelled_ -= t.label.labelled ? 1 : 0;
  if (label != nullptr && label->labelled) {
    t.label = *label;
    ++labelled_;
  } else {
    t.label.labelled = false;
    t.label.chosen = -1;
    t.label.values.clear();
  }
  cursor_ = (cursor_ + 1) % capacity_;
  ++total_added_;
}

void UniformReplay::SampleIndices(int count, Rng& rng, std::vector<int>* indices) const {
  QR_CHECK_MSG(size_ > 0, "sampling from an empty replay");
  indices->resize(count);
  for (int& i : *indices) i = static_cast<int>(rng.Below(size_));
}

void UniformReplay::Restore(std::vector<Transition> slots, int cursor, long total_added) {
  const long size = static_cast<long>(slots.size());
  const bool full = size == capacity_;
  // Until the ring wraps, slots fill in order, so the cursor sits right after the last one.
  const bool consistent = size <= capacity_ && cursor >= 0 && cursor < capacity_ &&
                          (full || cursor == size) && total_added >= size &&
                          (full || total_added == size);
  if (!consistent) {
    throw UserError("replay state does not fit a ring of capacity " + std::to_string(capacity_) +
                    ": " + std::to_string(size) + " transitions, cursor " + std::to_string(cursor) +
                    ", " + std::to_string(total_added) + " added in all");
  }
  storage_ = std::move(slots);
  storage_.reserve(capacity_);
  size_ = static_cast<int>(size);
  cursor_ = cursor;
  total_added_ = total_added;
  labelled_ = 0;
  for (const Transition& t : storage_) labelled_ += t.label.labelled ? 1 : 0;
}

}  // namespace qosroute
