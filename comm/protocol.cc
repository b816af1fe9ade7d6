#include "comm/protocol.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

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
                   bytes[0] <= static_cast<uint8_t>(kLastMessageKind),
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
                                "stop",
                                "checkpoint-request",
                                "checkpoint-marker",
                                "checkpoint-part",
                                "checkpoint-done",
                                "stop-request"};
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

namespace {

// Each fixed message's fields in wire order, once: the encoder and decoder below both walk them.
template <typename F>
void Fields(TransitionsHeader& h, F&& f) {
  f(h.actor), f(h.sequence), f(h.policy_version), f(h.count), f(h.record_size);
}
template <typename F>
void Fields(SampleReplyHeader& h, F&& f) {
  f(h.request_id), f(h.count), f(h.record_size);
}
template <typename F>
void Fields(SampleRequest& m, F&& f) {
  f(m.request_id), f(m.count);
}
template <typename F>
void Fields(Progress& m, F&& f) {
  f(m.actor), f(m.frames), f(m.policy_version), f(m.credited_qos), f(m.credited_requests);
}

template <typename M>
ByteWriter EncodeFields(MessageKind kind, M m) {
  ByteWriter w = Start(kind);
  Fields(m, [&w](const auto& x) { w.Put(x); });
  return w;
}

template <typename M>
M DecodeFields(ByteReader* r) {
  M m;
  Fields(m, [r](auto& x) { x = r->Get<std::decay_t<decltype(x)>>(); });
  return m;
}

template <typename M>
M DecodeMessage(const std::vector<uint8_t>& bytes, MessageKind kind) {
  ByteReader r = Open(bytes, kind);
  return DecodeFields<M>(&r);
}

// A whole trivially copyable struct: the reports travel between ranks of one mpirun, so
// both ends are the same build.
template <typename M>
std::vector<uint8_t> EncodeStruct(MessageKind kind, const M& m) {
  ByteWriter w = Start(kind);
  w.Put(m);
  return w.Take();
}

// A fixed-size header written over the first `header_bytes` of a message whose records follow.
template <typename H>
void WriteHeader(MessageKind kind, const H& h, size_t header_bytes, std::vector<uint8_t>* out) {
  QR_CHECK(out->size() >= header_bytes);
  const ByteWriter w = EncodeFields(kind, h);
  QR_CHECK(w.bytes().size() == header_bytes);
  std::memcpy(out->data(), w.bytes().data(), header_bytes);
}

}  // namespace

void WriteTransitionsHeader(const TransitionsHeader& h, std::vector<uint8_t>* message) {
  WriteHeader(MessageKind::kTransitions, h, kTransitionsHeaderBytes, message);
}

TransitionsHeader ReadTransitionsHeader(const std::vector<uint8_t>& message) {
  ByteReader r = Open(message, MessageKind::kTransitions);
  const auto h = DecodeFields<TransitionsHeader>(&r);
  QR_CHECK_MSG(
      message.size() == kTransitionsHeaderBytes + static_cast<size_t>(h.count) * h.record_size,
      "transitions message of the wrong size");
  return h;
}

void WriteSampleReplyHeader(const SampleReplyHeader& h, std::vector<uint8_t>* message) {
  WriteHeader(MessageKind::kSampleReply, h, kSampleReplyHeaderBytes, message);
}

SampleReplyHeader ReadSampleReplyHeader(const std::vector<uint8_t>& message) {
  ByteReader r = Open(message, MessageKind::kSampleReply);
  const auto h = DecodeFields<SampleReplyHeader>(&r);
  QR_CHECK_MSG(message.size() ==
                   kSampleReplyHeaderBytes + static_cast<size_t>(h.count) * (8 + h.record_size),
               "sample reply of the wrong size");
  return h;
}

