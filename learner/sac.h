#pragma once
// Discrete Soft Actor-Critic (Christodoulou 2019) over per-action heads.
//
//   GraphBatch --encoder--> (request emb [B,H], expert embs [B,N,H])
//        actor head  -> logits [B, N+1]     q1 head -> Q1 [B, N+1]     q2 head -> Q2 [B, N+1]
//
// A head scores expert action e with an MLP on concat[request emb, expert emb e] and the drop
// action (index N) with a second MLP on the request emb, so the same weights serve any N.
// Masked actions get -inf logits, probability 0, and drop out of every expectation.
//
// One encoder is shared by actor and critics (as the reference does). Which loss trains it:
// only the critic loss. The actor and temperature losses read detached embeddings (as in
// SAC-AE and CURL): the actor's gradient through a shared encoder fights the critic's and
// destabilises the Q targets, while the TD error is the richer learning signal for the
// representation. So:
//   critic loss -> encoder, q1, q2;   actor loss -> actor head;   alpha loss -> log_alpha
// (one exception: prior = planner's behaviour-cloning term reaches the encoder too, below).
// The target network is a Polyak-averaged copy of encoder + q1 + q2.
//
// Losses, with pi, log pi from the actor on masked actions and alpha = exp(log_alpha):
//   y       = r + gamma (1 - done) sum_a pi(a|s') [min(Q1t, Q2t)(s', a) - alpha log pi(a|s')]
//   critic  = mean (Q1(s, a) - y)^2 + mean (Q2(s, a) - y)^2
//   actor   = mean_s sum_a pi(a|s) [alpha log pi(a|s) - min(Q1, Q2)(s, a)]   (Q, alpha fixed)
//   alpha   = mean_s log_alpha * (H(s) - H_target(s)),  H_target(s) = ratio * log(#valid(s))
// With a prior pi0 (SacConfig::prior) every log pi above becomes log pi - log pi0, and
//   alpha   = mean_s log_alpha * (KL_target - KL(pi || pi0)(s)).
// prior = planner: in the actor and alpha losses pi0 is the planner's soft choice on the
// transitions that carry a planner label (PlannerTargets), greedy-qos's elsewhere; with
// planner_bc_weight w the actor loss adds w * mean over labelled s of
// -sum_a pi_planner(a|s) log pi(a|s), with pi computed on the embeddings undetached: this term
// alone trains the encoder besides the critic loss (and the actor head besides the actor loss).
// (min is config.twin_reduction: min or mean.)
// All three come from one forward pass at the pre-update parameters and one backward.
//
// Determinism: parameters are initialised from config.seed (torch's global generator is
// seeded for the construction and restored afterwards), Act samples with the project's own
// Rng, and CPU updates are bitwise repeatable for a fixed seed and thread count.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/rng.h"
#include "env/feature_schema.h"
#include "learner/encoder.h"
#include "learner/fused_adam.h"
#include "learner/graph_batch.h"
#include "learner/han_encoder.h"
#include "learner/sac_hyperparameters.h"

namespace qosroute {

// The hyper-parameters (the [sac] section) and what the learner derives from the run.
struct SacConfig : SacHyperparameters {
  // Derived from the run: the updates it plans (the rate schedule's length) and greedy-qos's
  // drop threshold (the prior's value of dropping).
  int64_t lr_decay_updates = 0;
  double prior_drop_value = 0.4;

  EncoderKind encoder = EncoderKind::kHan;
  HanEncoderOptions han;
  // The flat baseline encoder: embedding width and trunk MLP.
  int64_t flat_hidden = 64;
  std::vector<int64_t> flat_mlp_hidden{64, 64};

  // Observation layout. The flat encoder's input width depends on it; the HAN runs on any
  // N, R, W, and keeps these only as metadata in saved policies.
  int64_t num_experts = 3;
  int64_t max_running = 10;
  int64_t max_waiting = 10;
  // The observation's feature groups (env/feature_schema.h): the encoder's input widths, the
  // prior's greedy-qos value column; policy files record it, and a policy is evaluated with
  // the groups it was trained on.
  ObservationSchema schema = DefaultObservationSchema();

  uint64_t seed = 0;
  // Intra-op threads for torch (global to the process). 0 leaves torch's setting alone. One
  // is the default because these tensors are small: on 2 cores a second thread costs more
  // in synchronisation than it gains (see bench/learner_bench.cc).
  int torch_threads = 1;
  // Keep freed tensor memory in the process (glibc mallopt, process-wide): see
  // KeepTensorMemoryInProcess.
  bool keep_memory_in_process = true;
  std::string device = "cpu";

