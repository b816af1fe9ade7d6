#include "replay/transition_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "common/rng.h"

namespace qosroute {
namespace {

Observation RandomObservation(int n, int r, int w, Rng& rng, int f = kExpertFeatures,
                              int q = kRequestFeatures) {
  Observation o;
  o.Resize(n, r, w, f, q);
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
  EXPECT_EQ(a.request_features, b.request_features);
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

// Records with and without the aggregate features decode to their own width (from the
// header; in records before version 2, from the size: the test above).
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

// A record as written before version 2: today's record without its header (the body is the
// same bytes).
std::vector<uint8_t> Legacy(const std::vector<uint8_t>& v2) {
  return std::vector<uint8_t>(v2.begin() + kRecordHeaderBytes, v2.end());
}

TEST(TransitionCodec, RecordsWrittenBeforeVersion2DecodeUnchangedAtEitherWidth) {
  for (const int f : {kExpertFeatures, kExpertFeatures + kAggregateFeatures}) {
    Rng rng(8);
    Observation obs = RandomObservation(3, 2, 4, rng, f);
    const Observation next = RandomObservation(3, 2, 4, rng, f);
    obs.schema_id = 77;
    std::vector<uint8_t> bytes;
    EncodeTransition(obs, 2, 1.5f, next, true, &bytes);
    const std::vector<uint8_t> old = Legacy(bytes);
    ASSERT_EQ(old.size(), LegacyTransitionSize(3, 2, 4, f));
    ASSERT_FALSE(IsVersion2Record(old.data(), old.size()));
    Transition t;
    t.label.labelled = true;
    DecodeTransition(old.data(), old.size(), &t);
    ExpectSame(t.obs, obs);
    ExpectSame(t.next_obs, next);
    EXPECT_EQ(t.action, 2);
    EXPECT_EQ(t.reward, 1.5f);
    EXPECT_TRUE(t.done);
    EXPECT_EQ(t.obs.schema_id, 0u);  // old records name no schema
    EXPECT_FALSE(t.label.labelled);
  }
}

TEST(TransitionCodec, HeaderCarriesTheSchemaAndTheWidths) {
  Rng rng(9);
  Observation obs = RandomObservation(2, 3, 1, rng, kExpertFeatures + 5);
  Observation next = RandomObservation(2, 3, 1, rng, kExpertFeatures + 5);
  obs.schema_id = next.schema_id = 0x1234567890abcdefULL;
  std::vector<uint8_t> bytes;
  EncodeTransition(obs, 0, 0.25f, next, false, &bytes);
  ASSERT_TRUE(IsVersion2Record(bytes.data(), bytes.size()));
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "QRT2");
  EXPECT_EQ(bytes.size(), LegacyTransitionSize(2, 3, 1, kExpertFeatures + 5) + kRecordHeaderBytes);
  Transition t;
  DecodeTransition(bytes.data(), bytes.size(), &t);
  EXPECT_EQ(t.obs.schema_id, 0x1234567890abcdefULL);
  EXPECT_EQ(t.next_obs.schema_id, 0x1234567890abcdefULL);
  EXPECT_EQ(t.obs.expert_features, kExpertFeatures + 5);
  ExpectSame(t.obs, obs);
}

// Request feature groups widen the request row: the header carries its width.
TEST(TransitionCodec, RequestWidthComesFromTheHeader) {
  Rng rng(11);
  const int q = kRequestFeatures + 3;
  const Observation obs = RandomObservation(2, 3, 1, rng, kExpertFeatures, q);
  const Observation next = RandomObservation(2, 3, 1, rng, kExpertFeatures, q);
  std::vector<uint8_t> bytes;
  EncodeTransition(obs, 1, 0.5f, next, false, &bytes);
  ASSERT_EQ(bytes.size(), EncodedTransitionSize(obs));
  EXPECT_EQ(EncodedTransitionSize(obs) - EncodedTransitionSize(2, 3, 1, kExpertFeatures),
            2 * 3 * sizeof(float));
  Transition t;
  t.obs.Resize(2, 3, 1);  // reused buffers of the reference width
  DecodeTransition(bytes.data(), bytes.size(), &t);
  ExpectSame(t.obs, obs);
  ExpectSame(t.next_obs, next);
  EXPECT_EQ(t.obs.request.size(), static_cast<size_t>(q));
  // A record whose size disagrees with its header's widths is refused (an internal check:
  // records only come from this build's encoder or a verified checkpoint).
  bytes.pop_back();
  EXPECT_DEATH(DecodeTransition(bytes.data(), bytes.size(), &t), "does not match its header");
}

TEST(TransitionCodec, ActionValuesFieldRoundTripsLabelledOrNot) {
  Rng rng(10);
  const Observation obs = RandomObservation(3, 2, 2, rng);
  const Observation next = RandomObservation(3, 2, 2, rng);
  ActionLabel label;
  label.labelled = true;
  label.chosen = 3;
  label.values = {0.5f, -0.25f, 0.75f, 0.125f};
  std::vector<uint8_t> bytes;
  EncodeTransition(obs, 1, 0.0f, next, false, &bytes, kActionValuesField, &label);
  const size_t size = EncodedTransitionSize(obs, kActionValuesField);
  ASSERT_EQ(size, EncodedTransitionSize(obs) + 1 + 4 + 4 * sizeof(float));
  EncodeTransition(obs, 2, 0.0f, next, false, &bytes, kActionValuesField, nullptr);
  ASSERT_EQ(bytes.size(), 2 * size);  // every record of a run has the same size
  Transition t;
  DecodeTransition(bytes.data(), size, &t);
  EXPECT_TRUE(t.label.labelled);
  EXPECT_EQ(t.label.chosen, 3);
  EXPECT_EQ(t.label.values, label.values);
  EXPECT_EQ(t.action, 1);
  DecodeTransition(bytes.data() + size, size, &t);
  EXPECT_FALSE(t.label.labelled);
  EXPECT_EQ(t.action, 2);
  // A record without the field clears a label left in the reused transition.
  std::vector<uint8_t> plain;
  EncodeTransition(obs, 0, 0.0f, next, false, &plain);
  t.label = label;
  DecodeTransition(plain.data(), plain.size(), &t);
  EXPECT_FALSE(t.label.labelled);
  EXPECT_TRUE(t.label.values.empty());
}

TEST(TransitionCodec, UpgradeRecordsConvertsOldRecordsAndKeepsNewOnes) {
  Rng rng(11);
  std::vector<uint8_t> v2, old;
  std::vector<Transition> want(3);
  for (Transition& w : want) {
    w.obs = RandomObservation(2, 2, 3, rng);
    w.next_obs = RandomObservation(2, 2, 3, rng);
    w.action = rng.Below(3);
    std::vector<uint8_t> one;
    EncodeTransition(w.obs, w.action, 0.5f, w.next_obs, false, &one);
    v2.insert(v2.end(), one.begin(), one.end());
    const std::vector<uint8_t> l = Legacy(one);
    old.insert(old.end(), l.begin(), l.end());
  }
  const size_t old_size = old.size() / 3;
  size_t new_size = 0;
  const std::vector<uint8_t> upgraded = UpgradeRecords(old.data(), 3, old_size, &new_size);
  EXPECT_EQ(new_size, old_size + kRecordHeaderBytes);
  EXPECT_EQ(upgraded, v2);  // byte for byte what this build writes (schema id 0)
  size_t kept_size = 0;
  EXPECT_EQ(UpgradeRecords(v2.data(), 3, new_size, &kept_size), v2);
  EXPECT_EQ(kept_size, new_size);
}

TEST(TransitionCodecDeathTest, ARecordThatDisagreesWithItsHeaderIsCaught) {
  Rng rng(12);
  std::vector<uint8_t> bytes;
  EncodeTransition(RandomObservation(2, 2, 2, rng), 0, 0.0f, RandomObservation(2, 2, 2, rng), false,
                   &bytes);
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  Transition t;
  EXPECT_DEATH(DecodeTransition(longer.data(), longer.size(), &t), "does not match its header");
  std::vector<uint8_t> newer = bytes;
  newer[6] = 0x80;  // an optional field this build does not know
  EXPECT_DEATH(DecodeTransition(newer.data(), newer.size(), &t), "newer format");
}

TEST(TransitionCodecDeathTest, ARecordSizeThatFitsNoExpertWidthIsCaught) {
  Rng rng(7);
  std::vector<uint8_t> bytes;
  EncodeTransition(RandomObservation(2, 2, 2, rng), 0, 0.0f, RandomObservation(2, 2, 2, rng), false,
                   &bytes);
  bytes = Legacy(bytes);  // the size decides the width only in records before version 2
  bytes.push_back(0);     // one byte more than any width gives
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
