// expert.aggregates (env.expert_aggregates): aggregates over every running and waiting
// request of an expert, so that what the R and W slots cannot show still reaches the policy
// when dozens of requests run per expert (expert.load already counts all of them and their
// whole KV use).
#include <algorithm>

#include "env/cluster_env.h"
#include "env/feature_schema.h"
#include "env/features/request_timing.h"

namespace qosroute {

namespace {

void FillAggregates(const FeatureContext& c, Observation* obs, int offset) {
  constexpr float kSumScale = kTokenScale * kCountScale;
  const double now = c.env.now();
  const float sla = static_cast<float>(c.env.config().sla);
  const int slots_r = obs->max_running;
  for (int e = 0; e < obs->num_experts; ++e) {
    const ExpertServer& s = c.env.experts()[e];
    double decode_ahead = 0.0, worst_running = 0.0, worst_waiting = 0.0;
    long past_sla = 0, unseen_blocks = 0;
    for (size_t i = 0; i < s.running().size(); ++i) {
      const ActiveRequest& r = s.running()[i];
      decode_ahead += std::max(0, r.pred_output_tokens - r.generated);
      const double lpt = features::CurrentLatencyPerToken(r, now);
      worst_running = std::max(worst_running, lpt);
      if (lpt > sla) ++past_sla;
      if (static_cast<int>(i) >= slots_r) unseen_blocks += r.blocks;
    }
    double prefill_queued = 0.0, waiting_output = 0.0;
    for (const ActiveRequest& r : s.waiting()) {
      prefill_queued += r.prompt_tokens;
      waiting_output += r.pred_output_tokens;
      worst_waiting = std::max(worst_waiting, features::CurrentLatencyPerToken(r, now));
    }
    float* a = features::ExpertRow(obs, e) + offset;
    a[0] = static_cast<float>(decode_ahead / kSumScale);
    a[1] = static_cast<float>(prefill_queued / kSumScale);
    a[2] = static_cast<float>(waiting_output / kSumScale);
    a[3] = std::min(kLatencyClip, static_cast<float>(worst_running / sla));
    a[4] = past_sla / kCountScale;
    a[5] = std::min(kLatencyClip, static_cast<float>(worst_waiting / sla));
    a[6] = unseen_blocks * (1.0f / s.num_blocks());
  }
}

}  // namespace

const FeatureGroup& ExpertAggregatesGroup() {
  static const FeatureGroup group{
      "expert.aggregates",
      FeatureNode::kExpert,
      1,
      {{"decode_ahead",
        "predicted output tokens still to generate by the running requests / (128 x 10)"},
       {"prefill_queued", "prompt tokens of the waiting requests / (128 x 10)"},
       {"waiting_output", "predicted output tokens of the waiting requests / (128 x 10)"},
       {"worst_running", "worst current latency per token among running requests / SLA, <= 10"},
       {"past_sla", "running requests whose current latency per token is past the SLA / 10"},
       {"worst_waiting", "worst current latency per token among waiting requests / SLA, <= 10"},
       {"unseen_kv", "fraction of the KV blocks held by running requests beyond the R slots"}},
      FeatureGroup::Presence::kOnlyWhenOn,
      [](const EnvConfig& c) { return c.expert_aggregates; },
      [](EnvConfig* c, bool on) { c->expert_aggregates = on; },
      FillAggregates};
  return group;
}

}  // namespace qosroute