// The messages that are their field lists and nothing else.
std::vector<uint8_t> EncodeSampleRequest(const SampleRequest& m) {
  return EncodeFields(MessageKind::kSampleRequest, m).Take();
}
std::vector<uint8_t> EncodeProgress(const Progress& m) {
  return EncodeFields(MessageKind::kProgress, m).Take();
}
SampleRequest DecodeSampleRequest(const std::vector<uint8_t>& bytes) {
  return DecodeMessage<SampleRequest>(bytes, MessageKind::kSampleRequest);
}
Progress DecodeProgress(const std::vector<uint8_t>& bytes) {
  return DecodeMessage<Progress>(bytes, MessageKind::kProgress);
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

std::vector<uint8_t> EncodeEpisode(const EpisodeReport& m) {
  return EncodeStruct(MessageKind::kEpisode, m);
}

EpisodeReport DecodeEpisode(const std::vector<uint8_t>& bytes) {
  return Open(bytes, MessageKind::kEpisode).Get<EpisodeReport>();
}

std::vector<uint8_t> EncodeTotals(MessageKind kind, const StreamTotals& m) {
  QR_CHECK(kind == MessageKind::kActorDone || kind == MessageKind::kShardDone);
  return EncodeStruct(kind, m);
}

StreamTotals DecodeTotals(const std::vector<uint8_t>& bytes) {
  const MessageKind kind = KindOf(bytes);
  QR_CHECK(kind == MessageKind::kActorDone || kind == MessageKind::kShardDone);
  return Open(bytes, kind).Get<StreamTotals>();
}

std::vector<uint8_t> EncodeLearnerDone(const LearnerDone& m) {
  return EncodeStruct(MessageKind::kLearnerDone, m);
}

LearnerDone DecodeLearnerDone(const std::vector<uint8_t>& bytes) {
  return Open(bytes, MessageKind::kLearnerDone).Get<LearnerDone>();
}

std::vector<uint8_t> EncodeSignal(MessageKind kind) {
  QR_CHECK(kind == MessageKind::kLearnersFinished || kind == MessageKind::kStop ||
           kind == MessageKind::kStopRequest);
  return Start(kind).Take();
}

namespace {

bool IsCheckpointSignal(MessageKind kind) {
  return kind == MessageKind::kCheckpointRequest || kind == MessageKind::kCheckpointMarker ||
         kind == MessageKind::kCheckpointDone;
}

}  // namespace

std::vector<uint8_t> EncodeCheckpointSignal(MessageKind kind, const CheckpointSignal& m) {
  QR_CHECK(IsCheckpointSignal(kind));
  ByteWriter w = Start(kind);
  w.Put(m.id);
  w.Put<uint8_t>(m.stop ? 1 : 0);
  return w.Take();
}

CheckpointSignal DecodeCheckpointSignal(MessageKind kind, const std::vector<uint8_t>& bytes) {
  QR_CHECK(IsCheckpointSignal(kind));
  ByteReader r = Open(bytes, kind);
  CheckpointSignal m;
  m.id = r.Get<int64_t>();
  m.stop = r.Get<uint8_t>() != 0;
  return m;
}

std::vector<std::vector<uint8_t>> EncodeCheckpointPart(int64_t id, int rank, PartKind kind,
                                                       const std::vector<uint8_t>& state,
                                                       size_t max_chunk_bytes) {
  QR_CHECK(max_chunk_bytes >= 1);
  const size_t chunks = std::max<size_t>(1, (state.size() + max_chunk_bytes - 1) / max_chunk_bytes);
  std::vector<std::vector<uint8_t>> out;
  for (size_t c = 0; c < chunks; ++c) {
    ByteWriter w = Start(MessageKind::kCheckpointPart);
    w.Put(id);
    w.Put<int32_t>(rank);
    w.Put<uint8_t>(static_cast<uint8_t>(kind));
    w.Put<int32_t>(static_cast<int32_t>(c));
    w.Put<int32_t>(static_cast<int32_t>(chunks));
    std::vector<uint8_t> bytes = w.Take();
    const size_t begin = c * max_chunk_bytes;
    const size_t end = std::min(state.size(), begin + max_chunk_bytes);
    bytes.insert(bytes.end(), state.begin() + begin, state.begin() + end);
    out.push_back(std::move(bytes));
  }
  return out;
}

CheckpointPartHeader DecodeCheckpointPart(const std::vector<uint8_t>& bytes,
                                          std::vector<uint8_t>* payload) {
  ByteReader r = Open(bytes, MessageKind::kCheckpointPart);
  CheckpointPartHeader h;
  h.id = r.Get<int64_t>();
  h.rank = r.Get<int32_t>();
  const uint8_t kind = r.Get<uint8_t>();
  QR_CHECK_MSG(kind >= 1 && kind <= 3, "checkpoint part of unknown kind");
  h.kind = static_cast<PartKind>(kind);
  h.chunk = r.Get<int32_t>();
  h.chunks = r.Get<int32_t>();
  QR_CHECK_MSG(h.chunks >= 1 && h.chunk >= 0 && h.chunk < h.chunks, "bad checkpoint chunk index");
  payload->assign(bytes.begin() + r.position(), bytes.end());
  return h;
}

bool PartAssembler::Add(const std::vector<uint8_t>& bytes) {
  std::vector<uint8_t> payload;
  const CheckpointPartHeader h = DecodeCheckpointPart(bytes, &payload);
  const auto key = std::make_pair(static_cast<int>(h.rank), h.kind);
  QR_CHECK_MSG(!done_.count(key), "a checkpoint part arrived twice");
  int32_t& next = next_chunk_[key];
  QR_CHECK_MSG(h.chunk == next, "checkpoint chunks out of order");
  ++next;
  std::vector<uint8_t>& part = partial_[key];
  part.insert(part.end(), payload.begin(), payload.end());
  if (h.chunk + 1 < h.chunks) return false;
  done_[key] = std::move(part);
  partial_.erase(key);
  next_chunk_.erase(key);
  return true;
}

std::vector<uint8_t> PartAssembler::Take(int rank, PartKind kind) {
  const auto it = done_.find({rank, kind});
  QR_CHECK_MSG(it != done_.end(), "checkpoint part missing");
  std::vector<uint8_t> part = std::move(it->second);
  done_.erase(it);
  return part;
}

void PartAssembler::Clear() {
  partial_.clear();
  done_.clear();
  next_chunk_.clear();
}

}  // namespace qosroute
