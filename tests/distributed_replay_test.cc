// The replay shard (storage and protocol server) without torch or MPI.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "comm/transport_inproc.h"
#include "replay/replay_shard.h"
#include "replay/transition_codec.h"

namespace qosroute {
namespace {

std::vector<uint8_t> Records(int first, int count, size_t record_size) {
  std::vector<uint8_t> bytes(count * record_size);
  for (int i = 0; i < count; ++i)
    std::memset(bytes.data() + i * record_size, first + i, record_size);
  return bytes;
}

TEST(ReplayShard, EvictsOldestFirstWhenFull) {
  ReplayShardOptions options;
  options.capacity = 3;
  ReplayShard shard(options);
  const auto bytes = Records(10, 5, 4);
  shard.Insert(bytes.data(), 5, 4);
  EXPECT_EQ(shard.size(), 3);
  std::multiset<int> held;
  for (int slot = 0; slot < 3; ++slot) held.insert(shard.record(slot)[0]);
  EXPECT_EQ(held, (std::multiset<int>{12, 13, 14}));
}

// A shard of a checkpoint written before version-2 records: restored, its records become
// version 2 (the size this build's actors send), keep their contents, and new records join.
TEST(ReplayShard, RestoredRecordsOfAnOldCheckpointBecomeVersion2) {
  Observation obs, next;
  obs.Resize(2, 1, 1);
  next.Resize(2, 1, 1);
  std::vector<uint8_t> v2, legacy;
  for (int i = 0; i < 3; ++i) {
    obs.expert[0] = static_cast<float>(i);
    std::vector<uint8_t> one;
    EncodeTransition(obs, i, 0.5f * i, next, false, &one);
    v2.insert(v2.end(), one.begin(), one.end());
    legacy.insert(legacy.end(), one.begin() + kRecordHeaderBytes, one.end());
  }
  const size_t v2_size = v2.size() / 3, legacy_size = legacy.size() / 3;
  ReplayShardOptions options;
  options.capacity = 8;
  ShardSnapshot old;
  old.capacity = 8;
  old.record_size = legacy_size;
  old.size = 3;
  old.next_serial = 3;
  old.records = legacy;
  old.serials = {0, 1, 2};
  ReplayShard shard(options);
  shard.RestoreFrom(old);
  ASSERT_EQ(shard.record_size(), v2_size);
  for (int slot = 0; slot < 3; ++slot) {
    EXPECT_EQ(std::vector<uint8_t>(shard.record(slot), shard.record(slot) + v2_size),
              std::vector<uint8_t>(v2.begin() + slot * v2_size, v2.begin() + (slot + 1) * v2_size));
  }
  shard.Insert(v2.data(), 1, v2_size);  // what an actor of the resumed run sends
  EXPECT_EQ(shard.size(), 4);
  Transition t;
  DecodeTransition(shard.record(2), v2_size, &t);
  EXPECT_EQ(t.action, 2);
  EXPECT_EQ(t.obs.expert[0], 2.0f);
}

// Statistical, fixed seed: sampling frequencies follow the priorities set by the learners,
// and an update for a record evicted since it was sampled changes nothing.
TEST(ReplayShard, PrioritizedSamplingFrequenciesMatchPriorities) {
  ReplayShardOptions options;
  options.capacity = 4;
  options.prioritized = true;
  options.priority_exponent = 1.0;
  options.priority_epsilon = 0.0;
  options.seed = 11;
  ReplayShard shard(options);
  const auto bytes = Records(0, 4, 8);
  shard.Insert(bytes.data(), 4, 8);
  shard.UpdatePriorities({0, 1, 2, 3}, {1.0f, 2.0f, 3.0f, 4.0f});
  shard.UpdatePriorities({99}, {1000.0f});  // never inserted: ignored
  std::vector<uint64_t> keys;
  std::vector<uint8_t> records;
  const int draws = 100000;
  shard.Sample(draws, &keys, &records);
  std::map<uint64_t, int> counts;
  for (uint64_t k : keys) ++counts[k];
  for (uint64_t k = 0; k < 4; ++k)
    EXPECT_NEAR(counts[k] / double(draws), (k + 1) / 10.0, 0.01) << "key " << k;
  // Each sampled record is the stored one of its key.
  for (int i = 0; i < 100; ++i) EXPECT_EQ(records[i * 8], keys[i]);
}

TEST(ReplayShard, UniformSamplingCoversEveryRecordEvenly) {
  ReplayShardOptions options;
  options.capacity = 10;
  options.seed = 5;
  ReplayShard shard(options);
  const auto bytes = Records(0, 10, 2);
  shard.Insert(bytes.data(), 10, 2);
  std::vector<uint64_t> keys;
  std::vector<uint8_t> records;
  shard.Sample(50000, &keys, &records);
  std::map<uint64_t, int> counts;
  for (uint64_t k : keys) ++counts[k];
  for (uint64_t k = 0; k < 10; ++k) EXPECT_NEAR(counts[k] / 50000.0, 0.1, 0.01);
}

std::vector<uint8_t> TransitionsMessage(int actor, int64_t sequence, int first, int count,
                                        size_t record_size) {
  std::vector<uint8_t> message(kTransitionsHeaderBytes);
  const auto records = Records(first, count, record_size);
  message.insert(message.end(), records.begin(), records.end());
  WriteTransitionsHeader(
      TransitionsHeader{actor, sequence, 0, count, static_cast<uint32_t>(record_size)}, &message);
  return message;
}

// Ranks: 0 learner, 1 shard, 2 actor. The shard acknowledges admitted inserts, answers sample
// requests only while the ratio allows, and reports totals that match what the actor sent.
TEST(ShardServer, AdmitsInsertsAndServesSamplesAtTheConfiguredRatio) {
  RoleLayout layout{3, 1, 1};
  InProcessHub hub(3);
  InProcessTransport learner(&hub, 0), shard_transport(&hub, 1), actor(&hub, 2);
  ReplayShardOptions replay;
  replay.capacity = 100;
  RateLimiterOptions limiter;
  limiter.samples_per_insert = 1.0;
  limiter.min_size_to_sample = 4;
  limiter.max_insert_batch = 4;
  limiter.max_sample_batch = 4;
  limiter.error_buffer = 8;
  ShardServer server(layout, 0, replay, limiter, &shard_transport);
  auto pump = [&] {
    Message m;
    while (shard_transport.Poll(&m)) ASSERT_TRUE(server.Handle(&m));
    server.Serve();
  };
  uint64_t sent_checksum = 0;
  for (int s = 0; s < 3; ++s) {
    auto message = TransitionsMessage(0, s, 4 * s, 4, 16);
    for (int i = 0; i < 4; ++i)
      sent_checksum += RecordHash(message.data() + kTransitionsHeaderBytes + i * 16, 16);
    actor.Send(1, std::move(message));
  }
  pump();
  int acks = 0;
  Message m;
  while (actor.Poll(&m)) {
    EXPECT_EQ(DecodeInsertAck(m.bytes), acks);
    ++acks;
  }
  // 12 inserts at ratio 1 from min size 4: 8 samples owed + tolerance 8 = 16 allowed.
  EXPECT_EQ(acks, 3);
  for (int r = 0; r < 5; ++r) learner.Send(1, EncodeSampleRequest(SampleRequest{r, 4}));
  pump();
  int replies = 0;
  while (learner.Poll(&m)) {
    const SampleReplyHeader h = ReadSampleReplyHeader(m.bytes);
    EXPECT_EQ(h.request_id, replies);
    EXPECT_EQ(h.count, 4);
    ++replies;
  }
  EXPECT_EQ(replies, 4);  // the fifth waits for more inserts
  actor.Send(1, EncodeTotals(MessageKind::kActorDone, StreamTotals{0, 12, sent_checksum, 12, 0.0}));
  pump();  // all actors done: sampling is released, the fifth request is served, totals go out
  int fifth = 0, done = 0;
  while (learner.Poll(&m)) {
    if (KindOf(m.bytes) == MessageKind::kSampleReply) ++fifth;
    if (KindOf(m.bytes) == MessageKind::kShardDone) {
      ++done;
      const StreamTotals t = DecodeTotals(m.bytes);
      EXPECT_EQ(t.transitions, 12);
      EXPECT_EQ(t.checksum, sent_checksum);
    }
  }
  EXPECT_EQ(fifth, 1);
  EXPECT_EQ(done, 1);
  EXPECT_LE(server.totals().rate_deviation_max, limiter.error_buffer);
}

}  // namespace
}  // namespace qosroute
