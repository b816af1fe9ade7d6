#include "learner/sac_hyperparameters.h"

#include <cmath>
#include <sstream>

namespace qosroute {
namespace {

// "must be in [lo, hi], got v" (open ends as '(' / ')').
void RequireIn(const char* field, double value, double lo, double hi, bool lo_open = false) {
  const bool above = lo_open ? value > lo : value >= lo;
  if (std::isnan(value) || !above || !(value <= hi)) {
    std::ostringstream s;
    s << "must be in " << (lo_open ? "(" : "[") << lo << ", " << hi << "], got " << value;
    throw FieldError(field, s.str());
  }
}

void RequireOneOf(const char* field, const std::string& value, const char* a, const char* b) {
  if (value != a && value != b) {
    throw FieldError(field, std::string("must be ") + a + " or " + b + ", not '" + value + "'");
  }
}

}  // namespace

const NameTable<EncoderKind>& Encoders() {
  static const NameTable<EncoderKind> table(
      "encoder", {{EncoderKind::kHan, "han"}, {EncoderKind::kFlat, "flat"}});
  return table;
}

const NameTable<PriorKind>& Priors() {
  static const NameTable<PriorKind> table("prior", {{PriorKind::kNone, "none"},
                                                    {PriorKind::kGreedyQos, "greedy-qos"},
                                                    {PriorKind::kPlanner, "planner"}});
  return table;
}

void CheckSacHyperparameters(const SacHyperparameters& h) {
  RequireIn("gamma", h.gamma, 0, 1);
  RequireIn("tau", h.tau, 0, 1, /*lo_open=*/true);
  RequireIn("actor_lr", h.actor_lr, 0, 10, true);
  RequireIn("critic_lr", h.critic_lr, 0, 10, true);
  RequireIn("alpha_lr", h.alpha_lr, 0, 10);  // 0 keeps the temperature at alpha_init
  RequireIn("alpha_init", h.alpha_init, 1e-8, 1e6);
  RequireIn("target_entropy_ratio", h.target_entropy_ratio, 0, 1);
  RequireIn("lr_final_fraction", h.lr_final_fraction, 0, 1, true);
  RequireOneOf("twin_reduction", h.twin_reduction, "min", "mean");
  RequireIn("prior_temperature", h.prior_temperature, 1e-6, 1e6);
  RequireIn("planner_temperature", h.planner_temperature, 1e-6, 1e6);
  RequireIn("planner_bc_weight", h.planner_bc_weight, 0, 1e6);
  RequireIn("prior_kl_target", h.prior_kl_target, 0, 10);
  if (h.deviation_margin != -1.0) RequireIn("deviation_margin", h.deviation_margin, 0, 1e3);
  if (h.mlp_hidden.empty()) throw FieldError("mlp_hidden", "must list at least one size");
  for (int64_t units : h.mlp_hidden) {
    if (units < 1) throw FieldError("mlp_hidden", "sizes must be positive");
  }
}

}  // namespace qosroute
