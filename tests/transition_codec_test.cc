#include "replay/transition_codec.h"

#include <gtest/gtest.h>

#include "common/rng.h"

namespace qosroute {
namespace {

Observation RandomObservation(int n, int r, int w, Rng& rng, int f = kExpertFeatures) {
  Observation o;
  o.Resize(n, r, w, f);
  for (auto& v : o.request) v = static_cast<float>(rng.Uniform());
  for (auto& v : o.expert) v = static_cast<float>(rng.Uniform());
  for (auto& v : o.running) v = static_cast<float>(rng.Uniform());
  for (auto& v : o.waiting) v = static_cast<float>(rng.Uniform());
  for (auto& m : o.running_mask) m = rng.Below(2);
  for (auto& m : o.waiting_mask) m = rng.Below(2);
  for (auto& m : o.action_mask) m = rng.Below(2);
  return o;
}

void ExpectSame(const Observation& a, const Observation& b) {
  EXPECT_EQ(a.num_experts, b.num_experts);
  EXPECT_EQ(a.expert_features, b.expert_features);
  EXPECT_EQ(a.request, b.request);
  EXPECT_EQ(a.expert, b.expert);
  EXPECT_EQ(a.running, b.running);
  EXPECT_EQ(a.running_mask, b.running_mask);
  EXPECT_EQ(a.waiting, b.waiting);
  EXPECT_EQ(a.waiting_mask, b.waiting_mask);
  EXPECT_EQ(a.action_mask, b.action_mask);
}

TEST(TransitionCodec, RoundTripsEveryField) {
  Rng rng(3);
  const Observation obs = RandomObservation(3, 4, 5, rng);
  const Observation next = RandomObservation(3, 4, 5, rng);
  std::vector<uint8_t> bytes;
  EncodeTransition(obs, 2, -0.75f, next, true, &bytes);
  ASSERT_EQ(bytes.size(), EncodedTransitionSize(3, 4, 5, kExpertFeatures));
  Transition t;
  DecodeTransition(bytes.data(), bytes.size(), &t);
  ExpectSame(t.obs, obs);
  ExpectSame(t.next_obs, next);
  EXPECT_EQ(t.action, 2);
  EXPECT_EQ(t.reward, -0.75f);
  EXPECT_TRUE(t.done);
}

TEST(TransitionCodec, RecordsAppendBackToBackAtFixedSize) {
  Rng rng(4);
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 5; ++i) {
    EncodeTransition(RandomObservation(2, 3, 3, rng), i % 3, 0.1f * i,
                     RandomObservation(2, 3, 3, rng), false, &bytes);
  }
  const size_t size = EncodedTransitionSize(2, 3, 3, kExpertFeatures);
  ASSERT_EQ(bytes.size(), 5 * size);
  Transition t;
  DecodeTransition(bytes.data() + 3 * size, size, &t);
  EXPECT_EQ(t.action, 0);
  EXPECT_FLOAT_EQ(t.reward, 0.3f);
}

// The expert width is not in the record's header: it follows from the record's size, so
// records with and without the aggregate features (and those written before they existed,
// which are byte for byte the F = 12 records) decode to their own width.
TEST(TransitionCodec, ExpertWidthFollowsTheRecordSize) {
  const int wide = ExpertFeatureWidth(/*aggregates=*/true);
  ASSERT_EQ(wide, kExpertFeatures + kAggregateFeatures);
  for (const int f : {kExpertFeatures, wide}) {
    Rng rng(6);
    const Observation obs = RandomObservation(3, 2, 4, rng, f);
    const Observation next = RandomObservation(3, 2, 4, rng, f);
    std::vector<uint8_t> bytes;
    EncodeTransition(obs, 1, 0.5f, next, false, &bytes);
    ASSERT_EQ(bytes.size(), EncodedTransitionSize(3, 2, 4, f));
    Transition t;
    t.obs.Resize(3, 2, 4, f == wide ? kExpertFeatures : wide);  // reused buffers of the other width
    DecodeTransition(bytes.data(), bytes.size(), &t);
    ExpectSame(t.obs, obs);
    ExpectSame(t.next_obs, next);
    EXPECT_EQ(t.obs.expert.size(), static_cast<size_t>(3 * f));
  }
  EXPECT_EQ(EncodedTransitionSize(3, 2, 4, wide) - EncodedTransitionSize(3, 2, 4, kExpertFeatures),
            2 * 3 * kAggregateFeatures * sizeof(float));
}

TEST(TransitionCodecDeathTest, ARecordSizeThatFitsNoExpertWidthIsCaught) {
  Rng rng(7);
  std::vector<uint8_t> bytes;
  EncodeTransition(RandomObservation(2, 2, 2, rng), 0, 0.0f, RandomObservation(2, 2, 2, rng), false,
                   &bytes);
  bytes.push_back(0);  // one byte more than any width gives
  Transition t;
  EXPECT_DEATH(DecodeTransition(bytes.data(), bytes.size(), &t), "fits no expert width");
}

TEST(TransitionCodec, ChecksumSumIsOrderIndependentAndSeesDuplicates) {
  Rng rng(5);
  std::vector<std::vector<uint8_t>> records(3);
  for (auto& r : records)
    EncodeTransition(RandomObservation(2, 2, 2, rng), 1, 1.0f, RandomObservation(2, 2, 2, rng),
                     false, &r);
  auto hash = [](const std::vector<uint8_t>& r) { return RecordHash(r.data(), r.size()); };
  const uint64_t forward = hash(records[0]) + hash(records[1]) + hash(records[2]);
  const uint64_t backward = hash(records[2]) + hash(records[1]) + hash(records[0]);
  EXPECT_EQ(forward, backward);
  EXPECT_NE(forward, hash(records[0]) + hash(records[0]) + hash(records[2]));
  records[1][7] ^= 1;
  EXPECT_NE(forward, hash(records[0]) + hash(records[1]) + hash(records[2]));
}

}  // namespace
}  // namespace qosroute
