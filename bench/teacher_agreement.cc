// How far a search-guided router is from its teacher (issue 25): the learned policy routes an
// episode of the config's world; at every k-th decision the rollout planner labels the same
// state (planner/decision_labeler.h), and the student's action is compared with the
// planner's choice and with greedy-qos's (the planner's base). Prints how often the planner
// leaves greedy-qos, how often the student does, and how often they agree, split by the kind
// of departure (drop, another expert), and how often the same planner on other sampled futures
// repeats a departure (the ceiling for a student that sees only the state).
//
//   build/bench/qosroute_teacher_agreement CONFIG POLICY.h5 [RATE [REQUESTS [EVERY [SEED]]]]
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/error.h"
#include "env/cluster_env.h"
#include "env/heuristics.h"
#include "launch/config.h"
#include "launch/sac_policy_hook.h"
#include "planner/decision_labeler.h"

namespace qosroute {
namespace {

struct Counts {
  long decisions = 0, planner_left = 0, student_left = 0, agree = 0, agree_when_planner_left = 0;
  long planner_drops = 0, student_drops = 0, both_drop = 0;
  double departure_value = 0.0;   // sum over the planner's departures of its label's value
  long self_agree_when_left = 0;  // a second planner (other futures) makes the same departure
};

Counts Measure(const RunConfig& config, const std::string& policy_file, int every, uint64_t seed) {
  EnvConfig env_config = config.env;
  std::unique_ptr<RoutingPolicy> student =
      LoadLearnedRoutingPolicy(config, policy_file, &env_config);
  const auto workload = LoadConfiguredWorkload(config);
  ClusterEnv env(env_config, workload);
  env.Reset(seed);
  student->Reset(seed);
  auto greedy = MakeHeuristic(Heuristic::kGreedyQos, config.greedy);
  LabelOptions share;
  share.share = 1.0;
  DecisionLabeler teacher(share, config.planner, config.greedy, env_config, workload, seed);
  // The same planner on other sampled futures: how much of a departure is the state's.
  DecisionLabeler second(share, config.planner, config.greedy, env_config, workload, seed + 1);
  const int drop = static_cast<int>(env_config.experts.size());
  Counts c;
  for (long f = 0; !env.done(); ++f) {
    const int action = student->Act(env);
    if (f % every == 0) {
      ActionLabel label;
      const int planner = teacher.Label(env, f, &label);
      const int base = greedy->Act(env);
      ++c.decisions;
      c.planner_left += planner != base;
      c.student_left += action != base;
      c.agree += action == planner;
      c.agree_when_planner_left += planner != base && action == planner;
      if (planner != base) {
        c.departure_value += label.values[static_cast<size_t>(planner)];
        ActionLabel other;
        c.self_agree_when_left += second.Label(env, f, &other) == planner;
      }
      c.planner_drops += planner == drop;
      c.student_drops += action == drop;
      c.both_drop += planner == drop && action == drop;
    }
    env.Step(action);
  }
  return c;
}

}  // namespace
}  // namespace qosroute

int main(int argc, char** argv) {
  using namespace qosroute;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CONFIG POLICY.h5 [RATE [REQUESTS [EVERY [SEED]]]]\n", argv[0]);
    return 2;
  }
  try {
    std::vector<std::string> overrides;
    if (argc > 3) overrides.push_back(std::string("workload.rate=") + argv[3]);
    if (argc > 4) overrides.push_back(std::string("workload.requests_per_episode=") + argv[4]);
    const int every = argc > 5 ? std::atoi(argv[5]) : 5;
    const uint64_t seed = argc > 6 ? std::strtoull(argv[6], nullptr, 10) : 1000000;
    const RunConfig config = LoadRunConfig(argv[1], overrides);
    const Counts c = Measure(config, argv[2], every < 1 ? 1 : every, seed);
    auto pct = [](long a, long b) { return b > 0 ? 100.0 * a / b : 0.0; };
    std::printf("decisions compared: %ld (every %d)\n", c.decisions, every);
    std::printf("planner leaves greedy-qos: %.1f%%; the student does: %.1f%%\n",
                pct(c.planner_left, c.decisions), pct(c.student_left, c.decisions));
    std::printf("student = planner: %.1f%% of all, %.1f%% where the planner leaves greedy-qos\n",
                pct(c.agree, c.decisions), pct(c.agree_when_planner_left, c.planner_left));
    std::printf(
        "the planner's departures: mean label value (advantage lower bound) %.4f; the "
        "planner on other futures repeats %.1f%% of them\n",
        c.planner_left > 0 ? c.departure_value / c.planner_left : 0.0,
        pct(c.self_agree_when_left, c.planner_left));
    std::printf("drops: planner %.1f%%, student %.1f%%, both %.1f%%\n",
                pct(c.planner_drops, c.decisions), pct(c.student_drops, c.decisions),
                pct(c.both_drop, c.decisions));
    return 0;
  } catch (const UserError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
