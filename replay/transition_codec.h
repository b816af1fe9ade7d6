#pragma once
// Transitions as plain bytes, for messages between actors, shards and learners and for the
// shards' storage. Every transition of a run has the same size (the observation layout N, R,
// W is fixed per run), so a batch is a header plus records back to back, and a shard stores
// records in one flat buffer and serves a sample with one memcpy per record.
//
// Record layout (little-endian, no padding):
//   obs      : Observation (see EncodedObservationSize)
//   action   : int32
//   reward   : float32
//   next_obs : Observation
//   done     : uint8
// Observation: int32 N, R, W; request[3]; expert[N*F]; running[N*R*6]; running_mask[N*R];
//              waiting[N*W*6]; waiting_mask[N*W]; action_mask[N+1].
// F, the expert features per node (12, or 19 with env.expert_aggregates), is not in the
// header: it is what the record's size leaves once N, R and W are known. Records written
// before F could vary (F = 12) therefore decode unchanged, in messages and in the shards of
// distributed checkpoints alike.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "env/observation.h"
#include "replay/uniform_replay.h"

namespace qosroute {

size_t EncodedObservationSize(int num_experts, int max_running, int max_waiting,
                              int expert_features);
size_t EncodedTransitionSize(int num_experts, int max_running, int max_waiting,
                             int expert_features);
size_t EncodedTransitionSize(const Observation& layout);

// Appends one record to *out.
void EncodeTransition(const Observation& obs, int action, float reward, const Observation& next_obs,
                      bool done, std::vector<uint8_t>* out);
// Decodes the record at `data` (exactly `size` bytes, checked) into *transition.
void DecodeTransition(const uint8_t* data, size_t size, Transition* transition);

// A 64-bit hash of one record (not cryptographic; see the .cc). A batch's checksum is the sum of
// its records' hashes (mod 2^64): order-independent, so actor-side and shard-side totals can be
// compared, and a lost or duplicated record changes it.
uint64_t RecordHash(const uint8_t* data, size_t size);

}  // namespace qosroute
