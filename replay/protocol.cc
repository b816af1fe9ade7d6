#include "replay/protocol.h"

#include <cstring>

#include "common/error.h"

namespace qosroute {

Role RoleLayout::RoleOf(int rank) const {
  QR_CHECK(rank >= 0 && rank < world);
  if (rank < learners) return Role::kLearner;
  if (rank < learners + replay_shards) return Role::kShard;
  return Role::kActor;
}

int RoleLayout::IndexOf(int rank) const {
  switch (RoleOf(rank)) {
    case Role::kLearner:
      return rank;
    case Role::kShard:
      return rank - learners;
    case Role::kActor:
      return rank - learners - replay_shards;
  }
  return -1;
}

int RoleLayout::ActorsOfShard(int shard) const {
  int n = 0;
  for (int a = 0; a < num_actors(); ++a) n += ShardOfActor(a) == shard;
  return n;
}

std::string RoleLayout::Describe(int rank) const {
  const char* names[] = {"learner", "shard", "actor"};
  return std::string(names[static_cast<int>(RoleOf(rank))]) + " " + std::to_string(IndexOf(rank));
}

MessageKind KindOf(const std::vector<uint8_t>& bytes) {
  QR_CHECK_MSG(!bytes.empty(), "empty message");
  QR_CHECK_MSG(bytes[0] >= static_cast<uint8_t>(MessageKind::kTransitions) &&
                   bytes[0] <= static_cast<uint8_t>(MessageKind::kStop),
               "message of unknown kind " + std::to_string(bytes[0]));
  return static_cast<MessageKind>(bytes[0]);
}

const char* KindName(MessageKind kind) {
  static const char* names[] = {"?",
                                "transitions",
                                "insert-ack",
                                "sample-request",
                                "sample-reply",
                                "priority-update",
                                "weights",
                                "progress",
                                "episode",
                                "actor-done",
                                "shard-done",
                                "learner-done",
                                "learners-finished",
                                "stop"};
  return names[static_cast<int>(kind)];
}

namespace {

ByteWriter Start(MessageKind kind) {
  ByteWriter w;
  w.Put<uint8_t>(static_cast<uint8_t>(kind));
  return w;
}

ByteReader Open(const std::vector<uint8_t>& bytes, MessageKind kind) {
  QR_CHECK_MSG(KindOf(bytes) == kind, std::string("expected a ") + KindName(kind) +
                                          " message, got " + KindName(KindOf(bytes)));
  ByteReader r(bytes);
  r.Get<uint8_t>();
  return r;
}

}  // namespace

void WriteTransitionsHeader(const TransitionsHeader& h, std::vector<uint8_t>* message) {
  QR_CHECK(message->size() >= kTransitionsHeaderBytes);
  ByteWriter w = Start(MessageKind::kTransitions);
  w.Put(h.actor);
  w.Put(h.sequence);
  w.Put(h.policy_version);
  w.Put(h.count);
  w.Put(h.record_size);
  QR_CHECK(w.bytes().size() == kTransitionsHeaderBytes);
  std::memcpy(message->data(), w.bytes().data(), kTransitionsHeaderBytes);
}

TransitionsHeader ReadTransitionsHeader(const std::vector<uint8_t>& message) {
  ByteReader r = Open(message, MessageKind::kTransitions);
  TransitionsHeader h;
  h.actor = r.Get<int32_t>();
  h.sequence = r.Get<int64_t>();
  h.policy_version = r.Get<int64_t>();
  h.count = r.Get<int32_t>();
  h.record_size = r.Get<uint32_t>();
  QR_CHECK_MSG(
      message.size() == kTransitionsHeaderBytes + static_cast<size_t>(h.count) * h.record_size,
      "transitions message of the wrong size");
  return h;
}

void WriteSampleReplyHeader(const SampleReplyHeader& h, std::vector<uint8_t>* message) {
  QR_CHECK(message->size() >= kSampleReplyHeaderBytes);
  ByteWriter w = Start(MessageKind::kSampleReply);
  w.Put(h.request_id);
  w.Put(h.count);
  w.Put(h.record_size);
  QR_CHECK(w.bytes().size() == kSampleReplyHeaderBytes);
  std::memcpy(message->data(), w.bytes().data(), kSampleReplyHeaderBytes);
}

SampleReplyHeader ReadSampleReplyHeader(const std::vector<uint8_t>& message) {
  ByteReader r = Open(message, MessageKind::kSampleReply);
  SampleReplyHeader h;
  h.request_id = r.Get<int64_t>();
  h.count = r.Get<int32_t>();
  h.record_size = r.Get<uint32_t>();
  QR_CHECK_MSG(message.size() ==
                   kSampleReplyHeaderBytes + static_cast<size_t>(h.count) * (8 + h.record_size),
               "sample reply of the wrong size");
  return h;
}

std::vector<uint8_t> EncodeSampleRequest(const SampleRequest& m) {
  ByteWriter w = Start(MessageKind::kSampleRequest);
  w.Put(m.request_id);
  w.Put(m.count);
  return w.Take();
}

SampleRequest DecodeSampleRequest(const std::vector<uint8_t>& bytes) {
  ByteReader r = Open(bytes, MessageKind::kSampleRequest);
  SampleRequest m;
  m.request_id = r.Get<int64_t>();
  m.count = r.Get<int32_t>();
  return m;
}

std::vector<uint8_t> EncodeInsertAck(int64_t sequence) {
  ByteWriter w = Start(MessageKind::kInsertAck);
  w.Put(sequence);
  return w.Take();
}

int64_t DecodeInsertAck(const std::vector<uint8_t>& bytes) {
  return Open(bytes, MessageKind::kInsertAck).Get<int64_t>();
}

std::vector<uint8_t> EncodePriorityUpdate(const PriorityUpdate& m) {
  QR_CHECK(m.keys.size() == m.priorities.size());
  ByteWriter w = Start(MessageKind::kPriorityUpdate);
  w.PutVector(m.keys);
  w.PutVector(m.priorities);
  return w.Take();
}

PriorityUpdate DecodePriorityUpdate(const std::vector<uint8_t>& bytes) {
  ByteReader r = Open(bytes, MessageKind::kPriorityUpdate);
  PriorityUpdate m;
  m.keys = r.GetVector<uint64_t>();
  m.priorities = r.GetVector<float>();
  QR_CHECK(m.keys.size() == m.priorities.size());
  return m;
}

std::vector<uint8_t> EncodeProgress(const Progress& m) {
  ByteWriter w = Start(MessageKind::kProgress);
  w.Put(m.actor);
  w.Put(m.frames);
  w.Put(m.policy_version);
  return w.Take();
}

Progress DecodeProgress(const std::vector<uint8_t>& bytes) {
  ByteReader r = Open(bytes, MessageKind::kProgress);
  Progress m;
  m.actor = r.Get<int32_t>();
  m.frames = r.Get<int64_t>();
  m.policy_version = r.Get<int64_t>();
  return m;
}

std::vector<uint8_t> EncodeEpisode(const EpisodeReport& m) {
  ByteWriter w = Start(MessageKind::kEpisode);
  w.Put(m);
  return w.Take();
}

EpisodeReport DecodeEpisode(const std::vector<uint8_t>& bytes) {
  return Open(bytes, MessageKind::kEpisode).Get<EpisodeReport>();
}

std::vector<uint8_t> EncodeTotals(MessageKind kind, const StreamTotals& m) {
  QR_CHECK(kind == MessageKind::kActorDone || kind == MessageKind::kShardDone);
  ByteWriter w = Start(kind);
  w.Put(m);
  return w.Take();
}

StreamTotals DecodeTotals(const std::vector<uint8_t>& bytes) {
  const MessageKind kind = KindOf(bytes);
  QR_CHECK(kind == MessageKind::kActorDone || kind == MessageKind::kShardDone);
  return Open(bytes, kind).Get<StreamTotals>();
}

std::vector<uint8_t> EncodeLearnerDone(const LearnerDone& m) {
  ByteWriter w = Start(MessageKind::kLearnerDone);
  w.Put(m);
  return w.Take();
}

LearnerDone DecodeLearnerDone(const std::vector<uint8_t>& bytes) {
  return Open(bytes, MessageKind::kLearnerDone).Get<LearnerDone>();
}

std::vector<uint8_t> EncodeSignal(MessageKind kind) {
  QR_CHECK(kind == MessageKind::kLearnersFinished || kind == MessageKind::kStop);
  return Start(kind).Take();
}

}  // namespace qosroute
