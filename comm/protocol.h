#pragma once
// The distributed trainer's ranks and messages.
//
// Ranks (RoleLayout): learners 0..L-1, then replay shards L..L+R-1, then actors. With R = 0
// the shards live inside the learners (shard i in learner i, so there are L of them).
//
//   actor a --Transitions--> shard (a mod #shards) --InsertAck--> actor a   (credit: flow control)
//   learner l --SampleRequest--> every shard --SampleReply--> learner l
//   learner l --PriorityUpdate--> shard                                      (prioritized only)
//   learner 0 --Weights(version)--> every actor, every K updates
//   actor --Progress / Episode--> learner 0                                  (metrics, policy lag)
//   actor --ActorDone--> its shard and learner 0 (count + checksum of everything it sent)
//   shard --ShardDone--> learner 0 (count + checksum of everything it stored)
//   learner l>0 --LearnerDone--> learner 0 (parameter checksum: learners must be identical)
//   learner 0 --LearnersFinished--> every shard (updates done: stop limiting inserts)
//   learner 0 --Stop--> every other rank
//
// Checkpoints (learner 0 decides; learner/distributed_run.h has the whole sequence):
//   learner 0 --CheckpointRequest(id, stop)--> every actor
//   actor, every learner --CheckpointMarker(id)--> shards (after everything sent before it)
//   actor, shard --CheckpointPart(id, chunk)--> learner 0 (its state, in chunks)
//   learner 0 --CheckpointDone(id, stop)--> every other rank (continue, or end the job)
//   any rank that caught SIGTERM/SIGINT --StopRequest--> learner 0
//   on resume: learner 0 --CheckpointPart--> each rank (its state back)
//
// Every message starts with one MessageKind byte; fields follow in the order of the structs
// below, little-endian (common/bytes.h). Transitions and sample replies carry records of
// replay/transition_codec.h back to back.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/bytes.h"

namespace qosroute {

enum class Role { kLearner, kShard, kActor };

struct RoleLayout {
  int world = 1;
  int learners = 1;
  int replay_shards = 0;  // 0 = one shard inside each learner

