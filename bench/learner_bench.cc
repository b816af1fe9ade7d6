// Learner throughput: one SAC update at the reference's sizes (batch 256, HAN hidden 64,
// 4 heads, 2 layers, N = 3 experts x 10 running + 10 waiting slots) and batched policy
// inference. For scale: a plain Python PyTorch version of this update runs ~10-13 updates/s
// on a 2-core machine.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "common/rng.h"
#include "env/cluster_env.h"
#include "learner/blas_info.h"
#include "learner/fused_adam.h"
#include "learner/graph_batch.h"
#include "learner/sac.h"

namespace qosroute {
namespace {

constexpr int kExperts = 3;
constexpr int kSlots = 10;

// A plausible loaded-cluster observation: each expert runs a random number of requests in
// its first slots and has a shorter waiting queue; features in their normalised ranges.
Observation RealisticObservation(Rng& rng) {
  Observation o;
  o.Resize(kExperts, kSlots, kSlots);
  o.request = {static_cast<float>(rng.Uniform() * 0.5),
               static_cast<float>(0.6 + 0.1 * rng.Uniform()), static_cast<float>(rng.Uniform())};
  for (int e = 0; e < kExperts; ++e) {
    const int running = static_cast<int>(rng.Below(kSlots + 1));
    const int waiting = static_cast<int>(rng.Below(kSlots / 2 + 1));
    float* ex = o.expert.data() + e * kExpertFeatures;
    ex[0] = static_cast<float>(rng.Uniform());
    ex[1] = running / kCountScale;
    ex[2] = waiting / kCountScale;
    ex[3] = o.request[0];
    ex[4] = static_cast<float>(0.5 + 0.3 * rng.Uniform());
    ex[5] = static_cast<float>(rng.Uniform());
    ex[6] = static_cast<float>(0.5 + rng.Uniform());
    for (int s = 0; s < running; ++s) {
      o.running_mask[e * kSlots + s] = 1;
      for (int f = 0; f < kSlotFeatures; ++f) {
        o.running[(e * kSlots + s) * kSlotFeatures + f] = static_cast<float>(rng.Uniform());
      }
    }
    for (int s = 0; s < waiting; ++s) {
      o.waiting_mask[e * kSlots + s] = 1;
      for (int f = 0; f < kSlotFeatures; ++f) {
        o.waiting[(e * kSlots + s) * kSlotFeatures + f] = static_cast<float>(rng.Uniform());
      }
    }
  }
  return o;
}

std::vector<Observation> Pool(uint64_t seed, int count) {
  Rng rng(seed);
  std::vector<Observation> pool;
  for (int i = 0; i < count; ++i) pool.push_back(RealisticObservation(rng));
  return pool;
}

std::vector<const Observation*> Pick(const std::vector<Observation>& pool, int count, Rng& rng) {
  std::vector<const Observation*> out;
  for (int i = 0; i < count; ++i) out.push_back(&pool[rng.Below(pool.size())]);
  return out;
}

// Which BLAS kernels ran (see learner/blas_info.h): a misdetected OpenBLAS core makes the
// update ~1.6x slower, so results mean little without it. Recorded in each update's label
// (bench_main.cc puts the library and core in the run's context).
std::string BlasCoreNote() {
  const std::string core = BlasCoreName();
  std::string note = "openblas core " + (core.empty() ? std::string("n/a") : core);
  if (BlasCoreIsMisdetected())
    note += " (misdetected: set OPENBLAS_CORETYPE=" + SuggestedOpenBlasCore() + ")";
  return note;
}

SacConfig ReferenceConfig(int threads) {
  SacConfig config;  // hidden 64, 4 heads, 2 layers, MLP [64, 64]: the defaults
  config.num_experts = kExperts;
  config.max_running = kSlots;
  config.max_waiting = kSlots;
  config.torch_threads = threads;
  return config;
}

// configs/quickstart.cfg's learner: dueling critics and the greedy-qos prior (which reads
// expert feature 10 of every observation, so the look-ahead features are declared on).
SacConfig RecipeConfig(int threads) {
  SacConfig config = ReferenceConfig(threads);
  config.dueling = true;
  config.prior = PriorKind::kGreedyQos;
  EnvConfig env;
  env.lookahead_features = true;
  env.expert_score_prior = true;
  config.schema = ObservationSchema::For(env);
  config.alpha_lr = 0.0;
  config.lr_final_fraction = 0.1;
  config.lr_decay_updates = 6000;
  return config;
}

void TimeUpdates(benchmark::State& state, const SacConfig& config) {
  constexpr int kBatch = 256;
  SacAgent agent(config);
  const std::vector<Observation> pool = Pool(1, 4096);
  Rng rng(2);
  // A few pre-built minibatches, so the loop times the update alone.
  struct Minibatch {
    GraphBatch obs, next_obs;
    torch::Tensor actions, rewards, dones;
  };
  std::vector<Minibatch> batches;
  for (int k = 0; k < 4; ++k) {
    std::vector<int64_t> actions;
    for (int i = 0; i < kBatch; ++i)
      actions.push_back(static_cast<int64_t>(rng.Below(kExperts + 1)));
    batches.push_back({BatchObservations(Pick(pool, kBatch, rng)),
                       BatchObservations(Pick(pool, kBatch, rng)), torch::tensor(actions),
                       torch::rand({kBatch}), (torch::rand({kBatch}) < 0.01).to(torch::kFloat32)});
  }
  size_t k = 0;
  for (auto _ : state) {
    const Minibatch& m = batches[k++ % batches.size()];
    benchmark::DoNotOptimize(agent.Update(m.obs, m.actions, m.rewards, m.next_obs, m.dones));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("items = updates; " + BlasCoreNote());
}

// Arg: torch intra-op threads.
void BM_LearnerUpdate(benchmark::State& state) {
  TimeUpdates(state, ReferenceConfig(static_cast<int>(state.range(0))));
}
BENCHMARK(BM_LearnerUpdate)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LearnerUpdateRecipe(benchmark::State& state) {
  TimeUpdates(state, RecipeConfig(static_cast<int>(state.range(0))));
}
BENCHMARK(BM_LearnerUpdateRecipe)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// One optimizer step over the agent's parameters (74 tensors in three groups: critic,
// actor, temperature), as ApplyGradients takes it. Arg 0: a torch::optim::Adam per group,
// ~8 ops per tensor (what SacAgent uses today); 1: FusedAdam, ~8 ops per group.
void BM_AdamStep(benchmark::State& state) {
  SacAgent agent(ReferenceConfig(1));
  SacNetworks& nets = agent.networks();
  const std::vector<std::vector<torch::Tensor>> groups = {
      nets->CriticParameters(), nets->actor->parameters(), {nets->log_alpha}};
  const double rates[] = {3e-5, 3e-5, 3e-4};
  std::unique_ptr<FusedAdam> fused;
  std::vector<std::unique_ptr<torch::optim::Adam>> adams;
  if (state.range(0) == 1) {
    std::vector<FusedAdamGroup> fused_groups;
    for (size_t g = 0; g < groups.size(); ++g) fused_groups.push_back({groups[g], {rates[g]}});
    fused = std::make_unique<FusedAdam>(fused_groups);
    for (size_t g = 0; g < groups.size(); ++g) fused->flat_grads(g).normal_();
  } else {
    for (size_t g = 0; g < groups.size(); ++g) {
      for (const auto& p : groups[g]) p.mutable_grad() = torch::randn_like(p);
      adams.push_back(
          std::make_unique<torch::optim::Adam>(groups[g], torch::optim::AdamOptions(rates[g])));
    }
  }
  for (auto _ : state) {
    if (fused) {
      fused->step();
    } else {
      for (auto& adam : adams) adam->step();
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("items = steps");
}
BENCHMARK(BM_AdamStep)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Batching 256 observations into tensors (what a learner does per update, twice).
void BM_BatchObservations(benchmark::State& state) {
  const std::vector<Observation> pool = Pool(3, 4096);
  Rng rng(4);
  const std::vector<const Observation*> picked = Pick(pool, static_cast<int>(state.range(0)), rng);
  for (auto _ : state) benchmark::DoNotOptimize(BatchObservations(picked));
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetLabel("items = observations");
}
BENCHMARK(BM_BatchObservations)->Arg(256)->Unit(benchmark::kMicrosecond);

// Greedy decisions for a batch of graphs, including batching them: what an actor pays per
// policy call. Arg: graphs per call.
void BM_PolicyInference(benchmark::State& state) {
  SacAgent agent(ReferenceConfig(1));
  const std::vector<Observation> pool = Pool(5, 4096);
  Rng rng(6);
  const std::vector<const Observation*> picked = Pick(pool, static_cast<int>(state.range(0)), rng);
  for (auto _ : state) {
    benchmark::DoNotOptimize(agent.Act(BatchObservations(picked), /*greedy=*/true));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetLabel("items = decisions");
}
BENCHMARK(BM_PolicyInference)->Arg(1)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace qosroute
