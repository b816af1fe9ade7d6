#include "learner/train_loop.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "checkpoint/files.h"
#include "common/error.h"
#include "env/episode_seeds.h"
#include "env/warmup_actions.h"
#include "learner/checkpoint.h"
#include "learner/periodic_evaluation.h"
#include "learner/planner_targets.h"
#include "learner/policy_io.h"
#include "planner/decision_labeler.h"
#include "replay/uniform_replay.h"
#include "telemetry/rolling_qos.h"
#include "telemetry/run_reporter.h"

namespace qosroute {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The sampled transitions as two graph batches plus action/reward/done tensors.
struct SampledBatch {
  GraphBatch obs, next_obs;
  torch::Tensor actions, rewards, dones;
  PlannerTargets labels;  // with_labels only
};

SampledBatch Gather(const UniformReplay& replay, const std::vector<int>& indices,
                    bool with_labels) {
  std::vector<const Observation*> obs, next;
  std::vector<const ActionLabel*> labels;
  obs.reserve(indices.size());
  next.reserve(indices.size());
  const int64_t b = static_cast<int64_t>(indices.size());
  SampledBatch batch;
  batch.actions = torch::empty({b}, torch::kInt64);
  batch.rewards = torch::empty({b}, torch::kFloat32);
  batch.dones = torch::empty({b}, torch::kFloat32);
  auto* a = batch.actions.data_ptr<int64_t>();
  auto* r = batch.rewards.data_ptr<float>();
  auto* d = batch.dones.data_ptr<float>();
  for (int64_t i = 0; i < b; ++i) {
    const Transition& t = replay.at(indices[i]);
    obs.push_back(&t.obs);
    next.push_back(&t.next_obs);
    if (with_labels) labels.push_back(&t.label);
    a[i] = t.action;
    r[i] = t.reward;
    d[i] = t.done ? 1.0f : 0.0f;
  }
  batch.obs = BatchObservations(obs);
  batch.next_obs = BatchObservations(next);
  if (with_labels) batch.labels = BatchPlannerTargets(labels, batch.obs.num_experts() + 1);
  return batch;
}

class Trainer {
 public:
  Trainer(const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
          const SacConfig& sac_config, const TrainLoopOptions& options, const EvalCallback& on_eval)
      : env_config_(env_config),
        workload_(std::move(workload)),
        options_(options),
        on_eval_(on_eval),
        agent_(sac_config),
        replay_(options.replay_capacity),
        explore_rng_(options.seed * 0x2545F4914F6CDD1DULL + 17),
        sample_rng_(options.seed * 0x2545F4914F6CDD1DULL + 23),
        warmup_(options.warmup_policy, options.warmup_epsilon, options.greedy),
        selection_(env_config_, workload_, options.greedy, options.selection, options.run_dir,
                   /*write_files=*/true),
        evaluator_(env_config_, workload_, options.greedy, options.eval_seed_base,
                   options.eval_seeds),
        labeler_(options.labels, options.planner, options.greedy, env_config_, workload_,
                 options.seed),
        reporter_(options.run_dir, /*write_files=*/true) {}

  TrainResult Run();

 private:
  void Start();
  void Resume();
  // Runs the updates the frames so far are owed; false when a stop request interrupted them.
  bool PayOwedUpdates();
  void LogIfDue();
  void Evaluate();
  void ActOneRound();
  void CheckpointIfDue();
  void Checkpoint(const char* why);
  bool StopRequested() const {
    return (options_.stop_requested != nullptr && options_.stop_requested->load()) ||
           (options_.stop_at_updates > 0 && state_.updates >= options_.stop_at_updates);
  }
  // Training wall time, including the time before a resume.
  double Elapsed() const {
    return elapsed_before_ + std::chrono::duration<double>(Clock::now() - start_).count();
  }
  void ScheduleNextCheckpoint() {
    const long every = options_.checkpoint.every_updates;
    if (every > 0) next_checkpoint_updates_ = (state_.updates / every + 1) * every;
    last_checkpoint_time_ = Clock::now();
  }

