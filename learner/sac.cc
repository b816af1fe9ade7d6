#include "learner/sac.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>
#include <torch/torch.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cmath>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "common/error.h"
#include "learner/flat_encoder.h"

namespace qosroute {
namespace {

// Linear-ReLU layers of `hidden` sizes then a Linear to one output; with skip_first the
// first Linear is left out (its input is already the first layer's pre-activation).
torch::nn::Sequential MakeMlp(int64_t in, const std::vector<int64_t>& hidden,
                              bool skip_first = false) {
  torch::nn::Sequential mlp;
  for (size_t i = 0; i < hidden.size(); ++i) {
    if (i > 0 || !skip_first) mlp->push_back(torch::nn::Linear(in, hidden[i]));
    mlp->push_back(torch::nn::ReLU());
    in = hidden[i];
  }
  mlp->push_back(torch::nn::Linear(in, 1));
  return mlp;
}

// The hyper-parameters' own check (also what the config layer runs, naming its keys) and
// what only a SacConfig has.
void CheckConfig(const SacConfig& c) {
  try {
    CheckSacHyperparameters(c);
  } catch (const FieldError& e) {
    throw UserError(std::string("SAC config: ") + e.what());
  }
  auto fail = [](const std::string& what) { throw UserError("SAC config: " + what); };
  if (c.lr_decay_updates < 0) fail("lr_decay_updates must be >= 0");
  if (c.prior != PriorKind::kNone && !c.schema.IsOn("expert.greedy_value")) {
    fail(std::string("prior ") + Priors().Name(c.prior) +
         " reads greedy-qos's value from the observations, which need "
         "env.lookahead_features = true and env.lookahead_value = true");
  }
}

// Parameter name by tensor identity, to name optimizer state.
std::unordered_map<const void*, std::string> NamesByImpl(const torch::nn::Module& module) {
  std::unordered_map<const void*, std::string> names;
  for (const auto& item : module.named_parameters()) {
    names[item.value().unsafeGetTensorImpl()] = item.key();
  }
  return names;
}

torch::Device ParseDevice(const std::string& name) {
  try {
    const torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      throw UserError("SAC config: device '" + name + "' asks for CUDA, which this LibTorch lacks");
    }
    return device;
  } catch (const c10::Error&) {
    throw UserError("SAC config: device '" + name + "' is not a torch device (cpu, cuda, cuda:1)");
  }
}

}  // namespace

void KeepTensorMemoryInProcess() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
  });
#endif
}

std::shared_ptr<GraphEncoderImpl> MakeEncoder(const SacConfig& config) {
  if (config.encoder == EncoderKind::kHan) {
    HanEncoderOptions options = config.han;
    options.expert_features(config.schema.Width(FeatureNode::kExpert));
    options.request_features(config.schema.Width(FeatureNode::kRequest));
    return std::make_shared<HanEncoderImpl>(options);
  }
  if (config.encoder == EncoderKind::kFlat) {
    return std::make_shared<FlatEncoderImpl>(
        FlatEncoderOptions(config.num_experts, config.max_running, config.max_waiting)
            .hidden(config.flat_hidden)
            .mlp_hidden(config.flat_mlp_hidden));
  }
  QR_CHECK_MSG(false, "unhandled encoder");
  return nullptr;
}

ActionHeadImpl::ActionHeadImpl(int64_t embedding_dim, const std::vector<int64_t>& hidden,
                               bool dueling)
    : expert_mlp_(MakeMlp(hidden.at(0), hidden, /*skip_first=*/true)),
      drop_mlp_(MakeMlp(embedding_dim, hidden)) {
  // Initialised as one Linear(2H, h) would be: bound 1 / sqrt(2H) for both halves.
  torch::nn::Linear first(2 * embedding_dim, hidden.at(0));
  expert_from_request_ =
      register_module("expert_from_request", torch::nn::Linear(embedding_dim, hidden.at(0)));
  expert_from_expert_ = register_module(
      "expert_from_expert",
      torch::nn::Linear(torch::nn::LinearOptions(embedding_dim, hidden.at(0)).bias(false)));
  {
    torch::NoGradGuard no_grad;
    expert_from_request_->weight.copy_(first->weight.slice(1, 0, embedding_dim));
    expert_from_request_->bias.copy_(first->bias);
    expert_from_expert_->weight.copy_(first->weight.slice(1, embedding_dim));
  }
  register_module("expert_mlp", expert_mlp_);
  register_module("drop_mlp", drop_mlp_);
  if (dueling) value_mlp_ = register_module("value_mlp", MakeMlp(embedding_dim, hidden));
}

