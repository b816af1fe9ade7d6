#include "env/heuristics.h"

#include <algorithm>
#include <cmath>
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
  int Act(const ClusterEnv& env) override {
    const double sla = env.config().sla;
    const int n = static_cast<int>(env.experts().size());
    int best = 0;
    double best_value = -std::numeric_limits<double>::infinity();
    for (int e = 0; e < n; ++e) {
      const LookaheadEstimate estimate = EstimateRouting(env, e, options_.sharpness);
      const double value =
          env.arrived().pred_score[e] *
              MeetProbability(estimate.arrived_latency_per_token, sla, options_.sharpness) -
          estimate.harm;
      if (value > best_value) {
        best_value = value;
        best = e;
      }
    }
    if (env.config().allow_drop && best_value < options_.drop_threshold) return n;
    return best;
  }

 private:
  GreedyQosOptions options_;
};

}  // namespace

double MeetProbability(double latency_per_token, double sla, double sharpness) {
  const double z = (sla - latency_per_token) / (sharpness * sla);
  return 1.0 / (1.0 + std::exp(-z));
}

LookaheadEstimate EstimateRouting(const ClusterEnv& env, int expert, double sharpness) {
  const double sla = env.config().sla;
  const LookaheadResult without = LookAhead(env, expert, false);
  const LookaheadResult with = LookAhead(env, expert, true);
  LookaheadEstimate estimate;
  estimate.arrived_latency_per_token = with.arrived_latency_per_token;
  for (size_t i = 0; i < without.queued_latency_per_token.size(); ++i) {
    const double before = MeetProbability(without.queued_latency_per_token[i], sla, sharpness);
    const double after = MeetProbability(with.queued_latency_per_token[i], sla, sharpness);
    estimate.harm += without.queued_pred_score[i] * std::max(0.0, before - after);
  }
  return estimate;
}

namespace {

// A queued request as the look-ahead replays it.
struct LookaheadJob {
  double arrival;
  int context;  // tokens whose KV exists (prompt + generated)
  int generated;
  int remaining;  // predicted tokens still to produce (>= 1)
  bool prefilled;
  double finish;
};

// One engine iteration of the look-ahead, by the engine's rule (prefill the waiting requests
// when there are any, else decode every prefilled one): advances the jobs and returns its
// length in seconds.
double SimulateIteration(const IterationTimeModel& model, int max_batched,
                         std::vector<LookaheadJob>* jobs, size_t* first_waiting) {
  long prefill_tokens = 0;
  int admitted = 0;
  size_t i = *first_waiting;
  while (i < jobs->size() &&
         (admitted == 0 || prefill_tokens + (*jobs)[i].context <= max_batched)) {
    prefill_tokens += (*jobs)[i].context;
    (*jobs)[i].prefilled = true;
    ++admitted;
    ++i;
  }
  double seconds;
  if (admitted > 0) {
    seconds = model.PrefillSeconds(prefill_tokens, admitted);
    for (size_t j = *first_waiting; j < i; ++j) {
      (*jobs)[j].generated += 1;
      (*jobs)[j].context += 1;
      (*jobs)[j].remaining -= 1;
    }
    *first_waiting = i;
  } else {
    long context = 0;
    int batch = 0;
    for (const LookaheadJob& j : *jobs) {
      if (j.prefilled && j.remaining > 0) {
        context += j.context;
        ++batch;
      }
    }
    seconds = model.DecodeSeconds(context, batch);
    for (LookaheadJob& j : *jobs) {
      if (j.prefilled && j.remaining > 0) {
        j.generated += 1;
        j.remaining -= 1;
        j.context += 1;
      }
    }
  }
  return seconds;
}

}  // namespace

LookaheadResult LookAhead(const ClusterEnv& env, int expert, bool with_arrived) {
  const ExpertServer& server = env.experts()[expert];
  const IterationTimeModel& model = server.time_model();
  std::vector<LookaheadJob> jobs;
  jobs.reserve(server.running().size() + server.waiting().size() + 1);
  auto add = [&](const ActiveRequest& r, bool prefilled) {
    jobs.push_back(LookaheadJob{r.arrival, r.context_tokens(), r.generated,
                                std::max(1, r.pred_output_tokens - r.generated), prefilled, -1.0});
  };
  for (const ActiveRequest& r : server.running()) add(r, true);
  for (const ActiveRequest& r : server.waiting()) add(r, false);
  const size_t queued = jobs.size();
  if (with_arrived) {
    const ArrivedRequestView& a = env.arrived();
    jobs.push_back(LookaheadJob{a.arrival, a.prompt_tokens, 0,
                                std::max(1, a.pred_output_tokens[expert]), false, -1.0});
  }
  // The expert's clock is the end of the iteration in progress (or now, when idle).
  double clock = std::max(server.clock(), env.now());
  size_t unfinished = jobs.size();
  size_t first_waiting = server.running().size();
  const int max_batched = server.config().max_num_batched_tokens;
  while (unfinished > 0) {
    const double seconds = SimulateIteration(model, max_batched, &jobs, &first_waiting);
    clock += seconds;
    for (LookaheadJob& j : jobs) {
      if (j.finish < 0 && j.prefilled && j.remaining <= 0) {
        j.finish = clock;
        --unfinished;
      }
    }
  }
  LookaheadResult result;
  for (size_t j = 0; j < queued; ++j) {
    result.queued_latency_per_token.push_back((jobs[j].finish - jobs[j].arrival) /
                                              std::max(1, jobs[j].generated));
  }
  if (with_arrived) {
    const LookaheadJob& a = jobs.back();
    result.arrived_latency_per_token = (a.finish - a.arrival) / std::max(1, a.generated);
  }
  for (const ActiveRequest& r : server.running()) result.queued_pred_score.push_back(r.pred_score);
  for (const ActiveRequest& r : server.waiting()) result.queued_pred_score.push_back(r.pred_score);
  return result;
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