  const EnvConfig env_config_;
  const std::shared_ptr<const Workload> workload_;
  const TrainLoopOptions options_;
  const EvalCallback on_eval_;

  SacAgent agent_;
  UniformReplay replay_;
  Rng explore_rng_, sample_rng_;
  WarmupActions warmup_;
  SelectionKeeper selection_;
  std::vector<std::unique_ptr<ClusterEnv>> envs_;
  // Counters, schedule and in-progress returns live here all the time; the parts a
  // checkpoint snapshots from elsewhere (env states, RNGs, CSV text) are filled when writing.
  TrainerState state_;
  PeriodicEvaluator evaluator_;
  DecisionLabeler labeler_;
  double label_seconds_ = 0.0;
  ActionLabel label_;
  RunReporter reporter_;
  RollingQos rolling_;
  std::string policy_path_;
  std::string last_checkpoint_;

  Clock::time_point start_ = Clock::now();
  Clock::time_point last_checkpoint_time_ = start_;
  double elapsed_before_ = 0.0;
  long start_frames_ = 0, start_updates_ = 0;  // the counters this process began at
  long next_checkpoint_updates_ = 0;

  // Scratch buffers reused across rounds and updates.
  std::vector<const Observation*> batch_obs_;
  std::vector<int> indices_;
  Observation before_;
};

TrainResult Trainer::Run() {
  Start();
  bool stopped = false;
  while (true) {
    if (!PayOwedUpdates()) {
      stopped = true;
      break;
    }
    LogIfDue();
    if (state_.frames >= state_.schedule.next_eval_frames) {
      Evaluate();
      state_.schedule.next_eval_frames += options_.eval_every_frames;
    }
    if (state_.frames >= options_.total_frames) break;
    if (StopRequested()) {
      stopped = true;
      break;
    }
    CheckpointIfDue();
    ActOneRound();
  }
  if (stopped) {
    Checkpoint("stop requested");
  } else {
    if (state_.last_eval_frames != state_.frames) Evaluate();
    // A run resumed from its final checkpoint into another folder has not saved one yet.
    if (!fs::exists(policy_path_)) SavePolicy(policy_path_, agent_);
    Checkpoint("end of training");
  }
  TrainResult result;
  result.frames = state_.frames;
  result.updates = state_.updates;
  result.episodes = state_.episodes;
  result.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  result.start_frames = start_frames_;
  result.start_updates = start_updates_;
  result.last_eval_qos = state_.schedule.last_eval_qos;
  result.policy_path = policy_path_;
  ReportSelection(selection_, &result);
  result.stopped = stopped;
  result.checkpoint_path = last_checkpoint_;
  result.labelled = labeler_.labelled();
  result.label_deviations = labeler_.deviations();
  result.label_seconds = label_seconds_;
  return result;
}

void Trainer::Start() {
  QR_CHECK(!options_.run_dir.empty());
  const fs::path run_dir(options_.run_dir);
  policy_path_ = (run_dir / "policy.h5").string();
  for (int i = 0; i < options_.num_envs; ++i)
    envs_.push_back(MakeTrainingEnv(env_config_, workload_, agent_.config()));
  if (options_.resume_from.empty()) {
    // A fresh run would interleave its checkpoints with the old run's and prune them by
    // update count, so continuing or choosing another folder has to be explicit.
    const std::string existing = NewestCheckpoint(options_.run_dir);
    if (!existing.empty()) {
      throw UserError("run directory " + options_.run_dir + " already holds checkpoints (newest " +
                      existing +
                      "); continue it with --resume auto, or train into another --run-dir");
    }
    state_.seed = options_.seed;
    for (auto& env : envs_)
      env->Reset(TrainingEpisodeSeed(options_.seed, state_.episodes_started++));
    state_.episode_returns.assign(envs_.size(), 0.0);
    state_.schedule.next_log_frames = options_.log_every_frames;
    state_.schedule.next_eval_frames = options_.eval_every_frames;
  } else {
    Resume();
  }
  // Only now, with any checkpoint fully read and checked, does the run directory change.
  fs::create_directories(run_dir / "metrics");
  if (!options_.config_text.empty()) {
    std::ofstream config(run_dir / "config.cfg", std::ios::trunc);
    config << options_.config_text;
    if (!config) throw UserError("cannot write " + (run_dir / "config.cfg").string());
  }
  reporter_.Open(state_.train_csv, state_.eval_csv, state_.frames, state_.updates,
                 !options_.resume_from.empty());
  rolling_.Set(state_.rolling_qos_sum, state_.rolling_requests);
  selection_.Open(std::move(state_.selection));
  state_.selection = SelectionState();
  state_.train_csv.clear();
  state_.eval_csv.clear();
  start_ = Clock::now();
  ScheduleNextCheckpoint();
}

void Trainer::Resume() {
  const std::string& path = options_.resume_from;
  ReadCheckpoint(path, options_.num_envs, &state_, &agent_, &replay_);
  for (size_t i = 0; i < envs_.size(); ++i) {
    try {
      envs_[i]->LoadState(state_.env_states[i]);
    } catch (const UserError& e) {
      throw UserError("checkpoint " + path + ": environment " + std::to_string(i) + ": " +
                      e.what());
    }
    // The loop resets an env as soon as its episode ends, so a saved env is never done.
    if (envs_[i]->done()) {
      throw UserError("checkpoint " + path + ": environment " + std::to_string(i) +
                      " is saved after its episode ended");
    }
  }
  state_.env_states.clear();
  explore_rng_.set_state(state_.explore_rng);
  sample_rng_.set_state(state_.replay_sample_rng);
  elapsed_before_ = state_.elapsed_seconds;
  start_frames_ = state_.frames;
  start_updates_ = state_.updates;
  if (!state_.config_text.empty() && !options_.config_text.empty()) {
    for (const std::string& d : ConfigDifferences(state_.config_text, options_.config_text)) {
      spdlog::warn("resuming with a config that differs from the checkpoint's: {}", d);
    }
  }
  // The config given now governs the rest of the run, the training seed included.
  state_.seed = options_.seed;
  for (const std::string& moved :
       SupersedeNewerCheckpoints(CheckpointFolder(options_.run_dir), state_.updates)) {
    spdlog::warn("moved {} (newer than the checkpoint resumed from) aside", moved);
  }
  spdlog::info("resuming from {}: {} frames, {} updates, {} episodes, {} transitions in replay",
               path, state_.frames, state_.updates, state_.episodes, replay_.size());
}

bool Trainer::PayOwedUpdates() {
  // Keep updates at the update-to-data ratio of the frames collected after warm-up.
  if (state_.frames < options_.warmup_frames || replay_.size() < options_.batch_size) return true;
  const long owed =
      static_cast<long>((state_.frames - options_.warmup_frames) * options_.updates_per_frame);
  while (state_.updates < owed) {
    if (StopRequested()) return false;
    replay_.SampleIndices(options_.batch_size, sample_rng_, &indices_);
    const bool with_labels = agent_.config().prior == PriorKind::kPlanner;
    const SampledBatch b = Gather(replay_, indices_, with_labels);
    state_.schedule.last_losses =
        agent_.Update(b.obs, b.actions, b.rewards, b.next_obs, b.dones, &b.labels);
    ++state_.updates;
    state_.weight_version = state_.updates;
  }
  return true;
}

void Trainer::LogIfDue() {
  // The frame guard keeps a resumed run from logging a round its first process logged.
  const bool due =
      state_.frames >= state_.schedule.next_log_frames || state_.frames >= options_.total_frames;
  if (!due || state_.frames == state_.schedule.last_log_frames) return;
  const RunReporter::Rates rates = reporter_.TakeRates(state_.frames, state_.updates);
  const SacLosses& losses = state_.schedule.last_losses;
  TrainRow row;
  row.frames = state_.frames;
  row.updates = state_.updates;
  row.episodes = state_.episodes;
  row.wall_s = Elapsed();
  row.frames_per_s = rates.frames_per_s;
  row.updates_per_s = rates.updates_per_s;
  if (state_.episodes > 0) row.episode_qos = state_.schedule.last_episode_qos;
  if (state_.updates > 0) {
    row.critic_loss = losses.critic;
    row.actor_loss = losses.actor;
    row.alpha = losses.alpha;
    row.entropy = losses.entropy;
    row.q_mean = losses.q_mean;
  }
  row.policy_lag = 0.0;  // one process acts with the newest weights
  row.rolling_qos = rolling_.Value();
  row.rolling_requests = rolling_.resolved();
  rolling_.Clear();
  spdlog::info("{}", FormatProgressLine(row, options_.total_frames, ""));
  reporter_.Log(row);
  state_.schedule.last_log_frames = state_.frames;
  state_.schedule.last_log_updates = state_.updates;
  state_.schedule.next_log_frames += options_.log_every_frames;
}

void Trainer::Evaluate() {
  std::vector<EpisodeMetrics> episodes;
  const EvalRow row = evaluator_.Run(agent_, state_.frames, state_.updates, &episodes);
  reporter_.Eval(row);
  state_.schedule.last_eval_qos = row.avg_qos;
  state_.last_eval_frames = state_.frames;
  spdlog::info(
      "eval at {} frames / {} updates: avg QoS {:.4f} ± {:.4f} over {} held-out episodes "
      "(greedy-qos {:.4f}, paired difference {:+.4f} ± {:.4f})",
      state_.frames, state_.updates, row.avg_qos, row.avg_qos_ci95, row.episodes, *row.greedy_qos,
      *row.vs_greedy_qos, *row.vs_greedy_qos_ci95);
  SavePolicy(policy_path_, agent_);
  if (selection_.enabled()) selection_.Select(agent_, state_.frames, state_.updates, &reporter_);
  if (on_eval_) on_eval_(state_.frames, state_.updates, episodes);
}

void Trainer::ActOneRound() {
  // Every env acts on one batched policy call.
  std::vector<int> actions(envs_.size());
  if (state_.frames < options_.warmup_frames) {
    for (size_t i = 0; i < envs_.size(); ++i) actions[i] = warmup_.Act(*envs_[i], explore_rng_);
  } else {
    batch_obs_.clear();
    for (const auto& env : envs_) batch_obs_.push_back(&env->observation());
    actions = agent_.Act(BatchObservations(batch_obs_), /*greedy=*/false, &explore_rng_);
  }
  for (size_t i = 0; i < envs_.size(); ++i) {
    ClusterEnv& env = *envs_[i];
    label_.labelled = false;
    if (labeler_.Labels(state_.frames)) {
      const auto begin = Clock::now();
      labeler_.Label(env, state_.frames, &label_);
      label_seconds_ += std::chrono::duration<double>(Clock::now() - begin).count();
      actions[i] = labeler_.Act(actions[i], label_);
    }
    before_ = env.observation();
    const double credited_qos = env.CreditedQos();
    const long credited_requests = env.CreditedRequests();
    const StepResult step = env.Step(actions[i]);
    rolling_.Add(env.CreditedQos() - credited_qos, env.CreditedRequests() - credited_requests);
    state_.episode_returns[i] += step.reward;
    // At the end of an episode the next observation is never used (done masks bootstrap).
    replay_.Add(before_, actions[i], static_cast<float>(step.reward),
                step.done ? before_ : env.observation(), step.done, &label_);
    ++state_.frames;
    if (step.done) {
      const EpisodeMetrics m = env.Metrics();
      state_.schedule.last_episode_qos = m.avg_qos;
      ++state_.episodes;
      TrainRow row;
      row.kind = "episode";
      row.frames = state_.frames;
      row.updates = state_.updates;
      row.episodes = state_.episodes;
      row.wall_s = Elapsed();
      row.episode_qos = m.avg_qos;
      row.policy_lag = 0.0;
      reporter_.Episode(row);
      spdlog::info(
          "episode {} done: avg QoS {:.4f}, SLA attainment {:.3f}, drop rate {:.3f}, return {:.1f}",
          state_.episodes, m.avg_qos, m.sla_attainment, m.drop_rate, state_.episode_returns[i]);
      state_.episode_returns[i] = 0.0;
      env.Reset(TrainingEpisodeSeed(options_.seed, state_.episodes_started++));
    }
  }
}

void Trainer::CheckpointIfDue() {
  const bool by_updates =
      options_.checkpoint.every_updates > 0 && state_.updates >= next_checkpoint_updates_;
  const bool by_time =
      options_.checkpoint.every_minutes > 0 &&
      std::chrono::duration<double>(Clock::now() - last_checkpoint_time_).count() >=
          options_.checkpoint.every_minutes * 60;
  if (by_updates) {
    Checkpoint("every checkpoint.every_updates");
  } else if (by_time) {
    Checkpoint("every checkpoint.every_minutes");
  }
}

void Trainer::Checkpoint(const char* why) {
  const auto begin = Clock::now();
  // Snapshot what lives outside state_; none of it is changed by taking it.
  state_.env_states.clear();
  for (const auto& env : envs_) state_.env_states.push_back(env->SaveState());
  state_.explore_rng = explore_rng_.state();
  state_.replay_sample_rng = sample_rng_.state();
  state_.elapsed_seconds = Elapsed();
  state_.config_text = options_.config_text;
  reporter_.Flush();
  state_.train_csv = reporter_.train_text();
  state_.eval_csv = reporter_.eval_text();
  state_.rolling_qos_sum = rolling_.qos();
  state_.rolling_requests = rolling_.resolved();
  state_.selection = selection_.Snapshot();
  const std::string path = CheckpointPath(options_.run_dir, state_.updates);
  fs::create_directories(CheckpointFolder(options_.run_dir));
  WriteCheckpoint(path, state_, agent_, replay_, options_.checkpoint.compression);
  // The copies are only needed while writing; the CSV text can be megabytes.
  state_.env_states.clear();
  state_.train_csv.clear();
  state_.eval_csv.clear();
  state_.selection = SelectionState();
  for (const std::string& removed :
       PruneCheckpoints(CheckpointFolder(options_.run_dir), options_.checkpoint.keep)) {
    spdlog::debug("removed old checkpoint {}", removed);
  }
  last_checkpoint_ = path;
  spdlog::info("checkpoint {} ({}): {} frames, {} updates, written in {:.2f} s", path, why,
               state_.frames, state_.updates,
               std::chrono::duration<double>(Clock::now() - begin).count());
  ScheduleNextCheckpoint();
}

}  // namespace