torch::Tensor ActionHeadImpl::forward(const NodeEmbeddings& embeddings,
                                      const torch::Tensor& valid) {
  const torch::Tensor first = expert_from_request_(embeddings.request).unsqueeze(1) +
                              expert_from_expert_(embeddings.experts);          // [B, N, h]
  const torch::Tensor expert_scores = expert_mlp_->forward(first).squeeze(-1);  // [B, N]
  const torch::Tensor drop_score = drop_mlp_->forward(embeddings.request);      // [B, 1]
  const torch::Tensor scores = torch::cat({expert_scores, drop_score}, 1);
  if (value_mlp_.is_empty()) return scores;
  QR_CHECK_MSG(valid.defined(), "a dueling head needs the valid-action mask");
  const torch::Tensor weight = valid.to(scores.scalar_type());
  const torch::Tensor mean_advantage =
      (scores * weight).sum(1, /*keepdim=*/true) / weight.sum(1, /*keepdim=*/true);
  return value_mlp_->forward(embeddings.request) + scores - mean_advantage;
}

SacNetworksImpl::SacNetworksImpl(const SacConfig& config) {
  const int64_t h = config.encoder_hidden();
  encoder = register_module("encoder", MakeEncoder(config));
  actor = register_module("actor", ActionHead(h, config.mlp_hidden));
  q1 = register_module("q1", ActionHead(h, config.mlp_hidden, config.dueling));
  q2 = register_module("q2", ActionHead(h, config.mlp_hidden, config.dueling));
  target_encoder = register_module("target_encoder", MakeEncoder(config));
  target_q1 = register_module("target_q1", ActionHead(h, config.mlp_hidden, config.dueling));
  target_q2 = register_module("target_q2", ActionHead(h, config.mlp_hidden, config.dueling));
  log_alpha = register_parameter(
      "log_alpha", torch::scalar_tensor(std::log(config.alpha_init), torch::kFloat32));

  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> online = CriticParameters();
  const std::vector<torch::Tensor> target = TargetParameters();
  QR_CHECK(online.size() == target.size());
  for (size_t i = 0; i < online.size(); ++i) {
    target[i].copy_(online[i]);
    target[i].set_requires_grad(false);
  }
}

std::vector<torch::Tensor> SacNetworksImpl::CriticParameters() const {
  std::vector<torch::Tensor> params = encoder->parameters();
  for (const auto& head : {q1, q2}) {
    for (const auto& p : head->parameters()) params.push_back(p);
  }
  return params;
}

std::vector<torch::Tensor> SacNetworksImpl::TargetParameters() const {
  std::vector<torch::Tensor> params = target_encoder->parameters();
  for (const auto& head : {target_q1, target_q2}) {
    for (const auto& p : head->parameters()) params.push_back(p);
  }
  return params;
}

