// The calibrated synthetic workload generator declared in env/workload.h: records in the
// mix-instruct shape, calibrated to its statistics (spec section 6).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/error.h"
#include "common/rng.h"
#include "env/workload.h"

namespace qosroute {
namespace {

// Token statistics of mix-instruct (alpaca tokenizer, max-128 build; spec section 6).
constexpr double kMeanInstructionTokens = 3.77;
constexpr double kMeanInputTokens = 17.84;
// Share of prompts with an empty input field (ours: the source gives only the mean).
constexpr double kEmptyInputShare = 0.4;
// Spread of log output length: a per-prompt factor shared by all models (a question that
// needs a long answer gets long answers) and a per-model-per-prompt part.
constexpr double kPromptLengthSigma = 0.5;
constexpr double kModelLengthSigma = 0.35;
// BERTScore = model mean - difficulty x kDifficultySd + own noise x kScoreNoiseSd: the shared
// difficulty gives a cross-model correlation of about 0.6.
constexpr double kDifficultySd = 0.06;
constexpr double kScoreNoiseSd = 0.05;

double NormalCdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}
double NormalPdf(double x) {
  return 0.3989422804014327 * std::exp(-0.5 * x * x);
}

// 1 + geometric(mean) tokens: floor of an exponential is geometric on {0, 1, ...} with
// P(k) = (1-q) q^k and mean q/(1-q); one draw, exact mean, no std distributions.
int OnePlusGeometric(double mean, Rng& rng) {
  const double q = mean / (1.0 + mean);
  return 1 + static_cast<int>(std::floor(rng.Exponential(-std::log(q))));
}

// E[clip(round(exp(mu + sigma Z)), 1, max)] for Z ~ N(0, 1), exactly: for an integer X in
// [1, max], E[X] = 1 + sum_{k=1}^{max-1} P(X > k), and X > k <=> exp(mu + sigma Z) >= k + 0.5.
double ExpectedClippedLength(double mu, double sigma, int max_tokens) {
  double expected = 1.0;
  for (int k = 1; k < max_tokens; ++k) {
    expected += 1.0 - NormalCdf((std::log(k + 0.5) - mu) / sigma);
  }
  return expected;
}

// E[clip(N(mu, sd^2), 0, 1)] = E[max(X, 0)] - E[max(X - 1, 0)], each in closed form.
double ExpectedClippedScore(double mu, double sd) {
  const auto tail = [sd](double m) { return m * NormalCdf(m / sd) + sd * NormalPdf(m / sd); };
  return tail(mu) - tail(mu - 1.0);
}

// Solves increasing f(x) = target on [lo, hi] by bisection (f is monotone in both uses).
template <typename F>
double Bisect(F f, double target, double lo, double hi) {
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (f(mid) < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

void ValidateSyntheticOptions(const SyntheticOptions& o) {
  const auto fail = [](const std::string& what) {
    throw UserError(fmt::format("synthetic workload: {}.", what));
  };
  if (o.num_requests < 1) fail(fmt::format("num_requests must be >= 1, got {}", o.num_requests));
  if (o.max_output_tokens < 2) {
    fail(fmt::format("max_output_tokens must be >= 2, got {}", o.max_output_tokens));
  }
  if (o.models.empty()) fail("the model list is empty");
  std::unordered_set<std::string> seen;
  for (const auto& m : o.models) {
    if (m.name.empty()) fail("a model has an empty name");
    if (!seen.insert(m.name).second) fail(fmt::format("model '{}' is listed twice", m.name));
    if (!(m.mean_score > 0.0 && m.mean_score < 1.0)) {
      fail(fmt::format("model '{}' mean_score must be in (0, 1), got {}", m.name, m.mean_score));
    }
    if (!(m.mean_output_tokens > 1.0 && m.mean_output_tokens < o.max_output_tokens)) {
      fail(fmt::format("model '{}' mean_output_tokens must be in (1, {}), got {}", m.name,
                       o.max_output_tokens, m.mean_output_tokens));
    }
  }
}

}  // namespace

std::vector<SyntheticModel> DefaultSyntheticModels() {
  // Mean BERTScore per model on mix-instruct (spec sections 1 and 6). The source gives one mean
  // output length (68.87 tokens), so every model shares it; lengths still differ per request.
  constexpr double kMeanOutput = 68.87;
  return {{"open-assistant", 0.7468, kMeanOutput}, {"alpaca-native", 0.7146, kMeanOutput},
          {"chatglm-6b", 0.7038, kMeanOutput},     {"vicuna", 0.6960, kMeanOutput},
          {"koala", 0.6396, kMeanOutput},          {"mpt-7b-instruct", 0.6321, kMeanOutput}};
}

Workload GenerateSyntheticWorkload(const SyntheticOptions& options) {
  ValidateSyntheticOptions(options);
  const double length_sigma = std::hypot(kPromptLengthSigma, kModelLengthSigma);
  const double score_sd = std::hypot(kDifficultySd, kScoreNoiseSd);

  // Solve each model's location so that the *clipped, rounded* means hit the targets exactly.
  struct Calibrated {
    double log_length;
    double score_mu;
  };
  std::vector<Calibrated> calibrated;
  for (const auto& m : options.models) {
    const double log_length = Bisect(
        [&](double mu) {
          return ExpectedClippedLength(mu, length_sigma, options.max_output_tokens);
        },
        m.mean_output_tokens, -10.0, 20.0);
    const double score_mu = Bisect([&](double mu) { return ExpectedClippedScore(mu, score_sd); },
                                   m.mean_score, -1.0, 2.0);
    calibrated.push_back({log_length, score_mu});
  }

  // Non-empty inputs are 1 + two geometrics (a hump, not a mode at 1), mean 17.84 overall.
  const double nonempty_input_mean = kMeanInputTokens / (1.0 - kEmptyInputShare);
  const double input_half_mean = 0.5 * (nonempty_input_mean - 1.0);

  Workload out;
  out.source = fmt::format("synthetic(seed={})", options.seed);
  out.records.reserve(static_cast<size_t>(options.num_requests));
  Rng rng(options.seed);
  for (int i = 0; i < options.num_requests; ++i) {
    // Every record takes the same number of draws, so record i does not depend on the
    // outcomes of earlier records' branches.
    WorkloadRecord r;
    r.id = fmt::format("synthetic-{}-{}", options.seed, i);
    const int instruction = OnePlusGeometric(kMeanInstructionTokens - 1.0, rng);
    const bool empty_input = rng.Uniform() < kEmptyInputShare;
    const int input =
        OnePlusGeometric(input_half_mean, rng) + OnePlusGeometric(input_half_mean, rng) - 1;
    r.prompt_tokens = instruction + (empty_input ? 0 : input);
    const double prompt_length = rng.Normal();
    const double difficulty = rng.Normal();
    for (size_t m = 0; m < options.models.size(); ++m) {
      CandidateRecord c;
      c.model = options.models[m].name;
      const double log_length = calibrated[m].log_length + kPromptLengthSigma * prompt_length +
                                kModelLengthSigma * rng.Normal();
      // Clamp before rounding so that a huge draw cannot overflow the integer conversion.
      const double length = std::min(std::exp(log_length), options.max_output_tokens + 1.0);
      c.output_tokens =
          std::clamp(static_cast<int>(std::lround(length)), 1, options.max_output_tokens);
      const double score =
          calibrated[m].score_mu - kDifficultySd * difficulty + kScoreNoiseSd * rng.Normal();
      c.score = std::clamp(score, 0.0, 1.0);
      r.candidates.push_back(std::move(c));
    }
    out.records.push_back(std::move(r));
  }
  return out;
}

}  // namespace qosroute
