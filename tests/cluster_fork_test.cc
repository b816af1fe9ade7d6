// ClusterEnv's forks for planning (cluster_env.h): a fork steps on exactly as the original,
// stepping it leaves the original untouched, a replaced future is what the fork then runs on,
// and the truth of requests in flight can be replaced.
#include <gtest/gtest.h>

#include <algorithm>

#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "env_test_util.h"

namespace qosroute {
namespace {

using testing_util::PaperLikeConfig;
using testing_util::SyntheticTestWorkload;

void RunToEnd(ClusterEnv* env, RoutingPolicy* policy) {
  while (!env->done()) env->Step(policy->Act(*env));
}

// An env `steps` decisions into a loaded paper-world episode under greedy-qos.
ClusterEnv Loaded(const std::shared_ptr<const Workload>& workload, int steps, int requests = 400) {
  ClusterEnv env(PaperLikeConfig(8.0, requests), workload);
  env.Reset(21);
  auto greedy = MakeHeuristic(Heuristic::kGreedyQos);
  for (int i = 0; i < steps; ++i) env.Step(greedy->Act(env));
  return env;
}

TEST(ClusterFork, AForkStepsOnAsTheOriginalAndLeavesItUntouched) {
  auto workload = SyntheticTestWorkload();
  auto greedy = MakeHeuristic(Heuristic::kGreedyQos);
  ClusterEnv reference = Loaded(workload, 150);
  ClusterEnv original = Loaded(workload, 150);
  ClusterEnv fork = original.Fork();
  EXPECT_EQ(fork.SaveState(), original.SaveState());
  // The fork runs a different policy for a while: the original must not notice.
  for (int i = 0; i < 60; ++i) fork.Step(i % 3);
  EXPECT_EQ(original.SaveState(), reference.SaveState());
  ClusterEnv twin = original.Fork();
  RunToEnd(&original, greedy.get());
  RunToEnd(&twin, greedy.get());
  RunToEnd(&reference, greedy.get());
  EXPECT_EQ(twin.SaveState(), reference.SaveState());
  EXPECT_EQ(original.SaveState(), reference.SaveState());
  EXPECT_EQ(twin.Metrics().avg_qos, reference.Metrics().avg_qos);
}

// The episode's own requests from now on (the next `rows` of them; -1: all), as a future.
std::shared_ptr<EpisodeData> OwnFuture(const ClusterEnv& env, int rows = -1) {
  const int n = static_cast<int>(env.experts().size());
  auto future = std::make_shared<EpisodeData>();
  future->Resize(rows >= 0 ? rows : env.num_requests() - env.step_index(), n);
  for (int i = 0; i < future->size(); ++i) {
    const ClusterEnv::EpisodeRequest r = env.Request(env.step_index() + i);
    future->arrivals[i] = r.arrival;
    future->prompt_tokens[i] = r.prompt_tokens;
    float best = 0.0f;
    for (int e = 0; e < n; ++e) {
      future->true_output[future->At(i, e)] = r.true_output_tokens[e];
      future->true_score[future->At(i, e)] = r.true_score[e];
      future->pred_output[future->At(i, e)] = r.pred_output_tokens[e];
      future->pred_score[future->At(i, e)] = r.pred_score[e];
      best = std::max(best, r.true_score[e]);
    }
    future->upper_bound_sum += best;
  }
  return future;
}

TEST(ClusterFork, ReplacingTheFutureWithItsOwnRequestsChangesNothing) {
  auto workload = SyntheticTestWorkload();
  auto greedy = MakeHeuristic(Heuristic::kGreedyQos);
  ClusterEnv original = Loaded(workload, 120);
  ClusterEnv fork = original.Fork();
  fork.ReplaceFuture(OwnFuture(fork));
  EXPECT_EQ(fork.observation().expert, original.observation().expert);
  // A second replacement further on keeps the rows already decided.
  for (int i = 0; i < 40; ++i) {
    fork.Step(greedy->Act(fork));
    original.Step(greedy->Act(original));
  }
  fork.ReplaceFuture(OwnFuture(fork));
  RunToEnd(&fork, greedy.get());
  RunToEnd(&original, greedy.get());
  EXPECT_EQ(fork.CreditedQos(), original.CreditedQos());
  EXPECT_EQ(fork.Metrics().latencies_per_token, original.Metrics().latencies_per_token);
  EXPECT_EQ(fork.num_requests(), original.num_requests());
}

TEST(ClusterFork, AReplacedFutureIsWhatTheForkRunsOnAndSavesAndTheOriginalKeepsItsOwn) {
  auto workload = SyntheticTestWorkload();
  auto greedy = MakeHeuristic(Heuristic::kGreedyQos);
  ClusterEnv original = Loaded(workload, 100);
  const int step = original.step_index();
  const ClusterEnv::EpisodeRequest own = original.Request(step + 1);
  ClusterEnv fork = original.Fork();
  std::shared_ptr<EpisodeData> future = OwnFuture(fork);
  const int kept = 30;  // a shorter future: the fork's episode ends after it
  future->Resize(kept, 3);
  for (int i = 0; i < kept; ++i) {
    future->arrivals[i] = fork.now() + 0.05 * i;
    future->prompt_tokens[i] = 100 + i;
    for (int e = 0; e < 3; ++e) {
      future->true_output[future->At(i, e)] = 50 + e;
      future->true_score[future->At(i, e)] = 0.5f + 0.1f * e;
      future->pred_output[future->At(i, e)] = 60 + e;
      future->pred_score[future->At(i, e)] = 0.55f + 0.1f * e;
    }
  }
  future->upper_bound_sum = 0.7 * kept;
  fork.ReplaceFuture(future);
  EXPECT_EQ(fork.num_requests(), step + kept);
  EXPECT_EQ(fork.arrived().prompt_tokens, 100);
  EXPECT_EQ(fork.arrived().pred_output_tokens, (std::vector<int>{60, 61, 62}));
  fork.Step(0);
  EXPECT_EQ(fork.arrived().prompt_tokens, 101);
  EXPECT_EQ(original.Request(step + 1).prompt_tokens, own.prompt_tokens);
  // The fork's state saves as one episode and loads into a fresh env that runs on alike.
  ClusterEnv loaded(PaperLikeConfig(8.0, 400), workload);
  loaded.LoadState(fork.SaveState());
  EXPECT_EQ(loaded.num_requests(), step + kept);
  RunToEnd(&fork, greedy.get());
  RunToEnd(&loaded, greedy.get());
  EXPECT_EQ(fork.SaveState(), loaded.SaveState());
  EXPECT_EQ(fork.CountRequests().decided, step + kept);
  // A future that does not start now is refused.
  ClusterEnv other = original.Fork();
  auto late = OwnFuture(other);
  late->arrivals[0] += 1.0;
  EXPECT_DEATH(other.ReplaceFuture(late), "must start with the arrived request");
}

// An env never reset shares no episode yet: it still saves, and the state loads back.
TEST(ClusterFork, AnEnvNeverResetSavesAnEmptyEpisode) {
  auto workload = SyntheticTestWorkload();
  ClusterEnv fresh(PaperLikeConfig(8.0, 50), workload);
  EXPECT_EQ(fresh.num_requests(), 0);
  ClusterEnv other(PaperLikeConfig(8.0, 50), workload);
  other.LoadState(fresh.SaveState());
  EXPECT_EQ(other.SaveState(), fresh.SaveState());
  EXPECT_TRUE(other.done());
}

TEST(ClusterFork, TheTruthOfRequestsInFlightCanBeResampled) {
  auto workload = SyntheticTestWorkload();
  ClusterEnv original = Loaded(workload, 150);
  ClusterEnv fork = original.Fork();
  int touched = 0;
  fork.ResampleInFlight([&](int, ActiveRequest* r) {
    r->output_tokens = r->generated + 1;  // every request in flight is about to finish
    r->score = 1.0f;
    ++touched;
  });
  ASSERT_GT(touched, 5);
  for (int i = 0; i < 20; ++i) {
    fork.Step(i % 3);
    original.Step(i % 3);
  }
  EXPECT_GT(fork.CountRequests().completed, original.CountRequests().completed);
  EXPECT_DEATH(
      fork.ResampleInFlight([](int, ActiveRequest* r) { r->output_tokens = r->generated; }),
      "output left to generate");
}

// `serve` plans on forks of its live env, which has no episode: a replaced future becomes the
// fork's episode, and it runs on as the simulator does from the same state.
TEST(ClusterFork, ALiveForkRunsItsReplacedFutureAsTheSimulatorWould) {
  auto workload = SyntheticTestWorkload();
  auto greedy = MakeHeuristic(Heuristic::kGreedyQos);
  const EnvConfig config = PaperLikeConfig(8.0, 400);
  ClusterEnv sim(config, workload);
  sim.Reset(21);
  const int horizon = 24;
  int compared = 0;
  for (int step = 0; step < 300; ++step) {
    const ClusterEnv::Counts counts = sim.CountRequests();
    // Completions the simulator holds but has not credited yet are not in a live state.
    const bool nothing_pending =
        counts.completed + counts.dropped == sim.CreditedRequests() && counts.in_flight > 0;
    if (step % 20 == 10 && nothing_pending) {
      ClusterEnv live(config, workload);
      live.ObserveLive(sim.now(), sim.arrived(), testing_util::LiveQueuesOf(sim, true),
                       std::vector<uint8_t>(config.experts.size(), 1));
      ASSERT_TRUE(live.live());
      ASSERT_TRUE(live.done());
      const std::vector<uint8_t> saved = live.SaveState();
      ClusterEnv from_sim = sim.Fork(), from_live = live.Fork();
      auto future = OwnFuture(sim, horizon + 1);
      from_sim.ReplaceFuture(future);
      from_live.ReplaceFuture(future);
      EXPECT_FALSE(from_live.live());
      EXPECT_FALSE(from_live.done());
      // The requests in flight are the episode's past, one row each.
      const int past = static_cast<int>(counts.in_flight);
      EXPECT_EQ(from_live.step_index(), past);
      EXPECT_EQ(from_live.num_requests(), past + horizon + 1);
      std::vector<int> ids;
      for (const ExpertServer& e : from_live.experts()) {
        for (const ActiveRequest& r : e.running()) ids.push_back(r.id);
        for (const ActiveRequest& r : e.waiting()) ids.push_back(r.id);
      }
      std::sort(ids.begin(), ids.end());
      for (int i = 0; i < past; ++i) EXPECT_EQ(ids[i], i);
      from_sim.RestartCreditCount();
      for (int h = 0; h < horizon; ++h) {
        const int a = greedy->Act(from_sim);
        ASSERT_EQ(greedy->Act(from_live), a) << "step " << step << " + " << h;
        from_sim.Step(a);
        from_live.Step(a);
      }
      EXPECT_FALSE(from_live.done());
      EXPECT_EQ(from_live.step_index(), past + horizon);
      EXPECT_EQ(from_live.CreditedQos(), from_sim.CreditedQos()) << "step " << step;
      EXPECT_EQ(from_live.LookaheadPotential(), from_sim.LookaheadPotential()) << "step " << step;
      // The live env itself is untouched: `serve` observes on it again at the next request.
      EXPECT_TRUE(live.live());
      EXPECT_EQ(live.SaveState(), saved);
      ++compared;
    }
    sim.Step(greedy->Act(sim));
  }
  EXPECT_GE(compared, 5);
}

}  // namespace
}  // namespace qosroute
