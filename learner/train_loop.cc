#include "learner/train_loop.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/error.h"
#include "env/warmup_actions.h"
#include "learner/agent_evaluation.h"
#include "learner/checkpoint.h"
#include "learner/checkpoint_files.h"
#include "learner/policy_io.h"
#include "replay/uniform_replay.h"

namespace qosroute {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kTrainHeader[] =
    "kind,frames,updates,episodes,wall_s,frames_per_s,updates_per_s,episode_qos,critic_loss,"
    "actor_loss,alpha,entropy,q_mean,policy_lag\n";
constexpr char kEvalHeader[] =
    "frames,updates,policy,episodes,avg_qos,avg_qos_ci95,sla_attainment,drop_rate,"
    "latency_per_token_mean\n";

std::string FormatDuration(double seconds) {
  const long s = static_cast<long>(seconds);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, static_cast<int>(s / 60 % 60),
                     static_cast<int>(s % 60));
}

// The sampled transitions as two graph batches plus action/reward/done tensors.
struct SampledBatch {
  GraphBatch obs, next_obs;
  torch::Tensor actions, rewards, dones;
};

SampledBatch Gather(const UniformReplay& replay, const std::vector<int>& indices) {
  std::vector<const Observation*> obs, next;
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
    a[i] = t.action;
    r[i] = t.reward;
    d[i] = t.done ? 1.0f : 0.0f;
  }
  batch.obs = BatchObservations(obs);
  batch.next_obs = BatchObservations(next);
  return batch;
}

std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Written to a temporary name and renamed, so that a crash never leaves half a file.
void WriteFileBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) throw UserError("cannot write " + temporary);
  }
  fs::rename(temporary, path);
}

// A metrics CSV that also keeps its text, so that a checkpoint can carry the rows written so
// far and a resumed run can put exactly those back (rows written after the checkpoint are
// dropped; the resumed run writes them again).
class MetricsFile {
 public:
  void Open(const fs::path& path, const std::string& text) {
    out_.open(path, std::ios::out | std::ios::trunc);
    if (!out_) throw UserError("cannot write metrics file " + path.string());
    text_ = text;
    out_ << text_;
    out_.flush();
  }
  void Append(const std::string& row) {
    text_ += row;
    out_ << row;
  }
  void Flush() { out_.flush(); }
  const std::string& text() const { return text_; }

 private:
  std::ofstream out_;
  std::string text_;
};

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
        selector_(env_config_, workload_, options.greedy, options.selection) {}

  TrainResult Run();

 private:
  void Start();
  void Resume();
  // Runs the updates the frames so far are owed; false when a stop request interrupted them.
  bool PayOwedUpdates();
  void LogIfDue();
  void Evaluate();
  // Scores the current policy on the validation episodes and keeps it if it is the best.
  void Select();
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
    const long every = options_.checkpoint_every_updates;
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
  PolicySelector selector_;
  std::vector<std::unique_ptr<ClusterEnv>> envs_;
  // Counters, schedule and in-progress returns live here all the time; the parts a
  // checkpoint snapshots from elsewhere (env states, RNGs, CSV text) are filled when writing.
  TrainerState state_;
  MetricsFile train_csv_, eval_csv_, select_csv_;
  std::string policy_path_, selected_path_;
  std::string last_checkpoint_;

  Clock::time_point start_ = Clock::now();
  Clock::time_point last_log_time_ = start_;
  Clock::time_point last_checkpoint_time_ = start_;
  double elapsed_before_ = 0.0;
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
    if (state_.frames >= state_.next_eval_frames) {
      Evaluate();
      state_.next_eval_frames += options_.eval_every_frames;
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
  result.last_eval_qos = state_.last_eval_qos;
  result.policy_path = policy_path_;
  if (selector_.enabled() && state_.selected_updates >= 0) {
    result.selected_policy_path = selected_path_;
    result.selected_updates = state_.selected_updates;
    result.selected_mean_gain = state_.selected_mean_gain;
    result.selected_margin = state_.selected_margin;
    result.selected_min_gain = state_.selected_min_gain;
  }
  result.stopped = stopped;
  result.checkpoint_path = last_checkpoint_;
  return result;
}

