#include "replay/replay_shard.h"

#include <cmath>
#include <cstring>

#include "common/error.h"
#include "replay/transition_codec.h"

namespace qosroute {

ReplayShard::ReplayShard(const ReplayShardOptions& options)
    : options_(options), rng_(options.seed) {
  QR_CHECK(options.capacity >= 1);
  serial_.assign(options.capacity, 0);
  if (options.prioritized) tree_ = std::make_unique<SumTree>(options.capacity);
}

uint64_t ReplayShard::Insert(const uint8_t* records, int count, size_t record_size) {
  if (record_size_ == 0) {
    record_size_ = record_size;
    storage_.resize(static_cast<size_t>(options_.capacity) * record_size);
  }
  QR_CHECK_MSG(record_size == record_size_,
               "transition records of different sizes in one shard (records with planner labels "
               "are larger: was train.planner_share changed between 0 and > 0 across a resume?)");
  uint64_t checksum = 0;
  for (int i = 0; i < count; ++i) {
    const uint8_t* src = records + static_cast<size_t>(i) * record_size;
    checksum += RecordHash(src, record_size);
    const int slot = static_cast<int>(next_serial_ % options_.capacity);
    std::memcpy(storage_.data() + slot * record_size_, src, record_size_);
    serial_[slot] = next_serial_++;
    if (tree_) tree_->Set(slot, max_priority_);
    if (size_ < options_.capacity) ++size_;
  }
  return checksum;
}

void ReplayShard::Sample(int count, std::vector<uint64_t>* keys, std::vector<uint8_t>* records) {
  QR_CHECK(size_ > 0);
  for (int i = 0; i < count; ++i) {
    const int slot = tree_ ? tree_->Sample(rng_) : static_cast<int>(rng_.Below(size_));
    keys->push_back(serial_[slot]);
    const uint8_t* src = record(slot);
    records->insert(records->end(), src, src + record_size_);
  }
}

void ReplayShard::UpdatePriorities(const std::vector<uint64_t>& keys,
                                   const std::vector<float>& td_errors) {
  if (!tree_) return;
  QR_CHECK(keys.size() == td_errors.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const int slot = static_cast<int>(keys[i] % options_.capacity);
    if (serial_[slot] != keys[i] || keys[i] >= next_serial_) continue;  // evicted since sampled
    const double p =
        std::pow(std::fabs(static_cast<double>(td_errors[i])) + options_.priority_epsilon,
                 options_.priority_exponent);
    if (!std::isfinite(p)) continue;
    tree_->Set(slot, p);
    max_priority_ = std::max(max_priority_, p);
  }
}

void ReplayShard::SaveTo(ShardSnapshot* s) const {
  s->capacity = options_.capacity;
  s->record_size = record_size_;
  s->size = size_;
  s->next_serial = next_serial_;
  s->records.assign(storage_.begin(), storage_.begin() + static_cast<size_t>(size_) * record_size_);
  s->serials.assign(serial_.begin(), serial_.begin() + size_);
  s->priorities.clear();
  if (tree_) {
    for (int i = 0; i < options_.capacity; ++i) s->priorities.push_back(tree_->Get(i));
  }
  s->max_priority = max_priority_;
  s->rng = rng_.state();
}

void ReplayShard::RestoreFrom(const ShardSnapshot& s) {
  QR_CHECK_MSG(s.capacity == options_.capacity, "checkpointed shard capacity " +
                                                    std::to_string(s.capacity) + " differs from " +
                                                    std::to_string(options_.capacity));
  QR_CHECK_MSG(s.priorities.empty() == (tree_ == nullptr),
               "checkpointed shard and this run disagree on prioritized replay");
  size_ = s.size;
  next_serial_ = s.next_serial;
  // Records of a checkpoint written before version-2 records become version 2, the size the
  // actors of this run send.
  size_t record_size = s.record_size;
  const std::vector<uint8_t> records =
      UpgradeRecords(s.records.data(), static_cast<size_t>(s.size), s.record_size, &record_size);
  record_size_ = record_size;
  storage_.assign(static_cast<size_t>(options_.capacity) * record_size_, 0);
  std::copy(records.begin(), records.end(), storage_.begin());
  serial_.assign(options_.capacity, 0);
  std::copy(s.serials.begin(), s.serials.end(), serial_.begin());
  if (tree_) {
    for (int i = 0; i < options_.capacity; ++i) tree_->Set(i, s.priorities[i]);
  }
  max_priority_ = s.max_priority;
  rng_.set_state(s.rng);
}

ShardServer::ShardServer(const RoleLayout& layout, int shard_index,
                         const ReplayShardOptions& replay, const RateLimiterOptions& limiter,
                         Transport* transport)
    : layout_(layout),
      shard_index_(shard_index),
      transport_(transport),
      replay_(replay),
      limiter_(limiter),
      next_sequence_(layout.num_actors(), 0) {
  totals_.index = shard_index;
}

bool ShardServer::Handle(Message* incoming) {
  const Message& message = *incoming;
  switch (KindOf(message.bytes)) {
    case MessageKind::kTransitions:
      pending_inserts_.push_back(std::move(*incoming));
      return true;
    case MessageKind::kSampleRequest:
      pending_samples_.push_back(PendingSample{message.source, DecodeSampleRequest(message.bytes)});
      return true;
    case MessageKind::kPriorityUpdate: {
      const PriorityUpdate update = DecodePriorityUpdate(message.bytes);
      replay_.UpdatePriorities(update.keys, update.priorities);
      return true;
    }
    case MessageKind::kActorDone: {
      const StreamTotals t = DecodeTotals(message.bytes);
      QR_CHECK(layout_.ShardOfActor(t.index) == shard_index_);
      actors_done_.insert(t.index);
      return true;
    }
    case MessageKind::kLearnersFinished:
      limiter_.Release();
      return true;
    case MessageKind::kCheckpointMarker: {
      const CheckpointSignal marker =
          DecodeCheckpointSignal(MessageKind::kCheckpointMarker, message.bytes);
      const int expected = layout_.ActorsOfShard(shard_index_) + layout_.learners;
      if (++markers_[marker.id] == expected) {
        markers_.erase(marker.id);
        const int rank = layout_.ShardRank(shard_index_);
        for (auto& chunk :
             EncodeCheckpointPart(marker.id, rank, PartKind::kShard,
                                  EncodeShardSnapshot(Snapshot()), max_chunk_bytes_)) {
          transport_->Send(layout_.LearnerRank(0), std::move(chunk));
        }
      }
      return true;
    }
    default:
      return false;
  }
}

ShardSnapshot ShardServer::Snapshot() const {
  QR_CHECK_MSG(pending_samples_.empty(), "checkpoint marker while sample requests are outstanding");
  ShardSnapshot s;
  s.shard = shard_index_;
  replay_.SaveTo(&s);
  s.limiter_inserts = limiter_.inserts();
  s.limiter_samples = limiter_.samples();
  s.limiter_released = limiter_.released();
  s.next_sequence = next_sequence_;
  s.actors_done.assign(actors_done_.begin(), actors_done_.end());
  s.done_sent = done_sent_;
  s.totals = totals_;
  for (const Message& m : pending_inserts_) s.pending_inserts.push_back(m.bytes);
  return s;
}

void ShardServer::Restore(const ShardSnapshot& s) {
  QR_CHECK_MSG(s.shard == shard_index_, "checkpoint part of shard " + std::to_string(s.shard) +
                                            " given to shard " + std::to_string(shard_index_));
  QR_CHECK_MSG(s.next_sequence.size() == next_sequence_.size(),
               "checkpointed shard knows a different number of actors");
  replay_.RestoreFrom(s);
  limiter_.Restore(s.limiter_inserts, s.limiter_samples, s.limiter_released);
  next_sequence_ = s.next_sequence;
  actors_done_ = std::set<int>(s.actors_done.begin(), s.actors_done.end());
  done_sent_ = s.done_sent;
  totals_ = s.totals;
  pending_inserts_.clear();
  for (const auto& bytes : s.pending_inserts) {
    TransitionsHeader h = ReadTransitionsHeader(bytes);
    QR_CHECK(h.actor >= 0 && h.actor < layout_.num_actors());
    // Records of before version 2, as in the storage above. The stream check compares the
    // hashes the actor sent with those inserted: the upgraded records count as the bytes
    // the actor sent.
    std::vector<uint8_t> message = bytes;
    size_t record_size = h.record_size;
    totals_.checksum -=
        UpgradeRecordsInPlace(&message, kTransitionsHeaderBytes, h.count, &record_size);
    h.record_size = static_cast<uint32_t>(record_size);
    WriteTransitionsHeader(h, &message);
    pending_inserts_.push_back(Message{layout_.ActorRank(h.actor), std::move(message)});
  }
}

bool ShardServer::Serve() {
  bool progress = false;
  for (bool again = true; again;) {
    again = false;
    if (!pending_inserts_.empty()) {
      const Message& m = pending_inserts_.front();
      const TransitionsHeader h = ReadTransitionsHeader(m.bytes);
      if (limiter_.CanInsert(h.count)) {
        QR_CHECK(h.actor >= 0 && h.actor < layout_.num_actors() &&
                 layout_.ShardOfActor(h.actor) == shard_index_);
        QR_CHECK_MSG(h.sequence == next_sequence_[h.actor],
                     "actor " + std::to_string(h.actor) + " message " + std::to_string(h.sequence) +
                         " arrived out of order (expected " +
                         std::to_string(next_sequence_[h.actor]) + ")");
        ++next_sequence_[h.actor];
        totals_.checksum +=
            replay_.Insert(m.bytes.data() + kTransitionsHeaderBytes, h.count, h.record_size);
        totals_.transitions += h.count;
        limiter_.Inserted(h.count);
        transport_->Send(m.source, EncodeInsertAck(h.sequence));
        pending_inserts_.pop_front();
        again = progress = true;
      }
    }
    if (!pending_samples_.empty() && limiter_.CanSample(pending_samples_.front().request.count)) {
      const PendingSample p = pending_samples_.front();
      pending_samples_.pop_front();
      std::vector<uint64_t> keys;
      std::vector<uint8_t> records;
      replay_.Sample(p.request.count, &keys, &records);
      limiter_.Sampled(p.request.count);
      totals_.frames += p.request.count;
      if (!limiter_.released() && limiter_.inserts() >= limiter_.options().min_size_to_sample) {
        totals_.rate_deviation_max =
            std::max(totals_.rate_deviation_max, std::fabs(limiter_.Deviation()));
      }
      std::vector<uint8_t> reply(kSampleReplyHeaderBytes);
      WriteSampleReplyHeader(SampleReplyHeader{p.request.request_id, p.request.count,
                                               static_cast<uint32_t>(replay_.record_size())},
                             &reply);
      const auto* key_bytes = reinterpret_cast<const uint8_t*>(keys.data());
      reply.insert(reply.end(), key_bytes, key_bytes + keys.size() * sizeof(uint64_t));
      reply.insert(reply.end(), records.begin(), records.end());
      transport_->Send(p.learner_rank, std::move(reply));
      again = progress = true;
    }
  }
  // Once every actor of this shard is done (and all it sent is stored), nothing more will
  // arrive: sampling is no longer limited, so the learners can finish their updates.
  if (!done_sent_ && pending_inserts_.empty() &&
      static_cast<int>(actors_done_.size()) == layout_.ActorsOfShard(shard_index_)) {
    limiter_.Release();
    transport_->Send(layout_.LearnerRank(0), EncodeTotals(MessageKind::kShardDone, totals_));
    done_sent_ = true;
    progress = true;
    // Samples queued behind the limiter can be served now.
    Serve();
  }
  return progress;
}

}  // namespace qosroute
