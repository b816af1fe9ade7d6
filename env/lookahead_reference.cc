// The look-ahead as it was before it ran the decode phase event by event (env/lookahead.h):
// one engine iteration at a time, every job visited each iteration. Kept verbatim as the
// reference the fast one is tested and benchmarked against.
#include <algorithm>

#include "env/cluster_env.h"
#include "env/lookahead.h"

namespace qosroute {

namespace {

struct ReferenceJob {
  double arrival;
  int context;  // tokens whose KV exists (prompt + generated)
  int generated;
  int remaining;  // predicted tokens still to produce (>= 1)
  bool prefilled;
  double finish;
};

double SimulateIteration(const IterationTimeModel& model, int max_batched,
                         std::vector<ReferenceJob>* jobs, size_t* first_waiting) {
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
    for (const ReferenceJob& j : *jobs) {
      if (j.prefilled && j.remaining > 0) {
        context += j.context;
        ++batch;
      }
    }
    seconds = model.DecodeSeconds(context, batch);
    for (ReferenceJob& j : *jobs) {
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

LookaheadResult LookAheadReference(const ClusterEnv& env, int expert, bool with_arrived) {
  const ExpertServer& server = env.experts()[expert];
  const IterationTimeModel& model = server.time_model();
  std::vector<ReferenceJob> jobs;
  auto add = [&](const ActiveRequest& r, bool prefilled) {
    jobs.push_back(ReferenceJob{r.arrival, r.context_tokens(), r.generated,
                                std::max(1, r.pred_output_tokens - r.generated), prefilled, -1.0});
  };
  for (const ActiveRequest& r : server.running()) add(r, true);
  for (const ActiveRequest& r : server.waiting()) add(r, false);
  const size_t queued = jobs.size();
  if (with_arrived) {
    const ArrivedRequestView& a = env.arrived();
    jobs.push_back(ReferenceJob{a.arrival, a.prompt_tokens, 0,
                                std::max(1, a.pred_output_tokens[expert]), false, -1.0});
  }
  double clock = std::max(server.clock(), env.now());
  size_t unfinished = jobs.size();
  size_t first_waiting = server.running().size();
  const int max_batched = server.config().max_num_batched_tokens;
  while (unfinished > 0) {
    clock += SimulateIteration(model, max_batched, &jobs, &first_waiting);
    for (ReferenceJob& j : jobs) {
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
    const ReferenceJob& a = jobs.back();
    result.arrived_latency_per_token = (a.finish - a.arrival) / std::max(1, a.generated);
  }
  for (const ActiveRequest& r : server.running()) result.queued_pred_score.push_back(r.pred_score);
  for (const ActiveRequest& r : server.waiting()) result.queued_pred_score.push_back(r.pred_score);
  return result;
}

LookaheadEstimate EstimateRoutingReference(const ClusterEnv& env, int expert, double sharpness) {
  const double sla = env.config().sla;
  const LookaheadResult without = LookAheadReference(env, expert, false);
  const LookaheadResult with = LookAheadReference(env, expert, true);
  LookaheadEstimate estimate;
  estimate.arrived_latency_per_token = with.arrived_latency_per_token;
  for (size_t i = 0; i < without.queued_latency_per_token.size(); ++i) {
    const double before = MeetProbability(without.queued_latency_per_token[i], sla, sharpness);
    const double after = MeetProbability(with.queued_latency_per_token[i], sla, sharpness);
    estimate.harm += without.queued_pred_score[i] * std::max(0.0, before - after);
  }
  return estimate;
}

}  // namespace qosroute
