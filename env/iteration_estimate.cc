#include "env/iteration_estimate.h"

#include <string>

#include "common/error.h"

namespace qosroute {

IterationEstimate EstimateIteration(const ExpertConfig& expert, const IterationQuery& q) {
  const bool decode = q.batch != 0 || q.context_tokens != 0;
  if (q.prefill_tokens < 0) {
    throw UserError("--prefill must be > 0 prompt tokens, got " + std::to_string(q.prefill_tokens));
  }
  if (q.is_prefill() == decode) {
    throw UserError("give either --prefill P, or --batch B with --context C");
  }
  if (decode && (q.batch < 1 || q.context_tokens < q.batch)) {
    throw UserError(
        "a decode needs --batch >= 1 and --context >= the batch (each sequence holds "
        "at least one token), got batch " +
        std::to_string(q.batch) + ", context " + std::to_string(q.context_tokens));
  }
  const auto model = expert.MakeTimeModel();
  IterationEstimate e;
  e.kv_capacity_tokens = expert.KvCapacityTokens();
  if (q.is_prefill()) {
    e.seconds = model->PrefillSeconds(q.prefill_tokens, 1);
    e.power_w = expert.power.PrefillWatts();
    e.kv_tokens = q.prefill_tokens;
  } else {
    e.seconds = model->DecodeSeconds(q.context_tokens, q.batch);
    e.power_w = expert.power.DecodeWatts(q.batch);
    e.kv_tokens = q.context_tokens;
  }
  return e;
}

}  // namespace qosroute
