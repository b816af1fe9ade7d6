// expert.speed (env.feature_groups = expert.speed): how fast and how large each expert is
// relative to the site's fastest and largest, so that one policy can read a site of mixed GPU
// kinds and models (replicas of a model on an RTX 4090 and on an A100 differ only here).
// Config and the arrived prompt only: no queue state, no truth.
#include <algorithm>
#include <vector>

#include "env/cluster_env.h"
#include "env/feature_schema.h"
#include "env/features/request_timing.h"

namespace qosroute {

namespace {

// The decode column's reference iteration: one sequence with this many context tokens.
constexpr long kReferenceContext = 1024;

// min over the experts of `seconds` / expert e's, 1 for the fastest (0 for a zero time).
float Relative(const std::vector<double>& seconds, int e) {
  const double fastest = *std::min_element(seconds.begin(), seconds.end());
  return seconds[e] > 0.0 ? static_cast<float>(fastest / seconds[e]) : 1.0f;
}

void FillSpeed(const FeatureContext& c, Observation* obs, int offset) {
  const int n = obs->num_experts;
  std::vector<double> decode(n), prefill(n), kv(n);
  for (int e = 0; e < n; ++e) {
    const ExpertServer& s = c.env.experts()[e];
    decode[e] = s.time_model().DecodeSeconds(kReferenceContext, 1);
    prefill[e] = s.time_model().PrefillSeconds(c.env.arrived().prompt_tokens, 1);
    kv[e] = static_cast<double>(s.num_blocks()) * s.config().block_size;
  }
  const double largest = *std::max_element(kv.begin(), kv.end());
  for (int e = 0; e < n; ++e) {
    float* f = features::ExpertRow(obs, e) + offset;
    f[0] = Relative(decode, e);
    f[1] = Relative(prefill, e);
    f[2] = largest > 0.0 ? static_cast<float>(kv[e] / largest) : 0.0f;
  }
}

}  // namespace

const FeatureGroup& ExpertSpeedGroup() {
  static const FeatureGroup group{
      "expert.speed",
      FeatureNode::kExpert,
      1,
      {{"decode_speed",
        "the site's fastest decode iteration (1 sequence, 1,024 context tokens) / this "
        "expert's: 1 for the fastest"},
       {"prefill_speed", "the site's fastest prefill of the arrived prompt / this expert's"},
       {"kv_capacity", "this expert's KV capacity in tokens / the site's largest"}},
      FeatureGroup::Presence::kOnlyWhenOn,
      nullptr,
      nullptr,
      FillSpeed};
  return group;
}

}  // namespace qosroute