void Trainer::Start() {
  QR_CHECK(!options_.run_dir.empty());
  const fs::path run_dir(options_.run_dir);
  policy_path_ = (run_dir / "policy.h5").string();
  selected_path_ = (run_dir / "policy_selected.h5").string();
  for (int i = 0; i < options_.num_envs; ++i)
    envs_.push_back(std::make_unique<ClusterEnv>(env_config_, workload_));
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
    state_.next_log_frames = options_.log_every_frames;
    state_.next_eval_frames = options_.eval_every_frames;
    state_.train_csv = kTrainHeader;
    state_.eval_csv = kEvalHeader;
  } else {
    Resume();
  }
  // A run that turns selection on (or a checkpoint from before selection existed) starts its
  // select.csv here; one that turns it off drops what a checkpoint carried.
  if (!selector_.enabled()) {
    state_.select_csv.clear();
    state_.selected_updates = -1;
    state_.selected_policy.clear();
  } else if (state_.select_csv.empty()) {
    state_.select_csv = PolicySelector::CsvHeader();
  }
  // Only now, with any checkpoint fully read and checked, does the run directory change.
  fs::create_directories(run_dir / "metrics");
  if (!options_.config_text.empty()) {
    std::ofstream config(run_dir / "config.cfg", std::ios::trunc);
    config << options_.config_text;
    if (!config) throw UserError("cannot write " + (run_dir / "config.cfg").string());
  }
  train_csv_.Open(run_dir / "metrics" / "train.csv", state_.train_csv);
  eval_csv_.Open(run_dir / "metrics" / "eval.csv", state_.eval_csv);
  if (selector_.enabled()) {
    select_csv_.Open(run_dir / "metrics" / "select.csv", state_.select_csv);
    // A resumed run puts the selected snapshot back, wherever its run directory now is.
    if (!state_.selected_policy.empty()) WriteFileBytes(selected_path_, state_.selected_policy);
  }
  state_.train_csv.clear();
  state_.eval_csv.clear();
  state_.select_csv.clear();
  start_ = last_log_time_ = Clock::now();
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
    const SampledBatch b = Gather(replay_, indices_);
    state_.last_losses = agent_.Update(b.obs, b.actions, b.rewards, b.next_obs, b.dones);
    ++state_.updates;
    state_.weight_version = state_.updates;
  }
  return true;
}

void Trainer::LogIfDue() {
  // The frame guard keeps a resumed run from logging a round its first process logged.
  const bool due =
      state_.frames >= state_.next_log_frames || state_.frames >= options_.total_frames;
  if (!due || state_.frames == state_.last_log_frames) return;
  const auto now = Clock::now();
  const double dt = std::chrono::duration<double>(now - last_log_time_).count();
  const double elapsed = Elapsed();
  const double fps = (state_.frames - state_.last_log_frames) / std::max(dt, 1e-9);
  const double ups = (state_.updates - state_.last_log_updates) / std::max(dt, 1e-9);
  const double eta = (options_.total_frames - state_.frames) / std::max(fps, 1e-9);
  const SacLosses& losses = state_.last_losses;
  spdlog::info(
      "frames {}/{} | {:.0f} frames/s | {:.1f} updates/s | episode QoS {} | alpha {:.4f} | "
      "entropy {:.3f} | critic {:.4f} | ETA {}",
      state_.frames, options_.total_frames, fps, ups,
      // Long episodes over many envs may not finish before the first log rounds.
      state_.episodes > 0 ? fmt::format("{:.4f}", state_.last_episode_qos) : "n/a", losses.alpha,
      losses.entropy, losses.critic, FormatDuration(eta));
  train_csv_.Append(fmt::format(
      "log,{},{},{},{:.3f},{:.2f},{:.3f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},0\n",
      state_.frames, state_.updates, state_.episodes, elapsed, fps, ups, state_.last_episode_qos,
      losses.critic, losses.actor, losses.alpha, losses.entropy, losses.q_mean));
  train_csv_.Flush();
  last_log_time_ = now;
  state_.last_log_frames = state_.frames;
  state_.last_log_updates = state_.updates;
  state_.next_log_frames += options_.log_every_frames;
}

void Trainer::Evaluate() {
  const auto episodes =
      EvaluateAgent(agent_, env_config_, workload_, options_.eval_seed_base, options_.eval_seeds);
  std::vector<double> qos;
  for (const auto& m : episodes) qos.push_back(m.avg_qos);
  const MeanCi ci = MeanWithCi95(qos);
  double sla = 0, drop = 0, lpt = 0;
  for (const auto& m : episodes) {
    sla += m.sla_attainment / episodes.size();
    drop += m.drop_rate / episodes.size();
    lpt += m.latency_per_token_mean / episodes.size();
  }
  eval_csv_.Append(fmt::format("{},{},sac,{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f}\n", state_.frames,
                               state_.updates, episodes.size(), ci.mean, ci.ci95, sla, drop, lpt));
  eval_csv_.Flush();
  state_.last_eval_qos = ci.mean;
  state_.last_eval_frames = state_.frames;
  spdlog::info("eval at {} frames / {} updates: avg QoS {:.4f} ± {:.4f} over {} held-out episodes",
               state_.frames, state_.updates, ci.mean, ci.ci95, episodes.size());
  SavePolicy(policy_path_, agent_);
  if (selector_.enabled()) Select();
  if (on_eval_) on_eval_(state_.frames, state_.updates, episodes);
}

