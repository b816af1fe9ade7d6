#include "launch/sac_setup.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "common/error.h"
#include "learner/policy_io.h"

namespace qosroute {

SacConfig MakeSacConfig(const RunConfig& config) {
  const TrainConfig& t = config.train;
  SacConfig s;
  s.gamma = t.gamma;
  s.tau = t.tau;
  s.actor_lr = t.actor_lr;
  s.critic_lr = t.critic_lr;
  s.alpha_lr = t.alpha_lr;
  s.alpha_init = t.alpha_init;
  s.target_entropy_ratio = t.target_entropy_ratio;
  s.mlp_hidden.assign(t.mlp_hidden.begin(), t.mlp_hidden.end());
  s.flat_mlp_hidden.assign(t.mlp_hidden.begin(), t.mlp_hidden.end());
  s.dueling = t.dueling;
  s.lr_final_fraction = t.lr_final_fraction;
  s.twin_reduction = t.twin_reduction;
  s.prior = t.prior;
  s.prior_temperature = t.prior_temperature;
  s.prior_drop_value = config.greedy.drop_threshold;
  s.prior_kl_target = t.prior_kl_target;
  s.deviation_margin = std::max(0.0, t.deviation_margin);
  // The run's planned updates: every frame after the warm-up owes updates_per_frame of them.
  s.lr_decay_updates = static_cast<int64_t>(
      static_cast<double>(std::max(0L, t.total_frames - t.warmup_frames)) * t.updates_per_frame);
  s.encoder = t.encoder;
  s.han.hidden(t.hidden).heads(t.heads).layers(t.layers);
  s.flat_hidden = t.hidden;
  s.num_experts = static_cast<int64_t>(config.env.experts.size());
  s.max_running = config.env.max_running_slots;
  s.max_waiting = config.env.max_waiting_slots;
  s.lookahead_features = config.env.lookahead_features;
  s.lookahead_value = config.env.lookahead_value;
  s.expert_score_prior = config.env.expert_score_prior;
  s.seed = t.seed;
  s.torch_threads = t.threads;
  return s;
}

TrainLoopOptions MakeTrainLoopOptions(const RunConfig& config, const std::string& run_dir) {
  const TrainConfig& t = config.train;
  TrainLoopOptions o;
  o.total_frames = t.total_frames;
  o.warmup_frames = t.warmup_frames;
  o.warmup_policy = t.warmup_policy;
  o.warmup_epsilon = t.warmup_epsilon;
  o.greedy = config.greedy;
  o.updates_per_frame = t.updates_per_frame;
  o.batch_size = t.batch_size;
  o.replay_capacity = t.replay_capacity;
  o.eval_every_frames = t.eval_every_frames;
  o.eval_seeds = t.eval_seeds;
  o.eval_seed_base = config.eval.seed_base;
  o.selection.rates = config.select.rates;
  o.selection.seeds = config.select.seeds;
  o.selection.seed_base = config.select.seed_base;
  o.selection.requests_per_episode = config.select.requests_per_episode;
  o.selection.tolerance = config.select.tolerance;
  o.selection.margins = config.select.margins;
  o.selection.threads = config.eval.threads;
  o.log_every_frames = t.log_every_frames;
  o.num_envs = t.num_envs;
  o.seed = t.seed;
  o.run_dir = run_dir;
  o.checkpoint_every_updates = config.checkpoint.every_updates;
  o.checkpoint_every_minutes = config.checkpoint.every_minutes;
  o.checkpoint_keep = config.checkpoint.keep;
  o.checkpoint_compression = config.checkpoint.compression;
  return o;
}

std::unique_ptr<SacAgent> LoadAgentForEvaluation(const RunConfig& config,
                                                 const std::string& policy_file) {
  SacConfig s = MakeSacConfig(config);
  ApplyArchitecture(ReadPolicyArchitecture(policy_file), policy_file, &s);
  // The margin the policy was selected with, unless the config sets one.
  if (config.train.deviation_margin < 0)
    s.deviation_margin = ReadPolicyDeviationMargin(policy_file);
  if (s.deviation_margin > 0) {
    spdlog::info("policy {}: deviation margin {:g} nats ({})", policy_file, s.deviation_margin,
                 config.train.deviation_margin < 0 ? "the file's" : "sac.deviation_margin");
  }
  auto agent = std::make_unique<SacAgent>(s);
  LoadPolicy(policy_file, agent.get());
  return agent;
}

std::vector<NamedPolicyFile> TrainedPolicies(const RunConfig& config, const TrainResult& result) {
  const std::string name = "sac-" + config.train.encoder;
  if (result.selected_policy_path.empty()) return {{name, result.policy_path}};
  spdlog::info(
      "selected policy: the snapshot at {} updates with deviation margin {:g} (validation gain "
      "over greedy-qos: mean {:+.4f}, worst rate {:+.4f}): {}",
      result.selected_updates, result.selected_margin, result.selected_mean_gain,
      result.selected_min_gain, result.selected_policy_path);
  return {{name + "-selected", result.selected_policy_path}, {name + "-final", result.policy_path}};
}

}  // namespace qosroute
