#pragma once
// The predictor whose outputs the router sees at routing time (ref: pred_score and
// pred_output_tokens). The simulator always uses the truth; the router only sees this.
#include "common/rng.h"

namespace qosroute {

struct PredictorConfig {
  double score_noise = 0.05;          // stddev of additive Gaussian noise on the score
  double length_noise = 0.3;          // stddev of multiplicative log-normal noise on the length
  bool use_data_predictions = false;  // use pred_* fields from the data when present
  int max_output_tokens = 127;
};

struct Prediction {
  double score;
  int output_tokens;
};

// Checks noise levels (finite, >= 0) and max_output_tokens (>= 1); throws UserError naming the
// key (predictor.score_noise, predictor.length_noise, predictor.max_output_tokens).
void ValidatePredictorConfig(const PredictorConfig& config);

// score = clip(true + N(0, score_noise), 0, 1);
// tokens = clamp(round(true x exp(N(0, length_noise))), 1, max_output_tokens).
// Always takes two normal draws, whatever the noise, so the random stream does not depend on it.
// Zero noise is an oracle: the prediction equals the truth.
Prediction Predict(const PredictorConfig& config, double true_score, int true_output_tokens,
                   Rng& rng);

}  // namespace qosroute
