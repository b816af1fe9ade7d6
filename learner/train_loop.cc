#include "learner/train_loop.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "learner/agent_evaluation.h"
#include "learner/policy_io.h"
#include "replay/uniform_replay.h"

namespace qosroute {

namespace {

using Clock = std::chrono::steady_clock;

std::string FormatDuration(double seconds) {
  const long s = static_cast<long>(seconds);
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
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

int RandomValidAction(const Observation& obs, Rng& rng) {
  int valid = 0;
  for (uint8_t m : obs.action_mask) valid += m;
  int pick = static_cast<int>(rng.Below(valid));
  for (int a = 0; a < obs.num_actions(); ++a) {
    if (obs.action_mask[a] && pick-- == 0) return a;
  }
  QR_CHECK_MSG(false, "observation has no valid action");
  return 0;
}

}  // namespace

uint64_t TrainingEpisodeSeed(uint64_t seed, long episode) { return (seed << 32) + static_cast<uint64_t>(episode); }

TrainResult RunTraining(const EnvConfig& env_config, std::shared_ptr<const Workload> workload,
                        const SacConfig& sac_config, const TrainLoopOptions& options, const EvalCallback& on_eval) {
  namespace fs = std::filesystem;
  QR_CHECK(!options.run_dir.empty());
  fs::create_directories(fs::path(options.run_dir) / "metrics");
  std::ofstream train_csv(fs::path(options.run_dir) / "metrics" / "train.csv");
  std::ofstream eval_csv(fs::path(options.run_dir) / "metrics" / "eval.csv");
  if (!train_csv || !eval_csv) throw UserError("cannot write metrics in run directory " + options.run_dir);
  train_csv << "kind,frames,updates,episodes,wall_s,frames_per_s,updates_per_s,episode_qos,critic_loss,"
               "actor_loss,alpha,entropy,q_mean,policy_lag\n";
  eval_csv << "frames,updates,policy,episodes,avg_qos,avg_qos_ci95,sla_attainment,drop_rate,"
              "latency_per_token_mean\n";

  SacAgent agent(sac_config);
  UniformReplay replay(options.replay_capacity);
  Rng explore_rng(options.seed * 0x2545F4914F6CDD1DULL + 17);
  Rng sample_rng(options.seed * 0x2545F4914F6CDD1DULL + 23);

  std::vector<std::unique_ptr<ClusterEnv>> envs;
  long episodes_started = 0;
  for (int i = 0; i < options.num_envs; ++i) {
    envs.push_back(std::make_unique<ClusterEnv>(env_config, workload));
    envs.back()->Reset(TrainingEpisodeSeed(options.seed, episodes_started++));
  }
  std::vector<double> episode_return(options.num_envs, 0.0);

  TrainResult result;
  result.policy_path = (fs::path(options.run_dir) / "policy.h5").string();
  const auto start = Clock::now();
  auto last_log_time = start;
  long last_log_frames = 0, last_log_updates = 0, next_log = options.log_every_frames;
  long next_eval = options.eval_every_frames;
  long last_eval_frames = -1;
  double last_episode_qos = 0.0;
  SacLosses losses;
  std::vector<const Observation*> batch_obs;
  std::vector<int> indices;
  Observation before;

  auto evaluate = [&] {
    const auto episodes = EvaluateAgent(agent, env_config, workload, options.eval_seed_base, options.eval_seeds);
    std::vector<double> qos;
    for (const auto& m : episodes) qos.push_back(m.avg_qos);
    const MeanCi ci = MeanWithCi95(qos);
    double sla = 0, drop = 0, lpt = 0;
    for (const auto& m : episodes) {
      sla += m.sla_attainment / episodes.size();
      drop += m.drop_rate / episodes.size();
      lpt += m.latency_per_token_mean / episodes.size();
    }
    eval_csv << fmt::format("{},{},sac,{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f}\n", result.frames, result.updates,
                            episodes.size(), ci.mean, ci.ci95, sla, drop, lpt);
    eval_csv.flush();
    result.last_eval_qos = ci.mean;
    last_eval_frames = result.frames;
    spdlog::info("eval at {} frames / {} updates: avg QoS {:.4f} ± {:.4f} over {} held-out episodes",
                 result.frames, result.updates, ci.mean, ci.ci95, episodes.size());
    SavePolicy(result.policy_path, agent);
    if (on_eval) on_eval(result.frames, result.updates, episodes);
  };

  while (result.frames < options.total_frames) {
    // One decision round: every env acts on one batched policy call.
    std::vector<int> actions(envs.size());
    if (result.frames < options.warmup_frames) {
      for (size_t i = 0; i < envs.size(); ++i) actions[i] = RandomValidAction(envs[i]->observation(), explore_rng);
    } else {
      batch_obs.clear();
      for (const auto& env : envs) batch_obs.push_back(&env->observation());
      actions = agent.Act(BatchObservations(batch_obs), /*greedy=*/false, &explore_rng);
    }
    for (size_t i = 0; i < envs.size(); ++i) {
      ClusterEnv& env = *envs[i];
      before = env.observation();
      const StepResult step = env.Step(actions[i]);
      episode_return[i] += step.reward;
      // At the end of an episode the next observation is never used (done masks bootstrap).
      replay.Add(before, actions[i], static_cast<float>(step.reward), step.done ? before : env.observation(),
                 step.done);
      ++result.frames;
      if (step.done) {
        const EpisodeMetrics m = env.Metrics();
        last_episode_qos = m.avg_qos;
        ++result.episodes;
        train_csv << fmt::format("episode,{},{},{},{:.3f},,,{:.6f},,,,,,0\n", result.frames, result.updates,
                                 result.episodes,
                                 std::chrono::duration<double>(Clock::now() - start).count(), m.avg_qos);
        spdlog::info("episode {} done: avg QoS {:.4f}, SLA attainment {:.3f}, drop rate {:.3f}, return {:.1f}",
                     result.episodes, m.avg_qos, m.sla_attainment, m.drop_rate, episode_return[i]);
        episode_return[i] = 0.0;
        env.Reset(TrainingEpisodeSeed(options.seed, episodes_started++));
      }
    }
    // Keep updates at the update-to-data ratio of the frames collected after warm-up.
    if (result.frames >= options.warmup_frames && replay.size() >= options.batch_size) {
      const long owed = static_cast<long>((result.frames - options.warmup_frames) * options.updates_per_frame);
      while (result.updates < owed) {
        replay.SampleIndices(options.batch_size, sample_rng, &indices);
        const SampledBatch b = Gather(replay, indices);
        losses = agent.Update(b.obs, b.actions, b.rewards, b.next_obs, b.dones);
        ++result.updates;
      }
    }
    if (result.frames >= next_log || result.frames >= options.total_frames) {
      const auto now = Clock::now();
      const double dt = std::chrono::duration<double>(now - last_log_time).count();
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const double fps = (result.frames - last_log_frames) / std::max(dt, 1e-9);
      const double ups = (result.updates - last_log_updates) / std::max(dt, 1e-9);
      const double eta = (options.total_frames - result.frames) / std::max(fps, 1e-9);
      spdlog::info("frames {}/{} | {:.0f} frames/s | {:.1f} updates/s | episode QoS {:.4f} | alpha {:.4f} | "
                   "entropy {:.3f} | critic {:.4f} | ETA {}",
                   result.frames, options.total_frames, fps, ups, last_episode_qos, losses.alpha, losses.entropy,
                   losses.critic, FormatDuration(eta));
      train_csv << fmt::format("log,{},{},{},{:.3f},{:.2f},{:.3f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},0\n",
                               result.frames, result.updates, result.episodes, elapsed, fps, ups, last_episode_qos,
                               losses.critic, losses.actor, losses.alpha, losses.entropy, losses.q_mean);
      train_csv.flush();
      last_log_time = now;
      last_log_frames = result.frames;
      last_log_updates = result.updates;
      next_log += options.log_every_frames;
    }
    if (result.frames >= next_eval) {
      evaluate();
      next_eval += options.eval_every_frames;
    }
  }
  if (last_eval_frames != result.frames) evaluate();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace qosroute