SacAgent::SacAgent(const SacConfig& config)
    : config_(config),
      device_(ParseDevice(config.device)),
      sample_rng_(config.seed ^ 0x5ac5ac5ac5ac5acULL) {
  CheckConfig(config);
  if (config.torch_threads > 0) torch::set_num_threads(config.torch_threads);
  if (config.keep_memory_in_process) KeepTensorMemoryInProcess();
  {
    // Initialise from config.seed without leaving the process's global generator changed:
    // module constructors draw from it and take no generator argument.
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    at::Tensor saved;
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      saved = generator.get_state();
      generator.set_current_seed(config.seed);
    }
    networks_ = SacNetworks(config);
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(saved);
  }
  networks_->to(device_);
  critic_parameters_ = networks_->CriticParameters();
  target_parameters_ = networks_->TargetParameters();
  // Last: the optimizer re-points every parameter it steps into its flat buffers, so the
  // networks must be on their device before. FusedAdam keeps one step count per group, where
  // torch::optim::Adam skips a tensor without a gradient: the same thing here, because every
  // parameter of a group is in its loss's graph at every update (training is bit-identical
  // to torch::optim::Adam's; docs/PERFORMANCE.md).
  auto group = [](std::vector<torch::Tensor> params, double lr) {
    FusedAdamGroup g;
    g.params = std::move(params);
    g.options.lr = lr;
    return g;
  };
  std::vector<FusedAdamGroup> groups;
  groups.push_back(group(critic_parameters_, config.critic_lr));             // kCriticGroup
  groups.push_back(group(networks_->actor->parameters(), config.actor_lr));  // kActorGroup
  groups.push_back(group({networks_->log_alpha}, config.alpha_lr));          // kAlphaGroup
  optimizer_ = std::make_unique<FusedAdam>(std::move(groups));
}

torch::Tensor SacAgent::PriorLogProbs(const GraphBatch& batch) const {
  if (config_.prior == PriorKind::kNone) return {};
  // prior = planner too: its policy's residual base and its fallback are greedy-qos's.
  const torch::Tensor valid = batch.action_mask;
  // CheckConfig made sure the group is on.
  const int column = config_.schema.Find("expert.greedy_value")->offset;
  const torch::Tensor values = batch.expert.select(2, column);  // [B, N]
  const torch::Tensor drop =
      torch::full({values.size(0), 1}, config_.prior_drop_value, values.options());
  const torch::Tensor logits =
      (torch::cat({values, drop}, 1) / config_.prior_temperature)
          .masked_fill(valid.logical_not(), -std::numeric_limits<float>::infinity());
  return torch::log_softmax(logits, 1).masked_fill(valid.logical_not(), 0.0f);
}

torch::Tensor SacAgent::PolicyLogits(const NodeEmbeddings& embeddings, const GraphBatch& batch) {
  torch::Tensor logits = networks_->actor(embeddings);
  if (config_.prior != PriorKind::kNone) logits = logits + PriorLogProbs(batch);
  return logits.masked_fill(batch.action_mask.logical_not(),
                            -std::numeric_limits<float>::infinity());
}

torch::Tensor SacAgent::TeacherLogProbs(const GraphBatch& batch,
                                        const PlannerTargets* labels) const {
  const torch::Tensor prior = PriorLogProbs(batch);
  if (config_.prior != PriorKind::kPlanner || labels == nullptr || !labels->values.defined())
    return prior;
  const torch::Tensor valid = batch.action_mask;
  const torch::Tensor logits =
      (labels->values.to(device_, torch::kFloat32) / config_.planner_temperature)
          .masked_fill(valid.logical_not(), -std::numeric_limits<float>::infinity());
  const torch::Tensor planner =
      torch::log_softmax(logits, 1).masked_fill(valid.logical_not(), 0.0f);
  return torch::where(labels->labelled.to(device_).view({-1, 1}), planner, prior);
}

torch::Tensor SacAgent::PlannerCrossEntropy(const GraphBatch& batch, const PlannerTargets& labels,
                                            const torch::Tensor& safe_log_probs) const {
  const torch::Tensor valid = batch.action_mask;
  const torch::Tensor teacher =
      TeacherLogProbs(batch, &labels).exp().masked_fill(valid.logical_not(), 0.0f);
  const torch::Tensor cross_entropy = -(teacher * safe_log_probs).sum(1);  // [B]
  const torch::Tensor labelled = labels.labelled.to(device_, torch::kFloat32).view({-1});
  return (cross_entropy * labelled).sum() / labelled.sum().clamp_min(1.0f);
}

