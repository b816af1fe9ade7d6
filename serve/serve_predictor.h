#pragma once
// Predictions the router decides with when a client supplies none (serve/openai_api.h's
// "qosroute" field overrides them per expert). The default is a prior from the config's
// workload: each expert's mean score, and its mean output length among workload prompts of
// similar length (prompt-length quintiles), so a longer prompt predicts what longer prompts
// got. A learned predictor can replace it behind the same interface.
#include <memory>
#include <string>
#include <vector>

#include "env/workload.h"

namespace qosroute {

class ServePredictor {
 public:
  virtual ~ServePredictor() = default;
  // Per expert, in config order.
  virtual void Predict(int prompt_tokens, std::vector<float>* score,
                       std::vector<int>* output_tokens) const = 0;
};

class WorkloadPriorPredictor final : public ServePredictor {
 public:
  WorkloadPriorPredictor(const Workload& workload, const std::vector<std::string>& experts,
                         int max_output_tokens);
  void Predict(int prompt_tokens, std::vector<float>* score,
               std::vector<int>* output_tokens) const override;

 private:
  std::vector<float> mean_score_;              // [expert]
  std::vector<int> bucket_upper_;              // prompt-token upper bound of each bucket
  std::vector<std::vector<int>> mean_output_;  // [bucket][expert]
};

}  // namespace qosroute