  int num_actors() const { return world - learners - replay_shards; }
  int num_shards() const { return replay_shards > 0 ? replay_shards : learners; }
  Role RoleOf(int rank) const;
  // Index of `rank` within its role (learner l, shard s, actor a).
  int IndexOf(int rank) const;
  int LearnerRank(int learner) const { return learner; }
  int ShardRank(int shard) const { return replay_shards > 0 ? learners + shard : shard; }
  int ActorRank(int actor) const { return learners + replay_shards + actor; }
  int ShardOfActor(int actor) const { return actor % num_shards(); }
  int ActorsOfShard(int shard) const;
  // "learner 0", "shard 2", "actor 5" (for logs and fatal messages).
  std::string Describe(int rank) const;
};

enum class MessageKind : uint8_t {
  kTransitions = 1,
  kInsertAck,
  kSampleRequest,
  kSampleReply,
  kPriorityUpdate,
  kWeights,
  kProgress,
  kEpisode,
  kActorDone,
  kShardDone,
  kLearnerDone,
  kLearnersFinished,
  kStop,
  kCheckpointRequest,
  kCheckpointMarker,
  kCheckpointPart,
  kCheckpointDone,
  kStopRequest,
};
constexpr MessageKind kLastMessageKind = MessageKind::kStopRequest;

MessageKind KindOf(const std::vector<uint8_t>& bytes);
const char* KindName(MessageKind kind);

// Transitions header; `count` records of `record_size` bytes follow.
struct TransitionsHeader {
  int32_t actor = 0;
  int64_t sequence = 0;        // per actor, from 0: the shard checks for gaps and repeats
  int64_t policy_version = 0;  // version of the weights that chose these actions
  int32_t count = 0;
  uint32_t record_size = 0;
};
constexpr size_t kTransitionsHeaderBytes = 1 + 4 + 8 + 8 + 4 + 4;
// Writes a header at the start of *message (which must hold kTransitionsHeaderBytes already).
void WriteTransitionsHeader(const TransitionsHeader& header, std::vector<uint8_t>* message);
TransitionsHeader ReadTransitionsHeader(const std::vector<uint8_t>& message);

struct SampleRequest {
  int64_t request_id = 0;
  int32_t count = 0;
};

// Sample reply header; `count` keys (uint64) then `count` records follow.
struct SampleReplyHeader {
  int64_t request_id = 0;
  int32_t count = 0;
  uint32_t record_size = 0;
};
constexpr size_t kSampleReplyHeaderBytes = 1 + 8 + 4 + 4;
void WriteSampleReplyHeader(const SampleReplyHeader& header, std::vector<uint8_t>* message);
SampleReplyHeader ReadSampleReplyHeader(const std::vector<uint8_t>& message);

struct PriorityUpdate {
  std::vector<uint64_t> keys;  // as the sample reply gave them
  std::vector<float> priorities;
};

struct Progress {
  int32_t actor = 0;
  int64_t frames = 0;
  int64_t policy_version = 0;
  // Credited since the actor's previous Progress (ClusterEnv::CreditedQos/CreditedRequests
  // deltas over its envs): learner 0's rolling QoS.
  double credited_qos = 0.0;
  int64_t credited_requests = 0;
};

struct EpisodeReport {
  int32_t actor = 0;
  int64_t frames = 0;  // the actor's frames when the episode ended
  int64_t policy_version = 0;
  double avg_qos = 0.0;
  double sla_attainment = 0.0;
  double drop_rate = 0.0;
  double episode_return = 0.0;
};

// Totals of one actor (what it sent) or one shard (what it stored).
struct StreamTotals {
  int32_t index = 0;  // actor or shard index
  int64_t transitions = 0;
  uint64_t checksum = 0;            // sum of RecordHash over the transitions
  int64_t frames = 0;               // actors: env frames stepped; shards: samples served
  double rate_deviation_max = 0.0;  // shards: max |deviation| of the rate limiter once sampling
};

struct LearnerDone {
  int32_t learner = 0;
  uint64_t parameter_checksum = 0;
  int64_t updates = 0;
};

std::vector<uint8_t> EncodeSampleRequest(const SampleRequest& m);
SampleRequest DecodeSampleRequest(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> EncodeInsertAck(int64_t sequence);
int64_t DecodeInsertAck(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> EncodePriorityUpdate(const PriorityUpdate& m);
PriorityUpdate DecodePriorityUpdate(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> EncodeProgress(const Progress& m);
Progress DecodeProgress(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> EncodeEpisode(const EpisodeReport& m);
EpisodeReport DecodeEpisode(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> EncodeTotals(MessageKind kind,
                                  const StreamTotals& m);  // kActorDone / kShardDone
StreamTotals DecodeTotals(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> EncodeLearnerDone(const LearnerDone& m);
LearnerDone DecodeLearnerDone(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> EncodeSignal(MessageKind kind);  // kLearnersFinished / kStop / kStopRequest

// CheckpointRequest, CheckpointMarker and CheckpointDone: which checkpoint, and whether the
// job ends after it.
struct CheckpointSignal {
  int64_t id = 0;  // the learners' update count when it was taken
  bool stop = false;
};
std::vector<uint8_t> EncodeCheckpointSignal(MessageKind kind, const CheckpointSignal& m);
CheckpointSignal DecodeCheckpointSignal(MessageKind kind, const std::vector<uint8_t>& bytes);

// One rank's part of a checkpoint travels in chunks (a replay shard can exceed what one MPI
// message may carry).
enum class PartKind : uint8_t { kActor = 1, kShard = 2, kLearner = 3 };
struct CheckpointPartHeader {
  int64_t id = 0;
  int32_t rank = 0;  // whose state this is
  PartKind kind = PartKind::kActor;
  int32_t chunk = 0;
  int32_t chunks = 1;
};
// Chunks of at most `max_chunk_bytes` (tests make it small).
std::vector<std::vector<uint8_t>> EncodeCheckpointPart(int64_t id, int rank, PartKind kind,
                                                       const std::vector<uint8_t>& state,
                                                       size_t max_chunk_bytes = 64u << 20);
// Header of a chunk; *payload receives its bytes.
CheckpointPartHeader DecodeCheckpointPart(const std::vector<uint8_t>& bytes,
                                          std::vector<uint8_t>* payload);

// Reassembles parts from their chunks (chunks of one part arrive in order: one sender).
class PartAssembler {
 public:
  // Takes a chunk; returns true when it completed its part.
  bool Add(const std::vector<uint8_t>& bytes);
  // Complete parts by (rank, kind).
  const std::map<std::pair<int, PartKind>, std::vector<uint8_t>>& parts() const { return done_; }
  std::vector<uint8_t> Take(int rank, PartKind kind);
  void Clear();
  size_t complete() const { return done_.size(); }

 private:
  std::map<std::pair<int, PartKind>, std::vector<uint8_t>> partial_, done_;
  std::map<std::pair<int, PartKind>, int32_t> next_chunk_;
};

}  // namespace qosroute