  // Embedding width H of whichever encoder is configured.
  int64_t encoder_hidden() const {
    return encoder == EncoderKind::kFlat ? flat_hidden : han.hidden();
  }
};

// Tells glibc's malloc to keep freed memory instead of returning every buffer over its mmap
// threshold (128 KiB to 32 MiB) to the OS and page-faulting it back in on the next
// allocation: the encoder's [B, N, slots, hidden] temporaries are exactly that size, and the
// page faults cost 15-25% of an update's CPU time. Process-wide, idempotent, a no-op
// elsewhere than glibc. The process keeps its peak tensor memory (tens of MB here).
void KeepTensorMemoryInProcess();

// The encoder `config` asks for; UserError for an unknown kind.
std::shared_ptr<GraphEncoderImpl> MakeEncoder(const SacConfig& config);

// Per-action scores [B, N + 1] from node embeddings (logits for the actor, Q for critics):
// expert e's score is an MLP on concat[request, expert e], the drop score an MLP on the
// request. The expert MLP's first layer is kept as its two halves, W [r; x] = W_r r + W_x x,
// so the request half is computed once per graph instead of once per expert.
//
// A dueling head (critics with SacConfig::dueling) reads those scores as advantages A and
// returns V(request) + A - mean of A over the valid actions (`valid`, bool [B, N + 1]).
class ActionHeadImpl : public torch::nn::Module {
 public:
  ActionHeadImpl(int64_t embedding_dim, const std::vector<int64_t>& hidden, bool dueling = false);
  torch::Tensor forward(const NodeEmbeddings& embeddings, const torch::Tensor& valid = {});

 private:
  torch::nn::Linear expert_from_request_{nullptr}, expert_from_expert_{nullptr};
  torch::nn::Sequential expert_mlp_, drop_mlp_;  // expert_mlp_: the layers after the first
  torch::nn::Sequential value_mlp_{nullptr};     // dueling heads only
};
TORCH_MODULE(ActionHead);

// Every network of the agent in one module, so named_parameters() is the complete, stably
// named parameter set: encoder.*, actor.*, q1.*, q2.*, target_encoder.*, target_q1.*,
// target_q2.*, log_alpha.
class SacNetworksImpl : public torch::nn::Module {
 public:
  explicit SacNetworksImpl(const SacConfig& config);

  std::shared_ptr<GraphEncoderImpl> encoder, target_encoder;
  ActionHead actor{nullptr}, q1{nullptr}, q2{nullptr}, target_q1{nullptr}, target_q2{nullptr};
  torch::Tensor log_alpha;  // scalar

  std::vector<torch::Tensor> CriticParameters() const;  // encoder + q1 + q2
  std::vector<torch::Tensor> TargetParameters() const;  // same order as CriticParameters
};
TORCH_MODULE(SacNetworks);

// Loss values of one update, as numbers for logging.
struct SacLosses {
  double critic = 0.0;
  double actor = 0.0;
  double alpha_loss = 0.0;
  double alpha = 0.0;    // the temperature used in this update (before its step)
  double entropy = 0.0;  // mean policy entropy over the batch, nats
  double q_mean = 0.0;   // mean Q1(s, a) of the batch actions
};

// The same, as tensors still attached to their graphs (for tests and custom loops).
struct SacLossTensors {
  torch::Tensor critic, actor, alpha_loss;
  torch::Tensor alpha, entropy, q_mean;  // detached scalars
  // |Q1(s, a) - y| per sample, detached: the TD errors of this update, before its step (the
  // distributed learner's priorities; no extra forward passes).
  torch::Tensor td_error;
};

using NamedTensor = std::pair<std::string, torch::Tensor>;

// The planner labels of a sampled batch (prior = planner): values float [B, N + 1] (the
// label's values, 0 where unlabelled), labelled bool [B]. Undefined tensors: none labelled.
struct PlannerTargets {
  torch::Tensor values, labelled;
};

class SacAgent {
 public:
  explicit SacAgent(const SacConfig& config);

  // One gradient step on every loss plus the Polyak update of the targets. actions: int64
  // [B]; rewards, dones: float [B] (dones 1 = terminal, no bootstrap). Batches may live on
  // any device; they are moved to the agent's.
  // `labels` (optional): the batch's planner labels, read only with prior = planner.
  SacLosses Update(const GraphBatch& obs, const torch::Tensor& actions,
                   const torch::Tensor& rewards, const GraphBatch& next_obs,
                   const torch::Tensor& dones, const PlannerTargets* labels = nullptr);

  // Update split in two, so that a data-parallel trainer can average gradients in between:
  // ComputeGradients clears the gradients, then back-propagates all three losses;
  // ApplyGradients steps the optimizers and moves the targets.
  // With td_errors, also the update's per-sample |TD error| (SacLossTensors::td_error).
  SacLosses ComputeGradients(const GraphBatch& obs, const torch::Tensor& actions,
                             const torch::Tensor& rewards, const GraphBatch& next_obs,
                             const torch::Tensor& dones, std::vector<float>* td_errors = nullptr,
                             const PlannerTargets* labels = nullptr);
  void ApplyGradients();

