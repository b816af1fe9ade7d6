#include "launch/config.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "common/error.h"
#include "common/text.h"
#include "launch/config_experts.h"
#include "launch/key_table.h"

namespace po = boost::program_options;

namespace qosroute {

namespace {

std::string NumberText(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// A comma-separated list of numbers; UserError "<where>: <key> expects a comma-separated list
// of <what>, got '<text>'" when an item is not a number.
std::vector<double> ParseDoubleList(const std::string& where, const std::string& key,
                                    const std::string& what, const std::string& text) {
  std::vector<double> out;
  for (const std::string& item : SplitCommas(text, EmptyItems::kDrop)) {
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw UserError(where + ": " + key + " expects a comma-separated list of " + what +
                      ", got '" + text + "'");
    }
  }
  return out;
}

std::string OverridesAsIni(const std::vector<std::string>& overrides) {
  std::string ini;
  for (const std::string& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw UserError("--set " + o + ": expected section.key=value");
    }
    ini += o.substr(0, eq) + "=" + o.substr(eq + 1) + "\n";
  }
  return ini;
}

// Boost's messages name the option but not the file; this puts both in one sentence.
[[noreturn]] void RethrowAsUserError(const po::error& e, const std::string& where) {
  if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&e)) {
    throw UserError(where + ": unknown key '" + unknown->get_option_name() + "'");
  }
  if (const auto* invalid = dynamic_cast<const po::invalid_option_value*>(&e)) {
    throw UserError(where + ": " + invalid->what());
  }
  throw UserError(where + ": " + e.what());
}

