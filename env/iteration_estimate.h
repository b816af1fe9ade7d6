#pragma once
// What an expert's models predict for one engine iteration (`qosroute profile`): its time by
// the expert's iteration-time model, its board power by the power model, and the KV capacity
// the iteration must fit in, so that an operator can plan capacity from the command line.
#include "env/expert_config.h"

namespace qosroute {

// One iteration: a prefill of `prefill_tokens` prompt tokens (one sequence), or a decode of
// `batch` sequences holding `context_tokens` context tokens in total.
struct IterationQuery {
  long prefill_tokens = 0;
  int batch = 0;
  long context_tokens = 0;
  bool is_prefill() const { return prefill_tokens > 0; }
};

struct IterationEstimate {
  double seconds = 0.0;
  double power_w = 0.0;
  long kv_capacity_tokens = 0;
  long kv_tokens = 0;  // what the iteration holds in the KV cache (prompt or context)
  bool fits() const { return kv_tokens <= kv_capacity_tokens; }
};

// UserError for a query that is neither a prefill (> 0 tokens) nor a decode (batch >= 1,
// context >= batch), or both.
IterationEstimate EstimateIteration(const ExpertConfig& expert, const IterationQuery& query);

}  // namespace qosroute
