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
  static_cast<SacHyperparameters&>(s) = config.sac;  // [sac], bound to its keys
  // What the learner derives from the rest of the run.
  s.deviation_margin = std::max(0.0, config.sac.deviation_margin);  // -1: the file's (later)
  s.flat_mlp_hidden = config.sac.mlp_hidden;
  s.prior_drop_value = config.greedy.drop_threshold;
  // The run's planned updates: every frame after the warm-up owes updates_per_frame of them.
  s.lr_decay_updates = static_cast<int64_t>(
      static_cast<double>(std::max(0L, t.total_frames - t.warmup_frames)) * t.updates_per_frame);
  s.encoder = t.encoder;
  s.han.hidden(t.hidden).heads(t.heads).layers(t.layers);
  s.flat_hidden = t.hidden;
  s.num_experts = static_cast<int64_t>(config.env.experts.size());
  s.max_running = config.env.max_running_slots;
  s.max_waiting = config.env.max_waiting_slots;
  s.schema = ObservationSchema::For(config.env);
  s.seed = t.seed;
  s.torch_threads = t.threads;
  return s;
}

TrainLoopOptions MakeTrainLoopOptions(const RunConfig& config, const std::string& run_dir) {
  TrainLoopOptions o;
  static_cast<TrainSchedule&>(o) = config.train;  // [train], bound to its keys
  o.checkpoint = config.checkpoint;
  o.selection = config.select;
  o.selection.threads = config.eval.threads;
  o.greedy = config.greedy;
  o.planner = config.planner;
  o.eval_seed_base = config.eval.seed_base;
  o.run_dir = run_dir;
  return o;
}

std::unique_ptr<SacAgent> LoadAgentForEvaluation(const RunConfig& config,
                                                 const std::string& policy_file) {
  SacConfig s = MakeSacConfig(config);
  ApplyArchitecture(ReadPolicyArchitecture(policy_file), policy_file, &s);
  // The margin the policy was selected with, unless the config sets one.
  if (config.sac.deviation_margin < 0) s.deviation_margin = ReadPolicyDeviationMargin(policy_file);
  if (s.deviation_margin > 0) {
    spdlog::info("policy {}: deviation margin {:g} nats ({})", policy_file, s.deviation_margin,
                 config.sac.deviation_margin < 0 ? "the file's" : "sac.deviation_margin");
  }
  auto agent = std::make_unique<SacAgent>(s);
  LoadPolicy(policy_file, agent.get());
  return agent;
}

std::vector<NamedPolicyFile> TrainedPolicies(const RunConfig& config, const TrainResult& result) {
  const std::string name = std::string("sac-") + Encoders().Name(config.train.encoder);
  if (result.selected_policy_path.empty()) return {{name, result.policy_path}};
  spdlog::info(
      "selected policy: the snapshot at {} updates with deviation margin {:g} (validation gain "
      "over greedy-qos: mean {:+.4f}, worst rate {:+.4f}): {}",
      result.selected_updates, result.selected_margin, result.selected_mean_gain,
      result.selected_min_gain, result.selected_policy_path);
  return {{name + "-selected", result.selected_policy_path}, {name + "-final", result.policy_path}};
}

}  // namespace qosroute
