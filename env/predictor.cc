#include "env/predictor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace qosroute {

void ValidatePredictorConfig(const PredictorConfig& config) {
  if (!(config.score_noise >= 0.0 && std::isfinite(config.score_noise))) {
    throw UserError(fmt::format("predictor.score_noise must be a finite number >= 0, got {}",
                                config.score_noise));
  }
  if (!(config.length_noise >= 0.0 && std::isfinite(config.length_noise))) {
    throw UserError(fmt::format("predictor.length_noise must be a finite number >= 0, got {}",
                                config.length_noise));
  }
  if (config.max_output_tokens < 1) {
    throw UserError(
        fmt::format("predictor.max_output_tokens must be >= 1, got {}", config.max_output_tokens));
  }
}

Prediction Predict(const PredictorConfig& config, double true_score, int true_output_tokens,
                   Rng& rng) {
  QR_CHECK(config.max_output_tokens >= 1);
  // Both draws are taken even at zero noise, so the random stream (and every request drawn
  // after this one) is the same whatever the noise level.
  const double score_z = rng.Normal();
  const double length_z = rng.Normal();

  Prediction p;
  // At zero noise this is true_score + 0.0: exactly the truth.
  p.score = std::clamp(true_score + config.score_noise * score_z, 0.0, 1.0);
  // exp(0) == 1 exactly, so zero noise returns the true length. Clamp in floating point first
  // so that an extreme draw cannot overflow the rounding.
  const double max_tokens = config.max_output_tokens;
  double length = true_output_tokens * std::exp(config.length_noise * length_z);
  if (!(length <= max_tokens)) length = max_tokens;
  p.output_tokens = std::clamp(static_cast<int>(std::lround(length)), 1, config.max_output_tokens);
  return p;
}

}  // namespace qosroute
