#pragma once
// Holds the samples-per-insert ratio of a replay shard (reverb's SampleToInsertRatio), so
// that the update-to-data ratio is the configured one whatever the number of actors: fast
// actors wait for the learners, fast learners wait for the actors.
//
//   diff = inserts * samples_per_insert - samples
//   inserts of n items are allowed while diff + n * spi <= min_size * spi + error_buffer
//   samples of k items are allowed once inserts >= min_size and
//                                        diff - k >= min_size * spi - error_buffer
// (inserts are always allowed before min_size is reached), so that |diff - min_size * spi|
// <= error_buffer always holds once min_size items are in: samples track
// (inserts - min_size) * spi within error_buffer. The two bounds cannot both block (no
// deadlock) when error_buffer >= max insert batch * spi + max sample batch, which the
// constructor checks. Release() lifts both limits for the end of a run.
//
// Not thread-safe (one shard owns one limiter).
#include <cstdint>

namespace qosroute {

struct RateLimiterOptions {
  double samples_per_insert = 1.0;  // 0: never limit inserts; samples need min_size only
  long min_size_to_sample = 1;
  double error_buffer = 1.0;  // tolerance, in samples
  long max_insert_batch = 1;  // the largest n passed to CanInsert
  long max_sample_batch = 1;  // the largest k passed to CanSample
};

class RateLimiter {
 public:
  explicit RateLimiter(const RateLimiterOptions& options);

  bool CanInsert(long n) const;
  bool CanSample(long k) const;
  void Inserted(long n) { inserts_ += n; }
  void Sampled(long k) { samples_ += k; }
  void Release() { released_ = true; }
  // Puts back counters saved in a checkpoint.
  void Restore(long inserts, long samples, bool released) {
    inserts_ = inserts;
    samples_ = samples;
    released_ = released;
  }

  long inserts() const { return inserts_; }
  long samples() const { return samples_; }
  bool released() const { return released_; }
  // diff - min_size * spi: how far samples lag (positive) or lead (negative) the target.
  double Deviation() const;
  const RateLimiterOptions& options() const { return options_; }

 private:
  RateLimiterOptions options_;
  long inserts_ = 0;
  long samples_ = 0;
  bool released_ = false;
};

}  // namespace qosroute
