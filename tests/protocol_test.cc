// The wire form of the fixed messages (comm/protocol.h): every field survives a round trip, the
// bytes are the packed little-endian fields in declaration order after the kind byte (what
// ranks of one job exchange), and a message of another kind is refused.
#include "comm/protocol.h"

#include <gtest/gtest.h>

#include <cstring>

namespace qosroute {
namespace {

template <typename T>
T At(const std::vector<uint8_t>& bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

TEST(Protocol, TransitionsHeaderIsPackedFieldsAndChecksTheMessageSize) {
  const TransitionsHeader h{3, 41, 7, 2, 10};
  std::vector<uint8_t> message(kTransitionsHeaderBytes + 2 * 10, 0xAB);
  WriteTransitionsHeader(h, &message);
  EXPECT_EQ(message[0], static_cast<uint8_t>(MessageKind::kTransitions));
  EXPECT_EQ(At<int32_t>(message, 1), 3);
  EXPECT_EQ(At<int64_t>(message, 5), 41);
  EXPECT_EQ(At<int64_t>(message, 13), 7);
  EXPECT_EQ(At<int32_t>(message, 21), 2);
  EXPECT_EQ(At<uint32_t>(message, 25), 10u);
  EXPECT_EQ(message[kTransitionsHeaderBytes], 0xAB);  // the records are left alone
  const TransitionsHeader back = ReadTransitionsHeader(message);
  EXPECT_EQ(back.actor, 3);
  EXPECT_EQ(back.sequence, 41);
  EXPECT_EQ(back.policy_version, 7);
  EXPECT_EQ(back.count, 2);
  EXPECT_EQ(back.record_size, 10u);
  message.pop_back();
  EXPECT_DEATH(ReadTransitionsHeader(message), "wrong size");
}

TEST(Protocol, SampleReplyHeaderRoundTrips) {
  std::vector<uint8_t> message(kSampleReplyHeaderBytes + 3 * (8 + 4));
  WriteSampleReplyHeader(SampleReplyHeader{99, 3, 4}, &message);
  const SampleReplyHeader back = ReadSampleReplyHeader(message);
  EXPECT_EQ(back.request_id, 99);
  EXPECT_EQ(back.count, 3);
  EXPECT_EQ(back.record_size, 4u);
}

TEST(Protocol, FieldMessagesRoundTripAndArePacked) {
  const std::vector<uint8_t> request = EncodeSampleRequest(SampleRequest{12, 256});
  ASSERT_EQ(request.size(), 1u + 8 + 4);
  EXPECT_EQ(At<int32_t>(request, 9), 256);
  const SampleRequest r = DecodeSampleRequest(request);
  EXPECT_EQ(r.request_id, 12);
  EXPECT_EQ(r.count, 256);

  const std::vector<uint8_t> progress = EncodeProgress(Progress{5, 1000, 9, 12.5, 20});
  ASSERT_EQ(progress.size(), 1u + 4 + 8 + 8 + 8 + 8);
  EXPECT_EQ(At<double>(progress, 21), 12.5);
  const Progress p = DecodeProgress(progress);
  EXPECT_EQ(p.actor, 5);
  EXPECT_EQ(p.frames, 1000);
  EXPECT_EQ(p.policy_version, 9);
  EXPECT_EQ(p.credited_qos, 12.5);
  EXPECT_EQ(p.credited_requests, 20);
}

TEST(Protocol, StructMessagesRoundTrip) {
  const EpisodeReport e = DecodeEpisode(EncodeEpisode(EpisodeReport{1, 2, 3, 0.5, 0.9, 0.1, 7}));
  EXPECT_EQ(e.frames, 2);
  EXPECT_EQ(e.episode_return, 7.0);
  const StreamTotals t =
      DecodeTotals(EncodeTotals(MessageKind::kShardDone, StreamTotals{2, 30, 77, 40, 0.25}));
  EXPECT_EQ(t.index, 2);
  EXPECT_EQ(t.checksum, 77u);
  EXPECT_EQ(t.rate_deviation_max, 0.25);
  LearnerDone d;
  d.learner = 1;
  d.parameter_checksum = 123;
  d.updates = 456;
  const LearnerDone back = DecodeLearnerDone(EncodeLearnerDone(d));
  EXPECT_EQ(back.parameter_checksum, 123u);
  EXPECT_EQ(back.updates, 456);
}

TEST(Protocol, AMessageOfAnotherKindIsRefusedByName) {
  const std::vector<uint8_t> progress = EncodeProgress(Progress{});
  EXPECT_DEATH(DecodeSampleRequest(progress), "expected a sample-request message, got progress");
}

}  // namespace
}  // namespace qosroute