SacLossTensors SacAgent::ComputeLosses(const GraphBatch& obs_in, const torch::Tensor& actions,
                                       const torch::Tensor& rewards, const GraphBatch& next_in,
                                       const torch::Tensor& dones, const PlannerTargets* labels) {
  const GraphBatch obs = obs_in.to(device_);
  const GraphBatch next_obs = next_in.to(device_);
  const torch::Tensor action_index = actions.to(device_, torch::kInt64).view({-1, 1});
  const torch::Tensor reward = rewards.to(device_, torch::kFloat32).view({-1});
  const torch::Tensor done = dones.to(device_, torch::kFloat32).view({-1});
  const torch::Tensor alpha = networks_->log_alpha.detach().exp();

  const NodeEmbeddings embeddings = networks_->encoder->forward(obs);
  const torch::Tensor q1 = networks_->q1(embeddings, obs.action_mask);
  const torch::Tensor q2 = networks_->q2(embeddings, obs.action_mask);

  torch::Tensor target;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor next_mask = next_obs.action_mask;
    const torch::Tensor next_log_probs =
        torch::log_softmax(PolicyLogits(networks_->encoder->forward(next_obs), next_obs), 1);
    // The bonus is -alpha log pi, or -alpha (log pi - log pi0) with a prior.
    torch::Tensor next_log_ratio = next_log_probs;
    if (config_.prior != PriorKind::kNone)
      next_log_ratio = next_log_probs - PriorLogProbs(next_obs);
    const NodeEmbeddings target_embeddings = networks_->target_encoder->forward(next_obs);
    const torch::Tensor next_q = CombineTwins(networks_->target_q1(target_embeddings, next_mask),
                                              networks_->target_q2(target_embeddings, next_mask));
    // Masked actions have pi = 0 and log pi = -inf; zero their soft Q so 0 * inf is not NaN.
    const torch::Tensor soft_q =
        (next_q - alpha * next_log_ratio).masked_fill(next_mask.logical_not(), 0.0f);
    const torch::Tensor next_value = (next_log_probs.exp() * soft_q).sum(1);
    target = reward + config_.gamma * (1.0f - done) * next_value;
  }
  const torch::Tensor q1_taken = q1.gather(1, action_index).squeeze(1);
  const torch::Tensor q2_taken = q2.gather(1, action_index).squeeze(1);
  SacLossTensors losses;
  losses.critic = torch::mse_loss(q1_taken, target) + torch::mse_loss(q2_taken, target);

  // Actor on detached embeddings: the encoder learns from the critic loss only.
  const torch::Tensor mask = obs.action_mask;
  const torch::Tensor log_probs = torch::log_softmax(PolicyLogits(embeddings.detach(), obs), 1);
  const torch::Tensor probs = log_probs.exp();
  // -inf replaced before any product, so that neither value nor gradient sees 0 * inf.
  const torch::Tensor safe_log_probs = log_probs.masked_fill(mask.logical_not(), 0.0f);
  const torch::Tensor q_min = CombineTwins(q1, q2).detach();
  const torch::Tensor entropy = -(probs * safe_log_probs).sum(1).detach();  // [B]
  if (config_.prior == PriorKind::kNone) {
    losses.actor = (probs * (alpha * safe_log_probs - q_min)).sum(1).mean();
    const torch::Tensor target_entropy =
        config_.target_entropy_ratio * mask.sum(1).to(torch::kFloat32).log();
    losses.alpha_loss = (networks_->log_alpha * (entropy - target_entropy)).mean();
  } else {
    // log pi0: the planner's soft choice where labelled (prior = planner), else greedy-qos's.
    const torch::Tensor log_ratio = safe_log_probs - TeacherLogProbs(obs, labels);  // 0 masked
    losses.actor = (probs * (alpha * log_ratio - q_min)).sum(1).mean();
    const torch::Tensor kl = (probs * log_ratio).sum(1).detach();  // KL(pi || pi0), [B]
    losses.alpha_loss = (networks_->log_alpha * (config_.prior_kl_target - kl)).mean();
    if (config_.prior == PriorKind::kPlanner && config_.planner_bc_weight > 0.0 &&
        labels != nullptr && labels->values.defined()) {
      // Through the embeddings, not detached: the planner's departures hinge on what the
      // critic's representation need not separate, so the teacher trains the encoder too.
      const torch::Tensor bc_log_probs = torch::log_softmax(PolicyLogits(embeddings, obs), 1)
                                             .masked_fill(mask.logical_not(), 0.0f);
      losses.actor = losses.actor +
                     config_.planner_bc_weight * PlannerCrossEntropy(obs, *labels, bc_log_probs);
    }
  }

  losses.alpha = alpha;
  losses.entropy = entropy.mean();
  losses.q_mean = q1_taken.detach().mean();
  losses.td_error = (q1_taken.detach() - target).abs();
  return losses;
}

