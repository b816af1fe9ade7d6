// request.choice (env.feature_groups = request.choice): how much the routing choice matters
// for the arrived request, from its predictions on every expert. The reference request row
// holds only means over the experts, so a policy cannot tell a request that every expert
// serves alike from one that one expert serves far better; these columns say which.
#include <algorithm>
#include <cmath>

#include "env/cluster_env.h"
#include "env/feature_schema.h"

namespace qosroute {

namespace {

void FillChoice(const FeatureContext& c, Observation* obs, int offset) {
  const ArrivedRequestView& a = c.env.arrived();
  const int n = static_cast<int>(a.pred_score.size());
  double mean_score = 0.0, mean_output = 0.0;
  for (int e = 0; e < n; ++e) {
    mean_score += a.pred_score[e] / static_cast<double>(n);
    mean_output += a.pred_output_tokens[e] / static_cast<double>(n);
  }
  double variance = 0.0;
  for (int e = 0; e < n; ++e) variance += std::pow(a.pred_score[e] - mean_score, 2) / n;
  const auto [min_out, max_out] =
      std::minmax_element(a.pred_output_tokens.begin(), a.pred_output_tokens.end());
  const float best = *std::max_element(a.pred_score.begin(), a.pred_score.end());
  obs->request[offset + 0] = static_cast<float>(best - mean_score);
  obs->request[offset + 1] = static_cast<float>(std::sqrt(variance));
  obs->request[offset + 2] =
      std::min(kLatencyClip, static_cast<float>((*max_out - *min_out) / (mean_output + 1.0)));
}

}  // namespace

const FeatureGroup& RequestChoiceGroup() {
  static const FeatureGroup group{
      "request.choice",
      FeatureNode::kRequest,
      1,
      {{"best_score_margin", "its best predicted score over the experts minus their mean"},
       {"score_spread", "standard deviation of its predicted score over the experts"},
       {"output_spread",
        "(largest - smallest predicted output tokens over the experts) / (their mean + 1), "
        "clipped to 10"}},
      FeatureGroup::Presence::kOnlyWhenOn,
      nullptr,
      nullptr,
      FillChoice};
  return group;
}

}  // namespace qosroute
