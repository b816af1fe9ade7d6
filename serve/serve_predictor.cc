// The workload prior of serve_predictor.h.
#include "serve/serve_predictor.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace qosroute {

WorkloadPriorPredictor::WorkloadPriorPredictor(const Workload& workload,
                                               const std::vector<std::string>& experts,
                                               int max_output_tokens) {
  QR_CHECK(!workload.records.empty());
  const size_t n = experts.size();
  constexpr int kBuckets = 5;
  std::vector<int> prompts;
  for (const WorkloadRecord& r : workload.records) prompts.push_back(r.prompt_tokens);
  std::sort(prompts.begin(), prompts.end());
  for (int b = 1; b < kBuckets; ++b)
    bucket_upper_.push_back(prompts[prompts.size() * b / kBuckets]);
  bucket_upper_.push_back(prompts.back());
  // Workloads with many equal prompt lengths give equal bounds: one bucket each.
  bucket_upper_.erase(std::unique(bucket_upper_.begin(), bucket_upper_.end()), bucket_upper_.end());
  const size_t buckets = bucket_upper_.size();
  std::vector<double> score_sum(n, 0.0);
  std::vector<std::vector<double>> out_sum(buckets, std::vector<double>(n, 0.0));
  std::vector<std::vector<long>> out_count(buckets, std::vector<long>(n, 0));
  std::vector<long> score_count(n, 0);
  for (const WorkloadRecord& r : workload.records) {
    const size_t b = std::lower_bound(bucket_upper_.begin(), bucket_upper_.end(), r.prompt_tokens) -
                     bucket_upper_.begin();
    for (size_t e = 0; e < n; ++e) {
      const CandidateRecord* c = r.Find(experts[e]);
      if (!c) continue;
      score_sum[e] += c->score;
      ++score_count[e];
      out_sum[b][e] += c->output_tokens;
      ++out_count[b][e];
    }
  }
  mean_score_.resize(n);
  mean_output_.assign(buckets, std::vector<int>(n, 1));
  for (size_t e = 0; e < n; ++e) {
    mean_score_[e] = score_count[e] ? static_cast<float>(score_sum[e] / score_count[e]) : 0.0f;
    double all_sum = 0.0;
    long all_count = 0;
    for (size_t b = 0; b < buckets; ++b) {
      all_sum += out_sum[b][e];
      all_count += out_count[b][e];
    }
    const double overall = all_count ? all_sum / all_count : 1.0;
    for (size_t b = 0; b < buckets; ++b) {
      // A bucket without this expert's answers falls back to its overall mean.
      const double mean = out_count[b][e] ? out_sum[b][e] / out_count[b][e] : overall;
      mean_output_[b][e] = std::clamp(static_cast<int>(std::lround(mean)), 1, max_output_tokens);
    }
  }
}

void WorkloadPriorPredictor::Predict(int prompt_tokens, std::vector<float>* score,
                                     std::vector<int>* output_tokens) const {
  const size_t b =
      std::min<size_t>(std::lower_bound(bucket_upper_.begin(), bucket_upper_.end(), prompt_tokens) -
                           bucket_upper_.begin(),
                       bucket_upper_.size() - 1);
  *score = mean_score_;
  *output_tokens = mean_output_[b];
}

}  // namespace qosroute
