#pragma once
// Transitions as plain bytes, for messages between actors, shards and learners and for the
// shards' storage. Every transition of a run has the same size (the observation layout and the
// optional fields are fixed per run), so a batch is a header plus records back to back, and a
// shard stores records in one flat buffer and serves a sample with one memcpy per record.
//
// Record layout, version 2 (little-endian, no padding), self-describing:
//   header   : uint32 magic "QRT2"; uint16 header bytes (24); uint16 fields (bit set of the
//              optional fields present); uint64 schema id (ObservationSchema::Id of both
//              observations, 0 = not known); uint16 widths of the request, expert and slot
//              rows; uint16 reserved (0)
//   obs      : Observation
//   action   : int32
//   reward   : float32
//   next_obs : Observation
//   done     : uint8
//   optional fields, in bit order:
//     kActionValuesField: uint8 labelled; int32 chosen action; float32 values[N + 1]
// Observation: int32 N, R, W; request[Q]; expert[N*F]; running[N*R*6]; running_mask[N*R];
//              waiting[N*W*6]; waiting_mask[N*W]; action_mask[N+1].
// Records written before version 2 have no header (they start with N, never the magic) and
// no optional fields; their expert width F is what the record's size leaves once N, R and W
// are known. They decode unchanged, in messages and in the shards of distributed checkpoints
// (a restored shard converts them: UpgradeRecords).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "env/observation.h"
#include "replay/uniform_replay.h"

namespace qosroute {

// Optional per-transition fields (the header's bit set). A new one: a bit here, its size in
// OptionalFieldsSize, its bytes in EncodeTransition / DecodeTransition, a Transition member.
enum RecordField : uint16_t {
  kActionValuesField = 1u << 0,  // ActionLabel
};
constexpr uint16_t kKnownRecordFields = kActionValuesField;
constexpr size_t kRecordHeaderBytes = 24;

size_t EncodedObservationSize(int num_experts, int max_running, int max_waiting,
                              int expert_features, int request_features = kRequestFeatures);
// A version-2 record's size.
size_t EncodedTransitionSize(int num_experts, int max_running, int max_waiting, int expert_features,
                             uint16_t fields = 0, int request_features = kRequestFeatures);
size_t EncodedTransitionSize(const Observation& layout, uint16_t fields = 0);
// A record of before version 2 (no header, no optional fields, request width 3).
size_t LegacyTransitionSize(int num_experts, int max_running, int max_waiting, int expert_features);

// Appends one version-2 record to *out, with the optional `fields`; `label` fills
// kActionValuesField (nullptr: not labelled).
void EncodeTransition(const Observation& obs, int action, float reward, const Observation& next_obs,
                      bool done, std::vector<uint8_t>* out, uint16_t fields = 0,
                      const ActionLabel* label = nullptr);
// Decodes the record at `data` (exactly `size` bytes, checked; either version) into
// *transition. Observations take the header's schema id (0 for records before version 2);
// transition->label is cleared when the record has no kActionValuesField.
void DecodeTransition(const uint8_t* data, size_t size, Transition* transition);
// Whether the record at `data` is of version 2.
bool IsVersion2Record(const uint8_t* data, size_t size);
// `count` records of `record_size` bytes, converted to version 2 where they are older (a
// restored shard of an old checkpoint then takes the records its actors send now). *new_size
// receives the records' size afterwards.
std::vector<uint8_t> UpgradeRecords(const uint8_t* records, size_t count, size_t record_size,
                                    size_t* new_size);
// The same for the `count` records that start at `offset` in *bytes (a transitions message
// being filled or queued), in place; *record_size is updated. Returns the change of their
// RecordHash sum (new - old, mod 2^64), for stream accounting that counted the old bytes.
uint64_t UpgradeRecordsInPlace(std::vector<uint8_t>* bytes, size_t offset, size_t count,
                               size_t* record_size);

// A 64-bit hash of one record (not cryptographic; see the .cc). A batch's checksum is the sum of
// its records' hashes (mod 2^64): order-independent, so actor-side and shard-side totals can be
// compared, and a lost or duplicated record changes it.
uint64_t RecordHash(const uint8_t* data, size_t size);

}  // namespace qosroute