SacLosses SacAgent::ComputeGradients(const GraphBatch& obs, const torch::Tensor& actions,
                                     const torch::Tensor& rewards, const GraphBatch& next_obs,
                                     const torch::Tensor& dones, std::vector<float>* td_errors,
                                     const PlannerTargets* labels) {
  // One zero_ per group; backward then accumulates straight into the optimizer's flat
  // gradient buffers.
  optimizer_->zero_grad();
  const SacLossTensors losses = ComputeLosses(obs, actions, rewards, next_obs, dones, labels);
  // The three losses touch disjoint parameters (see the header), so one backward of their
  // sum gives each parameter exactly its own loss's gradient (with planner_bc_weight the
  // encoder's is the critic's plus the behaviour-cloning term's, as intended).
  (losses.critic + losses.actor + losses.alpha_loss).backward();

  SacLosses out;
  out.critic = losses.critic.item<double>();
  out.actor = losses.actor.item<double>();
  out.alpha_loss = losses.alpha_loss.item<double>();
  out.alpha = losses.alpha.item<double>();
  out.entropy = losses.entropy.item<double>();
  out.q_mean = losses.q_mean.item<double>();
  if (td_errors != nullptr) {
    const torch::Tensor td = losses.td_error.to(torch::kCPU).contiguous();
    td_errors->assign(td.data_ptr<float>(), td.data_ptr<float>() + td.numel());
  }
  return out;
}

void SacAgent::ScheduleLearningRates() {
  if (config_.lr_decay_updates <= 0 || config_.lr_final_fraction == 1.0) return;
  const double progress = std::min(
      1.0, static_cast<double>(num_updates_) / static_cast<double>(config_.lr_decay_updates));
  const double scale = 1.0 - (1.0 - config_.lr_final_fraction) * progress;
  optimizer_->set_lr(kCriticGroup, config_.critic_lr * scale);
  optimizer_->set_lr(kActorGroup, config_.actor_lr * scale);
}

void SacAgent::ApplyGradients() {
  ScheduleLearningRates();
  optimizer_->step();
  PolyakUpdate();
  ++num_updates_;
}

SacLosses SacAgent::Update(const GraphBatch& obs, const torch::Tensor& actions,
                           const torch::Tensor& rewards, const GraphBatch& next_obs,
                           const torch::Tensor& dones, const PlannerTargets* labels) {
  const SacLosses losses =
      ComputeGradients(obs, actions, rewards, next_obs, dones, nullptr, labels);
  ApplyGradients();
  return losses;
}

void SacAgent::PolyakUpdate() {
  torch::NoGradGuard no_grad;
  // target' = tau * online + (1 - tau) * target, one fused call per step over all tensors.
  torch::_foreach_mul_(target_parameters_, 1.0 - config_.tau);
  torch::_foreach_add_(target_parameters_, critic_parameters_, config_.tau);
}

torch::Tensor SacAgent::ActionProbs(const GraphBatch& batch_in) {
  torch::NoGradGuard no_grad;
  const GraphBatch batch = batch_in.to(device_);
  return torch::softmax(PolicyLogits(networks_->encoder->forward(batch), batch), 1);
}

