#include "env/heuristics.h"

#include <algorithm>
#include <limits>

#include "common/error.h"

namespace qosroute {

namespace {

// The expert with the smallest key (the first of equals).
template <typename Key>
int ArgminExpert(const ClusterEnv& env, Key key) {
  int best = 0;
  double best_key = std::numeric_limits<double>::infinity();
  for (const ExpertServer& e : env.experts()) {
    const double k = key(e);
    if (k < best_key) {
      best_key = k;
      best = e.index();
    }
  }
  return best;
}

class RandomPolicy final : public RoutingPolicy {
 public:
  std::string name() const override { return Heuristics().Name(Heuristic::kRandom); }
  void Reset(uint64_t seed) override { rng_.Seed(seed ^ 0x52414E44ULL); }
  bool DecidesFromStateAlone() const override { return false; }
  int Act(const ClusterEnv& env) override {
    return static_cast<int>(rng_.Below(env.experts().size()));
  }

 private:
  Rng rng_;
};

class RoundRobinPolicy final : public RoutingPolicy {
 public:
  std::string name() const override { return Heuristics().Name(Heuristic::kRoundRobin); }
  void Reset(uint64_t) override { next_ = 0; }
  bool DecidesFromStateAlone() const override { return false; }
  int Act(const ClusterEnv& env) override {
    const int action = next_ % static_cast<int>(env.experts().size());
    ++next_;
    return action;
  }

 private:
  int next_ = 0;
};

class ShortestQueuePolicy final : public RoutingPolicy {
 public:
  std::string name() const override { return Heuristics().Name(Heuristic::kShortestQueueFirst); }
  int Act(const ClusterEnv& env) override {
    return ArgminExpert(env, [](const ExpertServer& e) {
      return static_cast<double>(e.running().size() + e.waiting().size());
    });
  }
};

class LeastKvLoadPolicy final : public RoutingPolicy {
 public:
  std::string name() const override { return Heuristics().Name(Heuristic::kLeastKvLoad); }
  int Act(const ClusterEnv& env) override {
    return ArgminExpert(env, [](const ExpertServer& e) {
      return static_cast<double>(e.blocks_used()) / e.num_blocks();
    });
  }
};

class QualityPolicy final : public RoutingPolicy {
 public:
  std::string name() const override { return Heuristics().Name(Heuristic::kQuality); }
  int Act(const ClusterEnv& env) override {
    const auto& scores = env.arrived().pred_score;
    return static_cast<int>(std::max_element(scores.begin(), scores.end()) - scores.begin());
  }
};

// The strong myopic router: for each expert, simulate its queues forward with predicted
// lengths to estimate the new request's latency per token and which queued requests it
// would push past the SLA; value = predicted score x P(meets SLA) - predicted harm. Drops
// the request when no expert is worth it (and dropping is allowed).
class GreedyQosPolicy final : public RoutingPolicy {
 public:
  explicit GreedyQosPolicy(const GreedyQosOptions& options) : options_(options) {}
  std::string name() const override { return Heuristics().Name(Heuristic::kGreedyQos); }
  int Act(const ClusterEnv& env) override { return GreedyQosAction(env, options_); }

 private:
  GreedyQosOptions options_;
};

}  // namespace

int GreedyQosAction(const ClusterEnv& env, const GreedyQosOptions& options,
                    RoutingEstimator estimate) {
  const double sla = env.config().sla;
  const int n = static_cast<int>(env.experts().size());
  int best = 0;
  double best_value = -std::numeric_limits<double>::infinity();
  for (int e = 0; e < n; ++e) {
    const LookaheadEstimate routing = estimate(env, e, options.sharpness);
    const double value =
        env.arrived().pred_score[e] *
            MeetProbability(routing.arrived_latency_per_token, sla, options.sharpness) -
        routing.harm;
    if (value > best_value) {
      best_value = value;
      best = e;
    }
  }
  if (env.config().allow_drop && best_value < options.drop_threshold) return n;
  return best;
}

const NameTable<Heuristic>& Heuristics() {
  static const NameTable<Heuristic> table("policy",
                                          {{Heuristic::kRandom, "random"},
                                           {Heuristic::kRoundRobin, "round-robin"},
                                           {Heuristic::kShortestQueueFirst, "shortest-queue-first"},
                                           {Heuristic::kLeastKvLoad, "least-kv-load"},
                                           {Heuristic::kQuality, "quality"},
                                           {Heuristic::kGreedyQos, "greedy-qos"}});
  return table;
}

std::vector<std::string> HeuristicNames() {
  return Heuristics().Names();
}

std::unique_ptr<RoutingPolicy> MakeHeuristic(Heuristic kind, const GreedyQosOptions& greedy) {
  switch (kind) {
    case Heuristic::kRandom:
      return std::make_unique<RandomPolicy>();
    case Heuristic::kRoundRobin:
      return std::make_unique<RoundRobinPolicy>();
    case Heuristic::kShortestQueueFirst:
      return std::make_unique<ShortestQueuePolicy>();
    case Heuristic::kLeastKvLoad:
      return std::make_unique<LeastKvLoadPolicy>();
    case Heuristic::kQuality:
      return std::make_unique<QualityPolicy>();
    case Heuristic::kGreedyQos:
      return std::make_unique<GreedyQosPolicy>(greedy);
  }
  QR_CHECK_MSG(false, "unhandled heuristic");
  return nullptr;
}

std::unique_ptr<RoutingPolicy> MakeHeuristic(const std::string& name,
                                             const GreedyQosOptions& greedy) {
  return MakeHeuristic(Heuristics().Parse(name, "--policy"), greedy);
}

}  // namespace qosroute
