#include "replay/rate_limiter.h"

#include "common/error.h"

namespace qosroute {

RateLimiter::RateLimiter(const RateLimiterOptions& options) : options_(options) {
  QR_CHECK(options.samples_per_insert >= 0.0);
  QR_CHECK(options.min_size_to_sample >= 1);
  QR_CHECK(options.max_insert_batch >= 1 && options.max_sample_batch >= 1);
  QR_CHECK_MSG(options.samples_per_insert == 0.0 ||
                   options.error_buffer >= options.max_insert_batch * options.samples_per_insert +
                                               options.max_sample_batch,
               "rate limiter error buffer too small for its batch sizes: inserts and samples could "
               "deadlock");
}

double RateLimiter::Deviation() const {
  const double spi = options_.samples_per_insert;
  return inserts_ * spi - samples_ - options_.min_size_to_sample * spi;
}

bool RateLimiter::CanInsert(long n) const {
  if (released_ || options_.samples_per_insert == 0.0) return true;
  if (inserts_ < options_.min_size_to_sample) return true;
  return Deviation() + n * options_.samples_per_insert <= options_.error_buffer;
}

bool RateLimiter::CanSample(long k) const {
  if (inserts_ < 1) return false;
  if (released_) return true;
  if (inserts_ < options_.min_size_to_sample) return false;
  if (options_.samples_per_insert == 0.0) return true;
  return Deviation() - k >= -options_.error_buffer;
}

}  // namespace qosroute