void StoreIni(const std::string& text, const po::options_description& desc,
              const std::string& where, po::variables_map* vm, bool allow_unregistered) {
  std::istringstream in(text);
  try {
    po::store(po::parse_config_file(in, desc, allow_unregistered), *vm);
  } catch (const po::error& e) {
    RethrowAsUserError(e, where);
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError("cannot open config file " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<int> ParseIntList(const std::string& text, const std::string& key) {
  std::vector<int> out;
  for (const std::string& item : SplitCommas(text, EmptyItems::kDrop)) {
    try {
      size_t used = 0;
      out.push_back(std::stoi(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw UserError(key + " expects a comma-separated list of integers, got '" + text + "'");
    }
  }
  return out;
}

void RequireRange(const std::string& where, const std::string& key, double value, double lo,
                  double hi) {
  if (!(value >= lo && value <= hi) || std::isnan(value)) {
    std::ostringstream s;
    s << where << ": " << key << " must be in [" << lo << ", " << hi << "], got " << value;
    throw UserError(s.str());
  }
}

// Values kept as text while the INI is read and parsed once it is (lists).
struct ListTexts {
  std::string episode_rates;                    // workload.episode_rates
  std::string mlp_hidden;                       // sac.mlp_hidden
  std::string select_rates;                     // select.rates
  std::string select_margins = "0";             // select.margins
  std::string feature_groups;                   // env.feature_groups
  std::string hindsight_horizons = "16,32,64";  // planner.hindsight_horizons
};

// Each section registers its keys, bound to the fields they set, and validates them once
// read. The registrations run in this order, the validations in ValidateRunConfig's.

// [workload], [predictor]
void RegisterWorkloadKeys(KeyTable& keys, RunConfig* config, ListTexts* texts) {
  WorkloadSourceConfig& wl = config->workload;
  EnvConfig& env = config->env;
  keys.Add("workload.source", &wl.source, "'synthetic' or a mix-instruct JSON / JSON-lines file");
  keys.Add("workload.synthetic_records", &wl.synthetic_records, "records in the synthetic set");
  keys.Add("workload.synthetic_seed", &wl.synthetic_seed, "seed of the synthetic set");
  keys.Add("workload.max_output_tokens", &wl.max_output_tokens, "clip response lengths");
  keys.Add("workload.requests_per_episode", &env.requests_per_episode, "decisions per episode");
  keys.Add("workload.sampling", &env.sampling, "random | sequential");
  keys.Add("workload.arrival", &env.arrivals.process, "poisson | mmpp | trace");
  keys.Add("workload.rate", &env.arrivals.rate, "Poisson rate (requests/s)");
  // Kept as text and parsed after notify (empty = every episode at workload.rate).
  keys.Add("workload.episode_rates", &texts->episode_rates,
           "Poisson: comma-separated rates, one drawn per episode (training over loads)");
  keys.Add("workload.mmpp_rate_low", &env.arrivals.mmpp_rate_low, "MMPP calm rate");
  keys.Add("workload.mmpp_rate_high", &env.arrivals.mmpp_rate_high, "MMPP burst rate");
  keys.Add("workload.mmpp_mean_low_s", &env.arrivals.mmpp_mean_low_s, "MMPP mean calm sojourn (s)");
  keys.Add("workload.mmpp_mean_high_s", &env.arrivals.mmpp_mean_high_s,
           "MMPP mean burst sojourn (s)");
  keys.Add("workload.trace", &env.arrivals.trace_path, "arrival timestamp file");
  keys.Add("predictor.score_noise", &env.predictor.score_noise, "stddev of predicted-score noise");
  keys.Add("predictor.length_noise", &env.predictor.length_noise,
           "log-normal stddev of predicted-length noise");
  keys.AddBool("predictor.use_data_predictions", &env.predictor.use_data_predictions,
               "use pred_* fields of the data");
}

// [env], [greedy], [eval]
void RegisterEnvKeys(KeyTable& keys, RunConfig* config, ListTexts* texts) {
  EnvConfig& env = config->env;
  keys.Add("env.sla", &env.sla, "latency-per-token SLA (s/token)");
  keys.Add("env.max_running_slots", &env.max_running_slots,
           "running slots per expert in the observation");
  keys.Add("env.max_waiting_slots", &env.max_waiting_slots,
           "waiting slots per expert in the observation");
  keys.AddBool("env.allow_drop", &env.allow_drop, "whether the router may drop a request");
  keys.AddBool("env.impact_penalty", &env.impact_penalty,
               "charge the action-impact penalty in the reward");
  keys.AddBool("env.lookahead_features", &env.lookahead_features,
               "add greedy look-ahead estimates to expert features");
  keys.Add("env.lookahead_sharpness", &env.lookahead_sharpness,
           "sharpness of the look-ahead SLA probability");
  keys.AddBool("env.lookahead_value", &env.lookahead_value,
               "with lookahead_features: greedy-qos value and margin per expert (10, 11)");
  keys.AddBool("env.expert_score_prior", &env.expert_score_prior,
               "expert feature 9: the expert's mean score over the workload");
  keys.AddBool("env.expert_aggregates", &env.expert_aggregates,
               "expert features 12-18: aggregates over all running and waiting requests");
  keys.Add("env.feature_groups", &texts->feature_groups,
           "optional observation feature groups to switch on, comma-separated (e.g. "
           "request.choice, expert.speed, expert.relative_work; docs/SIMULATOR.md section 4)");
  keys.AddBool("env.potential_shaping", &env.potential_shaping,
               "potential-based reward shaping with the predicted scores of queued requests");
  keys.Add("env.shaping_potential", &env.shaping_potential,
           "potential of the shaping: predicted | lookahead");
  keys.AddBool("env.undiscounted_credit", &env.undiscounted_credit,
               "divide each credited score by gamma^(decisions since its routing)");
  keys.Add("env.energy_weight", &env.energy_weight,
           "energy-aware QoS: credit score - energy_weight x J/token (0 = off)");
  keys.Add("greedy.sharpness", &config->greedy.sharpness, "greedy-qos SLA probability sharpness");
  keys.Add("greedy.drop_threshold", &config->greedy.drop_threshold,
           "greedy-qos drops below this value");
  PlannerConfig& p = config->planner;
  keys.Add("planner.samples", &p.samples, "rollout: sampled futures per action per decision");
  keys.Add("planner.max_samples", &p.max_samples,
           "rollout: up to this many where the best action's advantage is not yet significant");
  keys.Add("planner.horizon", &p.horizon, "decisions per rollout (the action, then the base)");
  keys.Add("planner.hindsight_horizons", &texts->hindsight_horizons,
           "the hindsight bound: comma-separated horizons, the best episode of them is kept");
  keys.Add("planner.base", &p.base,
           "policy followed in rollouts: a heuristic that decides from the state alone");
  keys.Add("planner.base_file", &p.base_file,
           "a trained policy (.h5) followed in rollouts instead of planner.base (empty: none; "
           "relative: to the config file)");
  keys.Add("planner.confidence", &p.confidence,
           "rollout: leave the base's choice only this many standard errors above 0");
  keys.Add("planner.prune", &p.prune,
           "rollout: stop sampling an action this many standard errors below the base (0 = off)");
  keys.Add("planner.threads", &p.threads, "rollout: threads per decision");
  keys.Add("planner.decision_budget_ms", &p.decision_budget_ms,
           "rollout: wall-clock ms per decision, then the base's action (0 = no limit)");
  keys.Add("eval.seeds", &config->eval.seeds, "evaluation episodes");
  keys.Add("eval.seed_base", &config->eval.seed_base, "first evaluation seed");
  keys.Add("eval.threads", &config->eval.threads, "evaluation threads (0 = cores)");
}

// [train], [sac], [han]
void RegisterTrainKeys(KeyTable& keys, RunConfig* config, ListTexts* texts) {
  TrainConfig& t = config->train;
  keys.Add("train.total_frames", &t.total_frames, "environment steps to train for");
  keys.Add("train.warmup_frames", &t.warmup_frames, "initial frames before the policy acts");
  keys.AddChoice("train.warmup_policy", &t.warmup_policy, WarmupPolicies(), "warm-up actions");
  keys.Add("train.warmup_epsilon", &t.warmup_epsilon,
           "greedy-qos warm-up: probability of a uniformly random action instead");
  keys.Add("train.updates_per_frame", &t.updates_per_frame, "update-to-data ratio");
  keys.Add("train.batch_size", &t.batch_size, "SAC batch size");
  keys.Add("train.replay_capacity", &t.replay_capacity, "replay capacity (transitions)");
  keys.Add("train.eval_every_frames", &t.eval_every_frames, "evaluate every so many frames");
  keys.Add("train.eval_seeds", &t.eval_seeds, "episodes per periodic evaluation");
  keys.Add("train.log_every_frames", &t.log_every_frames, "progress line every so many frames");
  keys.Add("train.num_envs", &t.num_envs, "environments stepped together per actor");
  keys.Add("train.seed", &t.seed, "training seed");
  keys.Add("train.planner_share", &t.labels.share,
           "share of decisions the [planner] rollout labels for search-guided SAC (0 = none)");
  keys.AddChoice("train.label_behaviour", &t.labels.behaviour, LabelBehaviours(),
                 "who acts on a labelled decision: the learned policy or the planner");
  keys.AddChoice("train.encoder", &t.encoder, Encoders(), "the graph encoder");
  keys.Add("train.threads", &t.threads, "torch threads (0 = cores)");
  SacKeys& sac = config->sac;
  keys.Add("sac.gamma", &sac.gamma, "discount");
  keys.Add("sac.tau", &sac.tau, "Polyak coefficient");
  keys.Add("sac.actor_lr", &sac.actor_lr, "actor learning rate");
  keys.Add("sac.critic_lr", &sac.critic_lr, "critic learning rate");
  keys.Add("sac.alpha_lr", &sac.alpha_lr, "temperature learning rate (0 = fixed at alpha_init)");
  keys.Add("sac.alpha_init", &sac.alpha_init, "initial temperature");
  keys.Add("sac.target_entropy_ratio", &sac.target_entropy_ratio, "target entropy / log|A|");
  keys.AddIntList("sac.mlp_hidden", &sac.mlp_hidden, &texts->mlp_hidden,
                  "hidden sizes of the SAC heads");
  keys.AddBool("sac.dueling", &sac.dueling, "dueling critics: Q = V(s) + A(s, a) - mean A");
  keys.Add("sac.twin_reduction", &sac.twin_reduction,
           "twin critics combined by min (clipped double Q) or mean");
  keys.AddChoice("sac.prior", &sac.prior, Priors(), "prior policy of KL-regularised SAC");
  keys.Add("sac.prior_temperature", &sac.prior_temperature,
           "greedy-qos prior: softmax temperature over greedy-qos's values");
  keys.Add("sac.planner_temperature", &sac.planner_temperature,
           "planner prior: softmax temperature over the planner labels' values");
  keys.Add("sac.planner_bc_weight", &sac.planner_bc_weight,
           "planner prior: weight of the cross-entropy to the planner's soft choice (0 = off)");
  keys.Add("sac.prior_kl_target", &sac.prior_kl_target,
           "with a prior: the temperature keeps KL(pi || prior) at this many nats");
  keys.Add("sac.deviation_margin", &sac.deviation_margin,
           "greedy actions with a prior: leave greedy-qos's choice only when preferred by more "
           "than this many nats (-1 = the policy file's)");
  keys.Add("sac.lr_final_fraction", &sac.lr_final_fraction,
           "actor/critic rates fall linearly to this fraction by the last update");
  keys.Add("han.hidden", &t.hidden, "HAN hidden size");
  keys.Add("han.heads", &t.heads, "HAN attention heads");
  keys.Add("han.layers", &t.layers, "HAN layers");
}

// [select]
void RegisterSelectKeys(KeyTable& keys, RunConfig* config, ListTexts* texts) {
  PolicySelectionOptions& sel = config->select;
  // Kept as text and parsed after notify, like workload.episode_rates.
  keys.Add("select.rates", &texts->select_rates,
           "model selection: comma-separated validation rates (empty = off)");
  keys.Add("select.margins", &texts->select_margins,
           "model selection: comma-separated deviation margins (nats) tried per snapshot");
  keys.Add("select.seeds", &sel.seeds, "model selection: validation episodes per rate");
  keys.Add("select.seed_base", &sel.seed_base, "model selection: first validation seed");
  keys.Add("select.requests_per_episode", &sel.requests_per_episode,
           "model selection: requests per validation episode (0 = workload's)");
  keys.Add("select.tolerance", &sel.tolerance,
           "model selection: a snapshot may trail greedy-qos by this much at a rate");
}

// [log], [checkpoint], [launch]
void RegisterRunKeys(KeyTable& keys, RunConfig* config) {
  keys.Add("log.level", &config->log_level, "trace | debug | info | warn | error");
  CheckpointSchedule& c = config->checkpoint;
  keys.Add("checkpoint.every_updates", &c.every_updates, "checkpoint every N updates (0 = off)");
  keys.Add("checkpoint.every_minutes", &c.every_minutes, "checkpoint every T minutes (0 = off)");
  keys.Add("checkpoint.keep", &c.keep, "newest checkpoints kept");
  keys.Add("checkpoint.compression", &c.compression, "0 = raw, 1-9 = deflate level");
  LaunchConfig& l = config->launch;
  keys.Add("launch.learners", &l.learners, "data-parallel learner ranks (>= 1)");
  keys.Add("launch.replay_shards", &l.replay_shards, "shard ranks (0 = in learners)");
  keys.Add("launch.publish_every_updates", &l.publish_every_updates, "publish every K updates");
  keys.Add("launch.send_transitions", &l.send_transitions, "transitions per actor message");
  keys.Add("launch.max_inflight_sends", &l.max_inflight_sends, "unacknowledged messages per actor");
  keys.AddBool("launch.prioritized", &l.prioritized, "prioritized (sum-tree) replay sampling");
  keys.Add("launch.priority_exponent", &l.priority_exponent, "prioritized replay exponent alpha");
  keys.Add("launch.rate_error_buffer", &l.rate_error_buffer, "rate tolerance (samples, 0 = auto)");
  keys.Add("launch.wait_timeout_s", &l.wait_timeout_s, "idle deadline of waits (s)");
  keys.Add("launch.gradient_backend", &l.gradient_backend, "auto | mpi | nccl");
  keys.Add("launch.learner_device", &l.learner_device, "cpu | cuda");
  keys.Add("launch.learner_batch", &l.learner_batch,
           "split (train.batch_size over all learners) | full (batch_size per learner)");
}

void ValidateWorkloadAndEval(const std::string& where, const RunConfig& config) {
  const WorkloadSourceConfig& wl = config.workload;
  RequireRange(where, "workload.synthetic_records", wl.synthetic_records, 1, 1e8);
  RequireRange(where, "workload.max_output_tokens", wl.max_output_tokens, 1, 1e6);
  RequireRange(where, "greedy.sharpness", config.greedy.sharpness, 1e-6, 1e6);
  RequireRange(where, "eval.seeds", config.eval.seeds, 1, 1e6);
  RequireRange(where, "eval.threads", config.eval.threads, 0, 1024);
}

void ValidateTrain(const std::string& where, const RunConfig& config) {
  const TrainConfig& t = config.train;
  const EnvConfig& env = config.env;
  RequireRange(where, "train.total_frames", t.total_frames, 1, 1e12);
  RequireRange(where, "train.warmup_frames", t.warmup_frames, 0, 1e12);
  RequireRange(where, "train.updates_per_frame", t.updates_per_frame, 0, 1e3);
  RequireRange(where, "train.batch_size", t.batch_size, 1, 1e6);
  RequireRange(where, "train.replay_capacity", t.replay_capacity, 1, 1e9);
  RequireRange(where, "train.eval_every_frames", t.eval_every_frames, 1, 1e12);
  RequireRange(where, "train.eval_seeds", t.eval_seeds, 1, 1e6);
  RequireRange(where, "train.log_every_frames", t.log_every_frames, 1, 1e12);
  RequireRange(where, "train.num_envs", t.num_envs, 1, 4096);
  RequireRange(where, "train.warmup_epsilon", t.warmup_epsilon, 0, 1);
  RequireRange(where, "train.threads", t.threads, 0, 1024);
  // The learner checks its hyper-parameters in its own terms; the key is added here.
  try {
    CheckSacHyperparameters(config.sac);
  } catch (const FieldError& e) {
    throw UserError(where + ": sac." + e.field() + " " + e.problem());
  }
  RequireRange(where, "train.planner_share", t.labels.share, 0, 1);
  if (config.sac.prior == PriorKind::kPlanner && t.labels.share <= 0.0) {
    throw UserError(where +
                    ": sac.prior = planner learns from planner labels, which need "
                    "train.planner_share > 0");
  }
  if (config.sac.prior != PriorKind::kNone && !(env.lookahead_features && env.lookahead_value)) {
    throw UserError(where + ": sac.prior = " + Priors().Name(config.sac.prior) +
                    " needs env.lookahead_features = true and "
                    "env.lookahead_value = true (it reads greedy-qos's value from the "
                    "observation)");
  }
  RequireRange(where, "han.hidden", t.hidden, 1, 4096);
  RequireRange(where, "han.heads", t.heads, 1, 64);
  RequireRange(where, "han.layers", t.layers, 1, 16);
  if (t.hidden % t.heads != 0) {
    throw UserError(where + ": han.hidden (" + std::to_string(t.hidden) +
                    ") must be divisible by han.heads (" + std::to_string(t.heads) + ")");
  }
}

void ValidateSelect(const std::string& where, RunConfig* config, const ListTexts& texts) {
  PolicySelectionOptions& sel = config->select;
  const TrainConfig& t = config->train;
  sel.rates = ParseDoubleList(where, "select.rates", "rates", texts.select_rates);
  for (double rate : sel.rates) {
    if (!(rate > 0.0 && rate <= 1e6)) {
      throw UserError(where + ": select.rates must hold rates in (0, 1e6] requests/s, got " +
                      NumberText(rate));
    }
  }
  sel.margins = ParseDoubleList(where, "select.margins", "margins", texts.select_margins);
  for (double margin : sel.margins) {
    if (!(margin >= 0.0 && margin <= 1e3)) {
      throw UserError(where + ": select.margins must hold margins in [0, 1000] nats, got " +
                      NumberText(margin));
    }
  }
  if (sel.margins.empty()) throw UserError(where + ": select.margins needs at least one margin");
  if (config->sac.prior == PriorKind::kNone && sel.margins != std::vector<double>{0.0}) {
    throw UserError(where +
                    ": select.margins other than 0 need a sac.prior (greedy-qos or "
                    "planner: a margin keeps the prior's choice)");
  }
  RequireRange(where, "select.seeds", sel.seeds, 1, 1e6);
  RequireRange(where, "select.requests_per_episode", sel.requests_per_episode, 0, 1e8);
  RequireRange(where, "select.tolerance", sel.tolerance, 0, 1);
  if (!sel.rates.empty()) {
    const uint64_t end = sel.seed_base + static_cast<uint64_t>(sel.seeds);
    // Both `evaluate` and the trainer's periodic evaluation use seeds from eval.seed_base.
    const int eval_seeds = std::max(config->eval.seeds, t.eval_seeds);
    const uint64_t eval_end = config->eval.seed_base + static_cast<uint64_t>(eval_seeds);
    if (sel.seed_base < eval_end && config->eval.seed_base < end) {
      throw UserError(where + ": select.seed_base " + std::to_string(sel.seed_base) + " + " +
                      std::to_string(sel.seeds) +
                      " validation seeds overlap the evaluation seeds (eval.seed_base " +
                      std::to_string(config->eval.seed_base) + " + " + std::to_string(eval_seeds) +
                      "); validation must not see them");
    }
    if (end > (uint64_t{1} << 32)) {
      throw UserError(where +
                      ": select.seed_base + select.seeds must stay below 2^32 (training "
                      "episodes use the seeds above)");
    }
  }
}

void ValidateRun(const std::string& where, const RunConfig& config) {
  const CheckpointSchedule& c = config.checkpoint;
  const LaunchConfig& l = config.launch;
  RequireRange(where, "checkpoint.every_updates", c.every_updates, 0, 1e12);
  RequireRange(where, "checkpoint.every_minutes", c.every_minutes, 0, 1e6);
  RequireRange(where, "checkpoint.keep", c.keep, 1, 1e6);
  RequireRange(where, "checkpoint.compression", c.compression, 0, 9);
  RequireRange(where, "launch.learners", l.learners, 1, 1e5);
  RequireRange(where, "launch.replay_shards", l.replay_shards, 0, 1e5);
  RequireRange(where, "launch.publish_every_updates", l.publish_every_updates, 1, 1e9);
  RequireRange(where, "launch.send_transitions", l.send_transitions, 1, 1e6);
  RequireRange(where, "launch.max_inflight_sends", l.max_inflight_sends, 1, 1e4);
  RequireRange(where, "launch.priority_exponent", l.priority_exponent, 0, 10);
  RequireRange(where, "launch.rate_error_buffer", l.rate_error_buffer, 0, 1e12);
  RequireRange(where, "launch.wait_timeout_s", l.wait_timeout_s, 1, 1e7);
  if (l.gradient_backend != "auto" && l.gradient_backend != "mpi" && l.gradient_backend != "nccl") {
    throw UserError(where + ": launch.gradient_backend must be auto, mpi or nccl; got '" +
                    l.gradient_backend + "'");
  }
  if (l.learner_batch != "split" && l.learner_batch != "full") {
    throw UserError(where + ": launch.learner_batch must be split or full; got '" +
                    l.learner_batch + "'");
  }
  if (l.learner_device != "cpu" && l.learner_device != "cuda") {
    throw UserError(where + ": launch.learner_device must be cpu or cuda; got '" +
                    l.learner_device + "'");
  }
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), config.log_level) == std::end(kLevels)) {
    throw UserError(where +
                    ": log.level must be one of trace, debug, info, warn, error, off; got '" +
                    config.log_level + "'");
  }
}

// Pass 1 of reading a config: the expert names and the GPU, which decide what the
// per-expert keys of pass 2 are.
ClusterPrelude ReadClusterPrelude(const std::string& file_text, const std::string& override_text,
                                  const std::string& where) {
  ClusterPrelude prelude;
  {
    po::options_description first;
    first.add_options()(
        "cluster.experts",
        po::value<std::string>(&prelude.experts_text)->default_value(prelude.experts_text))(
        "cluster.gpu", po::value<std::string>(&prelude.gpu)->default_value(prelude.gpu));
    po::variables_map vm;
    StoreIni(override_text, first, "--set", &vm, true);
    StoreIni(file_text, first, where, &vm, true);
    po::notify(vm);
  }
  prelude.names = SplitCommas(prelude.experts_text, EmptyItems::kDrop);
  if (prelude.names.empty())
    throw UserError(where + ": cluster.experts is empty: the cluster needs at least one expert");

  return prelude;
}

}  // namespace

// Runs `f`; a UserError it throws comes out prefixed with the file it concerns.
template <typename F>
void PrefixErrors(const std::string& where, F f) {
  try {
    f();
  } catch (const UserError& e) {
    throw UserError(where + ": " + e.what());
  }
}

RunConfig LoadRunConfig(const std::string& path, const std::vector<std::string>& overrides) {
  RunConfig config;
  config.config_path = path;
  const std::string file_text = path.empty() ? std::string() : ReadFile(path);
  const std::string where = path.empty() ? "config" : path;
  const std::string override_text = OverridesAsIni(overrides);

  // Pass 1: which experts, on which GPU? Their sections are only known once these are read.
  const ClusterPrelude prelude = ReadClusterPrelude(file_text, override_text, where);

  po::options_description desc;
  std::unique_ptr<ClusterKeys> cluster_keys;
  try {
    cluster_keys = std::make_unique<ClusterKeys>(prelude, &desc);
  } catch (const UserError& e) {
    throw UserError(where + ": " + e.what());
  }
  KeyTable keys(&desc);
  EnvConfig& env = config.env;
  WorkloadSourceConfig& wl = config.workload;

  ListTexts texts;
  RegisterWorkloadKeys(keys, &config, &texts);
  RegisterEnvKeys(keys, &config, &texts);
  RegisterTrainKeys(keys, &config, &texts);
  RegisterSelectKeys(keys, &config, &texts);
  RegisterRunKeys(keys, &config);

  po::variables_map vm;
  StoreIni(override_text, desc, "--set", &vm, false);  // stored first: overrides win
  StoreIni(file_text, desc, where, &vm, false);
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    RethrowAsUserError(e, where);
  }
  keys.ParseChoices(where);
  const std::vector<int> mlp_hidden = ParseIntList(texts.mlp_hidden, "sac.mlp_hidden");
  config.sac.mlp_hidden.assign(mlp_hidden.begin(), mlp_hidden.end());
  env.arrivals.episode_rates =
      ParseDoubleList(where, "workload.episode_rates", "rates", texts.episode_rates);
  env.feature_groups = SplitCommas(texts.feature_groups, EmptyItems::kDrop);
  PrefixErrors(where, [&] {
    config.planner.hindsight_horizons =
        ParseIntList(texts.hindsight_horizons, "planner.hindsight_horizons");
  });

  // Relative data paths are relative to the config file.
  const std::filesystem::path base =
      path.empty() ? std::filesystem::current_path() : std::filesystem::path(path).parent_path();
  auto resolve = [&](std::string* p) {
    if (!p->empty() && *p != "synthetic" && std::filesystem::path(*p).is_relative()) {
      *p = (base / *p).lexically_normal().string();
    }
  };
  resolve(&wl.source);
  resolve(&config.planner.base_file);
  resolve(&env.arrivals.trace_path);
  std::vector<std::string> synthetic_models;
  if (wl.source == "synthetic") {
    for (const SyntheticModel& m : DefaultSyntheticModels()) synthetic_models.push_back(m.name);
  }
  env.experts = cluster_keys->Build(vm, where, base.string(), synthetic_models);
  env.predictor.max_output_tokens = wl.max_output_tokens;

  PrefixErrors(where, [&] { ValidateEnvConfig(env); });
  ValidateWorkloadAndEval(where, config);
  PrefixErrors(where, [&] { ValidatePlannerConfig(config.planner); });
  ValidateTrain(where, config);
  ValidateSelect(where, &config, texts);
  ValidateRun(where, config);

  config.resolved = keys.Resolved();
  cluster_keys->AddResolved(env.experts, &config.resolved);
  return config;
}

