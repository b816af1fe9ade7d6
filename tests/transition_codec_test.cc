#include "replay/transition_codec.h"

#include <gtest/gtest.h>

#include "common/rng.h"

namespace qosroute {
namespace {

Observation RandomObservation(int n, int r, int w, Rng& rng) {
  Observation o;
  o.Resize(n, r, w);
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
  ASSERT_EQ(bytes.size(), EncodedTransitionSize(3, 4, 5));
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
  const size_t size = EncodedTransitionSize(2, 3, 3);
  ASSERT_EQ(bytes.size(), 5 * size);
  Transition t;
  DecodeTransition(bytes.data() + 3 * size, size, &t);
  EXPECT_EQ(t.action, 0);
  EXPECT_FLOAT_EQ(t.reward, 0.3f);
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
