#include "env/lookahead.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "env/cluster_env.h"

namespace qosroute {

namespace {

// A queued request as the look-ahead replays it.
struct Job {
  double arrival;
  long context;  // tokens whose KV exists (prompt + generated)
  int generated;
  int remaining;  // predicted tokens still to produce (>= 1 at the start)
  double finish;
};

// The run without an arrival of one expert state (ExpertServer::queue_version) from one start
// clock: the queued requests' latencies per token. Consecutive decisions, and the forks of a
// planner, see many experts whose queues did not change (no iteration ended between two
// arrivals), so each thread keeps the last runs it computed.
struct CachedRun {
  uint64_t version = 0;  // 0: empty
  double start = 0.0;
  std::vector<double> latency;
};
constexpr size_t kCachedRuns = 64;

// Per-thread buffers, so that a decision allocates nothing (planner threads each have theirs).
struct Scratch {
  std::vector<Job> base, jobs;
  std::vector<std::pair<int, int>> order;  // (predicted tokens left, job)
  std::array<CachedRun, kCachedRuns> runs;
};
Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

void QueuedJobs(const ExpertServer& server, std::vector<Job>* jobs) {
  jobs->clear();
  auto add = [&](const ActiveRequest& r) {
    jobs->push_back(Job{r.arrival, r.context_tokens(), r.generated,
                        std::max(1, r.pred_output_tokens - r.generated), -1.0});
  };
  for (const ActiveRequest& r : server.running()) add(r);
  for (const ActiveRequest& r : server.waiting()) add(r);
}

void AddArrived(const ClusterEnv& env, int expert, std::vector<Job>* jobs) {
  const ArrivedRequestView& a = env.arrived();
  jobs->push_back(
      Job{a.arrival, a.prompt_tokens, 0, std::max(1, a.pred_output_tokens[expert]), -1.0});
}

// Runs the jobs to completion from the expert's clock: jobs [0, running) are prefilled, the
// others wait in order. While any wait, every iteration is a prefill (as the reference's
// engine rule); after that every iteration decodes all unfinished jobs, so between two
// finishes the batch is constant and the context grows by the batch each iteration: those
// iterations are added up in one run (IterationTimeModel::AddDecodeRun, the same sums in the
// same order as one at a time).
void Simulate(const ExpertServer& server, double clock, size_t running, std::vector<Job>* jobs,
              std::vector<std::pair<int, int>>* order) {
  const IterationTimeModel& model = server.time_model();
  const long max_batched = server.config().max_num_batched_tokens;
  std::vector<Job>& j = *jobs;
  const size_t n = j.size();
  for (size_t first = running; first < n;) {
    long prefill_tokens = 0;
    int admitted = 0;
    size_t end = first;
    while (end < n && (admitted == 0 || prefill_tokens + j[end].context <= max_batched)) {
      prefill_tokens += j[end].context;
      ++admitted;
      ++end;
    }
    clock += model.PrefillSeconds(prefill_tokens, admitted);
    for (size_t k = first; k < end; ++k) {
      j[k].generated += 1;
      j[k].context += 1;
      if (--j[k].remaining <= 0) j[k].finish = clock;
    }
    first = end;
  }
  order->clear();
  long context = 0;
  for (size_t k = 0; k < n; ++k) {
    if (j[k].remaining <= 0) continue;
    order->emplace_back(j[k].remaining, static_cast<int>(k));
    context += j[k].context;
  }
  // Ties in any order: jobs finishing together leave at the same clock.
  std::sort(order->begin(), order->end());
  int batch = static_cast<int>(order->size());
  int decoded = 0;  // decode iterations so far
  for (const auto& [left, k] : *order) {
    Job& job = j[k];
    if (job.remaining > decoded) {
      const int steps = job.remaining - decoded;
      model.AddDecodeRun(context, batch, steps, &clock);
      context += static_cast<long>(batch) * steps;
      decoded = job.remaining;
    }
    job.finish = clock;
    job.generated += job.remaining;
    job.context += job.remaining;
    context -= job.context;
    job.remaining = 0;
    --batch;
  }
}

double LatencyPerToken(const Job& job) {
  return (job.finish - job.arrival) / std::max(1, job.generated);
}

double StartClock(const ClusterEnv& env, const ExpertServer& server) {
  // The expert's clock is the end of the iteration in progress (or now, when idle).
  return std::max(server.clock(), env.now());
}

// The queued requests' latencies per token without an arrival, from the thread's cache or
// simulated (from s.base, which holds the expert's queued jobs).
const std::vector<double>& RunWithoutArrival(const ExpertServer& server, double clock, Scratch& s) {
  const uint64_t version = server.queue_version();
  CachedRun& run = s.runs[version % kCachedRuns];
  if (run.version == version && run.start == clock) return run.latency;
  s.jobs = s.base;
  Simulate(server, clock, server.running().size(), &s.jobs, &s.order);
  run.version = version;
  run.start = clock;
  run.latency.resize(s.jobs.size());
  for (size_t k = 0; k < s.jobs.size(); ++k) run.latency[k] = LatencyPerToken(s.jobs[k]);
  return run.latency;
}

}  // namespace

double MeetProbability(double latency_per_token, double sla, double sharpness) {
  const double z = (sla - latency_per_token) / (sharpness * sla);
  return 1.0 / (1.0 + std::exp(-z));
}

LookaheadResult LookAhead(const ClusterEnv& env, int expert, bool with_arrived) {
  const ExpertServer& server = env.experts()[expert];
  Scratch& s = ThreadScratch();
  QueuedJobs(server, &s.base);
  const size_t queued = s.base.size();
  LookaheadResult result;
  if (with_arrived) {
    s.jobs = s.base;
    AddArrived(env, expert, &s.jobs);
    Simulate(server, StartClock(env, server), server.running().size(), &s.jobs, &s.order);
    result.queued_latency_per_token.reserve(queued);
    for (size_t k = 0; k < queued; ++k)
      result.queued_latency_per_token.push_back(LatencyPerToken(s.jobs[k]));
    result.arrived_latency_per_token = LatencyPerToken(s.jobs.back());
  } else {
    result.queued_latency_per_token = RunWithoutArrival(server, StartClock(env, server), s);
  }
  result.queued_pred_score.reserve(queued);
  for (const ActiveRequest& r : server.running()) result.queued_pred_score.push_back(r.pred_score);
  for (const ActiveRequest& r : server.waiting()) result.queued_pred_score.push_back(r.pred_score);
  return result;
}

LookaheadEstimate EstimateRouting(const ClusterEnv& env, int expert, double sharpness) {
  const ExpertServer& server = env.experts()[expert];
  const double sla = env.config().sla;
  const double clock = StartClock(env, server);
  const size_t running = server.running().size();
  Scratch& s = ThreadScratch();
  QueuedJobs(server, &s.base);
  const size_t queued = s.base.size();
  const std::vector<double>& without = RunWithoutArrival(server, clock, s);
  s.jobs = s.base;
  AddArrived(env, expert, &s.jobs);
  Simulate(server, clock, running, &s.jobs, &s.order);
  LookaheadEstimate estimate;
  estimate.arrived_latency_per_token = LatencyPerToken(s.jobs.back());
  for (size_t k = 0; k < queued; ++k) {
    const double with = LatencyPerToken(s.jobs[k]);
    // A request the arrival does not delay loses nothing: skipping it adds exactly the 0 that
    // max(0, before - after) would, without the two exp().
    if (with == without[k]) continue;
    const float score =
        k < running ? server.running()[k].pred_score : server.waiting()[k - running].pred_score;
    const double before = MeetProbability(without[k], sla, sharpness);
    const double after = MeetProbability(with, sla, sharpness);
    estimate.harm += score * std::max(0.0, before - after);
  }
  return estimate;
}

}  // namespace qosroute
