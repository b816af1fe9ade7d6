#pragma once
// What a deployable planner may know of the future (shared/spec/planning.md): the arrival
// process's statistics, the workload's records with the predictor applied (as a router would
// see them), and for the arrived and in-flight requests their predictions and the tokens
// already generated. FutureSampler draws one possible future from that, never reading the
// episode's truth: the arrived request's truth and the remaining output of every request in
// flight are drawn around their predictions by the predictor's error model.
#include <deque>
#include <memory>
#include <vector>

#include "common/rng.h"
#include "env/cluster_env.h"
#include "env/episode_data.h"

namespace qosroute {

class FutureSampler {
 public:
  FutureSampler(const EnvConfig& config, std::shared_ptr<const Workload> workload);

  // Called at each decision with the arrived request's arrival: the rate estimate for
  // arrival processes whose rate a router does not know in advance (mmpp, trace, a rate per
  // episode) is the arrivals seen so far over the time they took. `live` (serve: the config's
  // arrival process describes simulations, not this traffic): the rate is always estimated,
  // from the last kLiveRateWindow arrivals, so that it follows the traffic as it changes.
  void ObserveArrival(double arrival, bool live = false);
  static constexpr int kLiveRateWindow = 64;
  void ResetEpisode();
  // As if `arrivals` requests had been observed since the episode began at time 0: a planner
  // reset before one decision (training labels) estimates the rate from the episode so far.
  void AssumeArrivalsSinceStart(long arrivals);
  double rate() const;

  // A future of `rows` requests from the arrived one (row 0, predictions as known, truth
  // drawn) on, later arrivals drawn from the arrival process and the workload.
  void SampleFuture(const ClusterEnv& env, int rows, Rng& rng, EpisodeData* future) const;
  // Replaces the truth of every request in flight in `env` by a draw given its predictions
  // and the tokens it has generated.
  void SampleInFlight(ClusterEnv* env, Rng& rng) const;

 private:
  int DrawOutputGiven(int predicted, int generated, Rng& rng) const;
  float DrawScoreGiven(float predicted, Rng& rng) const;

  EnvConfig config_;
  std::shared_ptr<const Workload> workload_;
  std::vector<int> candidate_;    // [record][expert] -> candidate position
  double configured_rate_ = 0.0;  // 0: not known in advance
  double first_arrival_ = -1.0, last_arrival_ = 0.0;
  long arrivals_seen_ = 0;
  bool live_ = false;
  std::deque<double> recent_;  // live: the last kLiveRateWindow arrivals
};

}  // namespace qosroute
