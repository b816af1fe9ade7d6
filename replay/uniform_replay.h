#pragma once
// In-process replay for the single-process trainer: a ring of transitions with FIFO eviction
// and uniform sampling. Observations are stored as the simulator's plain structs, so
// sampling hands the learner pointers it can batch with one memcpy per field.
#include <cstdint>
#include <vector>

#include "common/rng.h"
#include "env/observation.h"

namespace qosroute {

// The optional per-action field of a transition (replay records' kActionValuesField): a
// planner's value of every action of the decision (N experts, then drop) and the action it
// chose. `labelled` is false where no planner looked at the decision.
struct ActionLabel {
  bool labelled = false;
  int chosen = -1;
  std::vector<float> values;  // [N + 1] when labelled
};

struct Transition {
  Observation obs;
  int action = 0;
  float reward = 0.0f;
  Observation next_obs;
  bool done = false;
  ActionLabel label;  // carried by records with kActionValuesField
};

class UniformReplay {
 public:
  explicit UniformReplay(int capacity);

  // Copies the transition in, evicting the oldest when full; `label`: its planner label
  // (nullptr: not labelled).
  void Add(const Observation& obs, int action, float reward, const Observation& next_obs, bool done,
           const ActionLabel* label = nullptr);
  // Transitions in the ring that carry a planner label (checkpoints store labels only then).
  int labelled() const { return labelled_; }

  // `count` indices drawn uniformly with replacement; requires size() > 0.
  void SampleIndices(int count, Rng& rng, std::vector<int>* indices) const;

  const Transition& at(int index) const { return storage_[index]; }
  int size() const { return size_; }
  int capacity() const { return capacity_; }
  long total_added() const { return total_added_; }

  // For checkpoints: the slots in storage order are at(0) .. at(size() - 1) and cursor() is the
  // next slot to write. Restoring exactly these keeps later sampling and eviction identical.
  int cursor() const { return cursor_; }
  // Replaces the contents with `slots` (storage order). UserError when the numbers do not
  // describe a ring of this capacity (too many slots, a cursor that does not fit them).
  void Restore(std::vector<Transition> slots, int cursor, long total_added);

 private:
  int capacity_;
  int size_ = 0;
  int cursor_ = 0;  // next slot to write
  long total_added_ = 0;
  int labelled_ = 0;
  std::vector<Transition> storage_;
};

}  // namespace qosroute
