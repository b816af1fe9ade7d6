#pragma once
// The requests of one episode, drawn at Reset and never changed after: arrival times, prompts,
// and per [request][expert] the truth (output tokens, score) and the predictor's view of it.
// Immutable, so that forks of an environment (ClusterEnv::Fork) share one copy, and a planner
// gives a fork another future by handing it another EpisodeData for the requests to come.
#include <cstddef>
#include <vector>

namespace qosroute {

struct EpisodeData {
  int num_experts = 0;
  std::vector<double> arrivals;    // [request], seconds, non-decreasing
  std::vector<int> prompt_tokens;  // [request]
  std::vector<int> true_output;    // [request][expert]
  std::vector<float> true_score;   // [request][expert]
  std::vector<int> pred_output;    // [request][expert]
  std::vector<float> pred_score;   // [request][expert]
  double upper_bound_sum = 0.0;    // sum over requests of the best true score

  int size() const { return static_cast<int>(arrivals.size()); }
  size_t At(int request, int expert) const {
    return static_cast<size_t>(request) * num_experts + expert;
  }
  // Sized for `requests` x `experts`, zero-filled.
  void Resize(int requests, int experts);
};

inline void EpisodeData::Resize(int requests, int experts) {
  num_experts = experts;
  const size_t cells = static_cast<size_t>(requests) * experts;
  arrivals.assign(requests, 0.0);
  prompt_tokens.assign(requests, 0);
  true_output.assign(cells, 0);
  true_score.assign(cells, 0.0f);
  pred_output.assign(cells, 0);
  pred_score.assign(cells, 0.0f);
  upper_bound_sum = 0.0;
}

}  // namespace qosroute
