#include "planner/rollout_policy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "common/error.h"

namespace qosroute {

namespace {

uint64_t SampleSeed(uint64_t seed, long decision, int sample) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL ^ (static_cast<uint64_t>(decision) << 20) ^
               static_cast<uint64_t>(sample);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

// The actions the router may take now: experts the action mask allows, and drop if allowed.
std::vector<int> ValidActions(const ClusterEnv& env) {
  const std::vector<uint8_t>& mask = env.observation().action_mask;
  std::vector<int> actions;
  for (size_t a = 0; a < mask.size(); ++a) {
    if (mask[a]) actions.push_back(static_cast<int>(a));
  }
  return actions;
}

}  // namespace

const NameTable<PlannerKind>& Planners() {
  static const NameTable<PlannerKind> table(
      "planner", {{PlannerKind::kRollout, "rollout"}, {PlannerKind::kHindsight, "hindsight"}});
  return table;
}

// One thread's share: its forks (reused, so a rollout allocates nothing once grown), its base
// policy and its future's buffer.
struct RolloutPolicy::Worker {
  std::unique_ptr<ClusterEnv> prepared, slot;
  std::unique_ptr<RoutingPolicy> base;
  std::shared_ptr<EpisodeData> future = std::make_shared<EpisodeData>();
};

RolloutPolicy::RolloutPolicy(PlannerKind kind, const PlannerConfig& planner,
                             const GreedyQosOptions& greedy, const EnvConfig& env,
                             std::shared_ptr<const Workload> workload,
                             const PlannerBaseFactory& make_base)
    : kind_(kind), planner_(planner), greedy_(greedy), sampler_(env, std::move(workload)) {
  ValidatePlannerConfig(planner_);
  const int threads = kind_ == PlannerKind::kHindsight ? 1 : planner_.threads;
  for (int t = 0; t < threads; ++t) {
    auto w = std::make_unique<Worker>();
    w->base = make_base ? make_base() : MakeHeuristic(planner_.base, greedy_);
    QR_CHECK(w->base != nullptr);
    // A rollout starts the base from the state alone (see ValidatePlannerConfig).
    if (!w->base->DecidesFromStateAlone())
      throw UserError("the planner's base " + w->base->name() +
                      " must decide from the state alone");
    workers_.push_back(std::move(w));
  }
  base_observes_ = workers_[0]->base->DecidesFromObservations();
}

RolloutPolicy::~RolloutPolicy() = default;

void RolloutPolicy::Reset(uint64_t seed) {
  seed_ = seed;
  decision_ = 0;
  sampler_.ResetEpisode();
  for (auto& w : workers_) w->base->Reset(seed);
}

void RolloutPolicy::ResetForDecision(uint64_t seed, const ClusterEnv& env) {
  Reset(seed);
  sampler_.AssumeArrivalsSinceStart(env.step_index());
}

bool RolloutPolicy::OutOfTime() const {
  return timed_ && std::chrono::steady_clock::now() >= deadline_;
}

double RolloutPolicy::Rollout(const ClusterEnv& prepared, int action, Worker* w) const {
  if (!w->slot) w->slot = std::make_unique<ClusterEnv>(prepared.Fork());
  prepared.ForkInto(w->slot.get());
  ClusterEnv& s = *w->slot;
  s.Step(action);
  for (int h = 1; h < planner_.horizon && !s.done(); ++h) {
    // A clock read (~20 ns) per step (~10 us): a budget is overrun by one step at most.
    if (OutOfTime()) return std::numeric_limits<double>::quiet_NaN();
    s.Step(w->base->Act(s));
  }
  // Credited over the rollout, plus what the queues are expected to credit later.
  return s.CreditedQos() + (s.done() ? 0.0 : s.LookaheadPotential());
}

void RolloutPolicy::ValueOnFuture(const ClusterEnv& env, int k, const std::vector<int>& actions,
                                  Worker* w, std::vector<double>* values) const {
  if (!w->prepared) w->prepared = std::make_unique<ClusterEnv>(env.Fork());
  env.ForkInto(w->prepared.get());
  ClusterEnv& prepared = *w->prepared;
  prepared.MakePlanningFork(base_observes_);
  if (kind_ == PlannerKind::kRollout) {
    // The future a router may imagine: the action, then horizon - 1 decisions, then the
    // next arrival (where the look-ahead potential values the queues), or the episode's end.
    Rng rng(SampleSeed(seed_, decision_, k));
    // A live env (serve) has no episode end to stop at.
    const int rows = env.live()
                         ? planner_.horizon + 1
                         : std::min(planner_.horizon + 1, env.num_requests() - env.step_index());
    sampler_.SampleFuture(env, rows, rng, w->future.get());
    prepared.ReplaceFuture(w->future);
    sampler_.SampleInFlight(&prepared, rng);
  }
  // Hindsight keeps the episode's own future and truth: that is what makes it a bound.
  prepared.RestartCreditCount();
  values->assign(actions.size(), 0.0);
  for (size_t i = 0; i < actions.size(); ++i) {
    if (!active_[i]) continue;
    (*values)[i] = Rollout(prepared, actions[i], w);
    if (std::isnan((*values)[i])) return;  // out of time: this future is left out
  }
}

bool RolloutPolicy::RunSamples(const ClusterEnv& env, int first, int count,
                               const std::vector<int>& actions) {
  values_.resize(first + count);
  const int threads = std::min<int>(static_cast<int>(workers_.size()), count);
  auto run = [&](int t) {
    for (int k = first + t; k < first + count; k += threads) {
      values_[k].assign(actions.size(), std::numeric_limits<double>::quiet_NaN());
      if (OutOfTime()) continue;
      ValueOnFuture(env, k, actions, workers_[t].get(), &values_[k]);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(run, t);
  run(0);
  for (std::thread& th : pool) th.join();
  // Paired advantages over the base's action on the same futures, valued in full.
  bool complete = true;
  for (int k = first; k < first + count; ++k) {
    bool valued = true;
    for (size_t i = 0; i < actions.size(); ++i)
      valued = valued && !(active_[i] && std::isnan(values_[k][i]));
    if (!valued) {
      complete = false;
      continue;
    }
    for (size_t i = 0; i < actions.size(); ++i) {
      if (!active_[i]) continue;
      const double d = values_[k][i] - values_[k][base_index_];
      stats_[i].sum += d;
      stats_[i].sq += d * d;
      stats_[i].n += 1;
    }
    ++last_.samples;
  }
  return complete;
}

double RolloutPolicy::Stats::Mean() const {
  return n > 0 ? sum / n : 0.0;
}

double RolloutPolicy::Stats::StandardError() const {
  if (n < 2) return 0.0;
  const double mean = Mean();
  return std::sqrt(std::max(0.0, (sq - n * mean * mean) / (n - 1)) / n);
}

int RolloutPolicy::Act(const ClusterEnv& env) {
  const bool hindsight = kind_ == PlannerKind::kHindsight;
  timed_ = !hindsight && (planner_.decision_budget_ms > 0.0 || next_deadline_);
  if (timed_) {
    deadline_ = std::chrono::steady_clock::time_point::max();
    if (planner_.decision_budget_ms > 0.0) {
      deadline_ = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double, std::milli>(planner_.decision_budget_ms));
    }
    if (next_deadline_) deadline_ = std::min(deadline_, *next_deadline_);
  }
  next_deadline_.reset();
  sampler_.ObserveArrival(env.now(), env.live());
  ++decision_;
  const std::vector<int> actions = ValidActions(env);
  const int base_action = workers_[0]->base->Act(env);
  last_ = PlannerDecision();
  last_.action = last_.base_action = base_action;
  const auto base_it = std::find(actions.begin(), actions.end(), base_action);
  if (actions.size() <= 1 || base_it == actions.end()) return base_action;
  base_index_ = static_cast<size_t>(base_it - actions.begin());
  active_.assign(actions.size(), 1);
  stats_.assign(actions.size(), Stats());
  values_.clear();
  const size_t best = SearchBest(env, actions);
  last_.actions = actions;
  last_.mean_advantage.resize(actions.size());
  last_.standard_error.resize(actions.size());
  for (size_t i = 0; i < actions.size(); ++i) {
    last_.mean_advantage[i] = stats_[i].Mean();
    last_.standard_error[i] = stats_[i].StandardError();
  }
  if (last_.out_of_time && last_.samples < planner_.samples) {
    // Too few futures for the confidence bound to mean what it says: the base's action.
    ++budget_fallbacks_;
    return last_.action;
  }
  if (best == base_index_) return last_.action;
  const Stats& st = stats_[best];
  const bool better =
      hindsight ? st.Mean() > 0.0 : st.Mean() - planner_.confidence * st.StandardError() > 0.0;
  if (better) last_.action = actions[best];
  return last_.action;
}

size_t RolloutPolicy::SearchBest(const ClusterEnv& env, const std::vector<int>& actions) {
  const bool hindsight = kind_ == PlannerKind::kHindsight;
  // Futures in batches; after each, an action clearly worse than the base stops being
  // sampled (planner.prune), so the samples go where the best two actions are close.
  const int batch = hindsight ? 1 : std::max(2, planner_.samples / 4);
  int drawn = 0;
  size_t best = base_index_;
  while (true) {
    const int wanted =
        hindsight ? 1 : (drawn < planner_.samples ? planner_.samples : planner_.max_samples);
    const int count = std::min(batch, wanted - drawn);
    if (!RunSamples(env, drawn, count, actions)) last_.out_of_time = true;
    drawn += count;
    best = base_index_;
    bool undecided = false;
    for (size_t i = 0; i < actions.size(); ++i) {
      if (!active_[i] || i == base_index_) continue;
      const Stats& st = stats_[i];
      if (planner_.prune > 0.0 && st.n >= 4 &&
          st.Mean() + planner_.prune * st.StandardError() < 0.0) {
        active_[i] = 0;
        continue;
      }
      if (st.Mean() > stats_[best].Mean()) best = i;
    }
    if (!hindsight && best != base_index_) {
      const Stats& st = stats_[best];
      undecided = st.Mean() - planner_.confidence * st.StandardError() <= 0.0;
    }
    int still = 0;
    for (size_t i = 0; i < actions.size(); ++i) still += active_[i] && i != base_index_;
    if (hindsight || still == 0 || last_.out_of_time) break;
    if (drawn < planner_.samples) continue;
    // All `samples` drawn: more only while the best's advantage is positive but not yet
    // significant.
    if (!(undecided && stats_[best].Mean() > 0.0) || drawn >= planner_.max_samples) break;
  }
  return best;
}

std::unique_ptr<RoutingPolicy> MakePlanner(PlannerKind kind, const PlannerConfig& planner,
                                           const GreedyQosOptions& greedy, const EnvConfig& env,
                                           std::shared_ptr<const Workload> workload,
                                           const PlannerBaseFactory& make_base) {
  return std::make_unique<RolloutPolicy>(kind, planner, greedy, env, std::move(workload),
                                         make_base);
}

}  // namespace qosroute
