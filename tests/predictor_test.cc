// The routing-time predictor: an oracle at zero noise, noise of the configured size otherwise.
#include "env/predictor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"

namespace qosroute {
namespace {

TEST(Predictor, ZeroNoiseReturnsExactlyTheTruth) {
  PredictorConfig c;
  c.score_noise = 0.0;
  c.length_noise = 0.0;
  Rng rng(4);
  for (int tokens = 1; tokens <= 127; ++tokens) {
    const double score = tokens / 127.0;
    const Prediction p = Predict(c, score, tokens, rng);
    EXPECT_EQ(p.score, score);
    EXPECT_EQ(p.output_tokens, tokens);
  }
}

TEST(Predictor, TakesTheSameDrawsWhateverTheNoise) {
  PredictorConfig oracle;
  oracle.score_noise = 0.0;
  oracle.length_noise = 0.0;
  PredictorConfig noisy;
  Rng a(8), b(8);
  for (int i = 0; i < 10; ++i) {
    Predict(oracle, 0.5, 50, a);
    Predict(noisy, 0.5, 50, b);
  }
  EXPECT_EQ(a.state(), b.state());
}

TEST(Predictor, ScoreNoiseHasTheConfiguredStddev) {
  PredictorConfig c;
  c.score_noise = 0.05;
  Rng rng(5);
  const int n = 20000;
  double sum = 0.0, sq = 0.0;
  for (int i = 0; i < n; ++i) {
    const double e = Predict(c, 0.5, 50, rng).score - 0.5;
    sum += e;
    sq += e * e;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.002);
  EXPECT_NEAR(std::sqrt(sq / n), 0.05, 0.005);
}

TEST(Predictor, LengthNoiseHasTheConfiguredLogStddev) {
  PredictorConfig c;
  c.length_noise = 0.3;
  c.max_output_tokens = 1000;  // far from the clamp, so only rounding disturbs the spread
  Rng rng(6);
  const int n = 20000;
  double sum = 0.0, sq = 0.0;
  for (int i = 0; i < n; ++i) {
    const double e = std::log(Predict(c, 0.5, 60, rng).output_tokens / 60.0);
    sum += e;
    sq += e * e;
  }
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(sq / n - mean * mean), 0.3, 0.02);
}

TEST(Predictor, PredictionsStayInRangeUnderHeavyNoise) {
  PredictorConfig c;
  c.score_noise = 2.0;
  c.length_noise = 20.0;
  Rng rng(7);
  for (int i = 0; i < 5000; ++i) {
    const Prediction p = Predict(c, 0.9, 100, rng);
    ASSERT_GE(p.score, 0.0);
    ASSERT_LE(p.score, 1.0);
    ASSERT_GE(p.output_tokens, 1);
    ASSERT_LE(p.output_tokens, 127);
  }
}

TEST(Predictor, ValidationNamesTheKey) {
  PredictorConfig c;
  EXPECT_NO_THROW(ValidatePredictorConfig(c));
  c.score_noise = -0.1;
  try {
    ValidatePredictorConfig(c);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("predictor.score_noise"), std::string::npos);
  }
  c = PredictorConfig{};
  c.length_noise = NAN;
  EXPECT_THROW(ValidatePredictorConfig(c), UserError);
  c = PredictorConfig{};
  c.max_output_tokens = 0;
  EXPECT_THROW(ValidatePredictorConfig(c), UserError);
}

}  // namespace
}  // namespace qosroute
