#include "replay/rate_limiter.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/rng.h"

namespace qosroute {
namespace {

RateLimiterOptions Options(double spi, long min_size, long insert_batch, long sample_batch) {
  RateLimiterOptions o;
  o.samples_per_insert = spi;
  o.min_size_to_sample = min_size;
  o.max_insert_batch = insert_batch;
  o.max_sample_batch = sample_batch;
  o.error_buffer = insert_batch * spi + sample_batch;  // the smallest deadlock-free tolerance
  return o;
}

TEST(RateLimiter, SamplingWaitsForMinSize) {
  RateLimiter limiter(Options(2.0, 10, 4, 8));
  EXPECT_FALSE(limiter.CanSample(1));
  limiter.Inserted(9);
  EXPECT_FALSE(limiter.CanSample(1));
  limiter.Inserted(1);
  EXPECT_TRUE(limiter.CanSample(8));
}

TEST(RateLimiter, BlocksInsertsWhenSamplesFallBehind) {
  RateLimiter limiter(Options(4.0, 1, 8, 16));  // error buffer 48
  limiter.Inserted(1);
  long inserted = 1;
  while (limiter.CanInsert(8)) {
    limiter.Inserted(8);
    inserted += 8;
  }
  EXPECT_LE(limiter.Deviation(), limiter.options().error_buffer);
  EXPECT_GT(limiter.Deviation() + 8 * 4.0, limiter.options().error_buffer);
  EXPECT_TRUE(limiter.CanSample(16));  // blocked inserts always leave sampling open
  limiter.Release();
  EXPECT_TRUE(limiter.CanInsert(8));
}

// Actors (random batch sizes) and learners (fixed batches) interleave at random speeds; the
// ratio holds within the tolerance at every step and the run never deadlocks.
TEST(RateLimiter, HoldsTheRatioWithinToleranceUnderRandomInterleaving) {
  for (double spi : {0.5, 4.0, 32.0}) {
    const long insert_batch = 16, sample_batch = 24, min_size = 50;
    RateLimiter limiter(Options(spi, min_size, insert_batch, sample_batch));
    Rng rng(7);
    long steps_without_progress = 0;
    for (int step = 0; step < 200000; ++step) {
      const bool actor_turn = rng.Uniform() < 0.5;
      const long n = 1 + static_cast<long>(rng.Below(insert_batch));
      bool progress = false;
      if (actor_turn && limiter.CanInsert(n)) {
        limiter.Inserted(n);
        progress = true;
      } else if (!actor_turn && limiter.CanSample(sample_batch)) {
        limiter.Sampled(sample_batch);
        progress = true;
      }
      steps_without_progress = progress ? 0 : steps_without_progress + 1;
      ASSERT_LT(steps_without_progress, 100) << "deadlock at spi " << spi;
      if (limiter.inserts() >= min_size) {
        ASSERT_LE(std::fabs(limiter.Deviation()), limiter.options().error_buffer) << "spi " << spi;
      }
    }
    const double ratio = static_cast<double>(limiter.samples()) / (limiter.inserts() - min_size);
    EXPECT_NEAR(ratio, spi, limiter.options().error_buffer / (limiter.inserts() - min_size))
        << "spi " << spi;
  }
}

}  // namespace
}  // namespace qosroute
