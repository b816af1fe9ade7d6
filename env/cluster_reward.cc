// ClusterEnv's reward (spec section 2: credited QoS minus the impact penalty) and its
// potential-based shaping (EnvConfig::potential_shaping); see cluster_env.h.
#include <algorithm>
#include <cmath>

#include "env/cluster_env.h"
#include "env/heuristics.h"

namespace qosroute {

namespace {

// The impact penalty's k1 x p_new and k2 x context (spec section 2). Other time models have no
// single k1 or k2; for them the same terms are the model's own increments over an empty
// iteration.
double AddedPrefillSeconds(const ExpertServer& s, const ExpertConfig& ec, long p_new) {
  if (ec.time_model == TimeModelKind::kLinear) return ec.k1 * p_new;
  return s.time_model().PrefillSeconds(p_new, 1) - s.time_model().PrefillSeconds(0, 1);
}

double AddedDecodeSeconds(const ExpertServer& s, const ExpertConfig& ec, double context) {
  if (ec.time_model == TimeModelKind::kLinear) return ec.k2 * context;
  return s.time_model().DecodeSeconds(static_cast<long>(context), 1) -
         s.time_model().DecodeSeconds(0, 1);
}

}  // namespace

double ClusterEnv::CreditWeight(int routed_at, int decision) const {
  if (!setup_->config.undiscounted_credit || discount_ <= 0.0) return 1.0;
  return std::pow(discount_, -static_cast<double>(decision - routed_at));
}

double ClusterEnv::CreditUpTo(double time, bool everything, int decision) {
  double credited = 0.0;
  size_t kept = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const Completion& c = pending_[i];
    if (everything || c.finish <= time) {
      metrics_.AddCompletion(c, setup_->config.sla, setup_->config.energy_weight);
      if (!c.rejected && c.latency_per_token() < setup_->config.sla) {
        credited += RequestCredit(c, setup_->config.sla, setup_->config.energy_weight) *
                    CreditWeight(c.id, decision);
      }
    } else {
      pending_[kept++] = c;
    }
  }
  pending_.resize(kept);
  return credited;
}

double ClusterEnv::ImpactPenalty(int expert) const {
  const ExpertServer& server = experts_[expert];
  const ExpertConfig& ec = server.config();
  const RequestRow row = Row(step_);
  const long p_new = row.data->prompt_tokens[row.row];
  const long d_new = row.data->true_output[row.data->At(row.row, expert)];
  double penalty = 0.0;
  for (const ActiveRequest& r : server.running()) {
    const long m = std::min<long>(r.output_tokens - r.generated, d_new);
    // sum_{k=1}^{m-1} (p_new + k): the new request's context during the overlap.
    const double second = m > 1 ? (m - 1) * static_cast<double>(p_new) + (m - 1) * m / 2.0 : 0.0;
    const double l_plus =
        (AddedPrefillSeconds(server, ec, p_new) + AddedDecodeSeconds(server, ec, second)) /
        r.output_tokens;
    const double current = (now_ - r.arrival) / std::max(1, r.generated);
    if (current + l_plus > setup_->config.sla) penalty += r.score;
  }
  return penalty;
}

double ClusterEnv::UncreditedPredictedScore() const {
  double sum = 0.0;
  for (const ExpertServer& e : experts_) {
    for (const ActiveRequest& r : e.running()) sum += r.pred_score * CreditWeight(r.id, step_);
    for (const ActiveRequest& r : e.waiting()) sum += r.pred_score * CreditWeight(r.id, step_);
  }
  for (const Completion& c : pending_) sum += PredictedScore(c) * CreditWeight(c.id, step_);
  return sum;
}

double ClusterEnv::LookaheadPotential() const {
  const int n = static_cast<int>(experts_.size());
  double sum = 0.0;
  for (int e = 0; e < n; ++e) {
    const LookaheadResult queued = LookAhead(*this, e, /*with_arrived=*/false);
    // The look-ahead lists the running then the waiting queue, in queue order.
    size_t i = 0;
    auto add = [&](const ActiveRequest& r) {
      sum += queued.queued_pred_score[i] *
             MeetProbability(queued.queued_latency_per_token[i], setup_->config.sla,
                             setup_->config.lookahead_sharpness) *
             CreditWeight(r.id, step_);
      ++i;
    };
    for (const ActiveRequest& r : experts_[e].running()) add(r);
    for (const ActiveRequest& r : experts_[e].waiting()) add(r);
  }
  // Finished on the engine's clock but not yet credited: whether they met the SLA is settled.
  for (const Completion& c : pending_) {
    if (!c.rejected && c.latency_per_token() < setup_->config.sla)
      sum += PredictedScore(c) * CreditWeight(c.id, step_);
  }
  return sum;
}

double ClusterEnv::ShapingPotential() const {
  return setup_->config.shaping_potential == "lookahead" ? LookaheadPotential()
                                                         : UncreditedPredictedScore();
}

}  // namespace qosroute
