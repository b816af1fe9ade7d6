#pragma once
// Which seed an episode's environment starts from. Shared by every role that steps training
// episodes (the single-process trainer, actors), so that a run's episodes are the same
// whichever topology plays them.
#include <cstdint>

namespace qosroute {

// Training episodes use seeds (seed << 32) + episode, disjoint from evaluation seeds below 2^32.
inline uint64_t TrainingEpisodeSeed(uint64_t seed, long episode) {
  return (seed << 32) + static_cast<uint64_t>(episode);
}

}  // namespace qosroute
