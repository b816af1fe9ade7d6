// ClusterEnv's forks for planning (see cluster_env.h): replacing the future of a fork and the
// truth of its requests in flight.
#include <algorithm>
#include <string>

#include "common/error.h"
#include "env/cluster_env.h"

namespace qosroute {

void ClusterEnv::ReplaceFuture(std::shared_ptr<const EpisodeData> future) {
  QR_CHECK(future != nullptr);
  if (live_) StartLiveEpisode();
  QR_CHECK_MSG(!done_, "ReplaceFuture on a finished episode");
  const int n = static_cast<int>(experts_.size());
  const size_t cells = static_cast<size_t>(future->size()) * n;
  QR_CHECK_MSG(future->num_experts == n && future->size() > 0 &&
                   future->prompt_tokens.size() == static_cast<size_t>(future->size()) &&
                   future->true_output.size() == cells && future->true_score.size() == cells &&
                   future->pred_output.size() == cells && future->pred_score.size() == cells,
               "a future of " + std::to_string(future->size()) +
                   " requests with inconsistent "
                   "arrays for " +
                   std::to_string(n) + " experts");
  QR_CHECK_MSG(future->arrivals.front() == now_ &&
                   std::is_sorted(future->arrivals.begin(), future->arrivals.end()),
               "a future must start with the arrived request (now) and arrive in order");
  // Requests before step_ keep their rows, wherever they came from.
  if (future_ && step_ > future_from_) {
    auto kept = std::make_shared<EpisodeData>(*EffectiveEpisode());
    episode_ = std::move(kept);
  }
  future_ = std::move(future);
  future_from_ = step_;
  current_potential_.reset();
  UpdateArrivedView();
  if (BuildsObservations()) BuildObservation();
}

void ClusterEnv::StartLiveEpisode() {
  QR_CHECK_MSG(episode_ == nullptr && future_ == nullptr, "a live env has no episode");
  // The requests in flight become the episode's past: one row each, in arrival order, with
  // what the queue holds of it in its expert's column. Their completions then find their
  // predicted score (PredictedScore) and their age in decisions (CreditWeight) as a
  // simulated episode's do; the router's own ids are not row numbers.
  std::vector<std::pair<ActiveRequest*, int>> queued;
  for (ExpertServer& server : experts_)
    server.ForEachQueued([&](ActiveRequest* r) { queued.emplace_back(r, server.index()); });
  std::stable_sort(queued.begin(), queued.end(), [](const auto& a, const auto& b) {
    return a.first->arrival < b.first->arrival;
  });
  const int n = static_cast<int>(experts_.size());
  const int past = static_cast<int>(queued.size());
  auto episode = std::make_shared<EpisodeData>();
  episode->Resize(past, n);
  for (int i = 0; i < past; ++i) {
    ActiveRequest& r = *queued[i].first;
    const size_t k = episode->At(i, queued[i].second);
    episode->arrivals[i] = r.arrival;
    episode->prompt_tokens[i] = r.prompt_tokens;
    episode->true_output[k] = r.output_tokens;
    episode->true_score[k] = r.score;
    episode->pred_output[k] = r.pred_output_tokens;
    episode->pred_score[k] = r.pred_score;
    r.id = i;
  }
  episode_ = std::move(episode);
  pending_.clear();
  metrics_.Reset();
  step_ = past;
  future_from_ = past;
  end_time_ = now_;
  done_ = false;
  live_ = false;
}

void ClusterEnv::ResampleInFlight(const std::function<void(int, ActiveRequest*)>& set,
                                  const std::function<void(Completion*, float)>& set_pending) {
  for (ExpertServer& server : experts_) {
    server.ForEachQueued([&](ActiveRequest* r) {
      set(server.index(), r);
      QR_CHECK_MSG(r->output_tokens > r->generated && r->output_tokens >= 1,
                   "a resampled request must have output left to generate");
    });
  }
  if (set_pending) {
    for (Completion& c : pending_) set_pending(&c, PredictedScore(c));
  }
  current_potential_.reset();
}

double ClusterEnv::UpperBoundSum() const {
  if (!future_) return episode_->upper_bound_sum;
  // Rows of the episode before the future: their best true score (as stored, in float).
  double sum = future_->upper_bound_sum;
  for (int i = 0; i < future_from_; ++i) {
    const auto first = episode_->true_score.begin() + episode_->At(i, 0);
    sum += *std::max_element(first, first + episode_->num_experts);
  }
  return sum;
}

std::shared_ptr<const EpisodeData> ClusterEnv::EffectiveEpisode() const {
  if (!future_) return episode_;
  const int n = static_cast<int>(experts_.size());
  const int total = num_requests();
  auto merged = std::make_shared<EpisodeData>();
  merged->Resize(total, n);
  for (int i = 0; i < total; ++i) {
    const RequestRow row = Row(i);
    const EpisodeData& d = *row.data;
    merged->arrivals[i] = d.arrivals[row.row];
    merged->prompt_tokens[i] = d.prompt_tokens[row.row];
    std::copy_n(d.true_output.begin() + d.At(row.row, 0), n,
                merged->true_output.begin() + merged->At(i, 0));
    std::copy_n(d.true_score.begin() + d.At(row.row, 0), n,
                merged->true_score.begin() + merged->At(i, 0));
    std::copy_n(d.pred_output.begin() + d.At(row.row, 0), n,
                merged->pred_output.begin() + merged->At(i, 0));
    std::copy_n(d.pred_score.begin() + d.At(row.row, 0), n,
                merged->pred_score.begin() + merged->At(i, 0));
  }
  merged->upper_bound_sum = UpperBoundSum();
  return merged;
}

}  // namespace qosroute
