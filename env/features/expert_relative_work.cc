// expert.relative_work (env.feature_groups = expert.relative_work): the arrived request's
// predicted work against each expert's queued work, and each expert's queued work against the
// site's mean, in tokens a router can count (prompts, predicted outputs, tokens generated so
// far), never the true lengths.
#include <algorithm>
#include <vector>

#include "env/cluster_env.h"
#include "env/feature_schema.h"
#include "env/features/request_timing.h"

namespace qosroute {

namespace {

// Predicted tokens still to process on `s`: running requests' predicted output still to
// generate, waiting requests' prompts and predicted outputs.
double QueuedWork(const ExpertServer& s) {
  double work = 0.0;
  for (const ActiveRequest& r : s.running())
    work += std::max(0, r.pred_output_tokens - r.generated);
  for (const ActiveRequest& r : s.waiting()) work += r.prompt_tokens + r.pred_output_tokens;
  return work;
}

void FillRelativeWork(const FeatureContext& c, Observation* obs, int offset) {
  const int n = obs->num_experts;
  const ArrivedRequestView& a = c.env.arrived();
  std::vector<double> queued(n);
  double mean = 0.0;
  for (int e = 0; e < n; ++e) {
    queued[e] = QueuedWork(c.env.experts()[e]);
    mean += queued[e] / n;
  }
  for (int e = 0; e < n; ++e) {
    const double arrived = a.prompt_tokens + a.pred_output_tokens[e];
    float* f = features::ExpertRow(obs, e) + offset;
    f[0] = static_cast<float>(arrived / (arrived + queued[e] + 1.0));
    f[1] = std::min(kLatencyClip, static_cast<float>(queued[e] / (mean + 1.0)));
  }
}

}  // namespace

const FeatureGroup& ExpertRelativeWorkGroup() {
  static const FeatureGroup group{
      "expert.relative_work",
      FeatureNode::kExpert,
      1,
      {{"arrived_share",
        "arrived request's predicted tokens here (prompt + predicted output) / (those + the "
        "predicted tokens queued here + 1): near 1 on an idle expert"},
       {"queue_vs_mean",
        "predicted tokens queued here / (the mean over the experts + 1), clipped to 10"}},
      FeatureGroup::Presence::kOnlyWhenOn,
      nullptr,
      nullptr,
      FillRelativeWork};
  return group;
}

}  // namespace qosroute
