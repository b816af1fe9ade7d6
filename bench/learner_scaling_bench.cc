// Data-parallel learners alone (docs/DISTRIBUTED.md "Learner scaling"): every rank is a
// learner with its replay pre-filled, no actors, so the job's updates/s measure the learners
// and their gradient all-reduce and nothing else.
//
//   mpirun -np L qosroute_learner_scaling_bench [--batch 256] [--updates 200] [--threads 1]
//                                               [--per-learner-batch]
//
// Each update every learner samples batch / L transitions (or the whole batch with
// --per-learner-batch, the other option the trainer documents), computes its gradients, the
// learners average them (MpiGradientSync: one flat MPI_Iallreduce) and step. Rank 0 prints the
// job's updates/s, where a learner's update time goes (sampling + batching, gradient
// computation, all-reduce including the wait for the slowest learner, optimizer step), and the
// all-reduce alone (learners entering together) for projections to more learners.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "comm/mpi_scope.h"
#include "common/blas_probe.h"
#include "common/rng.h"
#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "env/workload.h"
#include "learner/gradient_sync_mpi.h"
#include "learner/graph_batch.h"
#include "learner/sac.h"

namespace qosroute {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Stored {
  Observation obs, next_obs;
  int action = 0;
  float reward = 0.0f, done = 0.0f;
};

// Real transitions of the paper cluster under greedy-qos, from a per-rank seed.
std::vector<Stored> FillReplay(int count, uint64_t seed) {
  SyntheticOptions w;
  w.num_requests = 4000;
  auto workload = std::make_shared<Workload>(GenerateSyntheticWorkload(w));
  EnvConfig c;
  for (const char* name : {"alpaca-native", "chatglm-6b", "mpt-7b-instruct"})
    c.experts.push_back(CatalogExpert(name));
  c.arrivals.rate = 6.0;
  c.requests_per_episode = 2000;
  ClusterEnv env(c, workload);
  auto policy = MakeHeuristic("greedy-qos", GreedyQosOptions());
  std::vector<Stored> out;
  env.Reset(seed);
  while (static_cast<int>(out.size()) < count) {
    Stored s;
    s.obs = env.observation();
    s.action = policy->Act(env);
    const StepResult step = env.Step(s.action);
    s.reward = static_cast<float>(step.reward);
    s.done = step.done ? 1.0f : 0.0f;
    s.next_obs = step.done ? s.obs : env.observation();
    out.push_back(std::move(s));
    if (step.done) env.Reset(seed + out.size());
  }
  return out;
}

struct Batch {
  GraphBatch obs, next_obs;
  torch::Tensor actions, rewards, dones;
};

// `size` transitions drawn uniformly (with replacement) and batched as the trainer does.
Batch SampleBatch(const std::vector<Stored>& replay, int size, Rng* rng) {
  std::vector<const Observation*> obs, next;
  std::vector<int64_t> actions;
  std::vector<float> rewards, dones;
  for (int i = 0; i < size; ++i) {
    const Stored& s = replay[rng->Below(replay.size())];
    obs.push_back(&s.obs);
    next.push_back(&s.next_obs);
    actions.push_back(s.action);
    rewards.push_back(s.reward);
    dones.push_back(s.done);
  }
  Batch b;
  b.obs = BatchObservations(obs);
  b.next_obs = BatchObservations(next);
  b.actions = torch::tensor(actions, torch::kInt64);
  b.rewards = torch::tensor(rewards);
  b.dones = torch::tensor(dones);
  return b;
}

struct Flags {
  int batch = 256, updates = 200, threads = 1;
  bool per_learner_batch = false;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--batch" && i + 1 < argc) f.batch = std::atoi(argv[++i]);
    if (a == "--updates" && i + 1 < argc) f.updates = std::atoi(argv[++i]);
    if (a == "--threads" && i + 1 < argc) f.threads = std::atoi(argv[++i]);
    if (a == "--per-learner-batch") f.per_learner_batch = true;
  }
  return f;
}