std::vector<int> SacAgent::Act(const GraphBatch& batch, bool greedy, Rng* rng) {
  const torch::Tensor probs = ActionProbs(batch).to(torch::kCPU).contiguous();
  // With a deviation margin, the prior's mode per graph (greedy-qos's choice).
  std::vector<int64_t> prior_mode;
  if (greedy && config_.deviation_margin > 0.0 && config_.prior != PriorKind::kNone) {
    torch::NoGradGuard no_grad;
    const GraphBatch on_device = batch.to(device_);
    const torch::Tensor prior_logits = PriorLogProbs(on_device).masked_fill(
        on_device.action_mask.logical_not(), -std::numeric_limits<float>::infinity());
    const torch::Tensor mode = prior_logits.argmax(1).to(torch::kCPU).contiguous();
    prior_mode.assign(mode.data_ptr<int64_t>(), mode.data_ptr<int64_t>() + mode.numel());
  }
  const int64_t b = probs.size(0);
  const int64_t a = probs.size(1);
  const float* p = probs.data_ptr<float>();
  Rng& random = rng != nullptr ? *rng : sample_rng_;
  std::vector<int> actions(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) {
    const float* row = p + i * a;
    int chosen = -1;
    if (greedy) {
      for (int64_t j = 0; j < a; ++j) {
        if (row[j] > 0.0f && (chosen < 0 || row[j] > row[chosen])) chosen = static_cast<int>(j);
      }
      if (!prior_mode.empty() && chosen >= 0) {
        const int g = static_cast<int>(prior_mode[static_cast<size_t>(i)]);
        // A prior's mode the policy gives no probability at all is left (log ratio infinite).
        if (g != chosen && row[g] > 0.0f &&
            std::log(static_cast<double>(row[chosen]) / row[g]) <= config_.deviation_margin) {
          chosen = g;
        }
      }
    } else {
      // Inverse CDF; the last action with non-zero probability catches rounding at the top.
      const double u = random.Uniform();
      double cumulative = 0.0;
      for (int64_t j = 0; j < a; ++j) {
        if (row[j] <= 0.0f) continue;
        chosen = static_cast<int>(j);
        cumulative += row[j];
        if (u < cumulative) break;
      }
    }
    QR_CHECK_MSG(chosen >= 0, "graph " + std::to_string(i) + " has no valid action");
    actions[i] = chosen;
  }
  return actions;
}

std::pair<torch::Tensor, torch::Tensor> SacAgent::QValues(const GraphBatch& batch_in) {
  torch::NoGradGuard no_grad;
  const GraphBatch batch = batch_in.to(device_);
  const NodeEmbeddings e = networks_->encoder->forward(batch);
  return {networks_->q1(e, batch.action_mask), networks_->q2(e, batch.action_mask)};
}

std::pair<torch::Tensor, torch::Tensor> SacAgent::TargetQValues(const GraphBatch& batch_in) {
  torch::NoGradGuard no_grad;
  const GraphBatch batch = batch_in.to(device_);
  const NodeEmbeddings e = networks_->target_encoder->forward(batch);
  return {networks_->target_q1(e, batch.action_mask), networks_->target_q2(e, batch.action_mask)};
}

torch::Tensor SacAgent::CombineTwins(const torch::Tensor& q1, const torch::Tensor& q2) const {
  return config_.twin_reduction == "mean" ? 0.5f * (q1 + q2) : torch::min(q1, q2);
}

double SacAgent::alpha() const {
  return networks_->log_alpha.detach().exp().item<double>();
}

std::vector<NamedTensor> SacAgent::NamedParameters() const {
  std::vector<NamedTensor> out;
  for (const auto& item : networks_->named_parameters()) out.emplace_back(item.key(), item.value());
  return out;
}

