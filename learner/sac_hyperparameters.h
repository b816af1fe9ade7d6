#pragma once
// The [sac] section: discrete SAC's hyper-parameters, declared and checked here (the learner
// owns them); launch/config.cc binds each INI key sac.<field> straight to its field and adds
// the file and key to the errors CheckSacHyperparameters reports in the field's own name.
// Torch-free, so that config parsing stays torch-free.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/name_table.h"
#include "env/cluster_env.h"

namespace qosroute {

// The graph encoders (train.encoder): the HAN, or the flat MLP baseline.
enum class EncoderKind { kHan, kFlat };
const NameTable<EncoderKind>& Encoders();

// sac.prior's choices (see SacHyperparameters::prior).
enum class PriorKind { kNone, kGreedyQos, kPlanner };
const NameTable<PriorKind>& Priors();

struct SacHyperparameters {
  double gamma = 0.99;
  double tau = 0.005;
  double actor_lr = 3e-5;
  double critic_lr = 3e-5;
  double alpha_lr = 3e-4;  // 0: the temperature stays at alpha_init
  double alpha_init = 1.0;
  double target_entropy_ratio = 0.5;        // target entropy = ratio * log(#valid actions)
  std::vector<int64_t> mlp_hidden{64, 64};  // every actor / critic head, ReLU
  // Dueling critics (Wang et al. 2016): Q(s, a) = V(s) + A(s, a) - mean over valid a' of
  // A(s, a'), with V an MLP on the request embedding (which has attended to every expert).
  // Only differences of Q between actions reach the policy; with gamma = 0.99 Q is ~100x
  // larger than those differences (0.01-0.05 of response score between experts), and in a
  // dueling head whatever error the critic makes in the state's value cancels exactly
  // between actions instead of blurring them. Ours; the reference has no dueling head.
  bool dueling = false;
  // Learning-rate schedule of the actor and critics: linear from the configured rates down to
  // lr_final_fraction of them over the first lr_decay_updates updates, then constant (1.0 or
  // lr_decay_updates = 0: constant, the reference's). A function of the update count only, so
  // a resumed run follows the same schedule. Ours: late in training the policy's remaining
  // errors are choices between experts whose values differ by ~0.01, finer than the jitter
  // Adam's steps put into a critic at the early rate.
  // (lr_decay_updates: SacConfig, from the run's length.)
  double lr_final_fraction = 1.0;
  // How the twin critics are combined in the bootstrap target and the actor loss: "min" (the
  // clipped double-Q of SAC) or "mean". The minimum is pessimistic in proportion to how much
  // the two critics disagree, so it also makes the policy averse to the actions whose outcome
  // is most uncertain; "mean" keeps the twins' variance reduction without that bias.
  std::string twin_reduction = "min";
  // A prior policy the learned one is regularised towards (KL-regularised SAC), ours:
  //   "none"        plain SAC: the entropy bonus -alpha log pi, alpha tuned to
  //                 target_entropy_ratio;
  //   "greedy-qos"  pi0(a|s) = softmax over the valid actions of u(a) / prior_temperature,
  //                 u(expert e) = greedy-qos's value of e (observation feature 10),
  //                 u(drop) = SacConfig::prior_drop_value (greedy-qos's drop threshold), so pi0 is
  //                 greedy-qos made soft. The bonus becomes -alpha (log pi - log pi0), the
  //                 policy's logits are the actor's output plus log pi0 (at initialisation
  //                 the policy is pi0), and alpha is tuned so that KL(pi || pi0) averages
  //                 prior_kl_target nats. The optimal policy is pi0 exp(Q / alpha): it
  //                 leaves greedy-qos only where the critic's advantage exceeds alpha times
  //                 the prior's log-odds. Why: at light load the counterfactual value of
  //                 one routing decision has a spread of ~0.35 while the choices at stake
  //                 differ by ~0.01 (docs/RESULTS.md), so a critic trained on 10^4-10^5
  //                 transitions cannot rank them, and plain SAC drifts below greedy-qos.
  //   "planner"     search-guided SAC (docs/LEARNER.md): where the sampled transition carries a
  //                 planner label (train.planner_share), the actor's KL term pulls towards the
  //                 planner's soft choice, softmax over the valid actions of the label's values
  //                 / planner_temperature; elsewhere towards greedy-qos's, as above. The policy's
  //                 logits stay the actor's output plus greedy-qos's log pi0 (a deployed router
  //                 has no planner), and the critics' bootstrap keeps greedy-qos's prior (a
  //                 transition carries its own decision's label, not the next one's). With a
  //                 fixed alpha the actor's optimum on a labelled state is softmax(values /
  //                 planner_temperature + Q / alpha): the planner's and the critic's advantage
  //                 estimates added, each weighted by its temperature.
  PriorKind prior = PriorKind::kNone;
  double prior_temperature = 0.01;
  double planner_temperature = 0.01;
  // prior = planner: weight of a behaviour-cloning term added to the actor's loss on the
  // labelled rows, the cross-entropy from the planner's soft choice to the policy,
  // -sum_a pi_planner(a) log pi(a) (0 = off). Why: the KL term above is KL(pi || pi0), whose
  // gradient on an action's logit is proportional to pi(a), and a policy that starts at
  // greedy-qos's sharp prior (temperature 0.01) gives the planner's departures little mass;
  // the cross-entropy's gradient is pi - pi_planner, as strong where pi(a) is small.
  double planner_bc_weight = 0.0;
  double prior_kl_target = 0.05;
  // Deployment only (greedy actions with a prior): keep the prior's own choice (greedy-qos's
  // action, the mode of pi0) unless the policy prefers its argmax a* over it by more than
  // this many nats, log pi(a*) - log pi(g) > deviation_margin. 0 = plain argmax. Why: at
  // light load the critic's errors exceed the true advantages, and small preferences are
  // mostly noise; loaded-cluster deviations (drops, spreading load) carry large ones.
  // -1 (the config's default): the policy file's own margin when a policy is loaded for
  // evaluation, 0 while training.
  double deviation_margin = 0.0;
};

// A value out of its range, named by its field ("gamma") and the problem ("must be in [0, 1],
// got 1.5"); what() is "<field> <problem>".
class FieldError : public UserError {
 public:
  FieldError(std::string field, std::string problem)
      : UserError(field + " " + problem), field_(std::move(field)), problem_(std::move(problem)) {}
  const std::string& field() const { return field_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string field_, problem_;
};

// Throws FieldError for the first hyper-parameter out of its range. `deviation_margin` may
// also be -1 ("the policy file's").
void CheckSacHyperparameters(const SacHyperparameters& h);

// The simulator a trainer collects experience in (one process and the actors alike): its
// rewards' shaping and undiscounted credit use the learner's discount, handed over here from
// its one owner, SacHyperparameters::gamma (sac.gamma).
inline std::unique_ptr<ClusterEnv> MakeTrainingEnv(const EnvConfig& env,
                                                   std::shared_ptr<const Workload> workload,
                                                   const SacHyperparameters& learner) {
  return std::make_unique<ClusterEnv>(env, std::move(workload), learner.gamma);
}

}  // namespace qosroute
