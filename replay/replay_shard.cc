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
  QR_CHECK_MSG(record_size == record_size_, "transition records of different sizes in one shard");
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
    default:
      return false;
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