void Trainer::Select() {
  const std::vector<SelectionScore> scores = selector_.Score(agent_, state_.frames, state_.updates);
  const double tolerance = selector_.options().tolerance;
  const size_t best = PolicySelector::Best(scores, tolerance);
  const SelectionScore& score = scores[best];
  SelectionScore incumbent;
  incumbent.mean_gain = state_.selected_mean_gain;
  incumbent.min_gain = state_.selected_min_gain;
  const bool take = state_.selected_updates < 0 || PreferCandidate(score, incumbent, tolerance);
  for (size_t i = 0; i < scores.size(); ++i) {
    std::string gains;
    for (size_t k = 0; k < scores[i].rates.size(); ++k) {
      gains += fmt::format(" {:g}: {:+.4f} ± {:.4f}", scores[i].rates[k], scores[i].gain[k],
                           scores[i].gain_ci95[k]);
    }
    spdlog::info(
        "validation vs greedy-qos at {} updates, margin {:g}:{} | mean {:+.4f}, worst {:+.4f}{}",
        state_.updates, scores[i].margin, gains, scores[i].mean_gain, scores[i].min_gain,
        take && i == best ? " | selected" : "");
  }
  if (take) {
    // The selected file carries its margin; the agent goes on with its own.
    const double own_margin = agent_.config().deviation_margin;
    agent_.set_deviation_margin(score.margin);
    SavePolicy(selected_path_, agent_);
    agent_.set_deviation_margin(own_margin);
    // Kept in memory for the checkpoints, which then never depend on the file staying put.
    state_.selected_policy = ReadFileBytes(selected_path_);
    state_.selected_margin = score.margin;
    state_.selected_updates = state_.updates;
    state_.selected_frames = state_.frames;
    state_.selected_mean_gain = score.mean_gain;
    state_.selected_min_gain = score.min_gain;
  }
  for (size_t i = 0; i < scores.size(); ++i)
    select_csv_.Append(PolicySelector::CsvRows(scores[i], take && i == best));
  select_csv_.Flush();
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
    before_ = env.observation();
    const StepResult step = env.Step(actions[i]);
    state_.episode_returns[i] += step.reward;
    // At the end of an episode the next observation is never used (done masks bootstrap).
    replay_.Add(before_, actions[i], static_cast<float>(step.reward),
                step.done ? before_ : env.observation(), step.done);
    ++state_.frames;
    if (step.done) {
      const EpisodeMetrics m = env.Metrics();
      state_.last_episode_qos = m.avg_qos;
      ++state_.episodes;
      train_csv_.Append(fmt::format("episode,{},{},{},{:.3f},,,{:.6f},,,,,,0\n", state_.frames,
                                    state_.updates, state_.episodes, Elapsed(), m.avg_qos));
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
      options_.checkpoint_every_updates > 0 && state_.updates >= next_checkpoint_updates_;
  const bool by_time =
      options_.checkpoint_every_minutes > 0 &&
      std::chrono::duration<double>(Clock::now() - last_checkpoint_time_).count() >=
          options_.checkpoint_every_minutes * 60;
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
  train_csv_.Flush();
  state_.train_csv = train_csv_.text();
  state_.eval_csv = eval_csv_.text();
  if (selector_.enabled()) state_.select_csv = select_csv_.text();
  const std::string path = CheckpointPath(options_.run_dir, state_.updates);
  fs::create_directories(CheckpointFolder(options_.run_dir));
  WriteCheckpoint(path, state_, agent_, replay_, options_.checkpoint_compression);
  // The copies are only needed while writing; the CSV text can be megabytes.
  state_.env_states.clear();
  state_.train_csv.clear();
  state_.eval_csv.clear();
  state_.select_csv.clear();
  for (const std::string& removed :
       PruneCheckpoints(CheckpointFolder(options_.run_dir), options_.checkpoint_keep)) {
    spdlog::debug("removed old checkpoint {}", removed);
  }
  last_checkpoint_ = path;
  spdlog::info("checkpoint {} ({}): {} frames, {} updates, written in {:.2f} s", path, why,
               state_.frames, state_.updates,
               std::chrono::duration<double>(Clock::now() - begin).count());
  ScheduleNextCheckpoint();
}

}  // namespace

uint64_t TrainingEpisodeSeed(uint64_t seed, long episode) {
  return (seed << 32) + static_cast<uint64_t>(episode);
}

TrainResult RunTraining(const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                        const SacConfig& sac_config, const TrainLoopOptions& options,
                        const EvalCallback& on_eval) {
  Trainer trainer(env_config, std::move(workload), sac_config, options, on_eval);
  return trainer.Run();
}

}  // namespace qosroute