TrainResult RunTraining(const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                        const SacConfig& sac_config, const TrainLoopOptions& options,
                        const EvalCallback& on_eval) {
  Trainer trainer(env_config, std::move(workload), sac_config, options, on_eval);
  return trainer.Run();
}

void ReportSelection(const SelectionKeeper& keeper, TrainResult* result) {
  const SelectionState& selected = keeper.state();
  if (!keeper.enabled() || selected.updates < 0) return;
  result->selected_policy_path = keeper.selected_path();
  result->selected_updates = selected.updates;
  result->selected_mean_gain = selected.mean_gain;
  result->selected_min_gain = selected.min_gain;
  result->selected_margin = selected.margin;
}

std::string DescribeTrainedRun(const TrainResult& t) {
  const double seconds = std::max(t.seconds, 1e-9);
  const std::string resumed =
      t.start_updates > 0 || t.start_frames > 0
          ? fmt::format(", resumed at {} frames, {} updates", t.start_frames, t.start_updates)
          : "";
  const std::string labels =
      t.labelled > 0
          ? fmt::format("; planner labels: {} ({} leave its base) in {:.0f} s, {:.1f} labels/s",
                        t.labelled, t.label_deviations, t.label_seconds,
                        t.labelled / std::max(t.label_seconds, 1e-9))
          : "";
  return fmt::format(
      "trained {} frames, {} updates, {} episodes in {:.0f} s{} ({:.0f} frames/s, {:.1f} "
      "updates/s){}; policy: {}",
      t.frames, t.updates, t.episodes, t.seconds, resumed, (t.frames - t.start_frames) / seconds,
      (t.updates - t.start_updates) / seconds, labels, t.policy_path);
}

}  // namespace qosroute