std::string FormatResolvedConfig(const RunConfig& config) {
  std::ostringstream out;
  out << "# resolved qosroute config";
  if (!config.config_path.empty()) out << " (from " << config.config_path << ")";
  out << "\n";
  std::string section;
  for (const auto& [key, value] : config.resolved) {
    const auto dot = key.rfind('.');
    const std::string s = key.substr(0, dot);
    if (s != section) {
      out << "\n[" << s << "]\n";
      section = s;
    }
    out << key.substr(dot + 1) << " = " << value << "\n";
  }
  return out.str();
}

std::shared_ptr<const Workload> LoadConfiguredWorkload(const RunConfig& config) {
  if (config.workload.source == "synthetic") {
    SyntheticOptions options;
    options.num_requests = config.workload.synthetic_records;
    options.seed = config.workload.synthetic_seed;
    options.max_output_tokens = config.workload.max_output_tokens;
    // Experts from config: a model the generator does not know joins it with its
    // expert.<name>.mean_score; a known one keeps its mean unless that key overrides it.
    options.models = DefaultSyntheticModels();
    // Replicas of a model share its one entry.
    for (const ExpertConfig& e : config.env.experts) {
      auto it = std::find_if(options.models.begin(), options.models.end(),
                             [&](const SyntheticModel& m) { return m.name == e.ModelName(); });
      if (it == options.models.end()) {
        options.models.push_back(
            {e.ModelName(), e.mean_score, options.models.front().mean_output_tokens});
      } else if (e.mean_score > 0) {
        it->mean_score = e.mean_score;
      }
    }
    return std::make_shared<Workload>(GenerateSyntheticWorkload(options));
  }
  return std::make_shared<Workload>(
      LoadWorkload(config.workload.source, config.workload.max_output_tokens));
}

}  // namespace qosroute
