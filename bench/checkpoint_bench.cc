// Checkpoint write and read time and file size with a full 100,000-transition replay of real
// simulator observations (configs/quickstart.cfg: 3 experts, 10 running + 10 waiting slots,
// rate 6, 4 envs) and the quickstart's agent (HAN hidden 64, 4 heads, 2 layers). Argument:
// the compression level (0 = raw, 1 = shuffle + deflate 1). Counters: file size in MB and
// write/read throughput of the in-memory state. Files go to $TMPDIR (default /tmp).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "env/cluster_env.h"
#include "env/episode_seeds.h"
#include "launch/config.h"
#include "learner/checkpoint.h"
#include "learner/train_loop.h"

namespace qosroute {
namespace {

constexpr int kReplayTransitions = 100000;
constexpr int kEnvs = 4;

struct CheckpointFixture {
  RunConfig config;
  std::unique_ptr<SacAgent> agent;
  std::unique_ptr<UniformReplay> replay;
  TrainerState state;
  SacConfig sac;
};

std::string BenchPath(int compression) {
  const char* tmp = std::getenv("TMPDIR");
  return (std::filesystem::path(tmp != nullptr ? tmp : "/tmp") /
          ("qosroute_checkpoint_bench_" + std::to_string(compression) + ".h5"))
      .string();
}

// Built once: stepping the simulator 100,000 times takes a few seconds.
CheckpointFixture& Fixture() {
  static CheckpointFixture* fixture = [] {
    auto* f = new CheckpointFixture;
    f->config = LoadRunConfig(std::string(QOSROUTE_SOURCE_DIR) + "/configs/quickstart.cfg", {});
    const auto workload = LoadConfiguredWorkload(f->config);
    f->sac.num_experts = static_cast<int64_t>(f->config.env.experts.size());
    f->sac.max_running = f->config.env.max_running_slots;
    f->sac.max_waiting = f->config.env.max_waiting_slots;
    f->agent = std::make_unique<SacAgent>(f->sac);
    f->replay = std::make_unique<UniformReplay>(kReplayTransitions);
    std::vector<std::unique_ptr<ClusterEnv>> envs;
    Rng rng(5);
    for (int i = 0; i < kEnvs; ++i) {
      envs.push_back(std::make_unique<ClusterEnv>(f->config.env, workload));
      envs.back()->Reset(TrainingEpisodeSeed(1, i));
    }
    long episodes = kEnvs;
    Observation before;
    while (f->replay->size() < kReplayTransitions) {
      for (auto& env : envs) {
        before = env->observation();
        // Random valid actions: the queues fill as a learning router's would early on.
        int action;
        do {
          action = static_cast<int>(rng.Below(before.num_actions()));
        } while (!before.action_mask[action]);
        const StepResult step = env->Step(action);
        f->replay->Add(before, action, static_cast<float>(step.reward),
                       step.done ? before : env->observation(), step.done);
        if (step.done) env->Reset(TrainingEpisodeSeed(1, episodes++));
      }
    }
    for (auto& env : envs) f->state.env_states.push_back(env->SaveState());
    f->state.episode_returns.assign(kEnvs, 0.0);
    f->state.frames = f->replay->total_added();
    f->state.config_text = FormatResolvedConfig(f->config);
    return f;
  }();
  return *fixture;
}

double StateMegabytes(const CheckpointFixture& f) {
  // Observation payload only (floats and masks of obs and next_obs); what a checkpoint must move.
  const Observation& o = f.replay->at(0).obs;
  const double per_obs =
      4.0 * (o.request.size() + o.expert.size() + o.running.size() + o.waiting.size()) +
      o.running_mask.size() + o.waiting_mask.size() + o.action_mask.size();
  return f.replay->size() * (2 * per_obs + 9) / 1e6;
}

void BM_CheckpointWrite(benchmark::State& state) {
  CheckpointFixture& f = Fixture();
  const int compression = static_cast<int>(state.range(0));
  const std::string path = BenchPath(compression);
  for (auto _ : state) WriteCheckpoint(path, f.state, *f.agent, *f.replay, compression);
  state.counters["file_MB"] = std::filesystem::file_size(path) / 1e6;
  state.counters["state_MB"] = StateMegabytes(f);
  state.counters["MB_per_s"] =
      benchmark::Counter(StateMegabytes(f) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CheckpointWrite)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

void BM_CheckpointRead(benchmark::State& state) {
  CheckpointFixture& f = Fixture();
  const int compression = static_cast<int>(state.range(0));
  const std::string path = BenchPath(compression);
  WriteCheckpoint(path, f.state, *f.agent, *f.replay, compression);
  SacAgent agent(f.sac);
  UniformReplay replay(kReplayTransitions);
  TrainerState loaded;
  for (auto _ : state) ReadCheckpoint(path, kEnvs, &loaded, &agent, &replay);
  state.counters["file_MB"] = std::filesystem::file_size(path) / 1e6;
  state.counters["MB_per_s"] =
      benchmark::Counter(StateMegabytes(f) * state.iterations(), benchmark::Counter::kIsRate);
  std::filesystem::remove(path);
}
BENCHMARK(BM_CheckpointRead)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace qosroute