  // The three losses at the current parameters, graphs attached, gradients untouched.
  SacLossTensors ComputeLosses(const GraphBatch& obs, const torch::Tensor& actions,
                               const torch::Tensor& rewards, const GraphBatch& next_obs,
                               const torch::Tensor& dones, const PlannerTargets* labels = nullptr);

  // Policy probabilities [B, N + 1] (0 on masked actions), without autograd.
  torch::Tensor ActionProbs(const GraphBatch& batch);
  // One action per graph: argmax (first on ties) if greedy, else sampled with `rng`, or with
  // the agent's own Rng (seeded from config.seed) when rng is null.
  std::vector<int> Act(const GraphBatch& batch, bool greedy, Rng* rng = nullptr);
  // Online and target critics' Q values [B, N + 1], without autograd.
  std::pair<torch::Tensor, torch::Tensor> QValues(const GraphBatch& batch);
  std::pair<torch::Tensor, torch::Tensor> TargetQValues(const GraphBatch& batch);
  double alpha() const;
  // The twin critics' values combined by config.twin_reduction.
  torch::Tensor CombineTwins(const torch::Tensor& q1, const torch::Tensor& q2) const;
  // log pi0 [B, N + 1] of config.prior (masked actions 0, never -inf, so products stay finite),
  // or an undefined tensor without a prior. The batch must be on the agent's device.
  // With prior = planner this is greedy-qos's (the policy's residual base and the fallback).
  torch::Tensor PriorLogProbs(const GraphBatch& batch) const;
  // The actor's KL target log pi0 [B, N + 1]: with prior = planner and labels, the planner's
  // soft choice on the labelled rows and PriorLogProbs on the others; else PriorLogProbs.
  torch::Tensor TeacherLogProbs(const GraphBatch& batch, const PlannerTargets* labels) const;
  // sac.planner_bc_weight's term: the mean over labelled rows of -sum_a pi_planner(a) log pi(a)
  // (safe_log_probs: log pi with masked actions at 0).
  torch::Tensor PlannerCrossEntropy(const GraphBatch& batch, const PlannerTargets& labels,
                                    const torch::Tensor& safe_log_probs) const;

  const SacConfig& config() const { return config_; }
  // Deployment knob only (SacConfig::deviation_margin): changes greedy actions, nothing else.
  void set_deviation_margin(double margin) { config_.deviation_margin = margin; }
  torch::Device device() const { return device_; }

  // Checkpointing. Parameters are the live tensors (online, target, log_alpha), named as in
  // SacNetworksImpl; LoadParameters copies values in exactly and checks names and shapes.
  std::vector<NamedTensor> NamedParameters() const;
  void LoadParameters(const std::vector<NamedTensor>& parameters);
  // Adam state as copies: "<optimizer>/<parameter>/{step,exp_avg,exp_avg_sq}" with optimizer
  // one of critic, actor, alpha; step is an int64 scalar. An optimizer not stepped yet has no
  // entries; a stepped one has every parameter's (one step count for all of them: the
  // optimizer is a FusedAdam). LoadOptimizerState restores this set, and also reads
  // checkpoints of torch::optim::Adam, which omitted parameters that never had a gradient
  // (their moments are zero, exactly what they would be here).
  std::vector<NamedTensor> OptimizerState() const;
  void LoadOptimizerState(const std::vector<NamedTensor>& state);
  int64_t num_updates() const { return num_updates_; }
  void set_num_updates(int64_t n) { num_updates_ = n; }
  Rng& sample_rng() { return sample_rng_; }

  SacNetworks& networks() { return networks_; }
  // The three Adam optimizers are one FusedAdam with a group each (learner/fused_adam.h):
  // a few kernels per group instead of ~8 per tensor, the same arithmetic.
  enum OptimizerGroup : size_t { kCriticGroup = 0, kActorGroup = 1, kAlphaGroup = 2 };
  FusedAdam& optimizer() { return *optimizer_; }
  double learning_rate(OptimizerGroup group) const { return optimizer_->options(group).lr; }

 private:
  // The policy's logits (the actor's output, plus log pi0 with a prior), masked actions at -inf.
  torch::Tensor PolicyLogits(const NodeEmbeddings& embeddings, const GraphBatch& batch);
  void PolyakUpdate();
  // Sets the actor's and critics' rates for the next step from the schedule above.
  void ScheduleLearningRates();

  SacConfig config_;
  torch::Device device_;
  SacNetworks networks_{nullptr};
  std::vector<torch::Tensor> critic_parameters_, target_parameters_;
  std::unique_ptr<FusedAdam> optimizer_;  // groups: OptimizerGroup
  Rng sample_rng_;
  int64_t num_updates_ = 0;
};

}  // namespace qosroute
