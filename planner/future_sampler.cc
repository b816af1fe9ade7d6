#include "planner/future_sampler.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "env/predictor.h"

namespace qosroute {

namespace {

// The stationary mean rate of a two-state MMPP: each state's rate weighted by its share of time.
double MmppMeanRate(const ArrivalConfig& a) {
  const double total = a.mmpp_mean_low_s + a.mmpp_mean_high_s;
  return (a.mmpp_rate_low * a.mmpp_mean_low_s + a.mmpp_rate_high * a.mmpp_mean_high_s) / total;
}

}  // namespace

FutureSampler::FutureSampler(const EnvConfig& config, std::shared_ptr<const Workload> workload)
    : config_(config), workload_(std::move(workload)) {
  QR_CHECK(workload_ != nullptr && !workload_->records.empty());
  // By model: replicas of a model draw from its candidates.
  candidate_ = CandidateIndex(*workload_, ModelNames(config_.experts));
  const ArrivalConfig& a = config_.arrivals;
  // Known in advance: a fixed Poisson rate, or an MMPP's mean (the planner does not track
  // its hidden state). A rate drawn per episode or a trace is estimated from what arrives.
  if (a.process == "poisson" && a.episode_rates.empty()) configured_rate_ = a.rate;
  if (a.process == "mmpp") configured_rate_ = MmppMeanRate(a);
}

void FutureSampler::ResetEpisode() {
  first_arrival_ = -1.0;
  last_arrival_ = 0.0;
  arrivals_seen_ = 0;
  recent_.clear();
}

void FutureSampler::AssumeArrivalsSinceStart(long arrivals) {
  ResetEpisode();
  if (arrivals <= 0) return;
  first_arrival_ = 0.0;  // the episode's start stands in for its first arrival
  arrivals_seen_ = arrivals;
}

void FutureSampler::ObserveArrival(double arrival, bool live) {
  live_ = live_ || live;
  if (live_) {
    recent_.push_back(arrival);
    if (recent_.size() > static_cast<size_t>(kLiveRateWindow)) recent_.pop_front();
    return;
  }
  if (arrivals_seen_ == 0) first_arrival_ = arrival;
  last_arrival_ = arrival;
  ++arrivals_seen_;
}

double FutureSampler::rate() const {
  if (live_) {
    if (recent_.size() >= 2 && recent_.back() > recent_.front())
      return (recent_.size() - 1) / (recent_.back() - recent_.front());
  } else if (configured_rate_ > 0.0) {
    return configured_rate_;
  }
  // Arrivals seen over the time they spanned; before two are seen, the configured rate or
  // the episode rates' mean stands in.
  if (arrivals_seen_ >= 2 && last_arrival_ > first_arrival_)
    return (arrivals_seen_ - 1) / (last_arrival_ - first_arrival_);
  const ArrivalConfig& a = config_.arrivals;
  if (!a.episode_rates.empty()) {
    double sum = 0.0;
    for (double r : a.episode_rates) sum += r;
    return sum / a.episode_rates.size();
  }
  return a.rate;
}

// The predictor draws pred = true x exp(sigma z); given pred, true = pred x exp(-sigma z')
// (a flat prior on the log length), and it must exceed the tokens already generated: drawn
// by rejection, at most 16 tries, then just past what was generated.
int FutureSampler::DrawOutputGiven(int predicted, int generated, Rng& rng) const {
  const double sigma = config_.predictor.length_noise;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const double length = predicted * std::exp(-sigma * rng.Normal());
    const int tokens = std::max(1, static_cast<int>(std::lround(std::min(length, 1e6))));
    if (tokens > generated) return tokens;
  }
  return generated + 1;
}

float FutureSampler::DrawScoreGiven(float predicted, Rng& rng) const {
  const double score = predicted - config_.predictor.score_noise * rng.Normal();
  return static_cast<float>(std::clamp(score, 0.0, 1.0));
}

void FutureSampler::SampleFuture(const ClusterEnv& env, int rows, Rng& rng,
                                 EpisodeData* future) const {
  QR_CHECK(rows >= 1);
  const int n = static_cast<int>(config_.experts.size());
  if (future->size() != rows || future->num_experts != n) future->Resize(rows, n);
  future->upper_bound_sum = 0.0;
  const ArrivedRequestView& a = env.arrived();
  future->arrivals[0] = env.now();
  future->prompt_tokens[0] = a.prompt_tokens;
  float best = 0.0f;
  for (int e = 0; e < n; ++e) {
    const size_t k = future->At(0, e);
    future->pred_output[k] = a.pred_output_tokens[e];
    future->pred_score[k] = a.pred_score[e];
    future->true_output[k] = DrawOutputGiven(a.pred_output_tokens[e], 0, rng);
    future->true_score[k] = DrawScoreGiven(a.pred_score[e], rng);
    best = std::max(best, future->true_score[k]);
  }
  future->upper_bound_sum += best;
  const double rate = this->rate();
  const size_t records = workload_->records.size();
  for (int i = 1; i < rows; ++i) {
    future->arrivals[i] = future->arrivals[i - 1] + rng.Exponential(rate);
    const size_t rec = rng.Below(records);
    const WorkloadRecord& record = workload_->records[rec];
    future->prompt_tokens[i] = record.prompt_tokens;
    best = 0.0f;
    for (int e = 0; e < n; ++e) {
      const CandidateRecord& c = record.candidates[candidate_[rec * n + e]];
      const size_t k = future->At(i, e);
      future->true_output[k] = c.output_tokens;
      future->true_score[k] = static_cast<float>(c.score);
      Prediction p = Predict(config_.predictor, c.score, c.output_tokens, rng);
      if (config_.predictor.use_data_predictions && c.pred_score >= 0 && c.pred_output_tokens > 0)
        p = Prediction{c.pred_score, c.pred_output_tokens};
      future->pred_score[k] = static_cast<float>(p.score);
      future->pred_output[k] = p.output_tokens;
      best = std::max(best, future->true_score[k]);
    }
    future->upper_bound_sum += best;
  }
}

void FutureSampler::SampleInFlight(ClusterEnv* env, Rng& rng) const {
  env->ResampleInFlight(
      [&](int, ActiveRequest* r) {
        r->output_tokens = DrawOutputGiven(r->pred_output_tokens, r->generated, rng);
        r->score = DrawScoreGiven(r->pred_score, rng);
      },
      [&](Completion* c, float predicted) { c->score = DrawScoreGiven(predicted, rng); });
}

}  // namespace qosroute