double AllReduceAloneMs(SacAgent& agent, MpiGradientSync& sync, const SyncWait& wait,
                        int64_t* floats) {
  // The all-reduce alone: the same gradient-sized buffer, every learner entering together, so
  // the figure is the transfer and not the wait for the slowest learner that the per-update
  // figure above includes.
  std::vector<torch::Tensor> scratch;
  for (auto& p : agent.networks()->parameters()) {
    if (p.requires_grad()) scratch.push_back(torch::ones_like(p));
  }
  const int reduces = 50;
  double t_alone = 0;
  for (int i = 0; i < reduces; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t = Clock::now();
    sync.AllReduceMean(scratch, wait);
    t_alone += Since(t);
  }
  *floats = 0;
  for (auto& s : scratch) *floats += s.numel();
  return 1000.0 * t_alone / reduces;
}

int Run(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  const int batch = flags.batch, updates = flags.updates, threads = flags.threads;
  const bool per_learner_batch = flags.per_learner_batch;
  MpiScope mpi(&argc, &argv);
  const int learners = mpi.size(), rank = mpi.rank();
  if (batch % learners != 0) {
    if (rank == 0) std::fprintf(stderr, "--batch %d is not a multiple of %d\n", batch, learners);
    return 2;
  }
  const int local_batch = per_learner_batch ? batch : batch / learners;
  SacConfig config;  // the reference sizes of BM_LearnerUpdate: HAN 2 x 64, 4 heads
  config.num_experts = 3;
  config.max_running = 10;
  config.max_waiting = 10;
  config.torch_threads = threads;
  SacAgent agent(config);
  MpiGradientSync sync(MPI_COMM_WORLD);
  SyncWait wait;
  std::vector<torch::Tensor> parameters;
  for (auto& p : agent.networks()->parameters()) parameters.push_back(p);
  sync.Broadcast(parameters, 0, wait);
  const std::vector<Stored> replay = FillReplay(8192, 1000 + static_cast<uint64_t>(rank));
  Rng rng(77 + static_cast<uint64_t>(rank));

  double t_sample = 0, t_grad = 0, t_reduce = 0, t_step = 0;
  const int warmup = 5;
  Clock::time_point start;
  for (int u = 0; u < warmup + updates; ++u) {
    if (u == warmup) {
      MPI_Barrier(MPI_COMM_WORLD);
      start = Clock::now();
      t_sample = t_grad = t_reduce = t_step = 0;
    }
    auto t = Clock::now();
    const Batch b = SampleBatch(replay, local_batch, &rng);
    t_sample += Since(t);
    t = Clock::now();
    agent.ComputeGradients(b.obs, b.actions, b.rewards, b.next_obs, b.dones);
    t_grad += Since(t);
    t = Clock::now();
    std::vector<torch::Tensor> grads;
    for (auto& p : agent.networks()->parameters()) {
      if (p.grad().defined()) grads.push_back(p.grad());
    }
    sync.AllReduceMean(grads, wait);
    t_reduce += Since(t);
    t = Clock::now();
    agent.ApplyGradients();
    t_step += Since(t);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const double seconds = Since(start);

  int64_t floats = 0;
  const double alone_ms = AllReduceAloneMs(agent, sync, wait, &floats);
  if (rank == 0) {
    const double per = 1000.0 / updates;
    std::printf(
        "learners %d | batch %d (%d per learner) | %d updates in %.2f s | %.2f updates/s | "
        "%.0f samples/s | per update, learner 0: sample+batch %.1f ms, gradients %.1f ms, "
        "all-reduce %.1f ms, step %.1f ms | all-reduce alone of %lld floats: %.3f ms | %s\n",
        learners, per_learner_batch ? batch * learners : batch, local_batch, updates, seconds,
        updates / seconds, updates * static_cast<double>(local_batch) * learners / seconds,
        t_sample * per, t_grad * per, t_reduce * per, t_step * per, static_cast<long long>(floats),
        alone_ms, BlasStartLine().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace qosroute

int main(int argc, char** argv) {
  qosroute::ReexecForBlasIfNeeded(argv);
  return qosroute::Run(argc, argv);
}
