// Data-parallel learners under mpiexec: the MPI gradient-sync backend averages exactly and
// keeps learners bitwise identical over many updates on different data.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include "actors/actor_loop.h"
#include "env/random_action.h"
#include "env_test_util.h"
#include "learner/distributed_weights.h"
#include "learner/gradient_sync_mpi.h"

namespace qosroute {
namespace {

std::vector<uint64_t> AllGather(uint64_t value) {
  int n = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  std::vector<uint64_t> out(n);
  MPI_Allgather(&value, 1, MPI_UINT64_T, out.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
  return out;
}

int WorldRank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

TEST(MpiGradientSync, AllReduceMeanAveragesOverLearners) {
  MpiGradientSync sync(MPI_COMM_WORLD);
  const float r = static_cast<float>(sync.rank());
  std::vector<torch::Tensor> tensors = {torch::full({3}, r + 1), torch::full({2, 2}, 10 * r)};
  sync.AllReduceMean(tensors, SyncWait{});
  const float n = static_cast<float>(sync.size());
  EXPECT_FLOAT_EQ(tensors[0][1].item<float>(), (n + 1) / 2);
  EXPECT_FLOAT_EQ(tensors[1][1][0].item<float>(), 10 * (n - 1) / 2);
}

TEST(MpiGradientSync, LearnersStayBitwiseIdenticalAfterManyUpdates) {
  MpiGradientSync sync(MPI_COMM_WORLD);
  SacConfig config;
  config.han.hidden(16).heads(2).layers(1);
  config.mlp_hidden = {16};
  config.torch_threads = 1;
  config.seed = 100 + WorldRank();  // different on purpose: the broadcast must fix it
  SacAgent agent(config);
  std::vector<torch::Tensor> parameters;
  for (auto& p : agent.networks()->parameters()) parameters.push_back(p);
  sync.Broadcast(parameters, 0, SyncWait{});
  auto sums = AllGather(ParameterChecksum(agent));
  for (uint64_t s : sums) ASSERT_EQ(s, sums[0]) << "broadcast left learners different";

  // Each learner trains on its own transitions (different env seeds).
  ClusterEnv env(testing_util::PaperLikeConfig(6.0, 100), testing_util::SyntheticTestWorkload(300));
  env.Reset(1000 + WorldRank());
  Rng rng(WorldRank());
  const int batch = 16, updates = 8;
  for (int u = 0; u < updates; ++u) {
    std::vector<Observation> obs, next;
    std::vector<int64_t> actions;
    std::vector<float> rewards, dones;
    for (int i = 0; i < batch; ++i) {
      obs.push_back(env.observation());
      const int a = RandomValidAction(env.observation(), rng);
      const StepResult step = env.Step(a);
      actions.push_back(a);
      rewards.push_back(static_cast<float>(step.reward));
      dones.push_back(step.done ? 1.0f : 0.0f);
      next.push_back(step.done ? obs.back() : env.observation());
      if (step.done) env.Reset(2000 + u);
    }
    std::vector<const Observation*> po, pn;
    for (int i = 0; i < batch; ++i) {
      po.push_back(&obs[i]);
      pn.push_back(&next[i]);
    }
    agent.ComputeGradients(BatchObservations(po), torch::tensor(actions), torch::tensor(rewards),
                           BatchObservations(pn), torch::tensor(dones));
    std::vector<torch::Tensor> grads;
    for (auto& p : agent.networks()->parameters()) {
      if (p.grad().defined()) grads.push_back(p.grad());
    }
    sync.AllReduceMean(grads, SyncWait{});
    agent.ApplyGradients();
    sums = AllGather(ParameterChecksum(agent));
    for (uint64_t s : sums) ASSERT_EQ(s, sums[0]) << "learners diverged at update " << u;
  }
}

}  // namespace
}  // namespace qosroute