void SacAgent::LoadParameters(const std::vector<NamedTensor>& parameters) {
  std::unordered_map<std::string, const torch::Tensor*> given;
  for (const auto& [name, tensor] : parameters) given[name] = &tensor;
  const auto own = networks_->named_parameters();
  if (given.size() != own.size()) {
    throw UserError("parameter set has " + std::to_string(given.size()) +
                    " tensors but the agent has " + std::to_string(own.size()));
  }
  torch::NoGradGuard no_grad;
  for (const auto& item : own) {
    const auto it = given.find(item.key());
    if (it == given.end()) throw UserError("parameter set lacks " + item.key());
    if (it->second->sizes() != item.value().sizes()) {
      throw UserError("parameter " + item.key() + " has shape " + c10::str(it->second->sizes()) +
                      " but the agent's is " + c10::str(item.value().sizes()));
    }
    item.value().copy_(*it->second);
  }
}

const char* const kOptimizerNames[] = {"critic", "actor", "alpha"};  // by OptimizerGroup

std::vector<NamedTensor> SacAgent::OptimizerState() const {
  const auto names = NamesByImpl(*networks_);
  std::vector<NamedTensor> out;
  for (size_t g = 0; g < optimizer_->num_groups(); ++g) {
    const int64_t step = optimizer_->step_count(g);
    if (step == 0) continue;
    const auto& params = optimizer_->params(g);
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string prefix =
          std::string(kOptimizerNames[g]) + "/" + names.at(params[i].unsafeGetTensorImpl()) + "/";
      out.emplace_back(prefix + "step", torch::tensor(step, torch::kInt64));
      out.emplace_back(prefix + "exp_avg", optimizer_->exp_avg_of(g, i).clone());
      out.emplace_back(prefix + "exp_avg_sq", optimizer_->exp_avg_sq_of(g, i).clone());
    }
  }
  return out;
}

void SacAgent::LoadOptimizerState(const std::vector<NamedTensor>& state) {
  std::unordered_map<std::string, const torch::Tensor*> given;
  for (const auto& [name, tensor] : state) given[name] = &tensor;
  const auto names = NamesByImpl(*networks_);
  size_t used = 0;
  torch::NoGradGuard no_grad;
  for (size_t g = 0; g < optimizer_->num_groups(); ++g) {
    const auto& params = optimizer_->params(g);
    int64_t group_step = 0;  // 0: no parameter of the group has state
    for (size_t i = 0; i < params.size(); ++i) {
      const torch::Tensor& p = params[i];
      const std::string prefix =
          std::string(kOptimizerNames[g]) + "/" + names.at(p.unsafeGetTensorImpl()) + "/";
      torch::Tensor exp_avg = optimizer_->exp_avg_of(g, i);
      torch::Tensor exp_avg_sq = optimizer_->exp_avg_sq_of(g, i);
      const auto step = given.find(prefix + "step");
      if (step == given.end()) {
        // Never stepped (a torch::optim::Adam checkpoint omits such parameters).
        exp_avg.zero_();
        exp_avg_sq.zero_();
        continue;
      }
      const int64_t value = step->second->item<int64_t>();
      if (value <= 0 || (group_step != 0 && value != group_step)) {
        throw UserError("optimizer state " + prefix + "step is " + std::to_string(value) +
                        (group_step != 0 ? ", but other " + std::string(kOptimizerNames[g]) +
                                               " parameters have " + std::to_string(group_step)
                                         : std::string(", not a positive count")) +
                        " (this agent's Adam keeps one step count per optimizer)");
      }
      group_step = value;
      for (auto* field : {&exp_avg, &exp_avg_sq}) {
        const std::string key = prefix + (field == &exp_avg ? "exp_avg" : "exp_avg_sq");
        const auto it = given.find(key);
        if (it == given.end()) throw UserError("optimizer state lacks " + key);
        if (it->second->sizes() != p.sizes()) {
          throw UserError("optimizer state " + key + " has shape " + c10::str(it->second->sizes()) +
                          " but the parameter's is " + c10::str(p.sizes()));
        }
        field->copy_(*it->second);
      }
      used += 3;
    }
    optimizer_->set_step_count(g, group_step);
  }
  if (used != given.size()) {
    throw UserError("optimizer state has " + std::to_string(given.size() - used) +
                    " entries that match no parameter of this agent");
  }
}

}  // namespace qosroute
