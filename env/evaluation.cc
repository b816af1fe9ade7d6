#include "env/evaluation.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

namespace qosroute {

EpisodeMetrics RunEpisode(ClusterEnv& env, RoutingPolicy& policy, uint64_t seed) {
  env.Reset(seed);
  policy.Reset(seed);
  while (!env.done()) env.Step(policy.Act(env));
  return env.Metrics();
}

std::vector<EpisodeMetrics> EvaluatePolicy(const EnvConfig& config,
                                           std::shared_ptr<const Workload> workload,
                                           const PolicyFactory& make_policy, uint64_t seed_base,
                                           int num_seeds, int threads) {
  std::vector<EpisodeMetrics> results(num_seeds);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min(threads, num_seeds);
  std::atomic<int> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto worker = [&] {
    try {
      ClusterEnv env(config, workload);
      std::unique_ptr<RoutingPolicy> policy = make_policy();
      for (int k = next++; k < num_seeds; k = next++)
        results[k] = RunEpisode(env, *policy, seed_base + k);
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = num_seeds;  // stop the other workers early
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  return results;
}

}  // namespace qosroute
